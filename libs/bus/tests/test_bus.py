"""Bus lib against the session's real NATS JetStream."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from egsu.bus import Bus, BusUnavailable, Delivery
from egsu.bus.audit import AuditLog, AuditUnavailable
from egsu.contracts.audit import AuditEvent
from egsu.contracts.streams import STREAMS, StreamSpec
from egsu.core.settings import Settings
from egsu.infra import InfraUrls


@pytest.fixture
async def bus(infra: InfraUrls) -> Bus:
    b = Bus(Settings(nats_url=infra.nats_url, service_name="bustest"))
    await b.connect(wait=True)
    yield b
    await b.close()


@pytest.fixture
async def stream(bus: Bus) -> StreamSpec:
    name = f"T{uuid.uuid4().hex[:8]}".upper()
    spec = StreamSpec(name, (f"test.{name}.>",), "test stream")
    await bus.ensure_streams([spec])
    return spec


async def collect(
    bus: Bus, spec: StreamSpec, handler, *, wait_for: int, timeout: float = 10
) -> list[bytes]:  # type: ignore[no-untyped-def]
    seen: list[bytes] = []

    async def wrapped(batch: list[Delivery]) -> None:
        await handler(batch, seen)

    c = bus.consumer(
        stream=spec.name,
        durable=f"d{uuid.uuid4().hex[:6]}",
        filter_subject=spec.subjects[0],
        handler=wrapped,
        batch=10,
        fetch_timeout=0.2,
    )
    c.start()
    deadline = asyncio.get_running_loop().time() + timeout
    while len(seen) < wait_for and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)
    await c.stop()
    return seen


async def test_streams_of_the_system_are_declared(bus: Bus) -> None:
    await bus.ensure_streams()
    for spec in STREAMS:
        info = await bus.js.stream_info(spec.name)
        assert info.config.subjects == list(spec.subjects)


async def test_same_message_id_is_stored_once(bus: Bus, stream: StreamSpec) -> None:
    subj = stream.subjects[0].replace(">", "x")
    a = await bus.publish(subj, b"one", msg_id="m-1")
    b = await bus.publish(subj, b"one", msg_id="m-1")
    assert not a.duplicate and b.duplicate
    acks = await bus.publish_many(
        [(subj, b"two", "m-2"), (subj, b"three", "m-3"), (subj, b"two", "m-2")]
    )
    assert sum(1 for x in acks if x.duplicate) == 1
    assert (await bus.js.stream_info(stream.name)).state.messages == 3


async def test_failed_handler_gets_the_message_again(bus: Bus, stream: StreamSpec) -> None:
    subj = stream.subjects[0].replace(">", "x")
    await bus.publish(subj, b"fragile", msg_id="f-1")
    attempts: list[int] = []

    async def handler(batch: list[Delivery], seen: list[bytes]) -> None:
        for d in batch:
            attempts.append(d.num_delivered)
            if d.num_delivered == 1:
                raise RuntimeError("first time fails")
            seen.append(d.data)
            await d.ack()

    seen = await collect(bus, stream, handler, wait_for=1)
    assert seen == [b"fragile"]
    assert attempts[:2] == [1, 2]


async def test_unsettled_messages_are_nakked_not_lost(bus: Bus, stream: StreamSpec) -> None:
    subj = stream.subjects[0].replace(">", "x")
    await bus.publish(subj, b"forgotten", msg_id="u-1")

    async def handler(batch: list[Delivery], seen: list[bytes]) -> None:
        for d in batch:
            if d.num_delivered > 1:
                seen.append(d.data)
                await d.ack()  # the first time the handler forgets to settle it

    assert await collect(bus, stream, handler, wait_for=1) == [b"forgotten"]


async def test_publish_without_nats_is_bus_unavailable(infra: InfraUrls) -> None:
    b = Bus(Settings(nats_url="nats://127.0.0.1:9"))
    with pytest.raises(BusUnavailable):
        await b.publish("egsu.audit.x", b"x")
    audit = AuditLog(b, "t")
    with pytest.raises(AuditUnavailable):
        await audit.record("control", "correction.confirm")
    await b.close()


async def test_audit_events_reach_the_audit_stream(bus: Bus) -> None:
    await bus.ensure_streams()
    audit = AuditLog(bus, "bustest")
    ev = await audit.record(
        "change",
        "thing.update",
        object_type="thing",
        object_id="42",
        before={"a": 1},
        after={"a": 2},
    )
    audit.start()
    queued = audit.record_nowait("access", "GET /x", status=200)
    await audit.close()
    got = {}
    for seq_subject in ("egsu.audit.change", "egsu.audit.access"):
        msg = await bus.js.get_last_msg("AUDIT", seq_subject)
        parsed = AuditEvent.model_validate_json(msg.data)
        got[parsed.id] = parsed
    assert got[ev.id].before == {"a": 1} and got[ev.id].actor.username == "anonymous"
    assert got[queued.id].details["status"] == 200
