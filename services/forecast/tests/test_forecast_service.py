"""The forecast service on the whole System: a week of data through ingest, weather, jobs, a
day-ahead forecast with quantiles for every region and the nation that add up, a −10 °C scenario,
back-test scores, and who may see what."""

from __future__ import annotations

import math
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from forecast_helpers import (
    REGIONS,
    F,
    Region,
    consumer,
    electricity,
    hours_back,
    post_readings,
    run_job,
    wait_job,
    wait_stored,
)

from egsu.testing.stack import Stack
from egsu.testing.world import KZ, World, kz

pytestmark = pytest.mark.stack


def _forecast(c: httpx.Client, path: str, **params: Any) -> dict[str, Any]:
    r = c.get(f"{F}/{path}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def _coherent_snapshot(
    c: httpx.Client, quantity: str
) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The nation's day-ahead forecast and every region's of the same issue."""
    for _ in range(5):
        nation = _forecast(c, "country", quantity=quantity, horizon="day_ahead")
        series = c.get(
            f"{F}/series", params={"level": "region", "quantity": quantity, "limit": 1000}
        )
        assert series.status_code == 200, series.text
        regions = {}
        for s in series.json()["items"]:
            latest = s["latest"].get("day_ahead")
            if latest and latest["issued_at"] == nation["issued_at"]:
                regions[s["key"]] = _forecast(
                    c, f"regions/{s['key']}", quantity=quantity, horizon="day_ahead"
                )
        again = _forecast(c, "country", quantity=quantity, horizon="day_ahead")
        if again["issued_at"] == nation["issued_at"] and all(
            r["issued_at"] == nation["issued_at"] for r in regions.values()
        ):
            return nation, regions
        time.sleep(0.5)
    raise AssertionError("the forecasts kept changing while being read")


@pytest.mark.parametrize("quantity", ["active_import", "heat_energy"])
def test_a_day_ahead_forecast_with_quantiles_for_every_region_adds_up_to_the_nation(
    stack: Stack, regions: list[Region], quantity: str
) -> None:
    with stack.sync_client("ministry") as c:
        nation, by_region = _coherent_snapshot(c, quantity)
    assert set(REGIONS) <= set(by_region)
    tomorrow = (datetime.now(UTC).astimezone(KZ) + timedelta(days=1)).date()
    assert len(nation["items"]) == 24
    first = datetime.fromisoformat(nation["items"][0]["ts"]).astimezone(KZ)
    assert first.date() == tomorrow and first.hour == 0  # the next local day, hour by hour
    assert nation["unit"] == ("Gcal" if quantity == "heat_energy" else "kWh")
    for body in [nation, *by_region.values()]:
        assert body["horizon"] == "day_ahead" and body["reconciliation"]
        assert [i["ts"] for i in body["items"]] == [i["ts"] for i in nation["items"]]
        for item in body["items"]:
            assert 0 <= item["p10"] <= item["p50"] <= item["p90"]
    # The regions add up to the nation, step by step.
    for k, item in enumerate(nation["items"]):
        total = round(sum(r["items"][k]["p50"] for r in by_region.values()), 3)
        assert total == item["p50"]
    # A sane forecast: the first test region's electricity tomorrow is near what the data say.
    if quantity == "active_import":
        r0 = by_region[REGIONS[0]]
        expected = sum(electricity(0, datetime.fromisoformat(i["ts"])) for i in r0["items"])
        got = sum(i["p50"] for i in r0["items"])
        assert abs(got / expected - 1) < 0.25


def test_intraday_and_the_reports_shape(stack: Stack, regions: list[Region]) -> None:
    kato = REGIONS[1]
    with stack.sync_client("operator") as c:
        intraday = _forecast(c, f"regions/{kato}", quantity="active_import", horizon="intraday")
        assert len(intraday["items"]) == 24
        start = datetime.fromisoformat(intraday["items"][0]["ts"])
        assert start <= datetime.now(UTC) + timedelta(hours=1)
        # what the reports service asks for: the next local day by from/to, hourly
        tomorrow = (datetime.now(UTC).astimezone(KZ) + timedelta(days=1)).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        body = _forecast(
            c,
            f"regions/{kato}",
            quantity="active_import",
            **{"from": tomorrow.isoformat(), "to": (tomorrow + timedelta(days=1)).isoformat()},
            resolution="1h",
        )
        assert len(body["items"]) == 24 and all("p50" in i for i in body["items"])
        keyed = _forecast(c, "country/KZ", quantity="active_import")
        assert keyed["items"]


def test_colder_weather_raises_the_heat_forecast_of_the_affected_region(
    stack: Stack, regions: list[Region]
) -> None:
    affected, other = REGIONS[0], REGIONS[1]
    tomorrow = (datetime.now(UTC).astimezone(KZ) + timedelta(days=1)).date()
    with stack.sync_client("operator") as c:
        r = c.post(
            f"{F}/scenarios",
            json={
                "day": tomorrow.isoformat(),
                "quantity": "heat_energy",
                "regions": [affected],
                "temperature_delta_c": -10,
            },
        )
        assert r.status_code == 200, r.text
        body = r.json()
    by_region = {n["key"]: n for n in body["regions"]}
    hit = by_region[affected]
    assert hit["affected"] and not by_region[other]["affected"]
    assert hit["energy"]["delta"] > 0.05 * hit["energy"]["baseline"]
    assert all(d > 0 for d in hit["delta"]["p50"])
    assert hit["peak"]["scenario"]["p50"] > hit["peak"]["baseline"]["p50"]
    assert by_region[other]["energy"]["delta"] == 0
    nation = body["country"]
    assert nation["energy"]["delta"] == pytest.approx(hit["energy"]["delta"], abs=0.01)
    for k in range(len(body["ts"])):  # the scenario adds up too
        total = round(sum(n["scenario"]["p50"][k] for n in body["regions"]), 3)
        assert total == pytest.approx(nation["scenario"]["p50"][k], abs=1e-6)
    assert len(body["ts"]) == 24 and body["unit"] == "Gcal"


def test_demand_growth_and_an_outage_change_the_balance(
    stack: Stack, regions: list[Region]
) -> None:
    facility = regions[0].power.facility  # a CHP of 540 MW (the test world's default)
    with stack.sync_client("ministry") as c:
        r = c.post(
            f"{F}/scenarios",
            json={
                "quantity": "active_import",
                "regions": [REGIONS[0]],
                "demand_growth_pct": 10,
                "outage_facility_ids": [facility["id"]],
            },
        )
        assert r.status_code == 200, r.text
        body = r.json()
        hit = next(n for n in body["regions"] if n["key"] == REGIONS[0])
        assert hit["energy"]["scenario"] == pytest.approx(1.1 * hit["energy"]["baseline"], rel=0.01)
        assert hit["capacity"]["outage"] >= 540_000
        assert hit["balance"]["scenario"] < hit["balance"]["baseline"]
        assert body["country"]["capacity"]["available"] < body["country"]["capacity"]["installed"]
        bad = c.post(
            f"{F}/scenarios", json={"outage_facility_ids": ["nope"], "temperature_delta_c": 1}
        )
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "outage_facility_ids[0]"


def test_jobs_models_and_back_test_scores_are_visible(stack: Stack, regions: list[Region]) -> None:
    with stack.sync_client("government") as c:
        jobs = c.get(f"{F}/jobs", params={"kind": "train", "group": "national"}).json()["items"]
        assert any(j["status"] == "done" and j["result"]["horizons"] for j in jobs)
        models = c.get(f"{F}/models", params={"group": "national", "current": True}).json()["items"]
        day_ahead = [m for m in models if m["horizon"] == "day_ahead"]
        assert {m["quantity"] for m in day_ahead} == {"active_import", "heat_energy"}
        for m in day_ahead:
            assert m["object"]["bucket"] == "models" and m["object"]["size"] > 0
            assert {"seasonal_naive", "degree_day", "lightgbm"} <= set(m["scores"])
            assert m["origins"] >= 2
            assert m["reconciliation"]["method"] in (
                "bottom_up", "ols", "wls_struct", "wls_var", "mint_shrink",
            )  # fmt: skip
        scores = c.get(f"{F}/regions/{REGIONS[0]}/scores", params={"quantity": "heat_energy"})
        assert scores.status_code == 200, scores.text
        rows = scores.json()["horizons"]["day_ahead"]
        assert sum(r["selected"] for r in rows) == 1
        for r in rows:
            assert r["mase"] is None or r["mase"] > 0
            assert r["rmse"] > 0 and r["pinball"] > 0 and r["mape"] > 0 and r["smape"] > 0
        per_model = c.get(f"{F}/models/{day_ahead[0]['id']}/scores", params={"level": "country"})
        assert per_model.status_code == 200 and per_model.json()["items"]
        # job control is for the ministry and the operator
        denied = c.post(f"{F}/jobs", json={"kind": "train", "quantity": "active_import"})
        assert denied.status_code == 403


def test_a_subject_sees_its_own_forecasts_only(stack: Stack, regions: list[Region]) -> None:
    mine, theirs = regions[0].power, regions[1].power
    with stack.sync_client("operator") as c:
        run_job(c, kind="train", group="subject", quantity="active_import", horizons=["day_ahead"])
    with stack.sync_client(mine.user) as c:
        own = c.get(f"{F}/subjects/{mine.bin}", params={"quantity": "active_import"})
        assert own.status_code == 200, own.text
        assert len(own.json()["items"]) == 24
        assert c.get(f"{F}/subjects/{theirs.bin}").status_code == 404
        assert c.get(f"{F}/facilities/{theirs.facility['id']}").status_code == 404
        assert c.get(f"{F}/points/{theirs.point_code}").status_code == 404
        assert c.get(f"{F}/regions/{REGIONS[0]}").status_code == 403
        assert c.get(f"{F}/country").status_code == 403
        assert c.post(f"{F}/scenarios", json={}).status_code == 403
        series = c.get(f"{F}/series").json()["items"]
        assert series and {s["subject_bin"] for s in series} == {mine.bin}


def test_new_readings_update_the_intraday_forecast(stack: Stack, regions: list[Region]) -> None:
    r = regions[2]
    with stack.sync_client("operator") as c:
        before = _forecast(c, f"regions/{r.kato}", quantity="active_import", horizon="intraday")
        last = hours_back(1)[-1]
        # a corrected value of the last hour reaches the historian …
        wait_stored(
            stack,
            [post_readings(stack, r.power, "active_import", [(last, 1.5 * electricity(2, last))])],
        )
        deadline = time.monotonic() + 90
        while True:  # … and the group's intraday forecast is issued again, by a job
            after = _forecast(c, f"regions/{r.kato}", quantity="active_import", horizon="intraday")
            if after["issued_at"] > before["issued_at"]:
                break
            assert time.monotonic() < deadline, "no update after new data"
            time.sleep(0.5)
        jobs = c.get(f"{F}/jobs", params={"kind": "score", "group": "national"}).json()["items"]
        assert any(j["origin"] == "data" and j["status"] == "done" for j in jobs)


def test_a_metering_point_is_forecast_at_its_own_step(stack: Stack, regions: list[Region]) -> None:
    w = World(
        stack,
        REGIONS[2],
        interval_min=15,
        quantities=["active_import"],
        position="consumption",
        nominal_voltage=None,
        rated_current=None,
        criticality=3,
    )
    now = hours_back(1)[-1] + timedelta(hours=1)
    steps = [now - timedelta(minutes=15 * k) for k in range(6 * 96, 0, -1)]
    values = [
        (t, round(25 + 10 * math.sin(2 * math.pi * ((t.hour + 5) % 24 + t.minute / 60) / 24), 3))
        for t in steps
    ]
    body = {
        "subject_bin": w.bin,
        "readings": [
            {
                "point": w.point_code,
                "quantity": "active_import",
                "ts": kz(t + timedelta(minutes=15)),
                "value": v,
            }
            for t, v in values
        ],
    }
    with stack.sync_client(w.user) as c:
        resp = c.post(
            "/api/v1/ingest/readings", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        assert resp.status_code == 202, resp.text
        wait_stored(stack, [resp.json()["receipt_id"]])
        assert c.post(f"{F}/points/{w.point_code}", json={}).status_code == 403  # operators ask
    with stack.sync_client("operator") as c:
        asked = c.post(f"{F}/points/{w.point_code}", json={"quantity": "active_import"})
        assert asked.status_code == 202, asked.text
        job = wait_job(c, asked.json()["job"]["id"])
        assert job["group"] == "point:900"
        wrong = c.post(f"{F}/points/{w.point_code}", json={"quantity": "heat_energy"})
        assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "quantity"
    with stack.sync_client(w.user) as c:
        native = _forecast(c, f"points/{w.point_code}", horizon="day_ahead")
        assert native["resolution"] == "15m" and len(native["items"]) == 96, job["result"]
        hourly = _forecast(c, f"points/{w.point_code}", horizon="day_ahead", resolution="1h")
        assert len(hourly["items"]) == 24
        assert hourly["items"][0]["p50"] == round(sum(i["p50"] for i in native["items"][:4]), 3)
        intraday = _forecast(c, f"points/{w.point_code}", horizon="intraday")
        assert len(intraday["items"]) == 96
        first = datetime.fromisoformat(intraday["items"][0]["ts"])
        assert now <= first <= datetime.now(UTC)  # from the current quarter hour on
        scores = c.get(f"{F}/points/{w.point_code}/scores")
        assert scores.status_code == 200 and "day_ahead" in scores.json()["horizons"]


def test_facility_forecasts_add_up_to_their_region(stack: Stack, regions: list[Region]) -> None:
    region = regions[2]
    second = consumer(stack, region.kato, "electricity")  # a smaller plant beside the first
    hours = hours_back(8)
    wait_stored(
        stack,
        [
            post_readings(
                stack,
                second,
                "active_import",
                [(t, round(0.4 * electricity(region.index + 1, t), 3)) for t in hours],
            )
        ],
    )
    with stack.sync_client("operator") as c:
        job = run_job(
            c, kind="train", group="facility", quantity="active_import", horizons=["day_ahead"]
        )
        assert job["result"]["scoring"]["horizons"]["day_ahead"]["status"] == "scored", job
        listed = c.get(
            f"{F}/series", params={"level": "facility", "quantity": "active_import", "limit": 1000}
        ).json()["items"]
        ours = [s["key"] for s in listed if s["region_kato"] == region.kato]
        assert {region.power.facility["id"], second.facility["id"]} <= set(ours)
        reg = _forecast(c, f"regions/{region.kato}", quantity="active_import", horizon="day_ahead")
        facilities = [
            _forecast(c, f"facilities/{key}", quantity="active_import", horizon="day_ahead")
            for key in ours
        ]
    assert all(f["reconciliation"] == "top_down_region" for f in facilities)
    by_ts = {i["ts"]: i for i in reg["items"]}
    for i, item in enumerate(facilities[0]["items"]):
        total = sum(f["items"][i]["p50"] for f in facilities)
        assert total == pytest.approx(by_ts[item["ts"]]["p50"], rel=1e-5)
        assert all(
            f["items"][i]["p10"] <= f["items"][i]["p50"] <= f["items"][i]["p90"] for f in facilities
        )
    # read over a window (per step the latest issue covering it), they add up as well
    window = {"from": reg["items"][0]["ts"], "to": reg["items"][-1]["ts"]}
    with stack.sync_client("operator") as c:
        region_w = _forecast(
            c, f"regions/{region.kato}", quantity="active_import", horizon="day_ahead", **window
        )
        facilities_w = [
            _forecast(
                c, f"facilities/{key}", quantity="active_import", horizon="day_ahead", **window
            )
            for key in ours
        ]
    for i, item in enumerate(region_w["items"]):
        total = sum(f["items"][i]["p50"] for f in facilities_w)
        assert total == pytest.approx(item["p50"], rel=1e-5)
    # each plant keeps its own share: the larger one stays the larger
    big, small = (
        next(f for f in facilities if f["key"] == k)
        for k in (region.power.facility["id"], second.facility["id"])
    )
    assert sum(i["p50"] for i in big["items"]) > sum(i["p50"] for i in small["items"])
