from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import nats
import pytest

from egsu.infra import InfraUrls
from egsu.testing.stack import Stack
from egsu.testing.world import World, kz

MON = "/api/v1/monitoring"
ING = "/api/v1/ingest"


class SSE:
    """Reads a server-sent event stream through the gateway into a queue of (event, data, id)."""

    def __init__(self, stack: Stack, user: str, params: dict[str, Any] | None = None) -> None:
        self.stack, self.user, self.params = stack, user, params or {}
        self.events: asyncio.Queue[tuple[str, dict[str, Any], str | None, float]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    async def _run(self) -> None:
        async with (
            httpx.AsyncClient(
                base_url=self.stack.url,
                headers=self.stack.headers(self.user),
                timeout=httpx.Timeout(10, read=None),
            ) as c,
            c.stream(
                "GET",
                f"{MON}/alarms/stream",
                params=self.params,
                headers={"Accept": "text/event-stream"},
            ) as r,
        ):
            assert r.status_code == 200, await r.aread()
            event, data, eid = "message", [], None
            async for line in r.aiter_lines():
                if line == "":
                    if data:
                        payload = json.loads("\n".join(data))
                        if event == "ready":
                            self.ready.set()
                        else:
                            await self.events.put((event, payload, eid, time.monotonic()))
                    event, data, eid = "message", [], None
                elif line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
                elif line.startswith("id:"):
                    eid = line[3:].strip()

    async def __aenter__(self) -> SSE:
        self.task = asyncio.create_task(self._run())
        await asyncio.wait_for(self.ready.wait(), 10)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task

    async def next(
        self, within: float = 5.0, **match: Any
    ) -> tuple[str, dict[str, Any], str | None, float]:
        deadline = time.monotonic() + within
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no event matching {match} within {within} s")
            ev = await asyncio.wait_for(self.events.get(), left)
            if all(
                (ev[0] if k == "type" else ev[1]["alarm"].get(k)) == v for k, v in match.items()
            ):
                return ev

    def drain(self) -> list[tuple[str, dict[str, Any], str | None, float]]:
        out = []
        while not self.events.empty():
            out.append(self.events.get_nowait())
        return out


@pytest.fixture
async def audit_events(infra: InfraUrls) -> AsyncIterator[list[dict[str, Any]]]:
    """Every audit event published while the test runs."""
    nc = await nats.connect(infra.nats_url)
    got: list[dict[str, Any]] = []

    async def cb(msg: Any) -> None:
        got.append(json.loads(msg.data))

    sub = await nc.subscribe("egsu.audit.>", cb=cb)
    try:
        yield got
    finally:
        await sub.unsubscribe()
        await nc.drain()


async def post_readings(
    stack: Stack,
    world: World,
    readings: list[tuple[str, str, datetime, float]],
    events: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body = {
        "subject_bin": world.bin,
        "readings": [
            {"point": p, "quantity": q, "ts": kz(t), "value": v} for p, q, t, v in readings
        ],
        "events": events or [],
    }
    async with stack.client(world.user) as c:
        r = await c.post(
            f"{ING}/readings", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        assert r.status_code == 202, r.text
        return r.json()  # type: ignore[no-any-return]


async def wait_for(fn: Any, within: float = 5.0, step: float = 0.05) -> Any:
    deadline = time.monotonic() + within
    while True:
        got = await fn()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(step)


async def sweep(
    stack: Stack, at: datetime | None = None, subject_bin: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if at is not None:
        body["at"] = at.isoformat()
    if subject_bin:
        body["subject_bin"] = subject_bin
    async with stack.client("operator") as c:
        r = await c.post(f"{MON}/sweep", json=body)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


def now() -> datetime:
    return datetime.now(UTC)
