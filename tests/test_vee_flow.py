"""VEE through the whole System: flags with their numbers, estimates replaced by actuals,
corrections that need a second person, quality analytics and indicators."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from egsu.bus import Bus
from egsu.core.settings import Settings
from egsu.infra import InfraUrls
from egsu.testing.stack import Stack
from egsu.testing.world import World, facility_body, grid, kz, point_body

pytestmark = pytest.mark.stack
INGEST = "/api/v1/ingest"
M = "/api/v1/measurements"


def recent_day(days_back: int) -> datetime:
    """UTC start of a local (UTC+05:00) day some days back."""
    local = (datetime.now(UTC) + timedelta(hours=5) - timedelta(days=days_back)).date()
    return datetime(local.year, local.month, local.day, tzinfo=UTC) - timedelta(hours=5)


def post(stack: Stack, user: str, bin_: str, rows: list[tuple[str, str, datetime, float]]) -> str:
    body = {
        "subject_bin": bin_,
        "readings": [{"point": p, "quantity": q, "ts": kz(t), "value": v} for p, q, t, v in rows],
    }
    with stack.sync_client(user) as c:
        r = c.post(f"{INGEST}/readings", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert r.status_code == 202, r.text
    assert r.json()["rejected"] == [], r.text
    rid = r.json()["receipt_id"]
    deadline = time.monotonic() + 15
    with stack.sync_client("operator") as c:
        while time.monotonic() < deadline:
            if c.get(f"{M}/batches/{rid}").status_code == 200:
                return str(rid)
            time.sleep(0.05)
    raise AssertionError(f"batch {rid} not stored")


def get(stack: Stack, user: str, path: str, **params: Any) -> Any:
    with stack.sync_client(user) as c:
        r = c.get(f"{M}{path}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def until(fetch: Any, done: Any, timeout: float = 20.0) -> Any:
    """Poll ``fetch()`` until ``done(result)`` (gap estimates come a few seconds after a batch)."""
    deadline = time.monotonic() + timeout
    while True:
        got = fetch()
        if done(got) or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def native(stack: Stack, user: str, code: str, q: str, a: datetime, b: datetime, **kw: Any) -> Any:
    return get(
        stack, user, f"/points/{code}/readings", quantity=q, **{"from": kz(a), "to": kz(b)}, **kw
    )["items"]


def test_explain_says_which_rule_fired_with_what_numbers(stack: Stack) -> None:
    world = World(
        stack,
        quantities=["active_import", "voltage_l1"],
        position="consumption",
        interval_min=15,
        criticality=3,
        nominal_voltage=10_000,
        rated_current=100,
    )
    day = recent_day(4)
    t = grid(day, 96, 15)
    energy = [round(10 + 2 * (i % 7) / 7, 3) for i in range(96)]
    energy[40] = 480.0  # a spike, still below the connection's capacity (≈ 520 kWh)
    energy[60] = -4.0  # negative consumption is impossible
    phase = 10_000 / 3**0.5
    volts = [round(phase * (1 + 0.01 * ((i % 5) - 2) / 2), 1) for i in range(96)]
    volts[70] = round(phase * 0.86, 1)  # a sag of 14 %
    rows = [(world.point_code, "active_import", t[i], energy[i]) for i in range(96)]
    rows += [(world.point_code, "voltage_l1", t[i], volts[i]) for i in range(96)]
    post(stack, world.user, world.bin, rows)

    items = native(stack, world.user, world.point_code, "active_import", day, t[-1], explain="true")
    by_ts = {i["ts"][:16]: i for i in items}
    spike = by_ts[t[40].isoformat()[:16]]
    assert spike["quality"] == "estimated" and spike["origin"] == "estimated"
    assert spike["flags"] == ["spike"]
    numbers = spike["explain"]["spike"]
    assert numbers["value"] == 480.0 and numbers["z"] >= numbers["z_max"] == 6.0
    assert numbers["severity"] == "reject"
    assert spike["explain"]["estimate"]["method"] == "linear"
    assert spike["value"] == pytest.approx((energy[39] + energy[41]) / 2)
    neg = by_ts[t[60].isoformat()[:16]]
    assert neg["flags"] == ["negative"] and neg["explain"]["negative"]["value"] == -4.0
    clean = [
        i for i in items if i["ts"][:16] not in (t[40].isoformat()[:16], t[60].isoformat()[:16])
    ]
    assert {i["quality"] for i in clean} == {"valid"} and all(i["flags"] == [] for i in clean)
    # the actual stays queryable as a superseded version
    every = native(
        stack, world.user, world.point_code, "active_import", t[39], t[40], versions="all"
    )
    assert [(i["value"], i["quality"]) for i in every] == [
        (480.0, "superseded"),
        (spike["value"], "estimated"),
    ]

    v_items = native(stack, world.user, world.point_code, "voltage_l1", day, t[-1], explain="true")
    sag = next(i for i in v_items if i["ts"][:16] == t[70].isoformat()[:16])
    assert sag["quality"] == "valid" and sag["flags"] == ["voltage_range"]
    vr = sag["explain"]["voltage_range"]
    assert vr["nominal"] == pytest.approx(phase, rel=1e-6)
    assert vr["deviation_pct"] == pytest.approx(-14, abs=0.01) and vr["tolerance_pct"] == 10
    assert sum(1 for i in v_items if i["flags"]) == 1

    rules = get(stack, world.user, "/vee/rules")["items"]
    spike_rule = next(r for r in rules if r["code"] == "spike")
    assert spike_rule["mask"] == 64 and set(spike_rule["title"]) == {"ru", "kk", "en"}


def test_estimate_is_replaced_when_the_actual_arrives_and_rollups_follow(stack: Stack) -> None:
    world = World(
        stack, quantities=["active_import"], position="consumption", interval_min=15, criticality=3
    )
    day = recent_day(5)
    t = grid(day, 8, 15)  # two hours
    values = [20.0, 22.0, 24.0, 26.0, 28.0, 30.0, 32.0, 34.0]
    post(
        stack,
        world.user,
        world.bin,
        [(world.point_code, "active_import", t[i], values[i]) for i in (0, 1, 2, 3, 6, 7)],
    )
    items = until(
        lambda: native(
            stack, world.user, world.point_code, "active_import", day, t[-1], explain="true"
        ),
        lambda got: sum(1 for i in got if i["quality"] == "estimated") == 2,
    )
    assert [(i["value"], i["quality"]) for i in items] == [
        (v, "valid" if k not in (4, 5) else "estimated") for k, v in enumerate(values)
    ]
    est = items[4]
    assert est["origin"] == "estimated" and est["flags"] == ["gap"]
    assert est["explain"]["gap"]["missing_intervals"] == 2
    hours = get(stack, world.user, f"/points/{world.point_code}/readings", quantity="active_import",
                resolution="1h", **{"from": kz(day), "to": kz(t[-1])})["items"]  # fmt: skip
    assert hours[1]["count"] == 4 and hours[1]["quality_share"] == 0.5
    assert hours[1]["sum"] == pytest.approx(sum(values[4:]))
    fac_before = get(stack, world.user, f"/facilities/{world.facility['id']}/readings",
                     quantity="active_import", **{"from": kz(day), "to": kz(t[-1])})["items"]  # fmt: skip
    assert fac_before[1]["quality_share"] == 0.5

    # the actual arrives with exactly the estimated values: it still replaces the estimates
    post(
        stack,
        world.user,
        world.bin,
        [(world.point_code, "active_import", t[i], values[i]) for i in (4, 5)],
    )
    items = native(stack, world.user, world.point_code, "active_import", day, t[-1], explain="true")
    assert [(i["value"], i["quality"], i["origin"]) for i in items] == [
        (v, "valid", "actual") for v in values
    ]
    every = native(stack, world.user, world.point_code, "active_import", t[3], t[4], versions="all")
    assert [(i["version"], i["quality"]) for i in every] == [(1, "superseded"), (2, "valid")]
    hours = get(stack, world.user, f"/points/{world.point_code}/readings", quantity="active_import",
                resolution="1h", **{"from": kz(day), "to": kz(t[-1])})["items"]  # fmt: skip
    assert hours[1]["quality_share"] == 1.0 and hours[1]["sum"] == pytest.approx(sum(values[4:]))
    for path in (f"/facilities/{world.facility['id']}/readings", f"/subjects/{world.bin}/readings"):
        got = get(
            stack, world.user, path, quantity="active_import", **{"from": kz(day), "to": kz(t[-1])}
        )
        assert [h["quality_share"] for h in got["items"]] == [1.0, 1.0]
        assert sum(h["value"] for h in got["items"]) == pytest.approx(sum(values))


async def _last_audit(infra: InfraUrls) -> dict[str, Any]:
    bus = Bus(Settings(nats_url=infra.nats_url))
    await bus.connect(wait=True)
    try:
        msg = await bus.js.get_last_msg("AUDIT", "egsu.audit.control")
        return json.loads(msg.data)  # type: ignore[no-any-return]
    finally:
        await bus.close()


def test_correction_takes_effect_only_when_another_user_confirms_it(
    stack: Stack, infra: InfraUrls
) -> None:
    world = World(
        stack,
        region="310000000",
        quantities=["active_import"],
        position="consumption",
        interval_min=15,
        criticality=3,
    )
    day = recent_day(6)
    t = grid(day, 4, 15)  # one hour
    post(stack, world.user, world.bin, [(world.point_code, "active_import", x, 10.0) for x in t])
    body = {
        "point": world.point_code,
        "quantity": "active_import",
        "from": kz(t[0] - timedelta(minutes=15)),
        "to": kz(t[1]),
        "values": [{"ts": kz(t[0]), "value": 15.0}, {"ts": kz(t[1]), "value": 17.5}],
        "reason_code": "communication_fault",
        "comment": "ASKUE lost two intervals; values from the check meter",
    }

    def totals() -> list[float]:
        span = {"quantity": "active_import", "from": kz(day), "to": kz(t[-1])}
        out = [
            get(stack, "operator", f"/points/{world.point_code}/readings", resolution="1h", **span)[
                "items"
            ][0]["sum"]
        ]
        for path in (
            f"/facilities/{world.facility['id']}/readings",
            f"/subjects/{world.bin}/readings",
            "/regions/310000000/readings",
            "/country/readings",
        ):
            out.append(sum(h["value"] for h in get(stack, "operator", path, **span)["items"]))
        return out

    with stack.sync_client("operator") as c:
        bad = c.post(
            f"{M}/corrections",
            json={**body, "values": [{"ts": kz(t[2] + timedelta(minutes=3)), "value": 1}]},
        )
        assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "values[0].ts"
        r = c.post(f"{M}/corrections", json=body)
        assert r.status_code == 201, r.text
        corr = r.json()
        assert corr["status"] == "pending" and corr["requested_by"]["username"] == "operator"
        before = totals()
        assert before[0] == 40.0
        # pending changes nothing
        assert [
            i["value"]
            for i in native(stack, "operator", world.point_code, "active_import", day, t[-1])
        ] == [10.0] * 4
        own = c.post(f"{M}/corrections/{corr['id']}/confirm", json={})
        assert own.status_code == 403 and own.json()["code"] == "own_correction"
        own = c.post(f"{M}/corrections/{corr['id']}/reject", json={"comment": "changed my mind"})
        assert own.status_code == 403 and own.json()["code"] == "own_correction"
    with stack.sync_client("operator2") as c:
        r = c.post(
            f"{M}/corrections/{corr['id']}/confirm",
            json={"comment": "checked against the check meter"},
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "confirmed" and r.json()["applied"] == 2
        again = c.post(f"{M}/corrections/{corr['id']}/confirm", json={})
        assert again.status_code == 409 and again.json()["code"] == "correction_not_pending"
    items = native(stack, "operator", world.point_code, "active_import", day, t[-1])
    assert [(i["value"], i["quality"]) for i in items] == [
        (15.0, "edited"),
        (17.5, "edited"),
        (10.0, "valid"),
        (10.0, "valid"),
    ]
    after = totals()
    assert [round(a - b, 6) for a, b in zip(after, before, strict=True)] == [12.5] * 5
    hist = get(
        stack,
        world.user,
        f"/points/{world.point_code}/readings/history",
        quantity="active_import",
        ts=kz(t[0]),
    )
    v = hist["versions"]
    assert [(x["version"], x["value"], x["quality"], x["origin"]) for x in v] == [
        (1, 10.0, "superseded", "actual"),
        (2, 15.0, "edited", "edited"),
    ]
    assert v[1]["previous_value"] == 10.0
    assert v[1]["correction"]["requested_by"] == "operator"
    assert v[1]["correction"]["confirmed_by"] == "operator2"
    assert v[1]["correction"]["reason_code"] == "communication_fault"
    assert v[1]["correction"]["comment"] == body["comment"]
    audit = asyncio.run(_last_audit(infra))
    assert audit["action"] == "measurements.correction.confirmed"
    assert audit["actor"]["username"] == "operator2" and audit["object"]["id"] == corr["id"]
    listed = get(stack, "ministry", "/corrections", status="confirmed", point=world.point_code)[
        "items"
    ]
    assert [x["id"] for x in listed] == [corr["id"]]


def test_subject_asks_for_a_correction_of_its_own_data_only(stack: Stack) -> None:
    world = World(
        stack, quantities=["active_import"], position="consumption", interval_min=15, criticality=3
    )
    other = World(
        stack, quantities=["active_import"], position="consumption", interval_min=15, criticality=3
    )
    day = recent_day(7)
    t = grid(day, 8, 15)
    post(
        stack,
        world.user,
        world.bin,
        [(world.point_code, "active_import", x, 10.0 + i) for i, x in enumerate(t)],
    )
    body = {
        "point": world.point_code,
        "quantity": "active_import",
        "from": kz(t[2]),
        "to": kz(t[4]),
        "re_estimate": True,
        "reason_code": "failed_validation",
        "comment": "the meter was being replaced",
    }
    with stack.sync_client(other.user) as c:
        r = c.post(f"{M}/corrections", json=body)
        assert r.status_code == 404 and r.json()["code"] == "point_not_found"
    with stack.sync_client(world.user) as c:
        r = c.post(f"{M}/corrections", json=body)
        assert r.status_code == 201, r.text
        corr = r.json()
        assert corr["requested_by"]["role"] == "subject" and corr["mode"] == "re_estimate"
        # re-estimated between the neighbours outside the range (12 and 15)
        assert [(x["value"], x["method"]) for x in corr["values"]] == [
            (13.0, "linear"),
            (14.0, "linear"),
        ]
        r = c.post(f"{M}/corrections/{corr['id']}/confirm", json={})
        assert r.status_code == 403 and r.json()["code"] == "role_required"
        assert (
            c.get(f"{M}/corrections", params={"status": "pending"}).json()["items"][0]["id"]
            == corr["id"]
        )
    with stack.sync_client(other.user) as c:
        assert c.get(f"{M}/corrections/{corr['id']}").status_code == 404
        assert all(x["subject_bin"] == other.bin for x in c.get(f"{M}/corrections").json()["items"])
    with stack.sync_client("operator") as c:
        pending = c.get(
            f"{M}/corrections", params={"status": "pending", "subject_bin": world.bin}
        ).json()
        assert [x["id"] for x in pending["items"]] == [corr["id"]]
        r = c.post(f"{M}/corrections/{corr['id']}/reject", json={})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "comment"
        r = c.post(
            f"{M}/corrections/{corr['id']}/reject", json={"comment": "the readings are right"}
        )
        assert r.status_code == 200 and r.json()["status"] == "rejected"
    items = native(stack, world.user, world.point_code, "active_import", day, t[-1])
    assert [i["value"] for i in items] == [10.0 + i for i in range(8)]


def test_quality_shares_and_network_indicators(stack: Stack) -> None:
    bin_world = World(
        stack, quantities=["active_import"], position="consumption", interval_min=60, criticality=3
    )
    with stack.sync_client("ministry") as c:
        r = c.post(
            "/api/v1/registry/facilities",
            json=facility_body(
                bin_world.bin, type="substation", name_ru="ПС 110 кВ «Тест»", criticality=3
            ),
        )
        assert r.status_code == 201, r.text
        sub = r.json()
        codes = {}
        for pos in ("interchange", "consumption"):
            code = f"N-{uuid.uuid4().hex[:10]}"
            body = point_body(
                code,
                sub["id"],
                position=pos,
                quantities=["active_import", "active_export"],
                interval_min=60,
            )
            r = c.post("/api/v1/registry/metering-points", json=body)
            assert r.status_code == 201, r.text
            codes[pos] = code
    day = recent_day(8)
    t = grid(day, 24, 60)
    rows = [(codes["interchange"], "active_import", x, 100.0) for x in t]
    rows += [(codes["interchange"], "active_export", x, 0.0) for x in t]
    rows += [
        (codes["consumption"], "active_import", x, 95.0 if i % 2 else 90.0) for i, x in enumerate(t)
    ]
    rows += [(codes["consumption"], "active_export", x, 0.0) for x in t]
    post(stack, bin_world.user, bin_world.bin, rows)
    span = {"from": kz(day), "to": kz(t[-1])}
    ind = get(stack, "operator", f"/indicators/facilities/{sub['id']}", **span)
    el = ind["losses"]["electricity"]
    assert (el["input"], el["output"], el["loss"]) == (2400.0, 2220.0, 180.0)
    assert el["loss_pct"] == 7.5
    region = get(stack, "operator", f"/indicators/regions/{bin_world.region}", **span)
    assert any(n["facility_id"] == sub["id"] for n in region["losses"]["networks"])

    # a point with a gap and a spike: shares add up to the expected intervals
    w = World(
        stack, quantities=["active_import"], position="consumption", interval_min=15, criticality=3
    )
    q15 = grid(day, 96, 15)
    vals = [50.0 + (i % 3) for i in range(96)]
    vals[10] = 900.0
    post(
        stack,
        w.user,
        w.bin,
        [(w.point_code, "active_import", q15[i], vals[i]) for i in range(96) if i not in (5, 6)],
    )
    q = until(
        lambda: get(stack, w.user, f"/quality/points/{w.point_code}", **span),
        lambda got: got["counts"]["estimated"] == 3,
    )
    assert q["counts"]["expected"] == 96
    assert (q["counts"]["valid"], q["counts"]["estimated"], q["counts"]["missing"]) == (93, 3, 0)
    assert q["shares"]["estimated"] == pytest.approx(3 / 96, abs=1e-4)
    assert [r["code"] for r in q["top_rules"]][:2] == ["gap", "spike"]
    with stack.sync_client(bin_world.user) as c:
        assert c.get(f"{M}/quality/points/{w.point_code}", params=span).status_code == 404
    subj = get(stack, "operator", f"/quality/subjects/{w.bin}", **span)
    assert subj["counts"]["estimated"] == 3 and subj["points"][0]["point"] == w.point_code
    assert httpx.get(f"{stack.url}{M}/quality/points/{w.point_code}").status_code == 401
