"""Test data for the reports: subjects with points of a given position, readings through ingest."""

from __future__ import annotations

import random
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from egsu.testing.stack import Stack
from egsu.testing.world import KZ, World, kz

INGEST = "/api/v1/ingest"
M = "/api/v1/measurements"
R = "/api/v1/reports"


def demo_day() -> date:
    """A day no other test writes to (the historian is shared by the whole session)."""
    return date(2012, 1, 1) + timedelta(days=random.randrange(0, 8 * 365))


def world(
    stack: Stack,
    region: str,
    position: str,
    *,
    points: int = 1,
    commodity: str = "electricity",
    **kw: Any,
) -> World:
    quantity = {
        "generation": "active_export",
        "consumption": "active_import",
        "own_needs": "active_import",
    }[position]
    if commodity == "heat":
        quantity = "heat_energy"
    return World(
        stack,
        region,
        points=points,
        interval_min=60,
        quantities=[quantity],
        position=position,
        commodity=commodity,
        nominal_voltage=None,
        rated_current=None,
        criticality=3,
        **kw,
    )


def hours(day: date) -> list[datetime]:
    """Interval ends of a local day's 24 hours."""
    start = datetime(day.year, day.month, day.day, tzinfo=KZ).astimezone(UTC)
    return [start + timedelta(hours=h + 1) for h in range(24)]


def post(
    stack: Stack,
    w: World,
    day: date,
    values: list[float],
    quantity: str,
    *,
    events: list[dict[str, Any]] | None = None,
) -> str:
    body = {
        "subject_bin": w.bin,
        "readings": [
            {
                "point": p["code"],
                "quantity": quantity,
                "ts": kz(t),
                "value": v,
                "unit": "Gcal" if quantity == "heat_energy" else "kWh",
            }
            for p in w.points
            for t, v in zip(hours(day), values, strict=True)
        ],
        "events": events or [],
    }
    with stack.sync_client(w.user) as c:
        r = c.post(f"{INGEST}/readings", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
        assert r.status_code == 202, r.text
        return str(r.json()["receipt_id"])


def wait_stored(stack: Stack, receipts: list[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    with stack.sync_client("operator") as c:
        for rid in receipts:
            while c.get(f"{M}/batches/{rid}").status_code != 200:
                assert time.monotonic() < deadline, f"batch {rid} not stored"
                time.sleep(0.05)


def country_total(stack: Stack, quantity: str, day: date) -> float:
    start = datetime(day.year, day.month, day.day, tzinfo=KZ)
    with stack.sync_client("operator") as c:
        r = c.get(
            f"{M}/country/readings",
            params={
                "quantity": quantity,
                "from": start.isoformat(),
                "to": (start + timedelta(days=1)).isoformat(),
                "resolution": "1d",
            },
        )
        assert r.status_code == 200, r.text
        return sum(i["sum"] for i in r.json()["items"])


def wait_report(c: httpx.Client, rid: str, timeout: float = 90.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = c.get(f"{R}/{rid}")
        assert r.status_code == 200, r.text
        body = r.json()
        if body["status"] in ("done", "failed"):
            assert body["status"] == "done", body
            return body  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"report {rid} still {body['status']}"
        time.sleep(0.2)


def request_report(c: httpx.Client, **body: Any) -> str:
    r = c.post(R, json=body)
    assert r.status_code == 202, r.text
    assert set(r.json()) == {"id", "status"} and r.json()["status"] == "queued"
    return str(r.json()["id"])
