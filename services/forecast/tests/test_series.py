"""Reading a user's CSV: regular grids, gaps, 15-minute steps and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from egsu.forecast.errors import ForecastInputError
from egsu.forecast.series import parse_duration, read_csv


def write(tmp_path: Path, text: str, name: str = "series.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_15_minute_series_with_gaps_lands_on_a_regular_grid(tmp_path: Path) -> None:
    index = pd.date_range("2024-03-01", periods=96 * 3, freq="15min")
    keep = np.ones(len(index), dtype=bool)
    keep[10:30] = False  # five hours without readings
    frame = pd.DataFrame(
        {"timestamp": index[keep].strftime("%Y-%m-%d %H:%M"), "load": np.arange(keep.sum()) + 1.0}
    )
    frame["temperature"] = -5.0
    frame["site"] = "north"
    path = tmp_path / "gaps.csv"
    frame.to_csv(path, index=False)

    panel = read_csv(path)

    assert panel.step == pd.Timedelta("15min")
    assert panel.n_steps == len(index)
    assert np.isnan(panel.load[0, 10:30]).all()
    assert list(panel.exog) == ["temperature"]
    assert any("20 of 288 steps have no load" in note for note in panel.notes)
    assert any("'site' is not numeric" in note for note in panel.notes)


def test_finer_readings_are_averaged_onto_the_requested_step(tmp_path: Path) -> None:
    index = pd.date_range("2024-03-01", periods=8, freq="15min")
    text = "timestamp,load\n" + "".join(
        f"{t:%Y-%m-%dT%H:%M:%S},{v}\n" for t, v in zip(index, [1, 2, 3, 4, 5, 6, 7, 8], strict=True)
    )
    panel = read_csv(write(tmp_path, text), freq=pd.Timedelta("1h"))
    assert panel.load.tolist() == [[2.5, 6.5]]


def test_timestamps_with_an_offset_are_converted_to_the_local_zone(tmp_path: Path) -> None:
    text = (
        "timestamp,load\n2024-06-01T19:00:00Z,1\n2024-06-01T20:00:00Z,2\n2024-06-01T21:00:00Z,3\n"
    )
    panel = read_csv(write(tmp_path, text), tz="Asia/Almaty")
    assert panel.index[0].hour == 0 and panel.index[0].day == 2


@pytest.mark.parametrize(
    ("text", "options", "message"),
    [
        ("time,load\n2024-01-01,1\n", {}, "no 'timestamp' column (columns: time, load)"),
        ("timestamp,power\n2024-01-01,1\n", {}, "no 'load' column"),
        (
            "timestamp,load\n2024-01-01 00:00,1\n2024-01-01 01:00,abc\n",
            {},
            "column 'load' is not numeric: row 2 holds 'abc'",
        ),
        (
            "timestamp,load\n2024-01-01 00:00,1\n2024-01-01T01:00+05:00,2\n2024-01-01 02:00,3\n",
            {},
            "mixes timestamps with a time zone (row 2) and without one (row 1)",
        ),
        ("timestamp,load\nyesterday,1\n2024-01-01 01:00,2\n", {}, "row 1 is not a timestamp"),
        ("timestamp,load\n", {}, "header but no rows"),
        ("", {}, "the file is empty"),
        (
            "timestamp,load\n" + "".join(f"2024-01-01 00:{m:02d},1\n" for m in range(0, 60, 5)),
            {},
            "the data step is 5min",
        ),
        (
            "timestamp,load\n2024-01-01T00:00Z,1\n2024-01-01T01:00Z,1\n2024-01-01T02:00Z,1\n",
            {"tz": "Mars/Olympus"},
            "unknown time zone 'Mars/Olympus'",
        ),
    ],
)
def test_a_wrong_csv_is_one_clear_line(
    tmp_path: Path, text: str, options: dict[str, str], message: str
) -> None:
    with pytest.raises(ForecastInputError) as caught:
        read_csv(write(tmp_path, text), **options)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ForecastInputError, match="no such file"):
        read_csv(tmp_path / "absent.csv")


def test_durations_read_like_people_write_them() -> None:
    assert parse_duration("24h", "--horizon") == pd.Timedelta(hours=24)
    assert parse_duration("15min", "--freq") == pd.Timedelta(minutes=15)
    assert parse_duration("1d", "--horizon") == pd.Timedelta(days=1)
    with pytest.raises(ForecastInputError, match="--horizon: cannot read 'soon'"):
        parse_duration("soon", "--horizon")


def test_daily_steps_are_local_calendar_days_across_a_clock_change(tmp_path: Path) -> None:
    days = pd.date_range("2014-03-20", "2014-04-20", freq="D", tz="Australia/Melbourne")
    text = "timestamp,load\n" + "".join(
        f"{d.tz_convert('UTC'):%Y-%m-%dT%H:%M:%SZ},{i}\n" for i, d in enumerate(days)
    )
    panel = read_csv(write(tmp_path, text), tz="Australia/Melbourne")
    assert panel.n_steps == len(days)
    assert not np.isnan(panel.load).any()
    assert (panel.index == panel.index.normalize()).all()
    assert panel.step == pd.Timedelta(days=1)
