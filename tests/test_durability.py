"""Nothing accepted is lost: a killed historian, a stopped bus, a rebuild from the raw archive."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from egsu.infra import Infra, InfraUrls
from egsu.infra.embedded import Nats
from egsu.testing.stack import Stack
from egsu.testing.world import World, grid, kz

pytestmark = pytest.mark.stack
ING = "/api/v1/ingest"


async def count_current(infra: InfraUrls, codes: list[str]) -> int:
    conn = await asyncpg.connect(infra.database_url)
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM measurements.reading r JOIN measurements.point p ON p.id = r.point_id "
                "WHERE p.code = ANY($1::text[]) AND r.current",
                codes,
            )
        )
    finally:
        await conn.close()


async def test_killing_the_historian_mid_backfill_loses_and_doubles_nothing(
    stack: Stack, infra: InfraUrls
) -> None:
    world = World(stack, points=10, interval_min=15, criticality=2)
    times = grid(datetime(2025, 6, 1, tzinfo=UTC), 96 * 5, 15)  # five days of 15-minute intervals
    batches = []
    for p in world.points:
        for day in range(5):
            chunk = times[day * 96 : (day + 1) * 96]
            batches.append(
                {
                    "subject_bin": world.bin,
                    "readings": [
                        {
                            "point": p["code"],
                            "quantity": "active_export",
                            "ts": kz(t),
                            "value": float(i % 7),
                        }
                        for i, t in enumerate(chunk)
                    ],
                }
            )
    total = len(batches) * 96  # 4,800 readings in 50 batches
    async with stack.client(world.user) as c:
        for i, b in enumerate(batches):
            r = await c.post(
                f"{ING}/readings", json=b, headers={"Idempotency-Key": f"bf-{world.bin}-{i}"}
            )
            assert r.status_code == 202, r.text
            if i == len(batches) // 3:
                os.kill(stack.pid("measurements"), signal.SIGKILL)
    codes = [p["code"] for p in world.points]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if await count_current(infra, codes) == total:
            break
        await asyncio.sleep(0.5)
    assert await count_current(infra, codes) == total
    await asyncio.sleep(1.0)  # nothing more arrives afterwards either
    assert await count_current(infra, codes) == total


def test_bus_down_is_503_and_the_retry_lands_once(stack: Stack, infra_servers: Infra) -> None:
    world = World(stack)
    body = {
        "subject_bin": world.bin,
        "readings": [
            {"point": world.point_code, "quantity": "active_export", "ts": kz(t), "value": 3.0}
            for t in grid(datetime(2026, 2, 1, tzinfo=UTC), 12, 5)
        ],
    }
    key = uuid.uuid4().hex
    nats = infra_servers.part(Nats)
    nats.stop()
    try:
        with stack.sync_client(world.user) as c:
            r = c.post(f"{ING}/readings", json=body, headers={"Idempotency-Key": key})
        assert r.status_code == 503, r.text
        assert (
            r.headers["content-type"] == "application/problem+json"
            and int(r.headers["retry-after"]) > 0
        )
    finally:
        nats.start()
    deadline = time.monotonic() + 30
    status = None
    with stack.sync_client(world.user) as c:
        while time.monotonic() < deadline:
            r = c.post(f"{ING}/readings", json=body, headers={"Idempotency-Key": key})
            status = r.status_code
            if status == 202:
                break
            time.sleep(0.5)
        assert status == 202, r.text
        receipt = r.json()
        again = c.post(f"{ING}/readings", json=body, headers={"Idempotency-Key": key}).json()
        assert again["receipt_id"] == receipt["receipt_id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            items = c.get(
                "/api/v1/measurements/points/" + world.point_code + "/readings",
                params={
                    "quantity": "active_export",
                    "from": "2026-02-01T05:00:00+05:00",
                    "to": "2026-02-01T06:00:00+05:00",
                    "versions": "all",
                },
            ).json()["items"]
            if len(items) == 12:
                break
            time.sleep(0.2)
    assert len(items) == 12 and {i["version"] for i in items} == {1}


async def test_replay_rebuilds_readings_from_the_raw_archive(
    stack: Stack, infra: InfraUrls
) -> None:
    world = World(stack)
    t = grid(datetime(2026, 2, 2, tzinfo=UTC), 6, 5)
    started = datetime.now(UTC) - timedelta(seconds=5)
    async with stack.client(world.user) as c:
        r = await c.post(
            f"{ING}/readings",
            json={
                "subject_bin": world.bin,
                "readings": [
                    {
                        "point": world.point_code,
                        "quantity": "active_export",
                        "ts": kz(x),
                        "value": 4.0,
                    }
                    for x in t
                ],
            },
        )
        assert r.status_code == 202
        # and an 80020 file (archived as XML) with a value its source marks not commercial
        code = f"{world.bin}001"
        async with stack.client("ministry") as m:
            assert (
                await m.patch(
                    f"/api/v1/registry/metering-points/{world.point['id']}",
                    json={"code_80020": code},
                )
            ).status_code == 200
        r = await c.post(
            f"{ING}/readings",
            headers={"Content-Type": "application/xml"},
            content=(
                '<?xml version="1.0" encoding="utf-8"?><message class="80020" version="2">'
                "<datetime><day>20260203</day></datetime><area timezone='+05:00'>"
                f'<measuringpoint code="{code}"><measuringchannel code="02">'
                '<period start="0000" end="0005"><value>1</value></period>'
                '<period start="0005" end="0010"><value status="1">2</value></period>'
                "</measuringchannel></measuringpoint></area></message>"
            ).encode(),
        )
        assert r.status_code == 202, r.text
    deadline = time.monotonic() + 10
    while await count_current(infra, [world.point_code]) < 8 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    conn = await asyncpg.connect(infra.database_url)
    try:
        await conn.execute(
            "DELETE FROM measurements.reading r USING measurements.point p "
            "WHERE p.id = r.point_id AND p.code = $1",
            world.point_code,
        )
    finally:
        await conn.close()
    assert await count_current(infra, [world.point_code]) == 0
    env = {
        **os.environ,
        **infra.env(),
        "EGSU_OIDC_ISSUER": stack.issuer,
        "EGSU_OIDC_INTERNAL_URL": f"{stack.service_url('realm')}/realms/egsu",
        "EGSU_CLIENT_ID": "egsu-ingest",
        "EGSU_CLIENT_SECRET": "egsu-ingest-dev-secret",
        "EGSU_SERVICES": f'{{"registry": "{stack.service_url("registry")}"}}',
    }
    import subprocess
    import sys

    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "egsu.cli.main",
            "replay",
            "--from",
            started.isoformat(),
            "--to",
            (datetime.now(UTC) + timedelta(seconds=5)).isoformat(),
            "--subject",
            world.bin,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "replayed 2 batches, 8 readings" in out.stdout
    deadline = time.monotonic() + 10
    while await count_current(infra, [world.point_code]) < 8 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert await count_current(infra, [world.point_code]) == 8
    async with stack.client(world.user) as c:
        items = (
            await c.get(
                f"/api/v1/measurements/points/{world.point_code}/readings",
                params={"quantity": "active_export", "from": "2026-02-02T19:00:00Z",
                        "to": "2026-02-02T19:10:00Z"},
            )
        ).json()["items"]  # fmt: skip
    assert [(i["value"], i["quality"]) for i in items] == [(1.0, "valid"), (2.0, "suspect")]
    assert httpx.get(f"{stack.url}/readyz").status_code == 200
