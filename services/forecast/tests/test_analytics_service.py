"""Analytics through the API: weather loading, decomposition, correlation, indicators, failure risk
and the root cause of an incident — numbers a chart can use."""

from __future__ import annotations

import itertools
import math
import uuid
from datetime import timedelta

import pytest
from forecast_helpers import REGIONS, F, Region, hours_back, wait_stored

from egsu.testing.stack import Stack
from egsu.testing.world import World, kz

pytestmark = pytest.mark.stack


def _finite(values: list[float | None]) -> list[float]:
    return [v for v in values if v is not None and math.isfinite(v)]


def test_weather_is_loaded_as_json_or_csv_and_bad_rows_are_named(stack: Stack) -> None:
    kato = "470000000"
    with stack.sync_client("ministry") as c:
        bad = c.post(
            f"{F}/weather",
            json={
                "items": [
                    {"region_kato": kato, "ts": "2026-01-10T00:00:00+05:00", "temperature_c": -20},
                    {"region_kato": kato, "ts": "2026-01-10T01:00:00", "temperature_c": -20},
                    {"region_kato": "999", "ts": "2026-01-10T02:00:00+05:00", "temperature_c": -20},
                    {"region_kato": kato, "ts": "2026-01-10T03:00:00+05:00", "temperature_c": 99},
                ]
            },
        )
        assert bad.status_code == 422, bad.text
        fields = [e["field"] for e in bad.json()["errors"]]
        assert fields == ["items[1].ts", "items[2].region_kato", "items[3].temperature_c"]
        csv = (
            "region_kato,ts,temperature_c,issued_at,wind_ms\n"
            + "".join(f"{kato},2026-01-10T{h:02d}:00:00+05:00,{-20 + h},,3.5\n" for h in range(6))
            + f"{kato},2026-01-11T00:00:00+05:00,-25.5,2026-01-10T06:00:00+05:00,\n"
        )
        r = c.post(f"{F}/weather", content=csv, headers={"Content-Type": "text/csv"})
        assert r.status_code == 200, r.text
        assert r.json()["stored"] == {"observed": 6, "forecast": 1}
        wrong = c.post(f"{F}/weather", content="a,b\n1,2\n", headers={"Content-Type": "text/csv"})
        assert wrong.status_code == 422
        assert {e["field"] for e in wrong.json()["errors"]} == {
            "region_kato",
            "ts",
            "temperature_c",
        }
    subject = World(stack, kato)
    with stack.sync_client(subject.user) as c:  # readers may read it, not write it
        got = c.get(
            f"{F}/weather/regions/{kato}",
            params={
                "from": "2026-01-10T00:00:00+05:00",
                "to": "2026-01-11T06:00:00+05:00",
                "issued_before": "2026-01-10T12:00:00+05:00",
            },
        )
        assert got.status_code == 200, got.text
        items = got.json()["items"]
        assert [i["temperature_c"] for i in items] == [-20, -19, -18, -17, -16, -15, -25.5]
        assert items[0]["wind_ms"] == 3.5 and items[-1]["kind"] == "forecast"
        assert c.post(f"{F}/weather", json={"items": []}).status_code == 403


def test_decomposition_and_correlation_answer_with_chart_ready_numbers(
    stack: Stack, regions: list[Region]
) -> None:
    kato = REGIONS[0]
    with stack.sync_client("operator") as c:
        r = c.get(
            f"{F}/analytics/decomposition",
            params={"series": f"region:{kato}:active_import", "resolution": "1h"},
        )
        assert r.status_code == 200, r.text
        d = r.json()
        n = len(d["ts"])
        assert n >= 7 * 24
        for part in (d["observed"], d["trend"], d["remainder"], *d["seasonal"].values()):
            assert len(part) == n
        assert "daily" in d["seasonal"] and d["strength"]["daily"] > 0.5
        observed = _finite(d["observed"])
        assert min(observed) > 0
        r = c.get(
            f"{F}/analytics/correlation",
            params={
                "x": f"weather:{kato}:temperature",
                "y": f"region:{kato}:heat_energy",
                "max_lag": 24,
            },
        )
        assert r.status_code == 200, r.text
        corr = r.json()
        assert len(corr["lags"]) == 49 == len(corr["pearson"]) == len(corr["spearman"])
        assert corr["best"]["pearson"] < -0.6  # colder: more heat
        assert corr["best"]["spearman"] < -0.6
        assert 0 <= corr["best_lag"] <= 24  # the temperature leads the heat demand
        assert len(corr["scatter"]["x"]) == len(corr["scatter"]["y"]) > 100
        bad = c.get(f"{F}/analytics/correlation", params={"x": "region", "y": "x:y:z"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "x"


def test_efficiency_and_risk_indicators_of_a_region_and_a_facility(
    stack: Stack, regions: list[Region]
) -> None:
    r0 = regions[0]
    with stack.sync_client("ministry") as c:
        r = c.get(f"{F}/analytics/indicators/regions/{r0.kato}")
        assert r.status_code == 200, r.text
        body = r.json()
        load = body["electricity"]["load"]
        assert load["peak"] > load["mean"] > 0
        assert body["indicators"]["peak_to_average"] == pytest.approx(
            load["peak"] / load["mean"], rel=1e-3
        )
        assert 0 < body["indicators"]["load_factor"] < 1
        installed = body["electricity"]["installed_kw"]
        assert installed >= 2 * 540_000  # the two test CHPs
        assert body["indicators"]["reserve_margin"] == pytest.approx(
            (installed - load["peak"]) / load["peak"], rel=1e-3
        )
        assert body["forecast_day_ahead"]["peak_p90"] >= body["forecast_day_ahead"]["peak_p50"]
        assert body["name"]["kk"] and body["name"]["ru"]
        f = c.get(f"{F}/analytics/indicators/facilities/{r0.heat.facility['id']}")
        assert f.status_code == 200, f.text
        fb = f.json()
        assert fb["energy"]["heat_energy"] > 0 and fb["units"]["heat_energy"] == "Gcal"
        assert fb["load"]["peak_to_average"] >= 1
        assert fb["risk"]["level"] in ("low", "elevated", "high", "critical")


def _facility_with_incident(stack: Stack) -> tuple[World, str, str]:
    """A facility with two points, five days of readings, and before an equipment trip on the
    first point: a power loss and a drop to zero on the second, a cover opened long before."""
    w = World(
        stack,
        "430000000",
        points=2,
        interval_min=60,
        quantities=["active_import"],
        position="consumption",
        nominal_voltage=None,
        rated_current=None,
        criticality=3,
    )
    hours = hours_back(5)
    incident = hours[-1] + timedelta(hours=1)
    readings = []
    for n, p in enumerate(w.points):
        for t in hours:
            value = 100.0 + 20 * math.sin(2 * math.pi * ((t.hour + 5) % 24) / 24) + n
            if n == 1 and t == incident - timedelta(hours=3):
                value = 0.0  # the drop before the trip
            readings.append(
                {
                    "point": p["code"],
                    "quantity": "active_import",
                    "ts": kz(t + timedelta(hours=1)),
                    "value": value,
                }
            )
    events = [
        {
            "point": w.points[1]["code"],
            "ts": kz(incident - timedelta(hours=2)),
            "code": "power_loss",
        },
        {
            "point": w.points[0]["code"],
            "ts": kz(incident - timedelta(hours=20)),
            "code": "cover_opened",
        },
        {
            "point": w.points[0]["code"],
            "ts": kz(incident),
            "code": "equipment_trip",
            "severity": "emergency",
        },
    ]
    with stack.sync_client(w.user) as c:
        r = c.post(
            "/api/v1/ingest/readings",
            json={"subject_bin": w.bin, "readings": readings, "events": events},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert r.status_code == 202, r.text
        wait_stored(stack, [r.json()["receipt_id"]])
    return w, w.points[0]["code"], kz(incident)


def test_root_cause_ranks_what_preceded_an_incident_and_risk_rises_with_trouble(
    stack: Stack, regions: list[Region]
) -> None:
    w, point, at = _facility_with_incident(stack)
    with stack.sync_client(w.user) as c:
        r = c.get(
            f"{F}/analytics/root-cause",
            params={"point": point, "ts": at, "code": "equipment_trip", "lookback_hours": 24},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        items = body["items"]
        assert body["incident"]["facility_id"] == w.facility["id"]
        # monitoring is deployed; its alarms of these journal events are not counted twice
        assert body["alarms_available"] is True and not body["notes"]
        kinds = [(i["kind"], i["code"], i["relation"], i["lead_s"]) for i in items[:3]]
        assert kinds == [
            ("anomaly", "drop_to_zero", "same_facility", 3 * 3600),
            ("event", "power_loss", "same_facility", 2 * 3600),
            ("event", "cover_opened", "same_point", 20 * 3600),
        ]
        assert all(a["score"] >= b["score"] for a, b in itertools.pairwise(items))
        assert set(items[0]["message"]) == {"ru", "kk", "en"}
        assert not any(i["code"] == "equipment_trip" for i in items)  # the incident itself
        risky = c.get(f"{F}/analytics/risk/facilities/{w.facility['id']}")
        assert risky.status_code == 200, risky.text
    with stack.sync_client("operator") as c:
        calm = c.get(f"{F}/analytics/risk/facilities/{regions[0].power.facility['id']}")
        assert calm.status_code == 200, calm.text
    risky_body, calm_body = risky.json(), calm.json()
    assert risky_body["score"] > calm_body["score"]
    assert risky_body["level"] in ("high", "critical")
    top = risky_body["points"][0]["factors"][0]
    assert top["factor"] == "events" and top["detail"]["by_code"]["equipment_trip"] == 1
    assert set(top["message"]) == {"ru", "kk", "en"}
    # Another subject's facility is not there for this subject.
    with stack.sync_client(w.user) as c:
        other = c.get(f"{F}/analytics/risk/facilities/{regions[0].power.facility['id']}")
        assert other.status_code == 404
        assert c.get(f"{F}/analytics/indicators/regions/{REGIONS[0]}").status_code == 403
        corr = c.get(
            f"{F}/analytics/correlation",
            params={
                "x": f"weather:{REGIONS[0]}:temperature",
                "y": f"region:{REGIONS[0]}:heat_energy",
            },
        )
        assert corr.status_code == 403
