"""Rules as data (versioned, audited, scoped), escalation and reminders, shelving, flapping,
meter events, and webhooks — with time driven by evaluation at a given moment."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from egsu.infra.process import free_port
from egsu.testing.stack import Stack
from egsu.testing.world import World

from .conftest import MON, SSE, now, post_readings, sweep, wait_for

pytestmark = pytest.mark.stack


def minute(offset: int) -> datetime:
    return datetime.fromtimestamp(now().timestamp() // 60 * 60 + 60 * offset, UTC)


async def alarms(stack: Stack, user: str, **params: Any) -> list[dict[str, Any]]:
    async with stack.client(user) as c:
        r = await c.get(f"{MON}/alarms", params={"state": "all", **params})
        assert r.status_code == 200, r.text
        return r.json()["items"]  # type: ignore[no-any-return]


async def history(stack: Stack, aid: str) -> list[str]:
    async with stack.client("operator") as c:
        r = await c.get(f"{MON}/alarms/{aid}/history")
        return [h["type"] for h in r.json()["items"]]


async def test_rule_changes_are_versioned_audited_and_take_effect(
    stack: Stack, audit_events: list[dict[str, Any]]
) -> None:
    world = await asyncio.to_thread(
        World, stack, interval_min=1, criticality=2, quantities=["current_l1", "active_export"]
    )
    code = world.point_code
    async with stack.client("operator") as c:
        body = {
            "name": "Overcurrent on the feeder",
            "kind": "threshold",
            "category": "equipment",
            "severity": "major",
            "scope_type": "point",
            "scope_value": code,
            "quantities": ["current_l1"],
            "params": {"for_intervals": 2},
        }
        r = await c.post(f"{MON}/rules", json=body)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "params.above", r.text
        r = await c.post(
            f"{MON}/rules", json={**body, "quantities": ["nonsense"], "params": {"above": 1}}
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "quantities[0]"
        r = await c.post(
            f"{MON}/rules", json={**body, "params": {"above": 2500, "for_intervals": 2}}
        )
        assert r.status_code == 201, r.text
        rule = r.json()
        assert rule["version"] == 1 and rule["updated_by"] == "operator"
    async with stack.client(world.user) as c:
        r = await c.post(f"{MON}/rules", json={**body, "params": {"above": 1}})
        assert r.status_code == 403
        r = await c.get(f"{MON}/rules/{rule['id']}")
        assert r.status_code == 200  # its own point's rule is visible to the subject

    # one interval above is not enough; two consecutive ones are (by measurement time, even
    # when the older one arrives last)
    await post_readings(stack, world, [(code, "current_l1", minute(-3), 2600.0)])
    await asyncio.sleep(0.8)
    assert await alarms(stack, "operator", point_code=code, kind="threshold") == []
    await post_readings(stack, world, [(code, "current_l1", minute(-1), 2700.0)])
    await asyncio.sleep(0.8)
    assert await alarms(stack, "operator", point_code=code, kind="threshold") == []
    await post_readings(stack, world, [(code, "current_l1", minute(-2), 2650.0)])
    got = await wait_for(lambda: alarms(stack, "operator", point_code=code, kind="threshold"))
    assert got[0]["severity"] == "major" and got[0]["rule_version"] == 1

    async with stack.client("ministry") as c:
        r = await c.patch(f"{MON}/rules/{rule['id']}", json={"severity": "critical", "version": 7})
        assert r.status_code == 409 and r.json()["code"] == "version_conflict"
        r = await c.patch(
            f"{MON}/rules/{rule['id']}",
            json={"severity": "critical", "version": 1, "comment": "feeder is critical"},
        )
        assert r.status_code == 200 and r.json()["version"] == 2
        r = await c.patch(f"{MON}/rules/{rule['id']}", json={"params": {"above": -5, "below": 10}})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "params.below"
        r = await c.get(f"{MON}/rules/{rule['id']}/versions")
        versions = r.json()["items"]
        assert [v["version"] for v in versions] == [1, 2]
        assert (
            versions[1]["changed_by"] == "ministry"
            and versions[1]["body"]["severity"] == "critical"
        )
        # disabling the rule clears what it raised
        r = await c.patch(f"{MON}/rules/{rule['id']}", json={"enabled": False})
        assert r.status_code == 200
    got = await alarms(stack, "operator", point_code=code, kind="threshold")
    assert got[0]["state"] == "cleared"
    actions = [e["action"] for e in audit_events if e["object"]["id"] == rule["id"]]
    assert actions.count("alarm_rule.update") == 2 and "alarm_rule.create" in actions
    upd = next(e for e in audit_events if e["action"] == "alarm_rule.update")
    assert upd["before"]["severity"] == "major" and upd["after"]["severity"] == "critical"


async def test_unacknowledged_critical_alarm_escalates_reminds_and_shelving_silences_it(
    stack: Stack,
) -> None:
    world = await asyncio.to_thread(World, stack, interval_min=1, criticality=1)
    code = world.point_code
    async with SSE(stack, "operator", {"subject_bin": world.bin}) as sse:
        await post_readings(stack, world, [(code, "voltage_l1", minute(-1), 150_000.0)])
        _, data, _, _ = await sse.next(type="raised")
        aid = data["alarm"]["id"]
        t0 = now()
        await sweep(stack, t0 + timedelta(minutes=10), world.bin)
        assert await history(stack, aid) == ["raised"]
        await sweep(stack, t0 + timedelta(minutes=16), world.bin)
        _, data, _, _ = await sse.next(type="escalated")
        assert data["alarm"]["escalation_level"] == 1
        await sweep(stack, t0 + timedelta(minutes=31), world.bin)
        _, data, _, _ = await sse.next(type="escalated")
        assert data["alarm"]["escalation_level"] == 2
        await sse.next(type="reminder")
        # shelved for maintenance: no reminders or escalations until the shelf ends
        async with stack.client("operator") as c:
            r = await c.post(
                f"{MON}/alarms/{aid}/shelve",
                json={"until": (t0 + timedelta(minutes=90)).isoformat(), "comment": "maintenance"},
            )
            assert r.status_code == 200, r.text
            r = await c.post(f"{MON}/alarms/{aid}/shelve", json={"minutes": 0})
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == "minutes"
        await sse.next(type="shelved")
        await sweep(stack, t0 + timedelta(minutes=75), world.bin)
        assert (await history(stack, aid))[-1] == "shelved"
        await sweep(stack, t0 + timedelta(minutes=91), world.bin)
        await sse.next(type="unshelved")
        async with stack.client(world.user) as c:
            r = await c.post(f"{MON}/alarms/{aid}/acknowledge", json={"comment": "on it"})
            assert r.status_code == 200
        before = await history(stack, aid)
        await sweep(stack, t0 + timedelta(minutes=200), world.bin)
        assert await history(stack, aid) == before  # acknowledged: no more reminders


async def test_flapping_alarm_is_one_alarm_that_stops_notifying(stack: Stack) -> None:
    world = await asyncio.to_thread(World, stack, interval_min=1, criticality=1)
    code = world.point_code
    values = [150_000.0, 220_000.0] * 4 + [150_000.0]
    async with SSE(stack, "operator", {"subject_bin": world.bin}) as sse:
        for i, v in enumerate(values):
            await post_readings(stack, world, [(code, "voltage_l1", minute(-20 + i), v)])
            await asyncio.sleep(0.3)
        await asyncio.sleep(1.0)
        events = [e[0] for e in sse.drain()]
    got = await alarms(stack, "operator", point_code=code, kind="band")
    assert len(got) == 1, "a flapping condition is one alarm, not many"
    a = got[0]
    assert a["flapping"] and a["count"] == 5 and a["state"] == "raised"
    assert events.count("flapping") == 1
    assert events.count("reopened") == 2  # the third return made it flapping; then silence
    # while flapping, a normal value does not clear it at once …
    await post_readings(stack, world, [(code, "voltage_l1", minute(-10), 221_000.0)])
    await asyncio.sleep(0.8)
    assert (await alarms(stack, "operator", point_code=code, kind="band"))[0]["state"] == "raised"
    # … only after the condition has been gone for the whole flap window
    await sweep(stack, now() + timedelta(minutes=16), world.bin)
    assert (await alarms(stack, "operator", point_code=code, kind="band"))[0]["state"] == "cleared"


async def test_meter_events_raise_security_and_scada_alarms(stack: Stack) -> None:
    world = await asyncio.to_thread(World, stack, interval_min=1, criticality=1)
    code = world.point_code
    t = minute(-2)
    await post_readings(
        stack,
        world,
        [],
        events=[
            {"point": code, "ts": t.isoformat(), "code": "cover_opened"},
            {
                "point": code,
                "ts": (t + timedelta(seconds=30)).isoformat(),
                "code": "equipment_trip",
            },
            {
                "point": code,
                "ts": (t + timedelta(seconds=40)).isoformat(),
                "code": "breaker_fault",
                "severity": "emergency",
                "text": "КРУ-10 ячейка 5",
            },
        ],
    )
    got = await wait_for(lambda: _n(alarms(stack, world.user, point_code=code), 2))
    by_rule = {a["details"]["rule_name"]: a for a in got}
    cover = by_rule["Meter cover opened"]
    assert cover["category"] == "security" and cover["state"] == "raised"
    scada = [a for a in got if a["kind"] == "event" and a["severity"] == "critical"]
    assert len(scada) == 1 and scada[0]["count"] == 2  # the trip and the emergency pass through
    assert scada[0]["state"] == "cleared"  # momentary: over at once, still to be acknowledged
    assert "КРУ-10" in scada[0]["message"]["ru"]
    await post_readings(
        stack,
        world,
        [],
        events=[
            {"point": code, "ts": (t + timedelta(minutes=1)).isoformat(), "code": "cover_closed"}
        ],
    )

    async def closed() -> Any:
        a = await alarms(stack, world.user, point_code=code)
        return [x for x in a if x["id"] == cover["id"] and x["state"] == "cleared"]

    await wait_for(closed)


async def _n(coro: Any, n: int) -> Any:
    got = await coro
    return got if len(got) >= n else None


class Receiver:
    def __init__(self, fail_first: int) -> None:
        self.fail_first = fail_first
        self.calls: list[tuple[dict[str, str], bytes]] = []
        self.port = free_port()

    async def endpoint(self, request: Request) -> Response:
        self.calls.append((dict(request.headers), await request.body()))
        return Response(status_code=500 if len(self.calls) <= self.fail_first else 204)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Receiver]:
        app = Starlette(routes=[Route("/hook", self.endpoint, methods=["POST"])])
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="error")
        )
        task = asyncio.create_task(server.serve())
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.02)
        try:
            yield self
        finally:
            server.should_exit = True
            await task


async def test_webhooks_are_filtered_signed_retried_and_logged(stack: Stack) -> None:
    world = await asyncio.to_thread(World, stack, interval_min=1, criticality=1)
    other = await asyncio.to_thread(World, stack, interval_min=1, criticality=1)
    secret = "s3cret-for-tests-0123456789"
    async with Receiver(fail_first=1).running() as rx:
        async with stack.client(world.user) as c:
            r = await c.post(
                f"{MON}/webhooks",
                json={
                    "name": "Dispatch",
                    "url": f"http://127.0.0.1:{rx.port}/hook",
                    "secret": secret,
                    "filter": {"severities": ["critical"], "event_types": ["raised"]},
                },
            )
            assert r.status_code == 201, r.text
            hook = r.json()
            assert hook["owner_bin"] == world.bin and hook["secret"] == secret
            r = await c.get(f"{MON}/webhooks/{hook['id']}")
            assert "secret" not in r.json()
            r = await c.post(f"{MON}/webhooks", json={"name": "x", "url": "ftp://nowhere"})
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == "url"
        # the other subject's sag and this subject's swell (major) are filtered out
        await post_readings(stack, other, [(other.point_code, "voltage_l1", minute(-1), 150_000.0)])
        await post_readings(stack, world, [(world.point_code, "voltage_l1", minute(-2), 250_000.0)])
        await post_readings(stack, world, [(world.point_code, "voltage_l1", minute(-1), 150_000.0)])
        await wait_for(lambda: _calls(rx, 1), within=10)

        async with stack.client(world.user) as c:

            async def logged() -> Any:
                r = await c.get(f"{MON}/webhooks/{hook['id']}/deliveries")
                items = r.json()["items"]
                return items if items and items[0]["attempts"] >= 1 else None

            items = await wait_for(logged)
            assert len(items) == 1 and items[0]["status"] == "pending"
            assert items[0]["last_status"] == 500 and items[0]["next_attempt_at"]
        # the retry comes after its back-off
        await sweep(stack, now() + timedelta(seconds=10), world.bin)
        await wait_for(lambda: _calls(rx, 2), within=10)
        async with stack.client(world.user) as c:
            r = await c.get(f"{MON}/webhooks/{hook['id']}/deliveries")
            d = r.json()["items"][0]
            assert d["status"] == "delivered" and d["attempts"] == 2 and d["last_status"] == 204
    assert len(rx.calls) == 2
    headers, body = rx.calls[1]
    t, mac = (p.split("=", 1)[1] for p in headers["x-egsu-signature"].split(","))
    assert hmac.compare_digest(
        mac, hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    )
    assert headers["x-egsu-event-type"] == "raised" and world.bin.encode() in body
    assert other.bin.encode() not in rx.calls[0][1]


async def _calls(rx: Receiver, n: int) -> Any:
    return rx.calls if len(rx.calls) >= n else None
