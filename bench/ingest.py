"""End-to-end ingest benchmark: concurrent batches through the gateway until they are in the historian.

    .venv/bin/python bench/ingest.py --readings 500000 --batch 5000 --concurrency 8
    .venv/bin/python bench/ingest.py --via client-models   # through egsu-client, Reading models

Starts the whole System on fresh embedded servers (or uses --url and --var of a running one),
creates a subject with metering points, posts batches with the subject's token and prints:
readings/s from the first post until the last reading is queryable, p50/p99 receipt latency, and
CPU seconds and peak memory of each process. With --kill-measurements the historian is killed with
SIGKILL in the middle and the stored count must still be exact. ``--via`` chooses the poster:
plain httpx with ready bytes (default), ``egsu-client`` with the same bytes (``client``), or
``egsu-client`` serialising ``Reading`` models (``client-models``, the serialisation timed too).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
import psutil
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from egsu.client import EgsuClient, Password, Reading
from egsu.infra import Infra
from egsu.testing.stack import start_stack
from egsu.testing.world import World, grid, kz

console = Console()


def processes(stack, infra: Infra) -> dict[str, psutil.Process]:  # type: ignore[no-untyped-def]
    out = {}
    for name, p in stack.state()["processes"].items():
        if p["pid"]:
            out[name] = psutil.Process(p["pid"])
    for child in infra.children():
        if child.pid:
            out[child.name] = psutil.Process(child.pid)
    return out


def cpu_of(proc: psutil.Process) -> float:
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def rss_of(proc: psutil.Process) -> int:
    total = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


async def main(args: argparse.Namespace) -> None:
    root = Path(tempfile.mkdtemp(prefix="egsu-bench-"))
    infra = Infra(root / "infra", fast=False, environ={})
    urls = infra.start()
    stack = start_stack(root / "stack", urls.env())
    try:
        console.print(f"System up in {stack.startup_seconds:.1f} s (infra embedded, fsync on)")
        points = max(1, args.batch // 96)
        world = World(stack, points=points, interval_min=15, criticality=2)
        codes = [p["code"] for p in world.points]
        per_batch = points * 96
        n_batches = max(1, args.readings // per_batch)
        # the last n_batches days up to yesterday: recent data, as subjects send it
        first = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        times = grid(first - timedelta(days=n_batches), 96 * n_batches, 15)
        token = stack.token(world.user)
        procs = processes(stack, infra)
        cpu0 = {k: cpu_of(p) for k, p in procs.items()}
        peak = {k: 0 for k in procs}
        latencies: list[float] = []

        def body(b: int) -> dict:  # type: ignore[type-arg]
            day = times[b * 96 : (b + 1) * 96]
            return {
                "subject_bin": world.bin,
                "readings": [
                    {
                        "point": c,
                        "quantity": "active_export",
                        "ts": kz(t),
                        "value": float((i * 7 + j) % 100),
                    }
                    for j, c in enumerate(codes)
                    for i, t in enumerate(day)
                ],
            }

        bodies = [httpx.Request("POST", "/", json=body(b)).content for b in range(n_batches)]
        models = (
            [[Reading.model_validate(r) for r in body(b)["readings"]] for b in range(n_batches)]
            if args.via == "client-models"
            else []
        )
        sem = asyncio.Semaphore(args.concurrency)
        killed = False
        async with (
            httpx.AsyncClient(
                base_url=stack.url,
                timeout=120,
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            ) as client,
            EgsuClient(stack.url, Password(world.user, "demo"), timeout=120) as egsu,
        ):

            async def post(b: int) -> None:
                nonlocal killed
                async with sem:
                    key = f"bench-{world.bin}-{b}"
                    t0 = time.perf_counter()
                    if args.via == "client":
                        await egsu.post_readings_json(bodies[b], idempotency_key=key)
                        latencies.append(time.perf_counter() - t0)
                    elif args.via == "client-models":
                        await egsu.post_readings(
                            models[b], subject_bin=world.bin, idempotency_key=key
                        )
                        latencies.append(time.perf_counter() - t0)
                    while args.via == "httpx":
                        t0 = time.perf_counter()
                        r = await client.post(
                            "/api/v1/ingest/readings",
                            content=bodies[b],
                            headers={"Idempotency-Key": key},
                        )
                        if r.status_code == 202:
                            latencies.append(time.perf_counter() - t0)
                            break
                        if r.status_code == 503:
                            await asyncio.sleep(float(r.headers.get("retry-after", "1")))
                            continue
                        raise RuntimeError(f"{r.status_code}: {r.text[:300]}")
                if args.kill_measurements and not killed and len(latencies) >= n_batches // 2:
                    killed = True
                    os.kill(stack.pid("measurements"), signal.SIGKILL)
                    console.print("[red]killed measurements with SIGKILL[/]")

            async def sample() -> None:
                while True:
                    for k, p in list(procs.items()):
                        try:
                            peak[k] = max(peak[k], rss_of(p))
                        except psutil.NoSuchProcess:
                            pass
                    await asyncio.sleep(0.5)

            sampler = asyncio.create_task(sample())
            started = time.perf_counter()
            with Progress(console=console, transient=True) as progress:
                task = progress.add_task("posting", total=n_batches)

                async def tracked(b: int) -> None:
                    await post(b)
                    progress.advance(task)

                await asyncio.gather(*(tracked(b) for b in range(n_batches)))
            posted = time.perf_counter() - started
            total = n_batches * per_batch
            conn = await asyncpg.connect(urls.database_url)
            try:
                while True:
                    n = await conn.fetchval(
                        "SELECT count(*) FROM measurements.reading r JOIN measurements.point p ON p.id = r.point_id "
                        "WHERE p.code = ANY($1::text[]) AND r.current",
                        codes,
                    )
                    if n >= total:
                        break
                    await asyncio.sleep(0.2)
            finally:
                await conn.close()
            stored = time.perf_counter() - started
            sampler.cancel()
        procs = processes(stack, infra)  # the killed process was replaced
        lat = sorted(latencies)
        console.print(
            f"\n[bold]{total:,} readings[/] in {n_batches} batches of {per_batch:,} "
            f"({args.concurrency} in flight, via {args.via})"
            f"{' — historian killed mid-way' if killed else ''}"
        )
        console.print(f"stored exactly: {n == total} ({n:,})")
        console.print(
            f"receipts: {total / posted:,.0f} readings/s;  end-to-end (queryable): "
            f"[bold]{total / stored:,.0f} readings/s[/]"
        )
        console.print(
            f"receipt latency p50 {statistics.median(lat) * 1000:.0f} ms, "
            f"p99 {lat[int(len(lat) * 0.99) - 1 if len(lat) > 1 else 0] * 1000:.0f} ms"
        )
        t = Table("process", "CPU s", "CPU % of wall", "peak RSS MB")
        for k, p in procs.items():
            used = cpu_of(p) - cpu0.get(k, 0.0) if k in cpu0 else cpu_of(p)
            t.add_row(
                k,
                f"{used:.1f}",
                f"{100 * used / stored:.0f}",
                f"{peak.get(k, rss_of(p)) / 2**20:.0f}",
            )
        console.print(t)
    finally:
        stack.stop()
        infra.stop()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--readings", type=int, default=500_000)
    ap.add_argument(
        "--batch",
        type=int,
        default=5_000,
        help="readings per batch (rounded to whole days of points)",
    )
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--kill-measurements", action="store_true")
    ap.add_argument("--via", choices=["httpx", "client", "client-models"], default="httpx")
    asyncio.run(main(ap.parse_args()))
    sys.exit(0)
