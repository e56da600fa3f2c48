"""The writer role: one active writer, a standby that takes over, events that wait while it is down."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import pytest

from egsu.audit.service import JournalWriter
from egsu.audit.verify import verify
from egsu.bus import Bus
from egsu.bus.audit import AuditLog
from egsu.contracts.audit import AuditEvent
from egsu.contracts.streams import StreamSpec
from egsu.core.settings import Settings
from egsu.infra import InfraUrls

from .conftest import Setup


@dataclass
class Lane:
    """A stream of its own for one test, and the audit helper publishing to it."""

    bus: Bus
    spec: StreamSpec
    log: AuditLog


@pytest.fixture
async def lane(infra: InfraUrls) -> AsyncIterator[Lane]:
    name = f"AUDITT{uuid.uuid4().hex[:8]}".upper()
    prefix = f"test.{name}"

    class Log(AuditLog):
        @staticmethod
        def subject(ev: AuditEvent) -> str:
            return f"{prefix}.{ev.kind}"

    bus = Bus(Settings(nats_url=infra.nats_url, service_name="audit-test"))
    await bus.connect(wait=True)
    spec = StreamSpec(name, (f"{prefix}.>",), "audit writer test")
    await bus.ensure_streams([spec])
    log = Log(bus, "registry")
    log.start()
    try:
        yield Lane(bus, spec, log)
    finally:
        await log.close()
        await bus.js.delete_stream(name)
        await bus.close()


def writer(setup: Setup, lane: Lane) -> JournalWriter:
    settings = setup.settings.model_copy(
        update={
            "database_url": setup.url,
            "audit_checkpoint_seconds": 0.2,
            "audit_standby_poll_seconds": 0.2,
        }
    )
    return JournalWriter(
        settings,
        lane.bus,
        setup.store,
        setup.key,
        setup.keyring,
        stream=lane.spec.name,
        durable="journal",
        filter_subject=lane.spec.subjects[0],
    )


async def until(check: Callable[[], Awaitable[bool]], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not await check() and time.monotonic() < deadline:
        await asyncio.sleep(0.1)


async def test_one_writer_a_standby_takeover_and_nothing_lost_while_down(
    setup: Setup, lane: Lane
) -> None:
    async def count() -> int:
        return int(await setup.conn.fetchval("SELECT count(*) FROM audit.entry"))

    def has(n: int) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return await count() == n

        return check

    def active(w: JournalWriter) -> Callable[[], Awaitable[bool]]:
        async def check() -> bool:
            return w.active

        return check

    first, second = writer(setup, lane), writer(setup, lane)
    first.start()
    await until(active(first))
    second.start()
    await asyncio.sleep(0.6)
    assert first.active and not second.active  # one writer; the other waits for the lock

    for i in range(200):
        lane.log.record_nowait(
            "change",
            "registry.subject.update",
            object_type="subject",
            object_id=str(i),
            before={"name": "old"},
            after={"name": "new"},
        )
    await lane.bus.publish(f"{lane.spec.subjects[0][:-2]}.change", b"this is not an audit event")
    await until(has(201))
    assert await count() == 201
    rejected = await setup.conn.fetchrow(
        "SELECT kind, action, details FROM audit.entry WHERE service = 'audit'"
    )
    assert (rejected["kind"], rejected["action"]) == ("security", "audit_event_rejected")

    await first.stop()  # the active replica goes away: the standby takes over
    await until(active(second))
    assert second.active
    for i in range(100):
        lane.log.record_nowait(
            "control", "alarm.acknowledge", object_type="alarm", object_id=str(i)
        )
    await until(has(301))
    assert await count() == 301

    await second.stop()  # the journal is down: events wait in JetStream
    for i in range(100):
        await lane.log.record(
            "abnormal", "service.crashed", object_type="service", object_id=str(i)
        )
    info = await lane.bus.js.consumer_info(lane.spec.name, "journal")
    assert info.num_pending == 100 and await count() == 301
    third = writer(setup, lane)
    third.start()
    await until(has(401))
    await asyncio.sleep(0.5)  # and a checkpoint covers them
    await third.stop()
    assert await count() == 401
    report = await verify(setup.conn, setup.store, setup.keyring)
    assert report.status == "ok" and report.entries == 401 and report.unchecked_entries == 0, report
