"""Reports benchmark: how long a national daily balance takes, and how many historian series it reads.

    .venv/bin/python bench/reports.py --subjects 40 --points 4
    .venv/bin/python bench/reports.py --url http://127.0.0.1:8000 --var ./var   # a running System

Creates ``--subjects`` generation subjects (a plant with ``--points`` generation points and one
own-needs point) and as many consumer subjects (``--points`` consumption points each) spread over
the regions, posts one day of hourly readings, then asks for the national daily electricity balance
in each format one after another and prints, per format: seconds from the request until the file
is ready, the file's size, and the historian series read against the metering points in scope
(the planner reads group totals minus the few points that belong elsewhere).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

from egsu.contracts.regions import REGIONS
from egsu.infra import Infra
from egsu.testing.stack import Stack, start_stack
from egsu.testing.world import KZ, World, kz, point_body

console = Console()


def hours(day: date) -> list[datetime]:
    start = datetime(day.year, day.month, day.day, tzinfo=KZ).astimezone(UTC)
    return [start + timedelta(hours=h + 1) for h in range(24)]


def seed(stack: Stack, subjects: int, points: int, day: date) -> int:
    rng = random.Random(7)
    total = 0
    receipts: list[str] = []
    for i in range(subjects):
        kato = REGIONS[i % len(REGIONS)].kato
        for position, quantity in (
            ("generation", "active_export"),
            ("consumption", "active_import"),
        ):
            w = World(
                stack,
                kato,
                points=points,
                interval_min=60,
                quantities=[quantity],
                position=position,
                nominal_voltage=None,
                rated_current=None,
                criticality=3,
            )
            codes = [(p["code"], quantity) for p in w.points]
            if position == "generation":
                with stack.sync_client("ministry") as c:
                    r = c.post(
                        "/api/v1/registry/metering-points",
                        json=point_body(
                            f"B-{w.bin}-AUX",
                            w.facility["id"],
                            position="own_needs",
                            quantities=["active_import"],
                            interval_min=60,
                            nominal_voltage=None,
                            rated_current=None,
                        ),
                    )
                    r.raise_for_status()
                codes.append((r.json()["code"], "active_import"))
            body = {
                "subject_bin": w.bin,
                "readings": [
                    {"point": code, "quantity": q, "ts": kz(t), "value": rng.uniform(100, 1000)}
                    for code, q in codes
                    for t in hours(day)
                ],
            }
            with stack.sync_client(w.user) as c:
                r = c.post(
                    "/api/v1/ingest/readings",
                    json=body,
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                )
                r.raise_for_status()
                receipts.append(r.json()["receipt_id"])
            total += len(codes)
    with stack.sync_client("operator") as c:
        for rid in receipts:
            while c.get(f"/api/v1/measurements/batches/{rid}").status_code != 200:
                time.sleep(0.05)
    return total


def run(stack: Stack, args: argparse.Namespace) -> None:
    day = date(2011, 1, 1) + timedelta(days=random.randrange(365))
    t0 = time.monotonic()
    points = seed(stack, args.subjects, args.points, day)
    console.print(
        f"seeded {points} metering points of {2 * args.subjects} subjects in {time.monotonic() - t0:.1f} s for {day}"
    )
    with stack.sync_client("ministry") as c:
        index = c.get("/api/v1/registry/metering-points/index").json()["items"]
    in_scope = {
        q: sum(1 for p in index if q in p["quantities"]) for q in ("active_export", "active_import")
    }
    table = Table(title=f"National daily electricity balance, {day}")
    for col in ("format", "seconds", "size, KB", "historian series read", "points in scope"):
        table.add_column(col, justify="right")
    with stack.sync_client("ministry") as c:
        for fmt in ("json", "xlsx", "csv", "pdf"):
            t = time.monotonic()
            rid = c.post(
                "/api/v1/reports",
                json={
                    "kind": "daily_electricity_balance",
                    "level": "national",
                    "period": {"from": day.isoformat(), "to": day.isoformat()},
                    "format": fmt,
                },
            ).json()["id"]
            while (meta := c.get(f"/api/v1/reports/{rid}").json())["status"] not in (
                "done",
                "failed",
            ):
                time.sleep(0.1)
            took = time.monotonic() - t
            table.add_row(
                fmt,
                f"{took:.2f}",
                f"{(meta['size'] or 0) / 1024:.0f}",
                str(meta["summary"]["historian_calls"]),
                str(sum(in_scope.values())),
            )
    console.print(table)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=40)
    ap.add_argument("--points", type=int, default=4)
    ap.add_argument("--url")
    ap.add_argument("--var", type=Path)
    args = ap.parse_args()
    if args.url:
        port = int(httpx.URL(args.url).port or 80)
        run(Stack(var=args.var, port=port, proc=None, log=args.var / "egsu-up.log"), args)  # type: ignore[arg-type]
        return
    with tempfile.TemporaryDirectory() as tmp:
        infra = Infra(Path(tmp) / "infra", fast=True)
        urls = infra.start()
        try:
            stack = start_stack(
                Path(tmp) / "stack", urls.env(), extra_env={"EGSU_RATE_LIMIT": "1000000/minute"}
            )
            try:
                run(stack, args)
            finally:
                stack.stop()
        finally:
            infra.stop()


if __name__ == "__main__":
    sys.exit(main())
