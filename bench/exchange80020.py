"""80020 files against JSON batches of the same readings: parsed in-process, and accepted end to end.

    .venv/bin/python bench/exchange80020.py --points 100 --days 10 --concurrency 4
    .venv/bin/python bench/exchange80020.py --parse-only --points 500

A day of a subject is ``points`` 30-minute metering points × 2 channels (active import, reactive
import) × 48 periods. In-process, the same day as an 80020 file (windows-1251) and as a JSON batch
is turned into canonical readings the way ingest does it (parse, map codes and channels, turn
times, canonicalise); best of ``--repeat`` runs, readings/s. End to end, the whole System runs on
fresh embedded servers: after a day of each format to warm up, ``--days`` days are posted as 80020
files and ``--days`` other days as JSON batches through the gateway with the subject's token,
``--concurrency`` in flight; readings/s to the last receipt and until the last reading is
queryable in the historian.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
from rich.console import Console
from rich.table import Table

from egsu.contracts.exchange80020 import channel_map
from egsu.ingest import exchange80020
from egsu.ingest.parsing import canonicalise, parse_json
from egsu.ingest.points import PointInfo

console = Console()
BIN = "970740000838"
CHANNELS = {"01": "active_import", "03": "reactive_import"}


def value(p: int, k: int, ch: str) -> float:
    return float((p * 37 + k * 11) % 5000) + (0.5 if ch == "01" else 0.25)


def file_80020(codes: list[tuple[str, str]], day: date, bin_: str = BIN) -> bytes:
    """``codes``: (80020 code, point code) of each point; values in kWh / kvarh."""
    out = [
        '<?xml version="1.0" encoding="windows-1251"?>\n'
        f'<message class="80020" version="2" number="{day:%j}">\n'
        f"<datetime><timestamp>{day:%Y%m%d}235900</timestamp>"
        f"<daylightsavingtime>0</daylightsavingtime><day>{day:%Y%m%d}</day></datetime>\n"
        f"<sender><inn>{bin_}</inn><name>ТОО «Энергия»</name></sender>\n"
        f'<area timezone="+05:00"><inn>{bin_}</inn><name>ТОО «Энергия»</name>\n'
    ]
    for p, (code, _) in enumerate(codes):
        out.append(f'<measuringpoint code="{code}" name="Фидер {p + 1}">\n')
        for ch in CHANNELS:
            out.append(f'<measuringchannel code="{ch}" desc="канал {ch}">\n')
            for k in range(48):
                s, e = k * 30, (k + 1) * 30 % 1440
                out.append(
                    f'<period start="{s // 60:02d}{s % 60:02d}" end="{e // 60:02d}{e % 60:02d}">'
                    f"<value>{value(p, k, ch)}</value></period>\n"
                )
            out.append("</measuringchannel>\n")
        out.append("</measuringpoint>\n")
    out.append("</area>\n</message>\n")
    return "".join(out).encode("cp1251")


def json_batch(codes: list[tuple[str, str]], day: date, bin_: str = BIN) -> bytes:
    t0 = datetime(day.year, day.month, day.day)
    return orjson.dumps(
        {
            "subject_bin": bin_,
            "readings": [
                {
                    "point": point,
                    "quantity": q,
                    "ts": (t0 + timedelta(minutes=30 * (k + 1))).strftime("%Y-%m-%dT%H:%M:%S")
                    + "+05:00",
                    "value": value(p, k, ch),
                    "unit": "kWh" if q.startswith("active") else "kvarh",
                }
                for p, (_, point) in enumerate(codes)
                for ch, q in CHANNELS.items()
                for k in range(48)
            ],
        }
    )


def info(point: str, code: str) -> PointInfo:
    quantities = frozenset(CHANNELS.values())
    return PointInfo(point, BIN, "f", "550000000", "electricity", 1800, quantities, {}, True,
                     code, channel_map({}))  # fmt: skip


def best(f: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        times.append(time.perf_counter() - t0)
    return min(times)


def parse_only(points: int, repeat: int) -> None:
    codes = [(f"55101{p:010d}", f"P-{p:05d}") for p in range(points)]
    infos = {point: info(point, code) for code, point in codes}
    day = date(2026, 3, 2)
    xml, js = file_80020(codes, day), json_batch(codes, day)
    n = points * len(CHANNELS) * 48
    tol = 1 / 3
    msg = exchange80020.parse(xml)
    canon, rejected, _, _ = exchange80020.canonical(msg, infos, {}, tol)
    assert canon.accepted == n and not rejected, rejected[:3]
    raw = parse_json(js)
    assert canonicalise(raw, infos, {}, tol).accepted == n
    rows = {
        "80020: parse": best(lambda: exchange80020.parse(xml), repeat),
        "80020: map and turn times": best(
            lambda: exchange80020.translate(msg, exchange80020.index_80020(infos), {}), repeat
        ),
        "80020: parse + canonical": best(
            lambda: exchange80020.canonical(exchange80020.parse(xml), infos, {}, tol), repeat
        ),
        "JSON: parse": best(lambda: parse_json(js), repeat),
        "JSON: parse + canonical": best(
            lambda: canonicalise(parse_json(js), infos, {}, tol), repeat
        ),
    }
    t = Table("step", "ms", "readings/s")
    for k, v in rows.items():
        t.add_row(k, f"{v * 1000:.1f}", f"{n / v:,.0f}")
    console.print(
        f"[bold]{n:,} readings[/] ({points} points × {len(CHANNELS)} channels × 48): "
        f"80020 {len(xml) / 2**20:.2f} MB, JSON {len(js) / 2**20:.2f} MB; best of {repeat}"
    )
    console.print(t)


async def end_to_end(args: argparse.Namespace) -> None:
    from egsu.infra import Infra
    from egsu.testing.stack import start_stack
    from egsu.testing.world import World

    root = Path(tempfile.mkdtemp(prefix="egsu-bench-80020-"))
    infra = Infra(root / "infra", fast=False, environ={})
    urls = infra.start()
    stack = start_stack(root / "stack", urls.env())
    try:
        console.print(f"System up in {stack.startup_seconds:.1f} s (infra embedded, fsync on)")
        world = World(stack, interval_min=30, criticality=3)
        codes: list[tuple[str, str]] = []
        with stack.sync_client("ministry") as c:
            for p in range(args.points):
                r = c.post(
                    "/api/v1/registry/metering-points",
                    json={
                        "code": f"B-{world.bin}-{p:04d}",
                        "facility_id": world.facility["id"],
                        "commodity": "electricity",
                        "position": "consumption",
                        "quantities": list(CHANNELS.values()),
                        "interval_min": 30,
                        "max_power_kw": 100_000,
                        "code_80020": f"{world.bin[-5:]}{p:010d}",
                    },
                )
                assert r.status_code == 201, r.text
                codes.append((r.json()["code_80020"], r.json()["code"]))
        today = datetime.now(UTC).date()
        days = [today - timedelta(days=2 + d) for d in range(2 * args.days + 2)]
        per_day = args.points * len(CHANNELS) * 48
        token = stack.token(world.user)
        results = {}
        async with httpx.AsyncClient(
            base_url=stack.url, timeout=120, headers={"Authorization": f"Bearer {token}"}
        ) as client:
            # warm up first (the points' first readings, caches, connections): not counted
            for name, ctype, make, part in (
                ("warm-up 80020", "application/xml", file_80020, days[-1:]),
                ("warm-up JSON", "application/json", json_batch, days[-2:-1]),
                ("80020", "application/xml", file_80020, days[: args.days]),
                ("JSON", "application/json", json_batch, days[args.days : 2 * args.days]),
            ):
                bodies = [make(codes, d, world.bin) for d in part]
                results[name] = await run(client, urls.database_url, name, ctype, bodies,
                                          [c for _, c in codes], args.concurrency, per_day)  # fmt: skip
        t = Table("format", "readings", "MB", "receipts r/s", "queryable r/s", "p50 ms",
                  "max ms")  # fmt: skip
        for name, r in results.items():
            if name.startswith("warm-up"):
                continue
            t.add_row(name, f"{r['n']:,}", f"{r['mb']:.1f}", f"{r['receipts']:,.0f}",
                      f"{r['stored']:,.0f}", f"{r['p50']:.0f}", f"{r['max']:.0f}")  # fmt: skip
        console.print(
            f"{args.points} points × {len(CHANNELS)} channels × 48 half-hours a day, "
            f"{args.days} days a format, {args.concurrency} in flight"
        )
        console.print(t)
    finally:
        stack.stop()
        infra.stop()


async def run(
    client: httpx.AsyncClient,
    database_url: str,
    name: str,
    ctype: str,
    bodies: list[bytes],
    points: list[str],
    concurrency: int,
    per_day: int,
) -> dict[str, float]:
    conn = await asyncpg.connect(database_url)
    try:
        before = await stored_count(conn, points)
        sem = asyncio.Semaphore(concurrency)
        latencies: list[float] = []

        async def post(i: int) -> None:
            async with sem:
                t0 = time.perf_counter()
                r = await client.post(
                    "/api/v1/ingest/readings",
                    content=bodies[i],
                    headers={
                        "Content-Type": ctype,
                        "Idempotency-Key": f"bench-{name.replace(' ', '-')}-{i}",
                    },
                )
                if r.status_code != 202 or r.json()["accepted"] != per_day:
                    raise RuntimeError(f"{r.status_code}: {r.text[:300]}")
                latencies.append(time.perf_counter() - t0)

        started = time.perf_counter()
        await asyncio.gather(*(post(i) for i in range(len(bodies))))
        posted = time.perf_counter() - started
        total = per_day * len(bodies)
        while await stored_count(conn, points) < before + total:
            await asyncio.sleep(0.1)
        stored = time.perf_counter() - started
    finally:
        await conn.close()
    return {
        "n": total,
        "mb": sum(map(len, bodies)) / 2**20,
        "receipts": total / posted,
        "stored": total / stored,
        "p50": statistics.median(latencies) * 1000,
        "max": max(latencies) * 1000,
    }


async def stored_count(conn: asyncpg.Connection, points: list[str]) -> int:
    return int(
        await conn.fetchval(
            "SELECT count(*) FROM measurements.reading r JOIN measurements.point p "
            "ON p.id = r.point_id WHERE p.code = ANY($1::text[]) AND r.current",
            points,
        )
    )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100)
    ap.add_argument("--days", type=int, default=10, help="days posted in each format")
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--parse-only", action="store_true")
    a = ap.parse_args()
    parse_only(a.points, a.repeat)
    if not a.parse_only:
        asyncio.run(end_to_end(a))
    sys.exit(0)
