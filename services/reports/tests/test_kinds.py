"""Every kind of report at its levels, who may ask for what, and requests that are refused clearly."""

from __future__ import annotations

import pytest
from reports_helpers import R, demo_day, post, request_report, wait_report, wait_stored, world

from egsu.testing.stack import Stack

pytestmark = pytest.mark.stack


def download(c, rid):  # type: ignore[no-untyped-def]
    wait_report(c, rid)
    r = c.get(f"{R}/{rid}/download")
    assert r.status_code == 200, r.text
    return r.json()


def test_heat_monthly_quality_and_local_reports(stack: Stack) -> None:
    day = demo_day()
    kato = "590000000"
    gen = world(stack, kato, "generation")
    cons = world(stack, kato, "consumption", points=2)
    boiler = world(stack, kato, "generation", commodity="heat")
    flats = world(stack, kato, "consumption", commodity="heat", points=3)
    wait_stored(
        stack,
        [
            post(stack, gen, day, [2000.0] * 24, "active_export"),
            post(stack, cons, day, [800.0 + h for h in range(24)], "active_import"),
            post(stack, boiler, day, [10.0] * 24, "heat_energy"),
            post(stack, flats, day, [3.0] * 24, "heat_energy"),
        ],
    )
    period = {"from": day.isoformat(), "to": day.isoformat()}
    first = day.replace(day=1)
    last = (first.replace(day=28) + __import__("datetime").timedelta(days=4)).replace(
        day=1
    ) - __import__("datetime").timedelta(days=1)
    with stack.sync_client("operator") as c:
        heat = download(
            c,
            request_report(
                c,
                kind="daily_heat_supply",
                level="regional",
                scope=kato,
                period=period,
                format="json",
                language="kk",
            ),
        )
        monthly = download(
            c,
            request_report(
                c,
                kind="monthly_consumption_generation",
                level="national",
                period={"from": first.isoformat(), "to": last.isoformat()},
                format="json",
                language="en",
            ),
        )
        quality = download(
            c,
            request_report(
                c, kind="data_quality", level="regional", scope=kato, period=period, format="json"
            ),
        )
        facility = download(
            c,
            request_report(
                c,
                kind="daily_electricity_balance",
                level="local",
                scope=cons.facility["id"],
                period=period,
                format="json",
            ),
        )
    assert heat["title"] == "Жылу энергиясын тәуліктік босату"
    bal = {r["key"]: r for r in heat["tables"][0]["rows"]}
    assert bal["heat_supply"]["actual"] == pytest.approx(240.0)
    assert bal["heat_consumption"]["actual"] == pytest.approx(216.0)
    assert bal["heat_losses"]["actual"] == pytest.approx(24.0)
    assert monthly["title"] == "Monthly consumption and generation"
    days = next(t for t in monthly["tables"] if t["name"] == "daily")["rows"]
    assert len(days) == last.day
    mine = next(r for r in days if r["date"] == day.isoformat())
    assert mine["generation"] == pytest.approx(48.0)
    assert mine["consumption"] == pytest.approx(2 * sum(800 + h for h in range(24)) / 1000)
    assert mine["peak_at"].startswith(f"{day.isoformat()}T23:00")
    subjects = {
        r["subject_bin"]
        for r in next(t for t in quality["tables"] if t["name"] == "validity")["rows"]
        if "subject_bin" in r
    } | {r["key"] for r in next(t for t in quality["tables"] if t["name"] == "validity")["rows"]}
    assert {gen.bin, cons.bin, boiler.bin, flats.bin} <= subjects
    points = next(t for t in facility["tables"] if t["name"] == "by_point")["rows"]
    assert {r["id"] for r in points if r["id"]} == {p["code"] for p in cons.points}
    # a subject asks for a local report about itself and reads it
    with stack.sync_client(cons.user) as c:
        own = download(
            c,
            request_report(
                c,
                kind="daily_electricity_balance",
                level="local",
                scope=cons.bin,
                period=period,
                format="json",
                language="en",
            ),
        )
        assert {r["key"]: r for r in own["tables"][0]["rows"]}["consumption"][
            "actual"
        ] == pytest.approx(2 * sum(800 + h for h in range(24)) / 1000)
        listed = c.get(R).json()["items"]
        assert listed and {r["scope"] for r in listed} <= {cons.bin, cons.facility["id"]}


def test_who_may_ask_for_what(stack: Stack) -> None:
    day = demo_day().isoformat()
    a = world(stack, "110000000", "consumption")
    b = world(stack, "110000000", "consumption")
    period = {"from": day, "to": day}
    with stack.sync_client(a.user) as c:
        r = c.post(
            R,
            json={
                "kind": "daily_electricity_balance",
                "level": "regional",
                "scope": "110000000",
                "period": period,
            },
        )
        assert r.status_code == 403 and r.json()["code"] == "level_not_allowed"
        r = c.post(
            R,
            json={
                "kind": "daily_electricity_balance",
                "level": "local",
                "scope": b.bin,
                "period": period,
            },
        )
        assert r.status_code == 404
        r = c.post(
            R,
            json={
                "kind": "daily_electricity_balance",
                "level": "local",
                "scope": b.facility["id"],
                "period": period,
            },
        )
        assert r.status_code == 404
    with stack.sync_client("government") as c:
        r = c.post(
            R,
            json={
                "kind": "daily_electricity_balance",
                "level": "local",
                "scope": a.bin,
                "period": period,
            },
        )
        assert r.status_code == 403
        r = c.post(R, json={"kind": "emergency", "level": "national", "period": period})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "kind"
        r = c.post(
            R,
            json={
                "kind": "daily_electricity_balance",
                "level": "regional",
                "scope": "999999999",
                "period": period,
            },
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "scope"
        r = c.post(
            R,
            json={
                "kind": "monthly_consumption_generation",
                "level": "national",
                "period": {"from": "2020-01-02", "to": "2020-01-31"},
            },
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "period"
        r = c.post(
            R,
            json={
                "kind": "daily_electricity_balance",
                "level": "national",
                "period": {"from": "2020-01-05", "to": "2020-01-01"},
            },
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "period.to"
        r = c.post(
            R,
            json={
                "kind": "daily_electricity_balance",
                "level": "national",
                "period": period,
                "format": "docx",
            },
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "format"
        kinds = c.get(f"{R}/kinds").json()["items"]
        assert {k["kind"] for k in kinds} >= {
            "daily_electricity_balance",
            "daily_heat_supply",
            "monthly_consumption_generation",
            "data_quality",
            "emergency",
        }
        assert all(set(k["title"]) == {"ru", "kk", "en"} for k in kinds)
        assert c.get(f"{R}/not-a-report").status_code == 404
