"""Analytics on series: decomposition, lagged correlation, what-if scenarios, efficiency indicators.

Pure functions over numpy arrays that return numbers ready for charts and tables.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from egsu.forecast.forecasters import Context, Forecaster, temperature_column
from egsu.forecast.schedule import Window
from egsu.forecast.series import DAY, WEEK

# --------------------------------------------------------------------------- decomposition


@dataclass(frozen=True)
class Decomposition:
    """``observed = trend + Σ seasonal + remainder``, with the strength of each part (0–1)."""

    index: pd.DatetimeIndex
    observed: np.ndarray
    trend: np.ndarray
    seasonal: dict[str, np.ndarray]
    remainder: np.ndarray
    trend_strength: float
    seasonal_strength: dict[str, float]


def decompose(values: np.ndarray, index: pd.DatetimeIndex) -> Decomposition:
    """Trend, daily and weekly seasonality (MSTL, statsmodels) of one series; gaps are filled."""
    from statsmodels.tsa.seasonal import MSTL

    step = index[1] - index[0]
    day, week = max(1, int(DAY // step)), max(1, int(WEEK // step))
    periods = {"daily": day, "weekly": week} if day > 1 else {"weekly": week}
    periods = {name: p for name, p in periods.items() if len(values) >= 2 * p + 1}
    observed = np.asarray(values, dtype=np.float64)
    filled = pd.Series(observed).interpolate(limit_direction="both").to_numpy()
    if not np.isfinite(filled).any():
        raise ValueError("the series has no values")
    if periods:
        result = MSTL(filled, periods=tuple(periods.values())).fit()
        trend, remainder = np.asarray(result.trend), np.asarray(result.resid)
        seasonal_array = np.asarray(result.seasonal).reshape(len(filled), -1)
        seasonal = {name: seasonal_array[:, k] for k, name in enumerate(periods)}
    else:
        trend = pd.Series(filled).rolling(7, center=True, min_periods=1).mean().to_numpy()
        seasonal, remainder = {}, filled - trend
    return Decomposition(
        index=index,
        observed=observed,
        trend=trend,
        seasonal=seasonal,
        remainder=remainder,
        trend_strength=_strength(trend, remainder),
        seasonal_strength={name: _strength(s, remainder) for name, s in seasonal.items()},
    )


def _strength(component: np.ndarray, remainder: np.ndarray) -> float:
    """1 - Var(remainder) / Var(component + remainder), clipped to [0, 1] (Wang et al., 2006)."""
    total = np.var(component + remainder)
    return float(np.clip(1 - np.var(remainder) / total, 0, 1)) if total > 0 else 0.0


# --------------------------------------------------------------------------- correlation


@dataclass(frozen=True)
class LaggedCorrelation:
    """Pearson and Spearman correlation of ``x[t - lag]`` with ``y[t]`` for every lag."""

    lags: np.ndarray
    pearson: np.ndarray
    pearson_p: np.ndarray
    spearman: np.ndarray
    spearman_p: np.ndarray
    pairs: np.ndarray

    @property
    def best_lag(self) -> int:
        """The lag of the strongest (absolute) Pearson correlation."""
        if not np.isfinite(self.pearson).any():
            return 0
        return int(self.lags[np.nanargmax(np.abs(self.pearson))])


def lagged_correlation(x: np.ndarray, y: np.ndarray, lags: Sequence[int]) -> LaggedCorrelation:
    """Correlation of ``x`` shifted by each lag with ``y`` (a positive lag: ``x`` leads)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("x and y must be one-dimensional and of the same length")
    lag_array = np.asarray(list(lags), dtype=np.int64)
    n = len(x)
    t = np.arange(n)
    source = t[None, :] - lag_array[:, None]
    inside = (source >= 0) & (source < n)
    xs = np.where(inside, x[np.clip(source, 0, n - 1)], np.nan)
    ys = np.broadcast_to(y, xs.shape).copy()
    both = np.isfinite(xs) & np.isfinite(ys)
    xs[~both], ys[~both] = np.nan, np.nan
    pairs = both.sum(axis=1)
    pearson = _rowwise_pearson(xs, ys)
    ranks_x = stats.rankdata(xs, axis=1, nan_policy="omit")
    ranks_y = stats.rankdata(ys, axis=1, nan_policy="omit")
    spearman = _rowwise_pearson(ranks_x, ranks_y)
    return LaggedCorrelation(
        lags=lag_array,
        pearson=pearson,
        pearson_p=_p_value(pearson, pairs),
        spearman=spearman,
        spearman_p=_p_value(spearman, pairs),
        pairs=pairs,
    )


def _rowwise_pearson(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        count = np.sum(np.isfinite(a), axis=1)
        mean_a = np.nansum(a, axis=1) / count
        mean_b = np.nansum(b, axis=1) / count
        da, db = a - mean_a[:, None], b - mean_b[:, None]
        cov = np.nansum(da * db, axis=1)
        r = cov / np.sqrt(np.nansum(da**2, axis=1) * np.nansum(db**2, axis=1))
    return np.where(count >= 3, np.clip(r, -1, 1), np.nan)


def _p_value(r: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Two-sided p-value of a correlation under the t approximation."""
    with np.errstate(invalid="ignore", divide="ignore"):
        t = r * np.sqrt((n - 2) / np.maximum(1 - r**2, 1e-300))
        p = 2 * stats.t.sf(np.abs(t), np.maximum(n - 2, 1))
    return np.where(n >= 3, p, np.nan)


# --------------------------------------------------------------------------- what-if


@dataclass(frozen=True)
class Scenario:
    """A change of the conditions of a forecast window."""

    temperature_delta: float = 0.0
    demand_growth_percent: float = 0.0
    outage_mw: float = 0.0


@dataclass(frozen=True)
class ScenarioOutcome:
    """Baseline and scenario demand (P10/P50/P90 per step), their peaks, and the supply balance."""

    baseline: dict[float, np.ndarray]
    scenario: dict[float, np.ndarray]
    delta: dict[float, np.ndarray]
    baseline_peak: dict[float, np.ndarray]
    scenario_peak: dict[float, np.ndarray]
    capacity_mw: np.ndarray | None = None
    available_mw: np.ndarray | None = None
    balance: dict[str, np.ndarray] = field(default_factory=dict)
    reserve_margin: dict[str, np.ndarray] = field(default_factory=dict)


def what_if(
    model: Forecaster,
    context: Context,
    window: Window,
    scenario: Scenario,
    offsets: dict[float, np.ndarray],
    *,
    capacity_mw: np.ndarray | float | None = None,
) -> ScenarioOutcome:
    """Forecast ``window`` as it is and under ``scenario``; ``model`` is fitted on ``context``.

    The temperature change applies from the window's cut to its end (what the forecast does not
    know yet); demand growth scales the scenario; an outage removes capacity from the balance.
    ``offsets`` are the model's relative quantile offsets (``ResidualQuantiles.offsets``). The
    delta's quantiles are the scenario's quantiles minus the baseline median.
    """
    panel = context.panel
    level = context.level(window)
    base_point = model.predict(context, window)
    point = base_point
    if scenario.temperature_delta:
        column = temperature_column(panel)
        if column is None:
            raise ValueError("a temperature scenario needs a temperature column")
        shifted = panel.exog[column].copy()
        shifted[:, window.cut : window.targets[-1] + 1] += scenario.temperature_delta
        changed = Context(panel.with_exog(**{column: shifted}), context.schedule, context.calendar)
        point = model.predict(changed, window)
    growth = 1 + scenario.demand_growth_percent / 100
    baseline = {q: base_point + offsets[q] * level for q in offsets}
    outcome = {q: (point + offsets[q] * level) * growth for q in offsets}
    delta = {q: outcome[q] - baseline[0.5] for q in offsets}
    baseline_peak = {q: np.max(v, axis=1) for q, v in baseline.items()}
    scenario_peak = {q: np.max(v, axis=1) for q, v in outcome.items()}
    balance: dict[str, np.ndarray] = {}
    margin: dict[str, np.ndarray] = {}
    capacity = available = None
    if capacity_mw is not None:
        capacity = np.broadcast_to(np.asarray(capacity_mw, dtype=np.float64), level[:, 0].shape)
        available = capacity - scenario.outage_mw
        balance = {
            "baseline": capacity - baseline_peak[0.5],
            "scenario": available - scenario_peak[0.5],
            "scenario_p90": available - scenario_peak[max(offsets)],
        }
        margin = {
            "baseline": reserve_margin(capacity, baseline_peak[0.5]),
            "scenario": reserve_margin(available, scenario_peak[0.5]),
        }
    return ScenarioOutcome(
        baseline=baseline,
        scenario=outcome,
        delta=delta,
        baseline_peak=baseline_peak,
        scenario_peak=scenario_peak,
        capacity_mw=capacity,
        available_mw=available,
        balance=balance,
        reserve_margin=margin,
    )


# --------------------------------------------------------------------------- efficiency


def peak_to_average(load: np.ndarray, axis: int = -1) -> np.ndarray:
    """Peak load over mean load (≥ 1; NaN-aware)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nanmax(load, axis=axis) / np.nanmean(load, axis=axis)


def load_factor(load: np.ndarray, axis: int = -1) -> np.ndarray:
    """Mean load over peak load (0–1; NaN-aware)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.nanmean(load, axis=axis) / np.nanmax(load, axis=axis)


def reserve_margin(capacity: np.ndarray | float, peak: np.ndarray | float) -> np.ndarray:
    """(capacity − peak) / peak: the share of the peak that the capacity can still cover."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.asarray(capacity, dtype=np.float64) - peak) / np.asarray(peak, dtype=np.float64)


def loss_share(supplied: np.ndarray, delivered: np.ndarray) -> np.ndarray:
    """Network losses as a share of the energy supplied."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.asarray(supplied) - np.asarray(delivered)) / np.asarray(supplied)


def specific_consumption(energy: np.ndarray, output: np.ndarray) -> np.ndarray:
    """Energy used per unit of output (e.g. fuel per MWh, MWh per tonne)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(energy, dtype=np.float64) / np.asarray(output, dtype=np.float64)
