"""Registry and ingest notices become alarms: overdue verification of a device, a subject late
with its data; both clear when the notice says so."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import nats
import pytest

from egsu.contracts.registry import VerificationDue
from egsu.infra import InfraUrls
from egsu.testing.stack import Stack
from egsu.testing.world import World

from .conftest import MON, wait_for

pytestmark = pytest.mark.stack


async def _alarms(stack: Stack, user: str, **params: Any) -> list[dict[str, Any]]:
    async with stack.client(user) as c:
        r = await c.get(f"{MON}/alarms", params={"state": "all", **params})
        return r.json()["items"]  # type: ignore[no-any-return]


async def test_overdue_verification_and_late_subject_raise_and_clear(
    stack: Stack, infra: InfraUrls
) -> None:
    world = await asyncio.to_thread(World, stack, interval_min=15, criticality=2)
    async with stack.client("ministry") as c:
        r = await c.post(
            "/api/v1/registry/devices",
            json={
                "point_id": world.point["id"],
                "type": "electricity_meter",
                "model": "Меркурий 234",
                "serial_number": f"SN-{world.bin}",
                "verification_date": "2015-01-10",
                "verification_interval_months": 96,
            },
        )
        assert r.status_code == 201, r.text
        device = r.json()
    nc = await nats.connect(infra.nats_url)
    js = nc.jetstream()
    try:
        notice = VerificationDue(
            device_id=device["id"],
            subject_bin=world.bin,
            point_code=world.point_code,
            serial_number=device["serial_number"],
            next_verification_due="2023-01-10",
            overdue=True,
        )
        await js.publish("egsu.registry.events.verification_due", notice.model_dump_json().encode())
        got = await wait_for(lambda: _alarms(stack, world.user, kind="verification_overdue"))
        a = got[0]
        assert a["object_type"] == "device" and a["object_id"] == device["id"]
        assert a["category"] == "metrology" and a["point_code"] == world.point_code
        assert f"SN-{world.bin}" in a["message"]["en"]
        async with stack.client(world.user) as c:
            # the device reaches monitoring's directory through the registry's events, which may
            # come a moment after the notice

            async def device_known() -> Any:
                r = await c.get(f"{MON}/devices/{device['id']}")
                return r if r.status_code == 200 else None

            r = await wait_for(device_known)
            assert r.json()["point_code"] == world.point_code

        late = {
            "subject_bin": world.bin,
            "overdue": True,
            "expected_points": 1,
            "missing_points": 1,
            "interval_end": None,
            "since": None,
        }
        await js.publish("egsu.ingest.events.overdue", json.dumps(late).encode())
        got = await wait_for(lambda: _alarms(stack, world.user, kind="submission_overdue"))
        assert got[0]["object_type"] == "subject" and got[0]["state"] == "raised"
        await js.publish(
            "egsu.ingest.events.recovered",
            json.dumps({**late, "overdue": False, "missing_points": 0}).encode(),
        )

        async def cleared() -> Any:
            a = await _alarms(stack, world.user, kind="submission_overdue")
            return a if a[0]["state"] == "cleared" else None

        await wait_for(cleared)
        # another subject sees none of it
        other = await asyncio.to_thread(World, stack, interval_min=15, criticality=2)
        assert await _alarms(stack, other.user) == []
    finally:
        await nc.drain()
