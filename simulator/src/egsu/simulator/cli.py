"""``egsu simulate``: the synthetic energy system, to files or through the System's API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from egsu.simulator.client import IngestUnavailable, api, pool
from egsu.simulator.defects import Rates, parse_rates

if TYPE_CHECKING:
    from egsu.simulator.generator import Simulation
    from egsu.simulator.model import EnergySystem

TZ_OFFSET = 5 * 3600  # numpy and the generator load only when a command runs: `egsu` stays quick

console = Console(stderr=True)
log = logging.getLogger("egsu.simulator")
DEFAULT_START = date(2026, 1, 12)  # a winter Monday: files are reproducible without --start

app = typer.Typer(
    help="A synthetic energy system of Kazakhstan with injected, labelled defects.\n\n"
    "With --out it writes registry, readings, events, weather and labels to files; the "
    "sub-commands seed, backfill and live talk to a running System.",
    invoke_without_command=True,
    pretty_exceptions_show_locals=False,
)

POINTS = typer.Option(
    2000, "--points", "-n", min=1, max=1_000_000, help="Metering points of the system."
)
SEED = typer.Option(1, "--seed", help="Seed: the same seed gives the same system and data.")
URL = typer.Option(
    "http://localhost:8000", "--url", help="The System's gateway.", envvar="EGSU_GATEWAY_URL"
)
DEFECTS = typer.Option(
    1.0, "--defects", min=0.0, help="Multiply every defect rate (0: clean data)."
)
RATE = typer.Option([], "--rate", help="Set one defect rate, e.g. --rate gap=0.05 (repeatable).")


def _rates(defects: float, rate: list[str]) -> Rates:
    try:
        return Rates().scaled(defects).with_overrides(parse_rates(rate))
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--rate") from None


def _date(value: str | None, default: date, hint: str) -> date:
    if value is None:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r}: use YYYY-MM-DD", param_hint=hint) from None


def _today() -> date:
    return datetime.fromtimestamp(time.time() + TZ_OFFSET, UTC).date()


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)


@app.callback()
def files(
    ctx: typer.Context,
    points: int = POINTS,
    days: int = typer.Option(7, "--days", min=1, max=3660, help="Days of readings."),
    seed: int = SEED,
    start: str = typer.Option(None, "--start", help=f"First local day (default {DEFAULT_START})."),
    out: Path = typer.Option(None, "--out", "-o", help="Write the data set into this folder."),
    fmt: str = typer.Option(
        "parquet", "--format", help="parquet, csv, or 80020 (exchange files per subject and day)."
    ),
    encoding: str = typer.Option(
        "windows-1251", "--encoding", help="80020 files: windows-1251 or utf-8."
    ),
    defects: float = DEFECTS,
    rate: list[str] = RATE,
) -> None:
    """Write a simulated period to files (no running System needed)."""
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        raise typer.BadParameter(
            "give --out DIR to write files, or use a sub-command: seed, backfill, live",
            param_hint="--out",
        )
    if fmt not in ("parquet", "csv", "80020"):
        raise typer.BadParameter("parquet, csv or 80020", param_hint="--format")
    if encoding not in ("windows-1251", "utf-8"):
        raise typer.BadParameter("windows-1251 or utf-8", param_hint="--encoding")
    from egsu.simulator.generator import Simulation
    from egsu.simulator.model import build
    from egsu.simulator.output import write_80020, write_dataset

    first = _date(start, DEFAULT_START, "--start")
    rates = _rates(defects, rate)
    started = time.perf_counter()
    system = build(points, seed, first + timedelta(days=days - 1))
    sim = Simulation(system, seed=seed, start=first, rates=rates, horizon_days=days)
    meta = {"seed": seed, "points": points, "rates": rates.as_dict()}
    with _progress() as bar:
        task = bar.add_task("days", total=days)

        def step(d: date, n: int) -> None:
            bar.update(task, advance=1, description=f"{d} {n:,} readings")

        if fmt == "80020":
            written = write_80020(out, system, sim, start=first, days=days, encoding=encoding,
                                  meta=meta, progress=step)  # fmt: skip
            console.print(
                f"[green]✓[/] {out}: {len(written.files)} 80020 files ({encoding}) of "
                f"{len(system.bins)} subjects, {written.readings:,} periods in "
                f"{time.perf_counter() - started:.1f} s"
            )
            return
        written = write_dataset(
            out, system, sim, start=first, days=days, fmt=fmt, meta=meta, progress=step
        )
    console.print(
        f"[green]✓[/] {out}: {len(system.bins)} subjects, {len(system.facilities['key'])} facilities, "
        f"{points} points, {written.readings:,} readings, {written.events:,} events, "
        f"{written.labels:,} labelled defects in {time.perf_counter() - started:.1f} s"
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=False,
    )  # fmt: skip


async def do_seed(
    system: EnergySystem,
    url: str,
    *,
    var: Path | None,
    registry_url: str | None = None,
    user: str = "ministry",
    password: str = "demo",  # noqa: S107 - development realm
    concurrency: int = 8,
    show: bool = True,
) -> Any:
    from egsu.simulator.seed import Seeder, add_realm_users

    if var is not None:
        add_realm_users(system, var)
    async with pool() as http:
        client = api(http, url, user, password, max_wait=900, base_url=registry_url)
        if show:
            with _progress() as bar:
                task = bar.add_task("registry", total=len(system.bins))
                seeder = Seeder(system, client, concurrency=concurrency,
                                on_subject=lambda: bar.update(task, advance=1))  # fmt: skip
                return await seeder.run()
        return await Seeder(system, client, concurrency=concurrency).run()


@app.command()
def seed(
    url: str = URL,
    points: int = POINTS,
    seed: int = SEED,
    var: Path = typer.Option(
        Path("var"), "--var", help="Data folder of the System (development realm users)."
    ),
    users: bool = typer.Option(
        True, help="Add subject-<BIN> users (password demo) to the development realm."
    ),
    registry_url: str = typer.Option(
        None, help="Talk to the registry service directly (bulk load inside the cluster)."
    ),
    user: str = typer.Option("ministry", help="A user with the ministry role."),
    password: str = typer.Option("demo", help="Its password."),
    concurrency: int = typer.Option(8, min=1, max=64),
) -> None:
    """Create the system's registry through the API (idempotent: re-running adds only what is missing)."""
    from egsu.simulator.model import build

    _logging(False)
    system = build(points, seed, _today())
    report = asyncio.run(do_seed(system, url, var=var if users else None, registry_url=registry_url,
                                 user=user, password=password, concurrency=concurrency))  # fmt: skip
    console.print(
        f"created: {report.created or 'nothing'}; already there: {report.existing or 'nothing'}"
    )
    for e in report.errors[:20]:
        console.print(f"[red]✗[/] {e}")
    if report.errors:
        raise typer.Exit(1)


def _epoch(value: str | None, days: int) -> date:
    return _date(value, _today() - timedelta(days=days), "--epoch")


@app.command()
def backfill(
    url: str = URL,
    points: int = POINTS,
    seed: int = SEED,
    days: int = typer.Option(365, "--days", min=1, max=3660, help="Days of history up to now."),
    epoch: str = typer.Option(
        None, help="First day of the simulation (registers start there); default: now minus --days."
    ),
    concurrency: int = typer.Option(4, min=1, max=64, help="Batches in flight."),
    batch: int = typer.Option(50_000, min=100, max=50_000, help="Readings per batch at most."),
    defects: float = DEFECTS,
    rate: list[str] = RATE,
) -> None:
    """Post history to ingest as fast as it accepts it (subjects' tokens, idempotency keys)."""
    from egsu.simulator.generator import Simulation
    from egsu.simulator.model import build

    _logging(False)
    rates = _rates(defects, rate)
    first = _epoch(epoch, days)
    system = build(points, seed, _today())
    sim = Simulation(system, seed=seed, start=first, rates=rates, horizon_days=days)
    upto = int(time.time()) // 900 * 900
    stats = asyncio.run(run_backfill(sim, url, first, upto, rates, seed, concurrency, batch))
    _report(stats)


async def run_backfill(sim: Simulation, url: str, first: date, upto: int, rates: Rates, seed: int,
                    concurrency: int, batch: int, show: bool = True) -> Any:  # fmt: skip
    from egsu.simulator.post import Poster, backfill, run_id

    rid = run_id(sim.sys, seed, sim.start, rates.as_dict())
    from egsu.simulator.generator import local_midnight

    per_day = _readings_per_day(sim.sys)
    total = int(per_day * (upto - local_midnight(first)) / 86400)
    async with pool() as http:
        poster = Poster(http, url, concurrency=concurrency)
        if show:
            with _progress() as bar:
                task = bar.add_task("readings", total=total)
                await backfill(sim, poster, start=first, upto=upto, key=f"sim:{rid}", max_batch=batch,
                               progress=lambda n, _b: bar.update(task, advance=n))  # fmt: skip
        else:
            await backfill(sim, poster, start=first, upto=upto, key=f"sim:{rid}", max_batch=batch)
        return poster.stats


def _readings_per_day(system: EnergySystem) -> float:
    return float(
        sum(
            len(q) * 1440 / m
            for q, m in zip(system.points["quantities"], system.points["interval_min"], strict=True)
        )
    )


def _report(stats: Any) -> None:
    console.print(
        f"batches {stats.batches:,}, readings {stats.readings:,}, accepted {stats.accepted:,}, "
        f"rejected {stats.rejected:,}, conflicts {stats.conflicts}, failed {stats.failed}"
    )
    for line in stats.samples[:10]:
        console.print(f"  {line}")


@app.command()
def live(
    url: str = URL,
    points: int = POINTS,
    seed: int = SEED,
    speed: float = typer.Option(30.0, min=0.01, help="Simulated seconds per real second."),
    since: float = typer.Option(
        2.0, help="Start this many hours ago (the clock catches up, then runs in real time)."
    ),
    future: bool = typer.Option(False, help="Let the accelerated clock run ahead of real time."),
    epoch: str = typer.Option(
        None, help="First day of the simulation, as given to backfill (registers); default: today."
    ),
    defects: float = DEFECTS,
    rate: list[str] = RATE,
) -> None:
    """Post readings as each interval ends on an accelerated clock, as the subjects' ASKUE would."""
    _logging(False)
    from egsu.simulator.generator import Simulation, iso
    from egsu.simulator.model import build
    from egsu.simulator.post import Poster, SimClock, run_id, stop_on_signals
    from egsu.simulator.post import live as run_live

    rates = _rates(defects, rate)
    start_ts = (time.time() - since * 3600) // 300 * 300
    first = _date(epoch, datetime.fromtimestamp(start_ts + TZ_OFFSET, UTC).date(), "--epoch")
    system = build(points, seed, _today())
    sim = Simulation(system, seed=seed, start=first, rates=rates)
    rid = run_id(system, seed, first, rates.as_dict())

    async def main() -> None:
        stop = asyncio.Event()
        stop_on_signals(stop)
        async with pool() as http:
            poster = Poster(http, url, concurrency=8)
            clock = SimClock(start_ts, speed, future=future)
            console.print(f"live from {iso(int(start_ts))} at {speed:g}× — Ctrl-C stops")
            await run_live(sim, poster, clock, key=f"sim:{rid}", stop=stop, after=int(start_ts),
                           on_tick=lambda b, n: console.print(f"{iso(b)}  {n:,} readings"))  # fmt: skip
            _report(poster.stats)

    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(main())


@app.command()
def demo(
    url: str = URL,
    var: Path = typer.Option(Path("var"), "--var"),
    points: int = POINTS,
    seed: int = SEED,
    days: int = typer.Option(7, help="Days of history to backfill on the first run."),
    registry_url: str = typer.Option(None),
    status_port: int = typer.Option(0, help="Answer /readyz on this port (for the supervisor)."),
    speed: float = typer.Option(20.0),
) -> None:
    """What ``egsu up --demo`` runs: seed, backfill a week, then live (keeps state in var/simulator)."""
    _logging(False)
    from egsu.simulator.demo import run_demo

    with contextlib.suppress(asyncio.CancelledError):
        asyncio.run(run_demo(url=url, var=var, points=points, seed=seed, days=days,
                         registry_url=registry_url, status_port=status_port, speed=speed))  # fmt: skip


def main() -> None:  # pragma: no cover - python -m egsu.simulator.cli
    app()


if __name__ == "__main__":  # pragma: no cover
    main()


__all__ = ["IngestUnavailable", "app", "do_seed"]
