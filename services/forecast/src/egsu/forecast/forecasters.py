"""The forecasting models: seasonal-naive, MSTL (statsforecast) and LightGBM on lagged features.

Each model forecasts the steps of a :class:`~egsu.forecast.schedule.Window` for every series of a
panel at once, knowing only the steps before the window's cut. ``fit`` learns from the steps before
a cut; models that re-estimate on every forecast (seasonal-naive, MSTL) ignore it.
"""

from __future__ import annotations

import logging
import os
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from egsu.forecast.features import (
    FeatureMatrix,
    HolidayCalendar,
    _daily_stats,
    build_features,
    degree_day_change,
)
from egsu.forecast.schedule import Schedule, Window
from egsu.forecast.series import DAY, WEEK, Panel

log = logging.getLogger("egsu.forecast")

Rows = tuple[np.ndarray, np.ndarray]  # (series index, step index) of each row


@dataclass
class Context:
    """A panel under a schedule: the cuts and the feature matrix, computed once and shared."""

    panel: Panel
    schedule: Schedule
    calendar: HolidayCalendar = field(default_factory=HolidayCalendar)

    @cached_property
    def cuts(self) -> np.ndarray:
        return self.schedule.cuts(self.panel.index)

    @cached_property
    def features(self) -> FeatureMatrix:
        return build_features(self.panel, self.cuts, self.calendar)

    def degree_days(self, column: str, base: float, *, heating: bool) -> np.ndarray:
        """Degree-day change of every step (see ``features.degree_day_change``), cached."""
        key = (column, base, heating)
        cache = self.__dict__.setdefault("_degree_days", {})
        if key not in cache:
            cache[key] = degree_day_change(
                self.panel.exog[column],
                self.panel.index.normalize(),
                self.cuts,
                self.week,
                base,
                heating=heating,
            )
        return cache[key]

    @property
    def day(self) -> int:
        return self.panel.steps(DAY)

    @property
    def week(self) -> int:
        return self.panel.steps(WEEK)

    def level(self, window: Window) -> np.ndarray:
        """Each series' level at the window's cut, shape ``(n_series, 1)`` (never NaN or 0)."""
        scale = self.features.scale[:, window.targets[0]]
        history = np.abs(self.panel.load[:, : window.cut])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN history is expected
            fallback = np.nanmean(history, axis=1) if history.shape[1] else np.ones(len(scale))
        scale = np.where(np.isfinite(scale) & (scale > 0), scale, fallback)
        return np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)[:, None]


class Forecaster(ABC):
    """A model that forecasts windows of a panel."""

    name: ClassVar[str]

    def fit(self, context: Context, cut: int) -> None:  # noqa: B027 - optional for most models
        """Learn from the steps before ``cut``."""

    @abstractmethod
    def predict(self, context: Context, window: Window) -> np.ndarray:
        """Point forecasts of the window's steps, shape ``(n_series, len(window.targets))``."""


class SeasonalNaive(Forecaster):
    """The same step one week earlier (the latest week known at the cut); the baseline."""

    name = "seasonal_naive"

    def predict(self, context: Context, window: Window) -> np.ndarray:
        load = context.panel.load
        t, cut = window.targets, window.cut
        week, day = context.week, context.day
        k = (t - cut) // week + 1
        out = np.full((load.shape[0], len(t)), np.nan)
        # A missing week-ago value falls back to earlier weeks, then to the latest known day.
        candidates = [t - (k + extra) * week for extra in range(4)]
        candidates.append(t - ((t - cut) // day + 1) * day)
        for positions in candidates:
            valid = positions >= 0
            values = np.full_like(out, np.nan)
            values[:, valid] = load[:, positions[valid]]
            out = np.where(np.isfinite(out), out, values)
        last = _last_known(load[:, :cut])
        return np.where(np.isfinite(out), out, last[:, None])


class Statistical(Forecaster):
    """MSTL (daily and weekly seasons) with an ETS trend, from statsforecast, on recent history."""

    name = "mstl"

    def __init__(self, weeks: int = 4, daily_series_days: int = 730) -> None:
        self.weeks = weeks
        self.daily_series_days = daily_series_days

    def predict(self, context: Context, window: Window) -> np.ndarray:
        from statsforecast.models import MSTL, AutoETS

        day, week = context.day, context.week
        cut, t = window.cut, window.targets
        seasons = [day, week] if day > 1 else [week]
        length = self.weeks * week if day > 1 else self.daily_series_days
        start = max(0, cut - length)
        horizon = int(t[-1] - cut + 1)
        out = np.empty((context.panel.n_series, len(t)))
        fallback: np.ndarray | None = None
        for i in range(context.panel.n_series):
            history = _impute(context.panel.load[i, start:cut], week, day)
            usable = [s for s in seasons if len(history) >= 2 * s + 1]
            if history.size == 0 or not np.isfinite(history).all() or not usable:
                if fallback is None:
                    fallback = SeasonalNaive().predict(context, window)
                out[i] = fallback[i]
                continue
            model = MSTL(season_length=usable, trend_forecaster=AutoETS(model="ZZN"))
            mean = model.forecast(y=history, h=horizon)["mean"]
            out[i] = mean[t - cut]
        return out


HEATING_BASES = (12.0, 15.0, 18.0)
COOLING_BASES = (18.0, 21.0, 24.0)


@dataclass
class TemperatureResponse:
    """Scaled load ≈ intercept + heating·ΔHDD + cooling·ΔCDD (degree-days against the level's week).

    Trees stop at the edge of the temperatures they were trained on; beyond it this linear response
    carries the forecast on (a cold snap colder than any in the history still raises heat demand).
    """

    column: str
    heating_base: float
    cooling_base: float
    coefficients: np.ndarray
    low: float = -np.inf
    high: float = np.inf

    def design(self, context: Context, rows: Rows) -> np.ndarray:
        """The regressors of the given (series, step) rows."""
        heating = context.degree_days(self.column, self.heating_base, heating=True)[rows]
        cooling = context.degree_days(self.column, self.cooling_base, heating=False)[rows]
        return _design(heating, cooling)

    def predict(self, context: Context, rows: Rows) -> np.ndarray:
        return self.design(context, rows) @ self.coefficients

    def outside(self, context: Context, window: Window) -> bool:
        """Whether the window's unknown temperatures leave the range seen in training."""
        future = context.panel.exog[self.column][:, window.cut : window.targets[-1] + 1]
        future = future[np.isfinite(future)]
        return bool(future.size and (future.min() < self.low or future.max() > self.high))

    def clipped(self, context: Context, window: Window) -> tuple[Context, Window]:
        """The window in a context whose temperatures stay inside the training range.

        Only the weeks the window's features reach back to are rebuilt, not the whole history.
        """
        start = max(0, window.cut - 6 * context.week)
        stop = int(window.targets[-1]) + 1
        panel = context.panel
        exog = {k: v[:, start:stop] for k, v in panel.exog.items()}
        exog[self.column] = np.clip(exog[self.column], self.low, self.high)
        sliced = Panel(
            index=panel.index[start:stop], load=panel.load[:, start:stop], exog=exog, ids=panel.ids
        )
        local = Window(origin=window.origin, cut=window.cut - start, targets=window.targets - start)
        return Context(sliced, context.schedule, context.calendar), local

    @classmethod
    def fit(cls, context: Context, column: str, rows: Rows, target: np.ndarray):  # type: ignore[no-untyped-def]
        """The degree-day bases and coefficients that fit ``target`` (of ``rows``) best."""
        best: tuple[float, TemperatureResponse] | None = None
        for h_base in HEATING_BASES:
            heating = context.degree_days(column, h_base, heating=True)[rows]
            for c_base in COOLING_BASES:
                cooling = context.degree_days(column, c_base, heating=False)[rows]
                x = _design(heating, cooling)
                keep = np.isfinite(target) & np.isfinite(x).all(axis=1)
                if keep.sum() < 20:
                    continue
                xk, yk = x[keep], target[keep]
                ridge = 1e-3 * len(yk) * np.diag([0.0, 1.0, 1.0])
                coefficients = np.linalg.solve(xk.T @ xk + ridge, xk.T @ yk)
                sse = float(np.sum((yk - xk @ coefficients) ** 2))
                if best is None or sse < best[0]:
                    best = (sse, cls(column, h_base, c_base, coefficients))
        if best is None:
            return None
        seen = context.panel.exog[column][rows]
        seen = seen[np.isfinite(seen)]
        best[1].low, best[1].high = float(seen.min()), float(seen.max())
        return best[1]


def _design(heating: np.ndarray, cooling: np.ndarray) -> np.ndarray:
    x = np.column_stack([np.ones_like(heating), heating, cooling])
    return np.where(np.isfinite(x), x, 0.0)


def temperature_column(panel: Panel) -> str | None:
    """The exogenous column that holds air temperature, by name (``temperature``, ``temp_c`` …)."""
    for name in panel.exog:
        lowered = name.lower()
        if lowered.startswith("temp") or "temperature" in lowered or lowered in ("t2m", "tair"):
            return name
    return None


@dataclass
class GradientBoosting(Forecaster):
    """LightGBM on lagged loads (within the cut), calendar, holidays and weather features.

    With a temperature column, a linear degree-day response extends the forecast to temperatures
    outside the training range (see :class:`TemperatureResponse`).
    """

    name: ClassVar[str] = "lightgbm"
    params: dict[str, Any] = field(default_factory=dict)
    rounds: int = 400
    max_rows: int = 2_000_000
    seed: int = 0
    extrapolate_temperature: bool = True
    booster: Any = field(default=None, init=False, repr=False)
    response: TemperatureResponse | None = field(default=None, init=False, repr=False)

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "objective": "l2",
        "learning_rate": 0.05,
        "min_data_in_leaf": 40,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "verbosity": -1,
    }

    def fit(self, context: Context, cut: int) -> None:
        # Idle OpenMP threads must not spin: the machines are shared with other work.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import lightgbm as lgb

        features = context.features
        rows: Rows = np.nonzero(np.isfinite(features.target[:, :cut]))
        if len(rows[0]) > self.max_rows:
            # A global model over many series learns as well from a uniform sample of its rows.
            rng = np.random.default_rng(self.seed)
            chosen = np.sort(rng.choice(len(rows[0]), self.max_rows, replace=False))
            rows = (rows[0][chosen], rows[1][chosen])
        x, y = features.x[rows], features.target[rows]
        self.response = None
        column = temperature_column(context.panel) if self.extrapolate_temperature else None
        if column is not None:
            self.response = TemperatureResponse.fit(context, column, rows, y)
        if len(y) < 50:
            self.booster = None
            return
        params = {
            **self.DEFAULTS,
            # Fewer leaves on a short history; one thread where threads cost more than they save.
            "num_leaves": int(np.clip(len(y) // 500, 15, 63)),
            "num_threads": 1 if len(y) < 200_000 else 0,
            "seed": self.seed,
            **self.params,
        }
        data = lgb.Dataset(x, y, feature_name=list(features.names), free_raw_data=True)
        self.booster = lgb.train(params, data, num_boost_round=self.rounds)

    def predict(self, context: Context, window: Window) -> np.ndarray:
        if self.booster is None:
            return SeasonalNaive().predict(context, window)
        response = self.response
        if response is not None and response.outside(context, window):
            inside, local = response.clipped(context, window)
            x, _, _ = inside.features.rows(local.targets)
            beyond = response.predict(context, _window_rows(context, window)) - response.predict(
                inside, _window_rows(inside, local)
            )
            ratio = self.booster.predict(x) + beyond
        else:
            x, _, _ = context.features.rows(window.targets)
            ratio = self.booster.predict(x)
        shape = (context.panel.n_series, len(window.targets))
        return ratio.reshape(shape) * context.level(window)


@dataclass
class DegreeDayNaive(Forecaster):
    """Seasonal-naive corrected for the weather: the reference step's load times
    ``1 + b_h·ΔHDD + b_c·ΔCDD``, the change of the day's heating and cooling degree-days between the
    target day and the reference day (daily mean temperatures, forecast ones for the target).

    The classic temperature-corrected persistence of heat and electricity dispatchers: two
    coefficients, learnt from a few days of history, so it follows the weather long before a
    learned model has enough data. Without a temperature column it is seasonal-naive.
    """

    name: ClassVar[str] = "degree_day"
    column: str | None = field(default=None, init=False)
    bases: tuple[float, float] = field(default=(15.0, 21.0), init=False)
    coefficients: np.ndarray | None = field(default=None, init=False, repr=False)

    def _degree_days(self, context: Context) -> tuple[np.ndarray, np.ndarray] | None:
        if self.column is None:
            return None
        daily, _ = _daily_stats(context.panel.exog[self.column], context.panel.index.normalize())
        h_base, c_base = self.bases
        return np.maximum(h_base - daily, 0), np.maximum(daily - c_base, 0)

    def fit(self, context: Context, cut: int) -> None:
        self.column = temperature_column(context.panel)
        self.coefficients = None
        if self.column is None or cut < 2 * context.day:
            return
        load = context.panel.load[:, :cut]
        daily, _ = _daily_stats(
            context.panel.exog[self.column][:, :cut], context.panel.index[:cut].normalize()
        )
        best: tuple[float, tuple[float, float], np.ndarray] | None = None
        lags = [lag for lag in (context.day, context.week) if lag < cut]
        with np.errstate(invalid="ignore", divide="ignore"):
            ratios = [load[:, lag:] / load[:, :-lag] - 1 for lag in lags]
        for h_base in HEATING_BASES:
            hdd = np.maximum(h_base - daily, 0)
            for c_base in COOLING_BASES:
                cdd = np.maximum(daily - c_base, 0)
                xs, ys = [], []
                for lag, ratio in zip(lags, ratios, strict=True):
                    x = np.stack(
                        [
                            (hdd[:, lag:] - hdd[:, :-lag]).ravel(),
                            (cdd[:, lag:] - cdd[:, :-lag]).ravel(),
                        ],
                        axis=1,
                    )
                    xs.append(x)
                    ys.append(ratio.ravel())
                x, y = np.concatenate(xs), np.concatenate(ys)
                keep = np.isfinite(y) & np.isfinite(x).all(axis=1) & (np.abs(y) < 2)
                if keep.sum() < 20:
                    continue
                xk, yk = x[keep], y[keep]
                coefficients = np.linalg.solve(xk.T @ xk + 1e-3 * len(yk) * np.eye(2), xk.T @ yk)
                sse = float(np.sum((yk - xk @ coefficients) ** 2))
                if best is None or sse < best[0]:
                    best = (sse, (h_base, c_base), coefficients)
        if best is not None:
            self.bases, self.coefficients = best[1], best[2]

    def predict(self, context: Context, window: Window) -> np.ndarray:
        load = context.panel.load
        t, cut = window.targets, window.cut
        week, day = context.week, context.day
        k = (t - cut) // week + 1
        out = np.full((load.shape[0], len(t)), np.nan)
        reference = np.zeros((load.shape[0], len(t)), dtype=np.int64)
        candidates = [t - (k + extra) * week for extra in range(4)]
        candidates.append(t - ((t - cut) // day + 1) * day)
        candidates.append(t - ((t - cut) // day + 2) * day)
        # A public holiday is a poor reference for a working day and the other way round.
        holiday = context.calendar.flags(context.panel.index.normalize())
        for n, positions in enumerate(candidates):
            valid = positions >= 0
            if n < len(candidates) - 1:
                valid &= holiday[np.clip(positions, 0, None)] == holiday[t]
            values = np.full_like(out, np.nan)
            values[:, valid] = load[:, positions[valid]]
            take = ~np.isfinite(out) & np.isfinite(values)
            out = np.where(take, values, out)
            reference = np.where(take, np.broadcast_to(positions, out.shape), reference)
        missing = ~np.isfinite(out)
        out = np.where(missing, _last_known(load[:, :cut])[:, None], out)
        degree_days = self._degree_days(context) if self.coefficients is not None else None
        if degree_days is None:
            return out
        hdd, cdd = degree_days
        rows = np.arange(load.shape[0])[:, None]
        delta_h = hdd[:, t] - hdd[rows, reference]
        delta_c = cdd[:, t] - cdd[rows, reference]
        factor = 1 + self.coefficients[0] * delta_h + self.coefficients[1] * delta_c
        factor = np.where(np.isfinite(factor) & ~missing, np.clip(factor, 0.2, 3.0), 1.0)
        return out * factor


def _window_rows(context: Context, window: Window) -> Rows:
    """The (series, step) rows of a window, series-major like ``FeatureMatrix.rows``."""
    n, h = context.panel.n_series, len(window.targets)
    return np.repeat(np.arange(n), h), np.tile(window.targets, n)


def _last_known(history: np.ndarray) -> np.ndarray:
    """The last finite value of each row (0 where there is none)."""
    finite = np.isfinite(history)
    if history.shape[1] == 0:
        return np.zeros(history.shape[0])
    last = np.where(
        finite.any(axis=1), history.shape[1] - 1 - np.argmax(finite[:, ::-1], axis=1), -1
    )
    rows = np.arange(history.shape[0])
    return np.where(last >= 0, history[rows, np.maximum(last, 0)], 0.0)


def _impute(history: np.ndarray, week: int, day: int) -> np.ndarray:
    """Fill gaps: short ones linearly, long ones from the week (or day) before, edges outward."""
    if history.size == 0 or np.isfinite(history).all():
        return history
    series = pd.Series(history)
    filled = series.interpolate(limit=max(2, day // 12), limit_area="inside")
    for lag in (week, day):
        shifted = filled.shift(lag)
        filled = filled.fillna(shifted)
    filled = filled.interpolate(limit_area="inside").bfill().ffill()
    return filled.to_numpy(dtype=np.float64)


def default_models() -> list[Forecaster]:
    """The models every back-test compares (the ensemble is formed from them by the back-test)."""
    return [SeasonalNaive(), Statistical(), GradientBoosting()]
