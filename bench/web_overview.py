"""The console's overview under load: server time of GET / with N metering points reporting.

Starts the System on fresh embedded servers, registers one company per region with its share of
N metering points (15-minute active energy, import and export), sends the last 24 hours of their
readings through ingest, waits until the historian has them, logs in as the ministry through the
realm's login page, and reads the console's Server-Timing header of the overview.

    .venv/bin/python bench/web_overview.py --points 2000
"""

from __future__ import annotations

import argparse
import asyncio
import html
import re
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from egsu.contracts.regions import REGIONS
from egsu.infra import Infra
from egsu.testing.stack import start_stack
from egsu.testing.world import facility_body, grid, kz, new_bin, subject_body


async def populate(stack, points: int) -> list[tuple[str, str, list[str]]]:
    per = max(1, points // len(REGIONS))
    subjects = []
    async with stack.client("ministry") as c:
        sem = asyncio.Semaphore(8)

        async def point(code: str, fid: str) -> None:
            async with sem:
                r = await c.post(
                    "/api/v1/registry/metering-points",
                    json={
                        "code": code,
                        "facility_id": fid,
                        "commodity": "electricity",
                        "position": "generation",
                        "quantities": ["active_import", "active_export"],
                        "interval_min": 15,
                    },
                )
                assert r.status_code == 201, r.text

        for region in REGIONS:
            bin_ = new_bin()
            r = await c.post("/api/v1/registry/subjects", json=subject_body(bin_, region.kato))
            assert r.status_code == 201, r.text
            r = await c.post("/api/v1/registry/facilities", json=facility_body(bin_, criticality=2))
            assert r.status_code == 201, r.text
            fid = r.json()["id"]
            codes = [f"B-{bin_}-{i:04d}" for i in range(per)]
            await asyncio.gather(*(point(code, fid) for code in codes))
            user = f"subject-{bin_}"
            stack.add_user(user, ["subject"], bin=bin_)
            subjects.append((bin_, user, codes))
    return subjects


async def send_day(stack, subjects: list[tuple[str, str, list[str]]]) -> int:
    ends = grid(datetime.now(UTC) - timedelta(hours=24), 96, 15)
    total = 0
    receipts = []
    for _, user, codes in subjects:
        readings = [
            {
                "point": code,
                "quantity": q,
                "ts": kz(t),
                "value": 200.0 + (i % 96) * (3 if q == "active_export" else 2),
            }
            for code in codes
            for i, t in enumerate(ends)
            for q in ("active_import", "active_export")
        ]
        total += len(readings)
        async with stack.client(user) as c:
            for k in range(0, len(readings), 20000):
                r = await c.post(
                    "/api/v1/ingest/readings", json={"readings": readings[k : k + 20000]}
                )
                assert r.status_code == 202, r.text
                receipts.append((user, r.json()["receipt_id"]))
    for user, rid in receipts:
        async with stack.client(user) as c:
            for _ in range(600):
                if (await c.get(f"/api/v1/measurements/batches/{rid}")).status_code == 200:
                    break
                await asyncio.sleep(0.2)
    return total


def login(base: str, username: str) -> httpx.Client:
    c = httpx.Client(base_url=base, timeout=60)
    r = c.get("/login")
    page = c.get(r.headers["location"])
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page.text)[1])
    q = html.unescape(re.search(r'name="q" value="([^"]*)"', page.text)[1])
    r = c.post(action, data={"q": q, "username": username, "password": "demo"})
    c.get(r.headers["location"])
    return c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=2000)
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument(
        "--keep", action="store_true", help="keep the System running afterwards (Ctrl-C stops it)"
    )
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-web-"))
    infra = Infra(root / "infra", fast=True)
    urls = infra.start()
    stack = start_stack(root / "stack", urls.env())
    try:
        t0 = time.perf_counter()
        subjects = asyncio.run(populate(stack, args.points))
        n_points = sum(len(c) for _, _, c in subjects)
        t1 = time.perf_counter()
        readings = asyncio.run(send_day(stack, subjects))
        t2 = time.perf_counter()
        print(
            f"registered {n_points} points in {t1 - t0:.1f} s; {readings} readings stored in {t2 - t1:.1f} s"
        )
        c = login(f"http://localhost:{stack.port}", "ministry")
        server, wall, first = [], [], []
        for i in range(args.requests + 2):
            s = time.perf_counter()
            r = c.get("/")
            w = (time.perf_counter() - s) * 1000
            assert r.status_code == 200, r.status_code
            dur = float(r.headers["server-timing"].split("dur=")[1])
            if i >= 2:  # the first requests warm the caches (keys, connections)
                server.append(dur)
                wall.append(w)
            else:
                first.append(dur)
        server.sort()
        wall.sort()
        print(
            f"overview, {n_points} points, {args.requests} requests: server time p50 "
            f"{statistics.median(server):.0f} ms, p95 {server[int(len(server) * 0.95) - 1]:.0f} ms, "
            f"max {server[-1]:.0f} ms; through the gateway p50 {statistics.median(wall):.0f} ms"
        )
        print(f"the first two overviews after login: {', '.join(f'{d:.0f} ms' for d in first)}")
        others = {}
        for path in ("/regions/550000000", "/registry", f"/points/{subjects[0][2][0]}"):
            ds = []
            for _ in range(5):
                r = c.get(path)
                assert r.status_code == 200, (path, r.status_code)
                ds.append(float(r.headers["server-timing"].split("dur=")[1]))
            others[path.split("/")[1]] = statistics.median(ds)
        print(
            "other pages, server time p50: "
            + ", ".join(f"{k} {v:.0f} ms" for k, v in others.items())
        )
        c.close()
        if args.keep:
            print(
                f"the System stays up at http://localhost:{stack.port}/ (Ctrl-C stops it)",
                flush=True,
            )
            while True:
                time.sleep(3600)
    finally:
        stack.stop()
        infra.stop()


if __name__ == "__main__":
    main()
