"""The national daily electricity balance: all four formats, totals that add up to the historian's."""

from __future__ import annotations

import csv
import io
import time
from datetime import timedelta

import openpyxl
import pytest
from reports_helpers import (
    R,
    country_total,
    demo_day,
    hours,
    post,
    request_report,
    wait_report,
    wait_stored,
    world,
)

from egsu.testing.stack import Stack

pytestmark = pytest.mark.stack
REGIONS = ("150000000", "350000000", "710000000")


def test_national_daily_balance_in_four_formats_adds_up_to_the_historian(stack: Stack) -> None:
    day = demo_day()
    receipts, expected_cons, expected_gen = [], {}, {}
    for n, kato in enumerate(REGIONS):
        gen = world(stack, kato, "generation")
        cons = world(stack, kato, "consumption", points=2)
        gen_values = [1000.0 + 10 * h + n for h in range(24)]
        cons_values = [400.0 + 7 * h + n * 3 + (200 if h == 18 else 0) for h in range(24)]
        receipts += [
            post(stack, gen, day, gen_values, "active_export"),
            post(stack, cons, day, cons_values, "active_import"),
        ]
        receipts.append(
            post(
                stack,
                cons,
                day - timedelta(days=1),
                [v * 0.9 for v in cons_values],
                "active_import",
            )
        )
        expected_gen[kato] = sum(gen_values) / 1000
        expected_cons[kato] = 2 * sum(cons_values) / 1000
    wait_stored(stack, receipts)
    total_cons = sum(expected_cons.values())
    deadline = time.monotonic() + 10
    while (
        abs(country_total(stack, "active_import", day) / 1000 - total_cons) > 1e-6
    ):  # the flusher folds group totals
        assert time.monotonic() < deadline
        time.sleep(0.1)
    historian = country_total(stack, "active_import", day) / 1000

    ids = {}
    with stack.sync_client("government") as c:
        for fmt in ("xlsx", "pdf", "csv", "json"):
            ids[fmt] = request_report(
                c,
                kind="daily_electricity_balance",
                level="national",
                period={"from": day.isoformat(), "to": day.isoformat()},
                format=fmt,
            )
        files, inputs = {}, set()
        for fmt, rid in ids.items():
            meta = wait_report(c, rid)
            r = c.get(f"{R}/{rid}/download")
            assert r.status_code == 200, r.text
            files[fmt] = r.content
            assert (
                meta["size"] == len(r.content) and meta["sha256"] == r.headers["x-content-sha256"]
            )
            inputs.add(meta["inputs_sha256"])
    assert len(inputs) == 1  # four formats made from the same inputs: the same numbers
    assert files["pdf"].startswith(b"%PDF")

    wb = openpyxl.load_workbook(io.BytesIO(files["xlsx"]))
    balance = wb["Баланс"]
    rows = {r[1]: r for r in balance.iter_rows(min_row=4, values_only=True) if r and r[1]}
    national_cons = rows["consumption"][2]
    national_gen = rows["generation"][2]
    assert isinstance(national_cons, float)  # a real number, not text
    by_region = wb["По регионам"]
    region_rows = [r for r in by_region.iter_rows(min_row=4, values_only=True) if r and r[0]]
    header = next(by_region.iter_rows(min_row=3, max_row=3, values_only=True))
    cons_col = next(i for i, h in enumerate(header) if h.startswith("Потребление"))
    gen_col = next(i for i, h in enumerate(header) if h.startswith("Выработка"))
    regional = {r[0]: r[cons_col] for r in region_rows}
    assert national_cons == pytest.approx(sum(regional.values()), rel=1e-12)
    assert national_cons == pytest.approx(historian, rel=1e-12)
    assert national_cons == pytest.approx(total_cons, rel=1e-12)
    for kato in REGIONS:
        assert regional[kato] == pytest.approx(expected_cons[kato], rel=1e-12)
        assert {r[0]: r[gen_col] for r in region_rows}[kato] == pytest.approx(
            expected_gen[kato], rel=1e-12
        )
    assert national_gen == pytest.approx(sum(expected_gen.values()), rel=1e-12)
    # the previous day is there for the dynamics (consumption was 10 % lower)
    assert rows["consumption"][4] == pytest.approx((1 / 0.9 - 1) * 100, rel=1e-9)
    for ws in wb.worksheets:  # tables without formulas
        assert not any(
            isinstance(v, str) and v.startswith("=")
            for row in ws.iter_rows(values_only=True)
            for v in row
        )

    report = __import__("json").loads(files["json"])
    tables = {t["name"]: t for t in report["tables"]}
    peak = next(r for r in tables["extremes"]["rows"] if r["key"] == "consumption")
    assert peak["max_at"].startswith(f"{day.isoformat()}T18:00:00+05:00")
    assert peak["max"] == pytest.approx(
        sum(2 * (400 + 7 * 18 + n * 3 + 200) for n in range(3)) / 1000
    )
    assert report["summary"]["reconciled"] is True
    assert report["summary"]["forecast_available"] is False
    assert any("прогноз" in n.lower() for n in report["notes"])

    text = files["csv"].decode("utf-8-sig")
    assert "Суточный баланс электрической энергии" in text
    lines = list(csv.reader(io.StringIO(text)))
    assert any(
        line[:2] == ["Потребление", "consumption"]
        and float(line[2]) == pytest.approx(national_cons)
        for line in lines
    )
    assert len(hours(day)) == 24
