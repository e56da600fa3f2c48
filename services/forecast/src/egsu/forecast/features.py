"""Features for the gradient-boosted model, vectorised over series and time.

Every row is one target step ``t`` of one series. Its load features use only the steps its own
forecast may know (``< cut[t]``, see :mod:`egsu.forecast.schedule`), so the same matrix serves
training (rows before a refit cut) and scoring (rows of a window) without leaking the future.
Loads are divided by the series' level at the cut (mean absolute load over the week before it), so
one model fits series of any size and follows level changes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import holidays
import numpy as np
import pandas as pd

from egsu.forecast.errors import ForecastInputError
from egsu.forecast.series import DAY, WEEK, Panel


class HolidayCalendar:
    """Public holidays of a country (``holidays`` package) by local date; ``None``: no holidays."""

    def __init__(self, country: str | None = "KZ", subdiv: str | None = None) -> None:
        self.country = country.upper() if country else None
        self.subdiv = subdiv
        if self.country is not None:
            try:
                holidays.country_holidays(self.country, subdiv=subdiv, years=2020)
            except NotImplementedError:
                raise ForecastInputError(
                    f"--country: no holiday calendar for {country!r} (ISO codes: KZ, AU, DE …)"
                ) from None
            except (KeyError, ValueError):
                raise ForecastInputError(
                    f"--subdiv: {subdiv!r} is not a subdivision of {self.country}"
                ) from None

    def flags(self, days: pd.DatetimeIndex) -> np.ndarray:
        """1.0 for each local date that is a public holiday, else 0.0."""
        if self.country is None or len(days) == 0:
            return np.zeros(len(days))
        years = range(int(days.year.min()), int(days.year.max()) + 1)
        calendar = holidays.country_holidays(self.country, subdiv=self.subdiv, years=years)
        dates = pd.DatetimeIndex(sorted(calendar)).as_unit("ns")
        naive = days.tz_localize(None) if days.tz is not None else days
        return np.isin(naive.normalize().as_unit("ns").asi8, dates.asi8).astype(np.float64)


@dataclass(frozen=True)
class FeatureMatrix:
    """Features ``x`` (series, steps, features), the level ``scale`` and the scaled ``target``."""

    x: np.ndarray
    scale: np.ndarray
    target: np.ndarray
    names: tuple[str, ...]

    def rows(self, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features, scale and scaled target of steps ``cols`` of every series, series-major."""
        n, _, f = self.x.shape
        return (
            self.x[:, cols, :].reshape(n * len(cols), f),
            self.scale[:, cols].reshape(-1),
            self.target[:, cols].reshape(-1),
        )


class _Loads:
    """Masked look-ups into the load array with prefix sums for window means."""

    def __init__(self, load: np.ndarray) -> None:
        self.load = load
        finite = np.isfinite(load)
        self.sums = np.concatenate(
            [np.zeros((load.shape[0], 1)), np.cumsum(np.where(finite, np.abs(load), 0.0), axis=1)],
            axis=1,
        )
        self.counts = np.concatenate(
            [np.zeros((load.shape[0], 1)), np.cumsum(finite, axis=1)], axis=1
        )

    def at(self, positions: np.ndarray) -> np.ndarray:
        """``load[:, positions]`` with NaN where a position is before the start."""
        valid = positions >= 0
        out = self.load[:, np.where(valid, positions, 0)]
        out[:, ~valid] = np.nan
        return out

    def mean_abs(self, start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Mean of ``|load|`` over ``[start, stop)`` per step, and the number of values in it."""
        start = np.clip(start, 0, None)
        stop = np.clip(stop, 0, None)
        total = self.sums[:, stop] - self.sums[:, start]
        count = self.counts[:, stop] - self.counts[:, start]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan), count


def build_features(panel: Panel, cuts: np.ndarray, calendar: HolidayCalendar) -> FeatureMatrix:
    """The feature matrix of every step of every series of ``panel`` under the given cuts."""
    n_steps = panel.n_steps
    day = panel.steps(DAY)
    week = panel.steps(WEEK)
    step_hours = panel.step / pd.Timedelta(hours=1)
    t = np.arange(n_steps)
    lead = t - cuts
    loads = _Loads(panel.load)

    scale, count = loads.mean_abs(cuts - week, cuts)
    longer, _ = loads.mean_abs(cuts - 4 * week, cuts)
    scale = np.where(count >= max(1, week // 4), scale, longer)
    scale = np.where(scale > 0, scale, np.nan)

    columns: dict[str, np.ndarray] = {}

    def scaled(values: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return values / scale

    k_day = lead // day + 1
    k_week = lead // week + 1
    ref_day = t - k_day * day
    ref_week = t - k_week * week
    columns["load_ref_day"] = scaled(loads.at(ref_day))
    columns["load_ref_day_2"] = scaled(loads.at(ref_day - day))
    columns["load_ref_week"] = scaled(loads.at(ref_week))
    columns["load_ref_week_2"] = scaled(loads.at(ref_week - week))
    columns["load_last_known"] = scaled(loads.at(cuts - 1))
    columns["load_last_day_mean"] = scaled(loads.mean_abs(cuts - day, cuts)[0])
    min_lead = int(lead.min()) if n_steps else 0
    for lag in _lags(panel.step):
        if lag <= min_lead:
            continue  # never known under this schedule
        values = loads.at(t - lag)
        values[:, lag <= lead] = np.nan
        columns[f"load_lag_{lag}"] = scaled(values)

    local = panel.index
    hour = (local.hour + local.minute / 60.0).to_numpy(dtype=np.float64)
    dow = local.day_of_week.to_numpy(dtype=np.float64)
    shared: dict[str, np.ndarray] = {
        "lead_hours": lead * step_hours,
        "hour": hour,
        "day_of_week": dow,
        "day_of_year": local.day_of_year.to_numpy(dtype=np.float64),
        "weekend": (dow >= 5).astype(np.float64),
    }
    days = local.normalize()
    holiday = calendar.flags(days)
    shared["holiday"] = holiday
    shared["holiday_before"] = calendar.flags(days - DAY)
    shared["holiday_after"] = calendar.flags(days + DAY)
    shared["holiday_ref_day"] = _take1(holiday, ref_day)
    shared["holiday_ref_week"] = _take1(holiday, ref_week)
    shared["dow_ref_day"] = _take1(dow, ref_day)

    for column, values in panel.exog.items():
        name = "x_" + re.sub(r"[^0-9A-Za-z_]", "_", column)
        x = values.astype(np.float64)
        columns[name] = x
        at_ref = _take2(x, ref_day)
        columns[f"{name}_ref_day"] = at_ref
        columns[f"{name}_change"] = x - at_ref
        if day > 1:
            columns[f"{name}_mean_1d"] = _trailing_mean(x, day)
            columns[f"{name}_day_mean"], columns[f"{name}_day_max"] = _daily_stats(x, days)
        columns[f"{name}_mean_3d"] = _trailing_mean(x, 3 * day)

    n = panel.n_series
    names = tuple(columns) + tuple(shared)
    x = np.empty((n, n_steps, len(names)), dtype=np.float32)
    for j, name in enumerate(names):
        x[:, :, j] = columns[name] if name in columns else shared[name][None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        target = panel.load / scale
    return FeatureMatrix(x=x, scale=scale, target=target, names=names)


def _lags(step: pd.Timedelta) -> list[int]:
    """Lags in steps: the last few steps and the last hours, then whole days."""
    hours = [1, 2, 3, 6, 12, 24, 48, 72]
    lags = {1, 2, 3} | {int(pd.Timedelta(hours=h) // step) for h in hours}
    return sorted(lag for lag in lags if lag >= 1)


def _take1(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    out = values[np.clip(positions, 0, None)].astype(np.float64)
    out[positions < 0] = np.nan
    return out


def _take2(values: np.ndarray, positions: np.ndarray) -> np.ndarray:
    out = values[:, np.clip(positions, 0, None)].astype(np.float64)
    out[:, positions < 0] = np.nan
    return out


def _trailing_mean(x: np.ndarray, window: int) -> np.ndarray:
    """Mean of the last ``window`` steps up to and including each step, NaN-aware."""
    finite = np.isfinite(x)
    sums = np.cumsum(np.where(finite, x, 0.0), axis=1)
    counts = np.cumsum(finite, axis=1)
    sums[:, window:] = sums[:, window:] - sums[:, :-window]
    counts[:, window:] = counts[:, window:] - counts[:, :-window]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _daily_stats(x: np.ndarray, days: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Mean and maximum of each step's local calendar day (a known forecast, such as weather)."""
    codes = pd.factorize(days)[0]
    n_days = int(codes.max()) + 1 if len(codes) else 0
    n = x.shape[0]
    finite = np.isfinite(x)
    flat = (np.arange(n)[:, None] * n_days + codes[None, :]).ravel()
    sums = np.bincount(flat, np.where(finite, x, 0.0).ravel(), n * n_days).reshape(n, n_days)
    counts = np.bincount(flat, finite.ravel(), n * n_days).reshape(n, n_days)
    maxima = np.full(n * n_days, -np.inf)
    np.maximum.at(maxima, flat, np.where(finite, x, -np.inf).ravel())
    maxima = maxima.reshape(n, n_days)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    maxima[~np.isfinite(maxima)] = np.nan
    return mean[:, codes], maxima[:, codes]


def degree_day_change(
    temperature: np.ndarray,
    days: pd.DatetimeIndex,
    cuts: np.ndarray,
    week: int,
    base: float,
    *,
    heating: bool,
) -> np.ndarray:
    """Degree-days of each step's day minus their mean over the week before its cut.

    The load features are divided by the level of that week, so a colder (or hotter) target day
    than the week the level was taken from is what moves the scaled load.
    """
    daily_mean, _ = _daily_stats(temperature, days)
    degree_days = np.maximum(base - daily_mean, 0) if heating else np.maximum(daily_mean - base, 0)
    finite = np.isfinite(degree_days)
    sums = np.concatenate(
        [np.zeros((len(degree_days), 1)), np.cumsum(np.where(finite, degree_days, 0), axis=1)],
        axis=1,
    )
    counts = np.concatenate([np.zeros((len(degree_days), 1)), np.cumsum(finite, axis=1)], axis=1)
    start, stop = np.clip(cuts - week, 0, None), np.clip(cuts, 0, None)
    with np.errstate(invalid="ignore", divide="ignore"):
        before = (sums[:, stop] - sums[:, start]) / (counts[:, stop] - counts[:, start])
    return degree_days - before
