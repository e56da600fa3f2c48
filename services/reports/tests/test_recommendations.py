"""Recommendations (§47): peak-hour shifts and equipment deviations, with numbers and a life cycle."""

from __future__ import annotations

from datetime import timedelta

import pytest
from reports_helpers import R, demo_day, post, request_report, wait_report, wait_stored, world

from egsu.testing.stack import Stack
from egsu.testing.world import point_body

pytestmark = pytest.mark.stack
KATO = "270000000"


def test_regional_balance_proposes_peak_shifts_and_flags_deviating_equipment(stack: Stack) -> None:
    day = demo_day()
    receipts = []
    big = world(stack, KATO, "consumption")
    receipts.append(
        post(
            stack,
            big,
            day,
            [3000.0 if h in (18, 19) else 1000.0 for h in range(24)],
            "active_import",
        )
    )
    for _ in range(2):
        small = world(stack, KATO, "consumption")
        receipts.append(post(stack, small, day, [200.0] * 24, "active_import"))
    plant = world(stack, KATO, "generation")
    with stack.sync_client("ministry") as c:
        r = c.post(
            "/api/v1/registry/metering-points",
            json=point_body(
                f"T-{plant.bin}-AUX",
                plant.facility["id"],
                position="own_needs",
                quantities=["active_import"],
                interval_min=60,
                nominal_voltage=None,
                rated_current=None,
            ),
        )
        assert r.status_code == 201, r.text
        aux = r.json()["code"]
    for back in range(7):
        d = day - timedelta(days=back)
        own = 150.0 if back == 0 else 50.0  # own needs triple on the report's day
        receipts.append(post(stack, plant, d, [1000.0] * 24, "active_export"))
        body_world = type(
            "W", (), {"bin": plant.bin, "user": plant.user, "points": [{"code": aux}]}
        )()
        receipts.append(post(stack, body_world, d, [own] * 24, "active_import"))  # type: ignore[arg-type]
    wait_stored(stack, receipts)
    with stack.sync_client("ministry") as c:
        rid = request_report(
            c,
            kind="daily_electricity_balance",
            level="regional",
            scope=KATO,
            period={"from": day.isoformat(), "to": day.isoformat()},
            format="json",
        )
        wait_report(c, rid)
        doc = c.get(f"{R}/{rid}/download").json()
        recs = c.get(f"{R}/recommendations", params={"report_id": rid}).json()["items"]
    by_target = {(r["kind"], r["target_id"]): r for r in recs}
    shift = by_target[("peak_shift", big.bin)]
    n = shift["numbers"]
    assert n["basis"] == "history"
    assert n["peak_mw"] == pytest.approx((3000 + 400) / 1000)
    assert n["shift_mwh"] == pytest.approx(0.1 * 2 * 3000 / 1000)
    assert 0 < n["peak_reduction_mw"] <= 0.3 + 1e-9 and n["peak_after_mw"] < n["peak_mw"]
    assert set(shift["text"]) == {"ru", "kk", "en"} and "18:00" in shift["text"]["ru"]
    eq = by_target[("equipment", plant.facility["id"])]
    assert eq["numbers"]["metric"] == "own_needs_share"
    assert eq["numbers"]["value"] == pytest.approx(0.15) and eq["numbers"][
        "history_mean"
    ] == pytest.approx(0.05)
    assert "Likely cause" in eq["text"]["en"]
    table = next(t for t in doc["tables"] if t["name"] == "recommendations")
    assert {r["id"] for r in table["rows"]} == {r["id"] for r in recs}
    # life cycle: new -> accepted -> done; rejecting needs a reason; done is final
    with stack.sync_client("operator") as c:
        r = c.patch(f"{R}/recommendations/{shift['id']}", json={"status": "rejected"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
        r = c.patch(
            f"{R}/recommendations/{shift['id']}",
            json={"status": "rejected", "reason": "Договор не допускает переноса"},
        )
        assert (
            r.status_code == 200
            and r.json()["status"] == "rejected"
            and r.json()["updated_by"] == "operator"
        )
        assert (
            c.patch(f"{R}/recommendations/{eq['id']}", json={"status": "accepted"}).json()["status"]
            == "accepted"
        )
        assert (
            c.patch(f"{R}/recommendations/{eq['id']}", json={"status": "done"}).json()["status"]
            == "done"
        )
        r = c.patch(f"{R}/recommendations/{eq['id']}", json={"status": "accepted"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "status"
    with stack.sync_client(big.user) as c:
        assert c.get(f"{R}/recommendations").status_code == 403
