"""Decomposition, lagged correlation, what-if scenarios and efficiency indicators."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from egsu.forecast import analytics
from egsu.forecast.backtest import ResidualQuantiles
from egsu.forecast.features import HolidayCalendar
from egsu.forecast.forecasters import Context, GradientBoosting
from egsu.forecast.schedule import Schedule
from egsu.forecast.synthetic import synthetic_panel


def test_decomposition_separates_trend_and_daily_and_weekly_seasons() -> None:
    index = pd.date_range("2024-01-01", periods=24 * 7 * 6, freq="1h")
    t = np.arange(len(index))
    daily = 10 * np.sin(2 * np.pi * t / 24)
    weekly = np.where(index.day_of_week >= 5, -8.0, 3.0)
    trend = 100 + 0.05 * t
    noise = np.random.default_rng(0).normal(0, 0.5, len(t))
    values = trend + daily + weekly + noise
    values[50:55] = np.nan  # gaps are filled, not fatal

    result = analytics.decompose(values, index)

    assert set(result.seasonal) == {"daily", "weekly"}
    assert result.seasonal_strength["daily"] > 0.9
    assert result.seasonal_strength["weekly"] > 0.8
    assert result.trend_strength > 0.9
    assert np.corrcoef(result.seasonal["daily"], daily)[0, 1] > 0.95
    middle = slice(200, -200)
    assert np.abs(result.trend[middle] - trend[middle]).mean() < 2.0


def test_lagged_correlation_finds_the_lead_and_spearman_sees_monotone_links() -> None:
    rng = np.random.default_rng(4)
    temperature = rng.normal(0, 5, 500)
    demand = np.empty(500)
    demand[3:] = -2.0 * temperature[:-3]  # demand follows temperature 3 steps later
    demand[:3] = np.nan
    demand += rng.normal(0, 1, 500)
    result = analytics.lagged_correlation(temperature, demand, range(-6, 7))
    assert result.best_lag == 3
    at3 = list(result.lags).index(3)
    assert result.pearson[at3] < -0.95 and result.pearson_p[at3] < 1e-6
    assert result.pairs[at3] == 497  # the first three demands are missing

    x = np.linspace(1, 10, 100)
    monotone = analytics.lagged_correlation(x, np.exp(x), [0])
    assert monotone.spearman[0] == pytest.approx(1.0)
    assert monotone.pearson[0] < 0.8


@pytest.fixture(scope="module")
def heat_model() -> tuple[GradientBoosting, Context, object, dict[float, np.ndarray]]:
    """A model of a heat-driven winter load (cold raises demand), fitted on 8 weeks."""
    panel = synthetic_panel(days=63, step="1h", start="2024-11-01", heat_share=1.0, seed=9)
    schedule = Schedule.day_ahead()
    context = Context(panel, schedule, HolidayCalendar("KZ"))
    window = schedule.windows(panel.index)[-1]
    model = GradientBoosting(rounds=200)
    model.fit(context, window.cut)
    residuals = ResidualQuantiles()
    for past in schedule.windows(panel.index)[-8:-1]:
        residuals.add(
            panel.load[:, past.targets], model.predict(context, past), context.level(past)
        )
    return model, context, window, residuals.offsets()


def test_a_colder_day_raises_the_heat_demand_forecast(heat_model) -> None:  # type: ignore[no-untyped-def]
    model, context, window, offsets = heat_model
    colder = analytics.what_if(
        model, context, window, analytics.Scenario(temperature_delta=-10), offsets
    )
    rise = colder.delta[0.5].mean() / colder.baseline[0.5].mean()
    assert rise > 0.05
    assert (colder.scenario_peak[0.5] > colder.baseline_peak[0.5]).all()
    # Even far beyond every temperature the model has seen, colder still means more demand.
    colder_still = analytics.what_if(
        model, context, window, analytics.Scenario(temperature_delta=-40), offsets
    )
    assert colder_still.scenario[0.5].mean() > colder.scenario[0.5].mean() * 1.05


def test_growth_and_an_outage_change_the_balance(heat_model) -> None:  # type: ignore[no-untyped-def]
    model, context, window, offsets = heat_model
    capacity = 400.0
    outcome = analytics.what_if(
        model,
        context,
        window,
        analytics.Scenario(demand_growth_percent=10, outage_mw=50),
        offsets,
        capacity_mw=capacity,
    )
    np.testing.assert_allclose(outcome.scenario[0.5], outcome.baseline[0.5] * 1.1)
    assert (
        outcome.scenario[0.1].mean() < outcome.scenario[0.5].mean() < outcome.scenario[0.9].mean()
    )
    peak = outcome.baseline_peak[0.5]
    np.testing.assert_allclose(outcome.balance["baseline"], capacity - peak)
    np.testing.assert_allclose(outcome.balance["scenario"], capacity - 50 - peak * 1.1)
    assert (outcome.reserve_margin["scenario"] < outcome.reserve_margin["baseline"]).all()


def test_efficiency_indicators() -> None:
    load = np.array([[50.0, 100.0, 50.0, 100.0], [10.0, 10.0, np.nan, 10.0]])
    np.testing.assert_allclose(analytics.peak_to_average(load), [100 / 75, 1.0])
    np.testing.assert_allclose(analytics.load_factor(load), [0.75, 1.0])
    assert analytics.reserve_margin(120.0, 100.0) == pytest.approx(0.2)
    assert analytics.loss_share(100.0, 92.0) == pytest.approx(0.08)
    assert analytics.specific_consumption(330.0, 1000.0) == pytest.approx(0.33)
