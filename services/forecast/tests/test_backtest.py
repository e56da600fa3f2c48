"""Rolling-origin back-test on small synthetic series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from egsu.forecast.backtest import ResidualQuantiles, backtest
from egsu.forecast.errors import ForecastInputError
from egsu.forecast.features import HolidayCalendar
from egsu.forecast.forecasters import (
    Context,
    GradientBoosting,
    SeasonalNaive,
    Statistical,
    TemperatureResponse,
)
from egsu.forecast.schedule import Schedule
from egsu.forecast.series import Panel
from egsu.forecast.synthetic import synthetic_panel


def test_day_ahead_lightgbm_beats_seasonal_naive_with_calibrated_quantiles() -> None:
    panel = synthetic_panel(days=120, step="1h", seed=3)
    result = backtest(
        panel,
        Schedule.day_ahead(),
        models=[SeasonalNaive(), GradientBoosting(rounds=200)],
        origins=21,
        warmup=14,
        refit_every=7,
    )
    naive, gbm = result.scores["seasonal_naive"], result.scores["lightgbm"]
    assert len(result.origins) == 21
    assert gbm.mape < 0.75 * naive.mape
    assert gbm.pinball < naive.pinball
    assert 60 <= gbm.coverage_p10_p90 <= 95
    assert result.selected == "lightgbm"
    document = result.as_dict()
    assert document["baseline"] == "seasonal_naive"
    assert document["origins"] == 21
    assert set(document["models"]["lightgbm"]) == {
        "mape", "smape", "mase", "rmse", "pinball", "coverage_p10_p90",
    }  # fmt: skip


def test_all_models_and_the_ensemble_run_on_a_series_with_gaps() -> None:
    panel = synthetic_panel(days=40, step="1h", seed=5)
    load = panel.load.copy()
    load[0, 300:340] = np.nan  # a day and a half lost
    load[0, 700:705] = np.nan
    gappy = Panel(index=panel.index, load=load, exog=panel.exog, ids=panel.ids)
    result = backtest(gappy, Schedule(horizon=pd.Timedelta("24h")), origins=5, warmup=3)
    assert set(result.scores) == {"seasonal_naive", "mstl", "lightgbm", "ensemble"}
    for score in result.scores.values():
        assert np.isfinite(score.mape) and np.isfinite(score.pinball)
    assert np.isfinite(result.forecasts["mstl"]).all()


def test_a_global_model_forecasts_many_series_at_once() -> None:
    panel = synthetic_panel(n_series=20, days=42, step="1h", seed=7)
    result = backtest(
        panel, Schedule.day_ahead(), models=[GradientBoosting(rounds=100)], origins=7, warmup=7
    )
    assert result.forecasts["lightgbm"].shape == (20, 7 * 24)
    assert result.scores["lightgbm"].mase < result.scores["seasonal_naive"].mase


def test_too_short_a_series_is_refused_with_what_it_needs() -> None:
    panel = synthetic_panel(days=10, step="1h")
    with pytest.raises(ForecastInputError, match=r"too short: 10\.0 days of data; .* 15 days"):
        backtest(panel, Schedule.day_ahead(), models=[SeasonalNaive()])


def test_conformal_quantiles_come_from_past_errors_only() -> None:
    memory = ResidualQuantiles(memory=2)
    level = np.ones((1, 1))
    memory.add(np.array([[10.0, 10.0]]), np.array([[9.0, 11.0]]), level)
    memory.add(np.array([[10.0, 10.0]]), np.array([[8.0, 12.0]]), level)
    memory.add(np.array([[10.0, 10.0]]), np.array([[10.0, 10.0]]), level)  # pushes out the first
    offsets = memory.offsets((0.5,))
    assert offsets[0.5][0, 0] == 0.0
    assert memory.errors().shape == (1, 4)


def test_the_statistical_model_follows_a_weekly_pattern() -> None:
    panel = synthetic_panel(days=42, step="1h", noise=0.005, seed=11)
    context = Context(panel, Schedule.day_ahead(), HolidayCalendar(None))
    window = Schedule.day_ahead().windows(panel.index)[-1]
    forecast = Statistical().predict(context, window)
    actual = panel.load[:, window.targets]
    assert np.mean(np.abs(forecast - actual) / actual) < 0.15


def test_a_window_rebuilt_from_its_recent_weeks_keeps_its_features() -> None:
    panel = synthetic_panel(days=70, step="1h", seed=12)
    schedule = Schedule.day_ahead()
    context = Context(panel, schedule, HolidayCalendar("KZ"))
    window = schedule.windows(panel.index)[-1]
    unbounded = TemperatureResponse("temperature", 15.0, 22.0, np.zeros(3))
    inside, local = unbounded.clipped(context, window)
    assert inside.panel.n_steps < panel.n_steps
    np.testing.assert_array_equal(
        context.features.rows(window.targets)[0], inside.features.rows(local.targets)[0]
    )
