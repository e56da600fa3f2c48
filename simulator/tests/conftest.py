from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from egsu.simulator.defects import Rates
from egsu.simulator.generator import Simulation
from egsu.simulator.model import EnergySystem, build
from egsu.simulator.output import write_dataset

START = date(2026, 1, 12)
# Rarer defects raised so that a small system shows every kind in two days.
RICH = Rates().with_overrides(
    {"failure": 0.05, "magnetic_field": 0.03, "cover_opened": 0.03, "power_loss": 0.03,
     "clock_set": 0.03, "rollover": 0.05, "stuck": 0.02, "clock_skew": 0.02, "comm_loss": 0.05}
)  # fmt: skip


class Dataset:
    def __init__(self, root: Path, system: EnergySystem) -> None:
        self.root = root
        self.system = system
        self.readings = pl.read_parquet(root / "readings" / "*.parquet")
        self.labels = pl.read_parquet(root / "labels.parquet")
        self.events = pl.read_parquet(root / "events.parquet")
        self.points = pl.read_parquet(root / "registry" / "metering_points.parquet")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Dataset:
    root = tmp_path_factory.mktemp("sim")
    system = build(600, 7, START)
    sim = Simulation(system, seed=7, start=START, rates=RICH, horizon_days=2)
    write_dataset(root, system, sim, start=START, days=2)
    return Dataset(root, system)
