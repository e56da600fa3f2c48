"""The forecast screen's what-if scenario on the whole System: a week of heat demand in a region,
the national model trained by the forecast worker, and a −10 °C scenario run from the console."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from egsu.testing.stack import Stack

from .conftest import login

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "services" / "forecast" / "tests"))
from forecast_helpers import run_job, week

pytestmark = pytest.mark.stack
KATO = "610000000"  # a region no other test writes to


def _csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, page[:2000]
    return found[1]


def test_an_operator_runs_a_colder_day_and_sees_the_heat_peak_rise(stack: Stack) -> None:
    week(stack, (KATO,))
    with stack.sync_client("operator") as c:
        job = run_job(c, kind="train", group="national", quantity="heat_energy")
        assert job["result"]["horizons"]["day_ahead"]["status"] == "trained", job
    tomorrow = (datetime.now(UTC) + timedelta(hours=5, days=1)).date().isoformat()
    operator = login(stack, "operator", lang="en")
    page = operator.get("/forecast", params={"region_kato": KATO, "quantity": "heat_energy"})
    assert page.status_code == 200 and "What if" in page.text
    r = operator.post(
        "/forecast/scenario",
        data={
            "csrf": _csrf(page.text),
            "day": tomorrow,
            "quantity": "heat_energy",
            "region_kato": KATO,
            "temperature_delta_c": "−10",
            "demand_growth_pct": "",
            "outage_facility_ids": "",
        },
    )
    assert r.status_code == 200, r.text[:3000]
    table = r.text[r.text.index('id="scenario-table"') :]
    row = re.search(r'<th scope="row">Turkistan Region</th>(.*?)</tr>', table, re.S)
    assert row, table[:2000]
    cells = re.findall(r'<td class="num">([^<]*)</td>', row[1])
    number = lambda text: float(re.sub(r"[^0-9.]", "", text.split("·")[0]))  # noqa: E731
    assert number(cells[1]) > number(cells[0])  # the scenario's peak above the baseline's
    assert "scenario-chart" in r.text
    # a day beyond the forecast's reach is a field error on the form, not a stack trace
    far = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    bad = operator.post(
        "/forecast/scenario",
        data={"csrf": _csrf(page.text), "day": far, "quantity": "heat_energy"},
    )
    assert bad.status_code == 422 and 'id="err-day"' in bad.text
    # the government sees forecasts but may not run scenarios
    government = login(stack, "government", lang="en")
    assert "What if" not in government.get("/forecast").text
    assert government.post("/forecast/scenario", data={"csrf": "x"}).status_code == 403
    operator.close()
    government.close()
