"""Forecast accuracy and speed.

1. Victoria (../shared/data): day-ahead back-test over the last year of the data (2014), issued at
   noon the day before, one origin per day; MAPE, pinball loss and P10–P90 coverage per model next
   to seasonal-naive. Variants run the same pipeline, untouched, on other shapes of the series:
   without temperature, and averaged to daily resolution.
2. Speed: training and scoring time of the global LightGBM model on synthetic series of realistic
   shape (hourly, 8 weeks each), and of the per-series MSTL model.

    .venv/bin/python bench/forecast_eval.py                  # everything (about 30 minutes)
    .venv/bin/python bench/forecast_eval.py --part victoria  # accuracy only
    .venv/bin/python bench/forecast_eval.py --part speed --series 1000 10000
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from egsu.forecast.backtest import backtest
from egsu.forecast.features import HolidayCalendar
from egsu.forecast.forecasters import Context, GradientBoosting, SeasonalNaive, Statistical
from egsu.forecast.schedule import Schedule
from egsu.forecast.series import Panel, read_csv
from egsu.forecast.synthetic import synthetic_panel

# ../shared/data beside the repository (the worktree may sit one level deeper)
_NAME = "vic_elec_halfhourly_2012_2014.csv.gz"
_CANDIDATES = [p / "shared" / "data" / _NAME for p in Path(__file__).resolve().parents]
DATA = next((p for p in _CANDIDATES if p.exists()), _CANDIDATES[1])


def victoria(freq: str | None = None, weather: bool = True) -> Panel:
    import pandas as pd

    panel = read_csv(
        DATA,
        timestamp_column="time_utc",
        load_column="demand_mw",
        tz="Australia/Melbourne",
        freq=pd.Timedelta(freq) if freq else None,
    )
    if not weather:
        panel = Panel(index=panel.index, load=panel.load, exog={}, ids=panel.ids)
    return panel


def last_year_origins(panel: Panel) -> int:
    """Day-ahead windows whose target day lies in the last calendar year of the data."""
    windows = Schedule.day_ahead().windows(panel.index)
    year = panel.index[-1].year
    return sum(1 for w in windows if panel.index[w.targets[0]].year == year)


def accuracy(label: str, panel: Panel, models: list, refit_every: int) -> None:
    origins = last_year_origins(panel)
    began = time.perf_counter()
    result = backtest(
        panel,
        Schedule.day_ahead(),
        calendar=HolidayCalendar("AU", "VIC"),
        models=models,
        origins=origins,
        warmup=28,
        refit_every=refit_every,
    )
    elapsed = time.perf_counter() - began
    base = result.scores["seasonal_naive"]
    print(
        f"\n## {label}: {len(result.origins)} day-ahead origins "
        f"{result.origins[0]:%Y-%m-%d} .. {result.origins[-1]:%Y-%m-%d}, "
        f"{elapsed:.0f} s, selected {result.selected}"
    )
    print("| model | MAPE % | vs naive | pinball | P10-P90 coverage % | MASE | fit s | predict s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, s in result.scores.items():
        change = "—" if name == "seasonal_naive" else f"{(s.mape / base.mape - 1) * 100:+.0f} %"
        print(
            f"| {name} | {s.mape:.2f} | {change} | {s.pinball:.1f} | {s.coverage_p10_p90:.1f} | "
            f"{s.mase:.3f} | {s.fit_seconds:.0f} | {s.predict_seconds:.1f} |"
        )


def speed(n_series: int, mstl_sample: int) -> None:
    panel = synthetic_panel(n_series=n_series, days=56, step="1h", seed=1)
    schedule = Schedule.day_ahead()
    window = schedule.windows(panel.index)[-1]
    context = Context(panel, schedule, HolidayCalendar("KZ"))
    model = GradientBoosting()
    began, cpu = time.perf_counter(), time.process_time()
    context.features  # noqa: B018 - feature matrix, part of training
    features = time.perf_counter() - began
    model.fit(context, window.cut)
    train, train_cpu = time.perf_counter() - began, time.process_time() - cpu
    began, cpu = time.perf_counter(), time.process_time()
    forecast = model.predict(context, window)
    score, score_cpu = time.perf_counter() - began, time.process_time() - cpu
    actual = panel.load[:, window.targets]
    mape = float(np.nanmean(np.abs(forecast - actual) / actual) * 100)
    naive = SeasonalNaive().predict(context, window)
    naive_mape = float(np.nanmean(np.abs(naive - actual) / actual) * 100)
    rows = n_series * window.cut
    print(
        f"| lightgbm (global) | {n_series} | {rows / 1e6:.1f} M | {features:.0f} | "
        f"{train:.0f} (CPU {train_cpu:.0f}) | "
        f"{train / n_series * 1000:.1f} | {score:.2f} (CPU {score_cpu:.2f}) | "
        f"{score / n_series * 1000:.3f} | "
        f"{mape:.2f} / {naive_mape:.2f} |"
    )
    if mstl_sample:
        sample = Panel(
            index=panel.index,
            load=panel.load[:mstl_sample],
            exog={k: v[:mstl_sample] for k, v in panel.exog.items()},
            ids=panel.ids[:mstl_sample],
        )
        began = time.perf_counter()
        Statistical().predict(Context(sample, schedule, HolidayCalendar("KZ")), window)
        elapsed = time.perf_counter() - began
        print(
            f"| mstl (per series) | {mstl_sample} | — | — | {elapsed:.0f} (fit+forecast) | "
            f"{elapsed / mstl_sample * 1000:.0f} | — | — | — |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["victoria", "variants", "speed", "all"], default="all")
    parser.add_argument("--series", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--mstl-sample", type=int, default=100)
    parser.add_argument("--refit-every", type=int, default=7)
    args = parser.parse_args()
    print(f"cores: {os.cpu_count()}, load average at start: {os.getloadavg()[0]:.1f}")
    if args.part in ("victoria", "all"):
        accuracy(
            "Victoria 2014, half-hourly, with temperature",
            victoria(),
            [SeasonalNaive(), Statistical(), GradientBoosting()],
            args.refit_every,
        )
    if args.part in ("variants", "all"):
        accuracy(
            "Victoria 2014, half-hourly, without temperature",
            victoria(weather=False),
            [SeasonalNaive(), GradientBoosting()],
            args.refit_every,
        )
        accuracy(
            "Victoria 2014, daily (averaged), with temperature",
            victoria(freq="1D"),
            [SeasonalNaive(), Statistical(), GradientBoosting()],
            args.refit_every,
        )
    if args.part in ("speed", "all"):
        print("\n## Speed: day-ahead model on synthetic hourly series, 8 weeks each")
        print(
            "| model | series | training rows | features s | train s wall (CPU) | "
            "train s per 1,000 | score s wall (CPU) | score s per 1,000 | MAPE / naive % (one day) |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for n in args.series:
            speed(n, args.mstl_sample if n == args.series[0] else 0)


if __name__ == "__main__":
    main()
