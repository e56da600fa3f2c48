"""Forecast jobs end to end: training and scoring time per 1,000 series through the job path.

    .venv/bin/python bench/forecast_jobs.py --series 1000 --days 35
    .venv/bin/python bench/forecast_jobs.py --series 200 --days 21 --horizons day_ahead intraday

Starts the System on embedded servers, registers ``--series`` facilities (one hourly consumption
point each, spread over the regions, ``--per-subject`` facilities per subject), posts ``--days`` of
synthetic hourly readings of realistic shape (``egsu.forecast.synthetic``) through ingest and the
regions' weather, then queues a training job of the facility group (``POST /api/v1/forecast/jobs``)
and, once it is done, a scoring job, and prints for each: the wall time from queueing to done, the
worker's own time (from the job's start and finish) and the back-test's time, per 1,000 series.
The job path is the production one: the worker reads every series from the historian over HTTP,
back-tests and fits a global LightGBM (400 rounds; MSTL off), writes the model to the object
store and the scores and forecasts to PostgreSQL.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from egsu.contracts.regions import REGIONS
from egsu.forecast.synthetic import synthetic_panel
from egsu.infra import Infra
from egsu.testing.stack import Stack, start_stack
from egsu.testing.world import facility_body, kz, new_bin, point_body, subject_body

console = Console()
F = "/api/v1/forecast"


async def _post(c: httpx.AsyncClient, gate: asyncio.Semaphore, path: str, body: Any) -> Any:
    async with gate:
        for attempt in range(5):
            r = await c.post(path, json=body)
            if r.status_code in (429, 502, 503) and attempt < 4:
                await asyncio.sleep(1 + attempt)
                continue
            r.raise_for_status()
            return r.json()


async def seed(stack: Stack, series: int, per_subject: int, days: int) -> tuple[float, int]:
    """Facilities with one hourly point each and ``days`` of readings; seconds and readings."""
    started = time.monotonic()
    gate = asyncio.Semaphore(8)
    n_subjects = (series + per_subject - 1) // per_subject
    bins = [new_bin() for _ in range(n_subjects)]
    for b in bins:
        stack.add_user(f"subject-{b}", ["subject"], bin=b)
    async with stack.client("ministry") as c:
        await asyncio.gather(
            *(
                _post(c, gate, "/api/v1/registry/subjects", subject_body(b, REGIONS[i % 20].kato))
                for i, b in enumerate(bins)
            )
        )
        facilities = await asyncio.gather(
            *(
                _post(
                    c,
                    gate,
                    "/api/v1/registry/facilities",
                    facility_body(
                        bins[k // per_subject],
                        type="consumer_site",
                        installed_electric_mw=None,
                        installed_heat_gcal_h=None,
                        criticality=3,
                    ),
                )
                for k in range(series)
            )
        )
        points = await asyncio.gather(
            *(
                _post(
                    c,
                    gate,
                    "/api/v1/registry/metering-points",
                    point_body(
                        f"B-{f['subject_bin']}-{k:05d}",
                        f["id"],
                        position="consumption",
                        quantities=["active_import"],
                        interval_min=60,
                        nominal_voltage=None,
                        rated_current=None,
                    ),
                )
                for k, f in enumerate(facilities)
            )
        )
    console.print(f"registry: {series} facilities and points in {time.monotonic() - started:.0f} s")
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    panel = synthetic_panel(
        n_series=series,
        days=days,
        step="1h",
        start=(end - timedelta(days=days)).replace(tzinfo=None).isoformat(),
        tz="UTC",
        seed=11,
    )
    times = [end - timedelta(hours=h) for h in range(days * 24, 0, -1)]
    receipts: list[str] = []
    by_subject: dict[str, list[int]] = {}
    for k, p in enumerate(points):
        by_subject.setdefault(p["subject_bin"], []).append(k)
    readings = 0
    for b, ks in by_subject.items():
        headers = {**stack.headers(f"subject-{b}"), "Idempotency-Key": uuid.uuid4().hex}
        body = {
            "subject_bin": b,
            "readings": [
                {
                    "point": points[k]["code"],
                    "quantity": "active_import",
                    "ts": kz(t + timedelta(hours=1)),
                    "value": round(float(panel.load[k, j]), 3),
                }
                for k in ks
                for j, t in enumerate(times)
            ],
        }
        readings += len(body["readings"])
        async with httpx.AsyncClient(base_url=stack.url, timeout=120) as c:
            r = await c.post("/api/v1/ingest/readings", json=body, headers=headers)
            r.raise_for_status()
            receipts.append(r.json()["receipt_id"])
    # The regions' weather: the synthetic temperature of the first series in each.
    items = []
    for i, region in enumerate(REGIONS):
        row = i % series
        items += [
            {
                "region_kato": region.kato,
                "ts": kz(t),
                "temperature_c": round(float(panel.exog["temperature"][row, j]), 2),
            }
            for j, t in enumerate(times)
        ]
        items += [
            {
                "region_kato": region.kato,
                "issued_at": kz(end),
                "ts": kz(end + timedelta(hours=h)),
                "temperature_c": round(float(np.mean(panel.exog["temperature"][row, -24:])), 2),
            }
            for h in range(48)
        ]
    async with stack.client("operator") as c:
        (await c.post(f"{F}/weather", json={"items": items})).raise_for_status()
        for rid in receipts:
            while (await c.get(f"/api/v1/measurements/batches/{rid}")).status_code != 200:
                await asyncio.sleep(0.2)
    return time.monotonic() - started, readings


def _seconds(job: dict[str, Any], a: str, b: str) -> float:
    return (datetime.fromisoformat(job[b]) - datetime.fromisoformat(job[a])).total_seconds()


def run_job(c: httpx.Client, body: dict[str, Any]) -> tuple[list[dict[str, Any]], float]:
    started = time.monotonic()
    r = c.post(f"{F}/jobs", json=body)
    r.raise_for_status()
    ids = [j["id"] for j in r.json()["items"]]
    done = []
    for job_id in ids:
        while True:
            job = c.get(f"{F}/jobs/{job_id}").json()
            if job["status"] in ("done", "failed"):
                done.append(job)
                break
            time.sleep(1)
    return done, time.monotonic() - started


def run(stack: Stack, args: argparse.Namespace) -> None:
    took, readings = asyncio.run(seed(stack, args.series, args.per_subject, args.days))
    console.print(f"seeded {readings:,} readings of {args.series} series in {took:.0f} s")
    table = Table(
        title=f"Forecast jobs, facility group, {args.series} series × {args.days} days hourly"
    )
    for col in (
        "job",
        "horizons",
        "wall s",
        "worker s",
        "back-test s",
        "per 1,000 series (worker)",
        "status",
    ):
        table.add_column(col, justify="right")
    per = 1000 / args.series
    with httpx.Client(base_url=stack.url, headers=stack.headers("operator"), timeout=60) as c:
        jobs, wall = run_job(
            c,
            {
                "kind": "train",
                "group": "facility",
                "quantity": "active_import",
                "horizons": args.horizons,
            },
        )
        job = jobs[0]
        result = job.get("result") or {}
        horizons = result.get("horizons", {})
        fit = sum(h.get("seconds", 0) for h in horizons.values())
        worker = _seconds(job, "started_at", "finished_at")
        table.add_row(
            "train (+ score inline)" if "scoring" in result else "train",
            ",".join(args.horizons),
            f"{wall:.0f}",
            f"{worker:.0f}",
            f"{fit:.0f}",
            f"{worker * per:.0f} s",
            job["status"] + (f" ({job['error'][:60]})" if job.get("error") else ""),
        )
        console.print(
            {h: {k: v for k, v in r.items() if k != "detail"} for h, r in horizons.items()}
        )
        score_h = [h for h in args.horizons if horizons.get(h, {}).get("status") == "trained"]
        if score_h:
            jobs, wall = run_job(
                c,
                {
                    "kind": "score",
                    "group": "facility",
                    "quantity": "active_import",
                    "horizons": score_h,
                },
            )
            worker = max(_seconds(j, "started_at", "finished_at") for j in jobs)
            table.add_row(
                f"score ({len(jobs)} shard{'s' if len(jobs) > 1 else ''})",
                ",".join(score_h),
                f"{wall:.0f}",
                f"{worker:.0f}",
                "—",
                f"{worker * per:.0f} s",
                ", ".join(j["status"] for j in jobs),
            )
            console.print(jobs[0].get("result"))
    console.print(table)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--days", type=int, default=35)
    ap.add_argument("--per-subject", type=int, default=25)
    ap.add_argument("--horizons", nargs="+", default=["day_ahead"])
    args = ap.parse_args()
    env = {
        "EGSU_RATE_LIMIT": "1000000/minute",
        "EGSU_FORECAST_LGBM_ROUNDS": "400",
        "EGSU_FORECAST_MSTL_MAX_SERIES": "0",
        "EGSU_FORECAST_AUTO_LEVELS": '["national"]',
        "EGSU_FORECAST_TRAIN_SAMPLE": str(max(1000, args.series)),
    }
    with tempfile.TemporaryDirectory() as tmp:
        infra = Infra(Path(tmp) / "infra", fast=True)
        urls = infra.start()
        try:
            stack = start_stack(Path(tmp) / "stack", urls.env(), extra_env=env)
            try:
                run(stack, args)
            finally:
                stack.stop()
        finally:
            infra.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
