"""``egsu forecast``: back-test the forecasting models on a CSV file.

This module is imported whenever ``egsu`` starts, so the heavy libraries load inside the command.
"""

from __future__ import annotations

import json
import math
from datetime import time
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

app = typer.Typer(
    help="Demand forecasts: back-test the models on your own series.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)

MODEL_NAMES = ("seasonal_naive", "mstl", "lightgbm")
# Models --models accepts besides the defaults.
EXTRA_MODELS = ("degree_day",)


@app.callback()
def main() -> None:
    """Demand forecasts: back-test the models on your own series."""


@app.command()
def backtest(
    csv: Path = typer.Option(..., "--csv", help="CSV file with a timestamp and a load column."),
    horizon: str = typer.Option("24h", help="How far each forecast reaches (15min … 7d)."),
    freq: str = typer.Option(
        None, help="Step to forecast at (15min … 1d); finer data is averaged. Default: the data's."
    ),
    lead: str = typer.Option("0h", help="Time between the last known reading and the forecast."),
    day_ahead: bool = typer.Option(
        False,
        "--day-ahead",
        help="Forecast each calendar day, issued at --issue-time the day before.",
    ),
    issue_time: str = typer.Option("12:00", help="Local issue time of day-ahead forecasts."),
    origins: int = typer.Option(28, min=1, help="Forecast windows to score (rolling origins)."),
    warmup: int = typer.Option(14, min=1, help="Windows before them that calibrate quantiles."),
    refit_every: int = typer.Option(7, min=1, help="Retrain the learned models every N windows."),
    timestamp_column: str = typer.Option("timestamp", help="Name of the time column."),
    load_column: str = typer.Option("load", help="Name of the load column."),
    tz: str = typer.Option(
        "Asia/Almaty", help="Time zone of calendar days (timestamps with an offset are converted)."
    ),
    country: str = typer.Option("KZ", help="Holiday calendar (ISO code, e.g. KZ, AU); 'none'."),
    subdiv: str = typer.Option(None, help="Region of the holiday calendar, e.g. VIC for AU."),
    models: str = typer.Option(",".join(MODEL_NAMES), help="Models to compare, comma-separated."),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as one JSON object."),
) -> None:
    """Back-test every model on a CSV series and print its accuracy against seasonal-naive.

    Other numeric columns (temperature, flags) are inputs whose values are known in advance, as
    weather forecasts are; the back-test uses the recorded values.
    """
    from egsu.forecast.errors import ForecastInputError

    err = Console(stderr=True)
    try:
        result = _run(
            csv=csv,
            horizon=horizon,
            freq=freq,
            lead=lead,
            day_ahead=day_ahead,
            issue_time=issue_time,
            origins=origins,
            warmup=warmup,
            refit_every=refit_every,
            timestamp_column=timestamp_column,
            load_column=load_column,
            tz=tz,
            country=country,
            subdiv=subdiv,
            models=models,
            err=err,
        )
    except ForecastInputError as e:
        err.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2, ensure_ascii=False))
        return
    _print_table(result, csv, Console())


def _run(
    *,
    csv: Path,
    horizon: str,
    freq: str | None,
    lead: str,
    day_ahead: bool,
    issue_time: str,
    origins: int,
    warmup: int,
    refit_every: int,
    timestamp_column: str,
    load_column: str,
    tz: str,
    country: str,
    subdiv: str | None,
    models: str,
    err: Console,
):  # type: ignore[no-untyped-def]
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    from egsu.forecast.backtest import backtest as run_backtest
    from egsu.forecast.errors import ForecastInputError
    from egsu.forecast.features import HolidayCalendar
    from egsu.forecast.forecasters import (
        DegreeDayNaive,
        GradientBoosting,
        SeasonalNaive,
        Statistical,
    )
    from egsu.forecast.schedule import Schedule
    from egsu.forecast.series import DAY, parse_duration, read_csv

    step = parse_duration(freq, "--freq") if freq else None
    if day_ahead:
        if horizon not in ("24h", "1d", "1D"):
            raise ForecastInputError("--day-ahead forecasts one calendar day; leave out --horizon")
        schedule = Schedule.day_ahead(_parse_time(issue_time))
    else:
        span = parse_duration(horizon, "--horizon")
        if span > 7 * DAY:
            raise ForecastInputError("--horizon: at most 7d")
        schedule = Schedule(horizon=span, lead=parse_duration(lead, "--lead", allow_zero=True))
    chosen = [m.strip() for m in models.split(",") if m.strip()]
    unknown = [m for m in chosen if m not in MODEL_NAMES + EXTRA_MODELS]
    if unknown or not chosen:
        raise ForecastInputError(
            f"--models: unknown {', '.join(unknown) or 'empty list'} "
            f"(choose from {', '.join(MODEL_NAMES + EXTRA_MODELS)})"
        )
    factories = {
        "seasonal_naive": SeasonalNaive,
        "degree_day": DegreeDayNaive,
        "mstl": Statistical,
        "lightgbm": GradientBoosting,
    }
    calendar = HolidayCalendar(None if country.lower() == "none" else country, subdiv)
    panel = read_csv(
        csv, timestamp_column=timestamp_column, load_column=load_column, freq=step, tz=tz
    )
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("back-testing", total=None)
        return run_backtest(
            panel,
            schedule,
            calendar=calendar,
            models=[factories[m]() for m in chosen],
            origins=origins,
            warmup=warmup,
            refit_every=refit_every,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )


def _parse_time(text: str) -> time:
    from egsu.forecast.errors import ForecastInputError

    try:
        return time.fromisoformat(text.strip())
    except ValueError:
        raise ForecastInputError(
            f"--issue-time: {text!r} is not a time of day such as 12:00"
        ) from None


def _print_table(result, csv: Path, console: Console) -> None:  # type: ignore[no-untyped-def]
    from egsu.forecast.series import format_duration

    baseline = result.scores[result.baseline]
    first, last = result.origins[0], result.origins[-1]
    console.print(
        f"[bold]{csv.name}[/]: step {format_duration(result.step)}, "
        f"{result.schedule.describe()}, {len(result.origins)} origins "
        f"from {first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}",
        highlight=False,
    )
    table = Table(show_edge=False, header_style="bold", padding=(0, 1), pad_edge=False)
    for column in ("model", "MAPE%", "sMAPE%", "MASE", "RMSE", "pinball", "P10–P90%", "vs base"):
        if column == "model":
            table.add_column(column, no_wrap=True, min_width=14)
        else:
            table.add_column(column, justify="right", no_wrap=True)
    for name, score in result.scores.items():
        label = f"[bold green]{name} ★[/]" if name == result.selected else name
        if name == result.baseline:
            change = "base"
        elif _finite(score.mase, baseline.mase):
            change = f"{(score.mase / baseline.mase - 1) * 100:+.0f} %"
        else:
            change = "—"
        table.add_row(
            label,
            _fmt(score.mape, 2),
            _fmt(score.smape, 2),
            _fmt(score.mase, 3),
            _fmt(score.rmse, 0, significant=True),
            _fmt(score.pinball, 0, significant=True),
            _fmt(score.coverage_p10_p90, 1),
            change,
        )
    console.print(table)
    console.print(
        "★ chosen by the lowest MASE; 'vs base': change of MASE against the seasonal-naive "
        "baseline; P10–P90%: share of actual values inside the 80 % interval (goal 75–85 %).",
        style="dim",
    )
    for note in result.notes:
        console.print(f"note: {note}", style="dim", highlight=False)


def _finite(*values: float) -> bool:
    return all(math.isfinite(v) for v in values)


def _fmt(value: float, digits: int, *, significant: bool = False) -> str:
    if not math.isfinite(value):
        return "—"
    if not significant:
        return f"{value:.{digits}f}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if abs(value) >= 1 else f"{value:.3g}"
