"""Active and inactive against the point's own interval and criticality; communication loss of a
point and of a whole system; late data and backfills."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from egsu.testing.stack import Stack
from egsu.testing.world import World

from .conftest import MON, now, post_readings, sweep, wait_for

pytestmark = pytest.mark.stack


def minute(offset: int) -> datetime:
    base = now().timestamp() // 60 * 60
    return datetime.fromtimestamp(base + 60 * offset, UTC)


async def state(stack: Stack, user: str, code: str) -> dict[str, Any]:
    async with stack.client(user) as c:
        r = await c.get(f"{MON}/points/{code}")
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]


async def comm_alarms(stack: Stack, code: str, state_: str = "all") -> list[dict[str, Any]]:
    async with stack.client("operator") as c:
        r = await c.get(
            f"{MON}/alarms", params={"point_code": code, "kind": "comm_loss", "state": state_}
        )
        return r.json()["items"]  # type: ignore[no-any-return]


async def test_point_goes_inactive_after_its_missed_intervals_and_comes_back_with_late_backfill(
    stack: Stack,
) -> None:
    world = await asyncio.to_thread(World, stack, interval_min=1, criticality=1)
    code = world.point_code
    t = minute(-1)  # newest reading one interval ago; t + 1 min is already over
    await post_readings(
        stack, world, [(code, "active_export", minute(-1 - i), 5.0) for i in range(3)]
    )

    async def active() -> Any:
        s = await state(stack, world.user, code)
        return s if s["status"] == "active" else None

    s = await wait_for(active)
    assert s["inactive_after_intervals"] == 2 and s["last_ts"].startswith(t.isoformat()[:16])

    # criticality 1: inactive after 2 missed intervals (each given one interval to arrive)
    await sweep(stack, t + timedelta(minutes=2, seconds=50), world.bin)
    assert (await state(stack, world.user, code))["status"] == "active"
    assert await comm_alarms(stack, code) == []
    await sweep(stack, t + timedelta(minutes=3, seconds=1), world.bin)
    s = await state(stack, world.user, code)
    assert s["status"] == "inactive"
    assert s["status_since"].startswith((t + timedelta(minutes=3)).isoformat()[:19])
    alarms = await comm_alarms(stack, code)
    assert len(alarms) == 1 and alarms[0]["state"] == "raised"
    assert alarms[0]["severity"] == "major" and alarms[0]["category"] == "communication"

    # a late backfill of OLD intervals fills the history but does not make the point active
    await post_readings(
        stack, world, [(code, "active_export", minute(-30 - i), 4.0) for i in range(5)]
    )
    await asyncio.sleep(1.0)
    s = await state(stack, world.user, code)
    assert s["status"] == "inactive" and s["last_ts"].startswith(t.isoformat()[:16])
    assert (await comm_alarms(stack, code, "active"))[0]["id"] == alarms[0]["id"]
    # the background sweep (wall time) does not flip it back either
    await sweep(stack)
    assert (await state(stack, world.user, code))["status"] == "inactive"

    # the missing interval arrives late (a backfill): the point is active, the alarm clears
    await post_readings(stack, world, [(code, "active_export", minute(0), 5.5)])

    async def cleared() -> Any:
        a = await comm_alarms(stack, code)
        return a if a and a[0]["state"] == "cleared" else None

    a = await wait_for(cleared)
    assert len(a) == 1 and a[0]["id"] == alarms[0]["id"]
    s = await state(stack, world.user, code)
    assert s["status"] == "active"
    q = s["channel_quality"]
    # 35 intervals since the oldest data, 9 of them received (the backfill and the recent ones)
    assert q["expected"] >= 34 and q["received"] >= 8 and q["gaps"] >= 1
    assert 0 < q["share"] < 0.5 and q["delay_p95_s"] >= q["delay_p50_s"] > 0


async def test_criticality_three_waits_four_missed_intervals(stack: Stack) -> None:
    world = await asyncio.to_thread(World, stack, interval_min=1, criticality=3)
    code = world.point_code
    t = minute(-1)
    await post_readings(stack, world, [(code, "active_export", t, 5.0)])

    async def active() -> Any:
        s = await state(stack, world.user, code)
        return s if s["status"] == "active" else None

    await wait_for(active)
    await sweep(stack, t + timedelta(minutes=4, seconds=50), world.bin)
    assert (await state(stack, world.user, code))["status"] == "active"
    await sweep(stack, t + timedelta(minutes=5, seconds=1), world.bin)
    s = await state(stack, world.user, code)
    assert s["status"] == "inactive" and s["inactive_after_intervals"] == 4
    assert len(await comm_alarms(stack, code)) == 1


async def test_whole_system_silent_raises_one_system_alarm(stack: Stack) -> None:
    world = await asyncio.to_thread(World, stack, points=3, interval_min=1, criticality=2)
    async with stack.client("ministry") as c:
        r = await c.post(
            "/api/v1/registry/systems",
            json={
                "subject_bin": world.bin,
                "kind": "askue",
                "name": "АСКУЭ ТЭЦ",
                "facility_ids": [world.facility["id"]],
                "channels": [
                    {"role": "main", "medium": "fiber"},
                    {"role": "reserve", "medium": "gsm"},
                ],
            },
        )
        assert r.status_code == 201, r.text
        system_id = r.json()["id"]
    codes = [p["code"] for p in world.points]
    t = minute(-1)
    await post_readings(
        stack,
        world,
        [(c, "active_export", t, 1.0) for c in codes],
        events=[
            {"point": codes[0], "ts": t.isoformat(), "code": "channel_switch", "text": "reserve"}
        ],
    )

    async def ready() -> Any:
        async with stack.client(world.user) as c:
            r = await c.get(f"{MON}/systems/{system_id}")
            if r.status_code != 200:
                return None
            body = r.json()
            return body if body["status"] == "active" and body["points"] == 3 else None

    body = await wait_for(ready, within=10)
    assert body["channel_in_use"] == "reserve"
    # criticality 2: 3 missed intervals + one to arrive
    await sweep(stack, t + timedelta(minutes=4, seconds=1), world.bin)
    async with stack.client(world.user) as c:
        r = await c.get(f"{MON}/alarms", params={"kind": "system_comm_loss"})
        items = r.json()["items"]
        assert len(items) == 1 and items[0]["object_id"] == system_id
        assert items[0]["severity"] == "critical"
        assert "3 из 3" in items[0]["message"]["ru"]
        # the points' own alarms are folded into the system's
        r = await c.get(f"{MON}/alarms", params={"kind": "comm_loss"})
        assert r.json()["items"] == []
        r = await c.get(f"{MON}/systems/{system_id}")
        assert r.json()["status"] == "inactive"
        r = await c.get(f"{MON}/summary", params={"group_by": "status"})
        assert r.json()["by_status"] == {"inactive": 3}
    # one point comes back: the system alarm clears
    await post_readings(stack, world, [(codes[1], "active_export", minute(0), 1.0)])

    async def gone() -> Any:
        async with stack.client(world.user) as c:
            r = await c.get(
                f"{MON}/alarms", params={"kind": "system_comm_loss", "state": "cleared"}
            )
            return r.json()["items"]

    await wait_for(gone)
