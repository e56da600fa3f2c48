"""``egsu forecast backtest`` as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from egsu.cli.main import app as egsu
from egsu.forecast.synthetic import synthetic_panel, to_csv_frame

runner = CliRunner()


@pytest.fixture(scope="module")
def quarter_hourly_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """40 days at 15 minutes with temperature and holes, the way metering data arrives."""
    frame = to_csv_frame(synthetic_panel(days=40, step="15min", seed=2))
    drop = np.zeros(len(frame), dtype=bool)
    drop[1000:1100] = True  # a day without readings
    drop[2000:2003] = True
    path = tmp_path_factory.mktemp("csv") / "feeder.csv"
    frame[~drop].to_csv(path, index=False)
    return path


def test_backtest_json_on_a_15_minute_series_with_gaps(quarter_hourly_csv: Path) -> None:
    result = runner.invoke(
        egsu,
        ["forecast", "backtest", "--csv", str(quarter_hourly_csv), "--horizon", "24h",
         "--origins", "4", "--warmup", "3", "--models", "seasonal_naive,lightgbm", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["baseline"] == "seasonal_naive"
    assert document["horizon"] == "24h"
    assert document["freq"] == "15min"
    assert document["origins"] == 4
    for name in (
        "seasonal_naive",
        "lightgbm",
    ):
        metrics = document["models"][name]
        assert set(metrics) == {"mape", "smape", "mase", "rmse", "pinball", "coverage_p10_p90"}
        assert all(isinstance(v, float) for v in metrics.values())


def test_backtest_table_aggregated_to_hourly_day_ahead(quarter_hourly_csv: Path) -> None:
    result = runner.invoke(
        egsu,
        ["forecast", "backtest", "--csv", str(quarter_hourly_csv), "--freq", "1h", "--day-ahead",
         "--origins", "3", "--warmup", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "day-ahead (issued 12:00 the day before)" in out
    for name in ("seasonal_naive", "mstl", "lightgbm", "ensemble"):
        assert name in out
    assert "base" in out and "★" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("time,load\n2024-01-01 00:00,1\n", "no 'timestamp' column (columns: time, load)"),
        ("timestamp,load\n2024-01-01 00:00,1\n2024-01-01 01:00,lots\n", "is not numeric"),
        (
            "timestamp,load\n2024-01-01 00:00,1\n2024-01-01T01:00Z,2\n",
            "mixes timestamps with a time zone",
        ),
        (
            "timestamp,load\n" + "".join(f"2024-01-01 {h:02d}:00,{h}\n" for h in range(24)),
            "too short",
        ),
    ],
)
def test_a_wrong_csv_is_a_one_line_error_and_exit_2(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text(content)
    result = runner.invoke(egsu, ["forecast", "backtest", "--csv", str(path)])
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_options_are_named(quarter_hourly_csv: Path) -> None:
    result = runner.invoke(
        egsu, ["forecast", "backtest", "--csv", str(quarter_hourly_csv), "--horizon", "soon"]
    )
    assert result.exit_code == 2
    assert "--horizon: cannot read 'soon'" in result.stderr
    result = runner.invoke(
        egsu, ["forecast", "backtest", "--csv", str(quarter_hourly_csv), "--country", "XX"]
    )
    assert result.exit_code == 2
    assert "--country: no holiday calendar for 'XX'" in result.stderr
