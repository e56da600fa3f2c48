"""How fast the simulator generates a large system: 100,000 points × 1 day by default.

    .venv/bin/python bench/simulator.py [--points 100000] [--days 1] [--write DIR]

Prints the time to build the registry, to generate the readings (all defects on), readings per
second and peak memory; with --write, also the time to write the day as Parquet.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from egsu.simulator.generator import Simulation
from egsu.simulator.model import build
from egsu.simulator.output import write_dataset


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--write", action="store_true", help="also write Parquet files (to a temporary folder)"
    )
    a = ap.parse_args()
    start = date(2026, 1, 12)

    t = time.perf_counter()
    system = build(a.points, a.seed, start)
    t_build = time.perf_counter() - t
    print(f"registry: {a.points:,} points, {len(system.bins):,} subjects, "
          f"{len(system.facilities['key']):,} facilities in {t_build:.2f} s")  # fmt: skip

    sim = Simulation(system, seed=a.seed, start=start, horizon_days=a.days)
    n = labels = 0
    t = time.perf_counter()
    for k in range(a.days):
        for r, _e, lab in sim.chunks(start + timedelta(days=k)):
            n += len(r)
            labels += len(lab)
    t_gen = time.perf_counter() - t
    print(f"readings: {n:,} over {a.days} day(s), {labels:,} labels, in {t_gen:.2f} s "
          f"= {n / t_gen:,.0f} readings/s")  # fmt: skip

    if a.write:
        out = Path(tempfile.mkdtemp(prefix="egsu-sim-bench-"))
        try:
            sim = Simulation(system, seed=a.seed, start=start, horizon_days=a.days)
            t = time.perf_counter()
            w = write_dataset(out, system, sim, start=start, days=a.days)
            t_write = time.perf_counter() - t
            size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
            print(f"files: generated and written {w.readings:,} readings as Parquet in {t_write:.2f} s "
                  f"({size / 2**20:,.0f} MiB)")  # fmt: skip
        finally:
            shutil.rmtree(out, ignore_errors=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory: {peak:,.0f} MiB")


if __name__ == "__main__":
    main()
