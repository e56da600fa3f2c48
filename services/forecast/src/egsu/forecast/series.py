"""Series on one regular time grid, and reading them from a CSV file.

A :class:`Panel` holds one or many series that share a regular grid of timestamps (local time of
the series, naive or zone-aware). Missing readings are NaN. Exogenous columns (temperature, flags,
plans) are values known in advance for every timestamp: in a back-test they are the recorded values,
in operation they are forecasts (weather) or schedules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd

from egsu.forecast.errors import ForecastInputError

MIN_STEP = pd.Timedelta(minutes=15)
MAX_STEP = pd.Timedelta(days=1)
DAY = pd.Timedelta(days=1)
WEEK = pd.Timedelta(days=7)

_AWARE = re.compile(
    r"\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE
)


@dataclass(frozen=True)
class Panel:
    """Series ``load[i]`` (shape ``(n_series, n_steps)``) on the regular grid ``index``."""

    index: pd.DatetimeIndex
    load: np.ndarray
    exog: Mapping[str, np.ndarray] = field(default_factory=dict)
    ids: Sequence[str] = ("load",)
    notes: Sequence[str] = ()

    def __post_init__(self) -> None:
        if self.load.ndim != 2 or self.load.shape[1] != len(self.index):
            raise ValueError("load must have shape (n_series, len(index))")
        for name, values in self.exog.items():
            if values.shape != self.load.shape:
                raise ValueError(f"exogenous column {name!r} must have the shape of load")
        if len(self.ids) != self.load.shape[0]:
            raise ValueError("one id per series")

    @property
    def step(self) -> pd.Timedelta:
        """The grid's step."""
        return pd.Timedelta(self.index.freq) if self.index.freq else self.index[1] - self.index[0]

    @property
    def n_series(self) -> int:
        return int(self.load.shape[0])

    @property
    def n_steps(self) -> int:
        return int(self.load.shape[1])

    def steps(self, duration: pd.Timedelta) -> int:
        """How many grid steps make ``duration`` (at least one)."""
        return max(1, int(duration // self.step))

    def with_exog(self, **columns: np.ndarray) -> Panel:
        """The same panel with some exogenous columns replaced (what-if scenarios)."""
        return replace(self, exog={**self.exog, **columns})

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        load: str = "load",
        exog: Sequence[str] = (),
        series_id: str = "load",
    ) -> Panel:
        """One series from a frame indexed by a regular DatetimeIndex."""
        index = pd.DatetimeIndex(frame.index)
        if index.freq is None:
            index.freq = pd.infer_freq(index)
        return cls(
            index=index,
            load=frame[load].to_numpy(dtype=np.float64)[None, :],
            exog={c: frame[c].to_numpy(dtype=np.float64)[None, :] for c in exog},
            ids=(series_id,),
        )


def parse_duration(text: str, option: str, *, allow_zero: bool = False) -> pd.Timedelta:
    """``24h``, ``15min``, ``1d``, ``PT1H`` … as a positive Timedelta, or a one-line error."""
    try:
        # pandas wants "D" for days; people write "1d".
        value = pd.Timedelta(re.sub(r"(?<=\d)\s*[dD]$", "D", text.strip()))
    except (ValueError, TypeError):
        raise ForecastInputError(
            f"{option}: cannot read {text!r} as a duration (examples: 15min, 1h, 24h, 1d)"
        ) from None
    if value < pd.Timedelta(0) or (value == pd.Timedelta(0) and not allow_zero):
        raise ForecastInputError(f"{option}: the duration must be positive, got {text!r}")
    return value


def format_duration(value: pd.Timedelta) -> str:
    """A short text for a duration: ``15min``, ``24h``, ``7d``."""
    minutes = int(value / pd.Timedelta(minutes=1))
    if minutes % (24 * 60) == 0 and minutes >= 7 * 24 * 60:
        return f"{minutes // (24 * 60)}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}min"


def read_csv(
    path: Path,
    *,
    timestamp_column: str = "timestamp",
    load_column: str = "load",
    freq: pd.Timedelta | None = None,
    tz: str | None = None,
) -> Panel:
    """Read one series from a CSV file onto a regular grid; every problem is a ForecastInputError.

    Timestamps with an offset are converted to ``tz`` (calendar days, hours and holidays are
    reckoned there); naive ones are taken as local wall time. Every other numeric column becomes an
    exogenous input. Readings finer than ``freq`` are averaged onto it; missing steps become NaN.
    """
    name = path.name
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except FileNotFoundError:
        raise ForecastInputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ForecastInputError(f"{path}: is a directory, not a CSV file") from None
    except pd.errors.EmptyDataError:
        raise ForecastInputError(f"{name}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ForecastInputError(f"{name}: not a readable CSV file ({first})") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    columns = ", ".join(raw.columns) or "none"
    if timestamp_column not in raw.columns:
        raise ForecastInputError(
            f"{name}: no {timestamp_column!r} column (columns: {columns}); "
            "name the time column with --timestamp-column"
        )
    if load_column not in raw.columns:
        raise ForecastInputError(
            f"{name}: no {load_column!r} column (columns: {columns}); "
            "name the load column with --load-column"
        )
    if raw.empty:
        raise ForecastInputError(f"{name}: the file has a header but no rows")

    notes: list[str] = []
    index = _parse_timestamps(raw[timestamp_column], name, timestamp_column, tz)
    load = _parse_numbers(raw[load_column], name, load_column, required=True)
    exog: dict[str, pd.Series] = {}
    for column in raw.columns:
        if column in (timestamp_column, load_column):
            continue
        values = _parse_numbers(raw[column], name, column, required=False)
        if values is None:
            notes.append(f"column {column!r} is not numeric and is not used")
        else:
            exog[column] = values
    frame = pd.DataFrame({"load": load.to_numpy(), **{k: v.to_numpy() for k, v in exog.items()}})
    frame.index = index
    frame = frame.sort_index()
    return _regularise(frame, list(exog), name, freq, notes)


def _parse_timestamps(column: pd.Series, name: str, label: str, tz: str | None) -> pd.DatetimeIndex:
    text = column.str.strip()
    empty = np.flatnonzero((text == "").to_numpy())
    if empty.size:
        raise ForecastInputError(f"{name}: column {label!r} is empty in row {empty[0] + 1}")
    aware = text.str.contains(_AWARE).to_numpy()
    if aware.any() and not aware.all():
        naive_row, aware_row = np.flatnonzero(~aware)[0] + 1, np.flatnonzero(aware)[0] + 1
        raise ForecastInputError(
            f"{name}: column {label!r} mixes timestamps with a time zone (row {aware_row}) "
            f"and without one (row {naive_row}); write all of them one way"
        )
    try:
        parsed = pd.to_datetime(text, format="ISO8601", utc=bool(aware.all()))
    except (ValueError, TypeError, OverflowError):
        parsed = pd.to_datetime(text, errors="coerce", utc=bool(aware.all()), format="mixed")
        bad = np.flatnonzero(parsed.isna().to_numpy())
        if bad.size:
            raise ForecastInputError(
                f"{name}: column {label!r} row {bad[0] + 1} is not a timestamp: "
                f"{column.iloc[bad[0]]!r}"
            ) from None
    index = pd.DatetimeIndex(parsed)
    if aware.all():
        index = index.tz_convert(_zone(tz) if tz else "UTC")
    return index.as_unit("ns")


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ForecastInputError(
            f"--tz: unknown time zone {name!r} (examples: Asia/Almaty, UTC)"
        ) from None


def _parse_numbers(column: pd.Series, name: str, label: str, *, required: bool) -> pd.Series | None:
    text = column.str.strip()
    missing = text.isin(["", "NA", "NaN", "nan", "null", "NULL", "None", "-"])
    values = pd.to_numeric(text.where(~missing), errors="coerce")
    bad = np.flatnonzero((values.isna() & ~missing).to_numpy())
    if bad.size:
        if not required:
            return None
        raise ForecastInputError(
            f"{name}: column {label!r} is not numeric: row {bad[0] + 1} holds "
            f"{column.iloc[bad[0]]!r}"
        )
    values = values.astype(np.float64)
    if required and values.notna().sum() == 0:
        raise ForecastInputError(f"{name}: column {label!r} has no values")
    if not np.isfinite(values.dropna().to_numpy()).all():
        if not required:
            return None
        raise ForecastInputError(f"{name}: column {label!r} holds infinite values")
    return values


def _floor(index: pd.DatetimeIndex, step: pd.Timedelta) -> pd.DatetimeIndex:
    if step >= DAY:
        return index.normalize()
    if index.tz is None:
        return index.floor(step)
    # Floor in UTC: local wall time is ambiguous in the repeated hour of a DST change.
    return index.tz_convert("UTC").floor(step).tz_convert(index.tz)


def _regularise(
    frame: pd.DataFrame, exog: list[str], name: str, freq: pd.Timedelta | None, notes: list[str]
) -> Panel:
    if len(frame) < 3:
        raise ForecastInputError(f"{name}: too short: {len(frame)} rows")
    diffs = frame.index.to_series().diff().dropna()
    positive = diffs[diffs > pd.Timedelta(0)]
    if positive.empty:
        raise ForecastInputError(f"{name}: every row has the same timestamp")
    data_step = pd.Timedelta(positive.mode().iloc[0])
    step = freq or data_step
    if freq is not None and data_step > freq * 1.0001 and len(positive) > 1:
        raise ForecastInputError(
            f"{name}: the data step is {format_duration(data_step)}, coarser than "
            f"--freq {format_duration(freq)}; pass --freq {format_duration(data_step)} or coarser"
        )
    if step < MIN_STEP:
        raise ForecastInputError(
            f"{name}: the data step is {format_duration(step)}; forecasts run from 15min to 1d, "
            "so pass --freq 15min (or coarser) to average the readings"
        )
    if step > MAX_STEP:
        raise ForecastInputError(
            f"{name}: the data step is {format_duration(step)}; forecasts run from 15min to 1d"
        )
    if DAY % step != pd.Timedelta(0):
        raise ForecastInputError(
            f"{name}: the step {format_duration(step)} does not divide a day; "
            "use a step such as 15min, 30min, 1h, 3h or 1d"
        )
    # Snap to the grid and average what falls on one step (finer data, repeated DST hours).
    floored = _floor(frame.index, step)
    duplicated = int(floored.duplicated().sum())
    if duplicated and step == data_step:
        notes.append(f"{duplicated} repeated timestamps were averaged")
    grouped = frame.groupby(floored).mean()
    # Whole days are calendar days: 23 or 25 hours long where the clocks change.
    grid = "D" if step == DAY else step
    full = pd.date_range(grouped.index[0], grouped.index[-1], freq=grid)
    regular = grouped.reindex(full)
    gaps = int(regular["load"].isna().sum())
    if gaps:
        notes.append(f"{gaps} of {len(regular)} steps have no load value (gaps)")
    index = pd.DatetimeIndex(regular.index, freq=grid)
    return Panel(
        index=index,
        load=regular["load"].to_numpy(dtype=np.float64)[None, :],
        exog={c: regular[c].to_numpy(dtype=np.float64)[None, :] for c in exog},
        ids=("load",),
        notes=tuple(notes),
    )
