"""The forecasting models: seasonal-naive, MSTL (statsforecast) and LightGBM on lagged features.

Each model forecasts the steps of a :class:`~egsu.forecast.schedule.Window` for every series of a
panel at once, knowing only the steps before the window's cut. ``fit`` learns from the steps before
a cut; models that re-estimate on every forecast (seasonal-naive, MSTL) ignore it.
"""

from __future__ import annotations

import logging
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from egsu.forecast.features import FeatureMatrix, HolidayCalendar, build_features
from egsu.forecast.schedule import Schedule, Window
from egsu.forecast.series import DAY, WEEK, Panel

log = logging.getLogger("egsu.forecast")


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


@dataclass
class GradientBoosting(Forecaster):
    """LightGBM on lagged loads (within the cut), calendar, holidays and weather features."""

    name: ClassVar[str] = "lightgbm"
    params: dict[str, Any] = field(default_factory=dict)
    rounds: int = 400
    max_rows: int = 3_000_000
    seed: int = 0
    booster: Any = field(default=None, init=False, repr=False)

    DEFAULTS: ClassVar[dict[str, Any]] = {
        "objective": "l2",
        "learning_rate": 0.05,
        "num_leaves": 63,
        "min_data_in_leaf": 40,
        "feature_fraction": 0.8,
        "bagging_fraction": 0.8,
        "bagging_freq": 1,
        "lambda_l2": 1.0,
        "verbosity": -1,
    }

    def fit(self, context: Context, cut: int) -> None:
        import lightgbm as lgb

        features = context.features
        x, _, y = features.rows(np.arange(cut))
        keep = np.isfinite(y)
        x, y = x[keep], y[keep]
        if len(y) > self.max_rows:
            # A global model over many series learns as well from a uniform sample of its rows.
            rng = np.random.default_rng(self.seed)
            chosen = np.sort(rng.choice(len(y), self.max_rows, replace=False))
            x, y = x[chosen], y[chosen]
        if len(y) < 50:
            self.booster = None
            return
        params = {**self.DEFAULTS, "seed": self.seed, **self.params}
        data = lgb.Dataset(x, y, feature_name=list(features.names), free_raw_data=True)
        self.booster = lgb.train(params, data, num_boost_round=self.rounds)

    def predict(self, context: Context, window: Window) -> np.ndarray:
        if self.booster is None:
            return SeasonalNaive().predict(context, window)
        x, _, _ = context.features.rows(window.targets)
        level = context.level(window)
        ratio = self.booster.predict(x).reshape(context.panel.n_series, len(window.targets))
        return ratio * level


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
