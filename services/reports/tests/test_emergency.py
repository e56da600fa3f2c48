"""A critical alarm (or a SCADA emergency event) produces an emergency report without anyone asking."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from reports_helpers import R, demo_day, hours, post, wait_report, wait_stored, world

from egsu.bus import Bus
from egsu.core.settings import Settings
from egsu.infra import InfraUrls
from egsu.testing.stack import Stack

pytestmark = pytest.mark.stack


def find_emergency(stack: Stack, user: str, facility_id: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    with stack.sync_client(user) as c:
        while True:
            r = c.get(R, params={"kind": "emergency", "scope": facility_id})
            assert r.status_code == 200, r.text
            if r.json()["items"]:
                return r.json()["items"][0]
            assert time.monotonic() < deadline, "no emergency report"
            time.sleep(0.2)


async def test_a_critical_alarm_produces_an_emergency_report_by_itself(
    stack: Stack, infra: InfraUrls
) -> None:
    day = demo_day()
    w = world(stack, "550000000", "consumption", points=2)
    wait_stored(stack, [post(stack, w, day, [500.0 + h for h in range(24)], "active_import")])
    at = hours(day)[14] - timedelta(minutes=20)  # 14:40 local... inside the 15th hour
    alarm_id = uuid.uuid4().hex
    # the shape monitoring publishes (libs/contracts/alarms.py on its branch is not on main yet)
    payload = {
        "id": alarm_id,
        "severity": "critical",
        "state": "raised",
        "kind": "voltage_sag",
        "message": "Провал напряжения до 62 % номинального",
        "object": {"type": "point", "id": w.points[0]["code"]},
        "raised_at": at.isoformat(),
        "value": 136.4,
    }
    bus = Bus(Settings(nats_url=infra.nats_url), name="test-monitoring")
    await bus.connect(wait=True)
    try:
        await bus.publish(
            "egsu.alarms.critical", json.dumps(payload).encode(), msg_id=f"alarm-{alarm_id}"
        )
        # the same alarm again (redelivery, or monitoring's repeat) makes no second report
        await bus.publish(
            "egsu.alarms.critical",
            json.dumps({**payload, "count": 2}).encode(),
            msg_id=f"alarm-{alarm_id}-2",
        )
    finally:
        await bus.close()
    meta = await asyncio.to_thread(find_emergency, stack, w.user, w.facility["id"])
    assert meta["origin"] == "alarm" and meta["level"] == "local" and meta["format"] == "pdf"
    with stack.sync_client(w.user) as c:  # the subject sees the report about itself
        done = await asyncio.to_thread(wait_report, c, meta["id"])
        assert (
            done["trigger"]["id"] == alarm_id and done["trigger"]["facility_id"] == w.facility["id"]
        )
        r = c.get(f"{R}/{meta['id']}/download")
        assert r.status_code == 200 and r.content.startswith(b"%PDF")
        rj = c.post(f"{R}/{meta['id']}/reissue", json={"format": "json", "language": "en"})
        assert rj.status_code == 202, rj.text
        again = await asyncio.to_thread(wait_report, c, rj.json()["id"])
        assert again["inputs_sha256"] == done["inputs_sha256"]  # same inputs, reproduced
        doc = c.get(f"{R}/{again['id']}/download").json()
    tables = {t["name"]: t for t in doc["tables"]}
    what = {r["item"]: r["value"] for r in tables["event"]["rows"]}
    assert "voltage_sag" in what["What happened"] and w.points[0]["code"] == what["Metering point"]
    affected = tables["affected"]["rows"]
    # the load of the facility's consumers in the hour before the event: two points at 500 + 13 kWh
    assert affected[-1]["load_before"] == pytest.approx(2 * 513 / 1000)
    assert any(r["event"] == "voltage_sag" for r in tables["timeline"]["rows"])
    with stack.sync_client("operator") as c:
        reports = c.get(
            R, params={"kind": "emergency", "scope": w.facility["id"], "origin": "alarm"}
        ).json()["items"]
        assert len(reports) == 1
    other = world(stack, "550000000", "consumption")
    with stack.sync_client(other.user) as c:  # another subject does not see it
        assert c.get(f"{R}/{meta['id']}").status_code == 404
        assert c.get(R, params={"kind": "emergency"}).json()["items"] == []


def test_a_scada_emergency_event_in_a_batch_produces_an_emergency_report(stack: Stack) -> None:
    day = demo_day()
    w = world(stack, "350000000", "generation")
    trip = hours(day)[9] - timedelta(minutes=30)
    wait_stored(
        stack,
        [
            post(
                stack,
                w,
                day,
                [900.0] * 24,
                "active_export",
                events=[
                    {
                        "point": w.point_code,
                        "ts": trip.astimezone(UTC).isoformat(),
                        "code": "protection_trip",
                        "severity": "emergency",
                        "text": "Срабатывание защиты генератора",
                    }
                ],
            )
        ],
    )
    meta = find_emergency(stack, "operator", w.facility["id"])
    assert meta["origin"] == "scada"
    with stack.sync_client("operator") as c:
        done = wait_report(c, meta["id"])
        assert datetime.fromisoformat(done["trigger"]["occurred_at"]) == trip
