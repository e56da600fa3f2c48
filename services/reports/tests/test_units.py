"""Pure parts: the historian planner, the schedule, open-data suppression and the egov-style source."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime

import pytest

from egsu.core.errors import Unprocessable
from egsu.reports.context import Scope
from egsu.reports.opendata import Suppressor, parse_source, select_rows
from egsu.reports.service import due_runs
from egsu.reports.sources import Planner, PointInfo

POSITIONS = ("generation", "own_needs", "consumption", "interchange")


def points(n: int, seed: int) -> list[PointInfo]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        subject = f"{rng.randrange(12):012d}"
        region = rng.choice(["100000000", "110000000", "150000000"])
        # most subjects keep to one region; a few span two
        if int(subject) % 4:
            region = ["100000000", "110000000", "150000000"][int(subject) % 3]
        out.append(
            PointInfo(
                f"P{i}",
                subject,
                f"{subject}-{region}-{rng.randrange(3)}",
                "chp",
                region,
                "electricity",
                rng.choice(POSITIONS),
                frozenset({"active_import"}),
            )
        )
    return out


@pytest.mark.parametrize("seed", range(20))
def test_the_plan_gives_every_class_exactly_its_own_points(seed: int) -> None:
    pts = points(200, seed)
    values = {p.code: random.Random(p.code).uniform(0, 100) for p in pts}
    groups = {("country", "KZ"): pts}
    for p in pts:
        for node in (
            ("region", p.region_kato),
            ("subject", p.subject_bin),
            ("facility", p.facility_id),
            ("point", p.code),
        ):
            groups.setdefault(node, []).append(p)
    for scope in (
        Scope("national", "country", "KZ"),
        Scope("regional", "region", "110000000"),
        Scope("local", "subject", pts[0].subject_bin),
    ):
        for breakdown in (True, False):
            key = scope.keyed(breakdown=breakdown)
            plan = Planner(pts, "active_import").plan(scope.contains, key)
            got = {
                k: sum(sign * sum(values[p.code] for p in groups[n]) for sign, n in terms)
                for k, terms in plan.terms.items()
            }
            want: dict = {}
            for p in pts:
                if scope.contains(p):
                    want[key(p)] = want.get(key(p), 0.0) + values[p.code]
            assert got.keys() == want.keys()
            for k in want:
                assert got[k] == pytest.approx(want[k], abs=1e-9)
            # cheaper than asking every point
            assert len(plan.nodes) <= sum(1 for p in pts if scope.contains(p))


def test_regular_runs_fall_due_at_the_configured_local_time() -> None:
    assert due_runs(datetime(2026, 3, 10, 0, 59, tzinfo=UTC), "06:00") == []  # 05:59 in Astana
    runs = due_runs(datetime(2026, 3, 10, 1, 0, tzinfo=UTC), "06:00")
    assert [(n, p.start, p.end) for n, p in runs] == [("daily", date(2026, 3, 9), date(2026, 3, 9))]
    runs = due_runs(datetime(2026, 3, 1, 2, 0, tzinfo=UTC), "06:00")
    assert ("monthly", date(2026, 2, 1), date(2026, 2, 28)) in [
        (n, p.start, p.end) for n, p in runs
    ]


def test_a_cell_behind_few_subjects_or_one_dominant_subject_is_withheld() -> None:
    s = Suppressor(3, 0.85)
    assert s.cell({"a": 5.0, "b": 6.0}) == (None, None, True)
    assert s.cell({"a": 90.0, "b": 5.0, "c": 4.0}) == (None, None, True)
    assert s.cell({"a": 5.0, "b": 6.0, "c": 7.0}) == (18.0, 3, False)


def test_the_egov_source_filters_pages_and_sorts() -> None:
    rows = [
        {
            "date": f"2026-01-{d:02d}",
            "region_kato": k,
            "measure": "consumption",
            "value_mwh": float(d),
            "suppressed": False,
        }
        for d in range(1, 11)
        for k in ("100000000", "110000000")
    ]
    src = '{"from":2,"size":3,"query":{"bool":{"must":[{"match":{"region_kato":"110000000"}},{"range":{"date":{"gte":"2026-01-03"}}}]}},"sort":[{"value_mwh":"desc"}]}'
    got, total = select_rows("electricity_by_region_day", rows, {}, src, None, None)
    assert total == 8 and [r["value_mwh"] for r in got] == [8.0, 7.0, 6.0]
    got, total = select_rows(
        "electricity_by_region_day", rows, {"region_kato": "100000000"}, None, 2, 4
    )
    assert total == 10 and [r["date"] for r in got] == [
        "2026-01-05",
        "2026-01-06",
        "2026-01-07",
        "2026-01-08",
    ]
    for bad in ('{"query":{"wildcard":{"x":"y"}}}', "[1]", '{"size":-1}'):
        with pytest.raises(Unprocessable):
            parse_source(bad)
