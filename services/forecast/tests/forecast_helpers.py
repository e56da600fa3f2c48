"""A compact synthetic week through the public API: regions with an electricity and a heat
consumer, hourly readings through ingest, and the regions' weather."""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from egsu.forecast.client import post_weather
from egsu.testing.stack import Stack
from egsu.testing.world import World, kz

F = "/api/v1/forecast"
REGIONS = ("100000000", "390000000", "590000000")  # regions no other test writes to
M = "/api/v1/measurements"


def consumer(stack: Stack, region: str, commodity: str) -> World:
    quantity = "heat_energy" if commodity == "heat" else "active_import"
    return World(
        stack,
        region,
        interval_min=60,
        quantities=[quantity],
        position="consumption",
        commodity=commodity,
        nominal_voltage=None,
        rated_current=None,
        criticality=3,
    )


def temperature(region_index: int, t: datetime) -> float:
    """A winter week: synoptic swings of several degrees a day, a daily cycle, per region."""
    days = t.timestamp() / 86400
    hour = (t.timestamp() / 3600 + 5) % 24
    return (
        -12
        + 7 * math.sin(2 * math.pi * days / 4.3 + region_index)
        + 3 * math.sin(2 * math.pi * days / 1.7 + 2 * region_index)
        + 3 * math.cos(2 * math.pi * (hour - 15) / 24)
    )


def electricity(region_index: int, t: datetime) -> float:
    hour = (t.timestamp() / 3600 + 5) % 24
    profile = (
        0.8
        + 0.2 * math.exp(-(((hour - 9) / 2.5) ** 2))
        + 0.3 * math.exp(-(((hour - 19.5) / 2.5) ** 2))
    )
    heating = 1 + 0.01 * max(16 - temperature(region_index, t), 0)
    return round(400 * (1 + region_index) * profile * heating, 3)


def heat(region_index: int, t: datetime) -> float:
    daily = sum(temperature(region_index, t - timedelta(hours=h)) for h in range(0, 24, 3)) / 8
    return round(5 * (1 + region_index) * (1 + 0.06 * max(18 - daily, 0)), 4)


@dataclass
class Region:
    kato: str
    index: int
    power: World
    heat: World


def post_readings(
    stack: Stack, w: World, quantity: str, values: list[tuple[datetime, float]]
) -> str:
    body = {
        "subject_bin": w.bin,
        "readings": [
            {
                "point": w.point_code,
                "quantity": quantity,
                "ts": kz(t + timedelta(hours=1)),  # the end of the hour
                "value": v,
                "unit": "Gcal" if quantity == "heat_energy" else "kWh",
            }
            for t, v in values
        ],
    }
    with stack.sync_client(w.user) as c:
        r = c.post(
            "/api/v1/ingest/readings", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        assert r.status_code == 202, r.text
        return str(r.json()["receipt_id"])


def wait_stored(stack: Stack, receipts: list[str], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    with stack.sync_client("operator") as c:
        for rid in receipts:
            while c.get(f"{M}/batches/{rid}").status_code != 200:
                assert time.monotonic() < deadline, f"batch {rid} not stored"
                time.sleep(0.1)


def hours_back(days: int) -> list[datetime]:
    """Starts of the last ``days`` × 24 complete hours."""
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    return [now - timedelta(hours=h) for h in range(days * 24, 0, -1)]


def week(stack: Stack, katos: tuple[str, ...], days: int = 8) -> list[Region]:
    """Consumers in each region with ``days`` of hourly readings, and the regions' weather."""
    regions = [
        Region(k, i, consumer(stack, k, "electricity"), consumer(stack, k, "heat"))
        for i, k in enumerate(katos)
    ]
    hours = hours_back(days)
    receipts = []
    for r in regions:
        receipts.append(
            post_readings(
                stack, r.power, "active_import", [(t, electricity(r.index, t)) for t in hours]
            )
        )
        receipts.append(
            post_readings(stack, r.heat, "heat_energy", [(t, heat(r.index, t)) for t in hours])
        )
    now = hours[-1] + timedelta(hours=1)
    items: list[dict[str, Any]] = []
    for r in regions:
        items += [
            {"region_kato": r.kato, "ts": kz(t), "temperature_c": round(temperature(r.index, t), 2)}
            for t in hours
        ]
        items += [
            {
                "region_kato": r.kato,
                "issued_at": kz(now),
                "ts": kz(now + timedelta(hours=h)),
                "temperature_c": round(temperature(r.index, now + timedelta(hours=h)), 2),
            }
            for h in range(0, 60)
        ]

    async def load_weather() -> dict[str, int]:  # the hook the demo's simulator uses
        async with stack.client("operator") as http:
            return await post_weather(http, items, source="test", chunk=2000)

    stored = asyncio.run(load_weather())
    assert stored == {"observed": len(katos) * len(hours), "forecast": len(katos) * 60}
    wait_stored(stack, receipts)
    return regions


def run_job(c: httpx.Client, timeout: float = 180.0, **body: Any) -> dict[str, Any]:
    r = c.post(f"{F}/jobs", json=body)
    assert r.status_code == 202, r.text
    job = r.json()["items"][0]
    assert job["status"] in ("queued", "running", "done")
    return wait_job(c, job["id"], timeout)


def wait_job(c: httpx.Client, job_id: str, timeout: float = 180.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        r = c.get(f"{F}/jobs/{job_id}")
        assert r.status_code == 200, r.text
        job = r.json()
        if job["status"] in ("done", "failed"):
            assert job["status"] == "done", job
            return job  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, f"job still {job['status']}: {job}"
        time.sleep(0.3)
