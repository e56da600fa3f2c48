from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from forecast_helpers import REGIONS, Region, run_job, week

from egsu.testing.stack import Stack


@pytest.fixture(scope="session")
def regions(stack: Stack) -> list[Region]:
    """A week of hourly electricity and heat in three regions, their weather, and the national
    models trained on it (the jobs run on the forecast worker, off the request path)."""
    made = week(stack, REGIONS)
    with stack.sync_client("operator") as c:
        for quantity in ("active_import", "heat_energy"):
            job = run_job(c, kind="train", group="national", quantity=quantity)
            assert job["result"]["horizons"]["day_ahead"]["status"] == "trained", job
            assert job["result"]["scoring"]["horizons"]["day_ahead"]["status"] == "scored", job
    return made
