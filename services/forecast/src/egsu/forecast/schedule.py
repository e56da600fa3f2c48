"""When forecasts are issued and what each one may know: the information cut.

A forecast issued at time ``O`` (its origin) knows only readings whose interval has ended by ``O``.
Timestamps may mark the start or the end of an interval, so a reading stamped ``τ`` counts as known
at ``O`` when ``τ + step <= O`` — exact for start-stamped data, one step cautious for end-stamped.

Two kinds of schedule:

- day-ahead: issued every day at ``issue_time`` (local) for the whole next calendar day;
- rolling: issued every ``horizon`` for the ``horizon`` that starts ``lead`` after the issue.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time

import numpy as np
import pandas as pd

from egsu.forecast.series import DAY, format_duration

ZERO = pd.Timedelta(0)


@dataclass(frozen=True, slots=True)
class Window:
    """One forecast: issued at ``origin``, knowing the steps ``< cut``, for the ``targets``."""

    origin: pd.Timestamp
    cut: int
    targets: np.ndarray


@dataclass(frozen=True, slots=True)
class Schedule:
    """A forecast schedule (see the module's docstring)."""

    horizon: pd.Timedelta = DAY
    lead: pd.Timedelta = ZERO
    issue_time: time | None = None

    @classmethod
    def day_ahead(cls, issue_time: time = time(12)) -> Schedule:
        """Issued at ``issue_time`` every day for the next calendar day (noon by default)."""
        return cls(horizon=DAY, issue_time=issue_time)

    def describe(self) -> str:
        """A short label: ``day-ahead (issued 12:00 the day before)`` or ``24h``."""
        if self.issue_time is not None:
            return f"day-ahead (issued {self.issue_time:%H:%M} the day before)"
        label = format_duration(self.horizon)
        return f"{label} after a {format_duration(self.lead)} lead" if self.lead else label

    def origin_times(self, index: pd.DatetimeIndex) -> pd.DatetimeIndex:
        """For every timestamp of ``index``, the issue time of the forecast that covers it."""
        if self.issue_time is not None:
            day = index.normalize()
            offset = pd.Timedelta(hours=self.issue_time.hour, minutes=self.issue_time.minute)
            if index.tz is None:
                return day - DAY + offset
            wall = day.tz_localize(None) - DAY + offset
            return wall.tz_localize(index.tz, ambiguous="NaT", nonexistent="shift_forward")
        step = pd.Timedelta(index.freq) if index.freq else index[1] - index[0]
        anchor = index[-1] + step - self.lead - self.horizon
        k = np.floor((index - self.lead - anchor) / self.horizon)
        return anchor + pd.to_timedelta(k * self.horizon.value, unit="ns")

    def cuts(self, index: pd.DatetimeIndex) -> np.ndarray:
        """For every step, how many leading steps of ``index`` its forecast may use."""
        step = pd.Timedelta(index.freq) if index.freq else index[1] - index[0]
        origins = self.origin_times(index)
        index = index.as_unit("ns")
        known = (origins - step).as_unit("ns")
        cut = np.searchsorted(index.asi8, known.asi8, side="right")
        # An origin lost in a DST change (NaT) falls back to the step's own day start.
        lost = np.asarray(origins.isna())
        day_starts = index.normalize()[lost].as_unit("ns")
        cut[lost] = np.searchsorted(index.asi8, day_starts.asi8, side="left")
        return np.minimum(cut, np.arange(len(index)))

    def windows(self, index: pd.DatetimeIndex) -> list[Window]:
        """Every complete forecast window on ``index``, oldest first."""
        step = pd.Timedelta(index.freq) if index.freq else index[1] - index[0]
        origins = self.origin_times(index)
        cuts = self.cuts(index)
        codes, uniques = pd.factorize(origins, sort=True)
        order = np.argsort(codes, kind="stable")
        bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
        windows = []
        for k, origin in enumerate(uniques):
            targets = order[bounds[k] : bounds[k + 1]]
            if targets.size == 0 or pd.isna(origin) or origin < index[0] + step:
                continue  # issued before the data begin: nothing was known
            start, end = self._window_bounds(origin, step)
            if index[targets[0]] != start or index[targets[-1]] + step != end:
                continue
            windows.append(Window(origin=origin, cut=int(cuts[targets[0]]), targets=targets))
        return windows

    def _window_bounds(
        self, origin: pd.Timestamp, step: pd.Timedelta
    ) -> tuple[pd.Timestamp, pd.Timestamp]:
        if self.issue_time is None:
            start = origin + self.lead
            return start, start + self.horizon
        start = (origin + DAY).normalize()
        end = (start + pd.Timedelta(hours=36)).normalize()
        return start, max(end, start + step)
