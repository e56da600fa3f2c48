"""Rules, liveness and evaluation without servers: the judgement itself."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from egsu.monitoring.directory import PointInfo
from egsu.monitoring.evaluate import Evaluator
from egsu.monitoring.rules import BUILTIN, Rule, RuleBody, RuleSet
from egsu.monitoring.state import Baselines, LiveTable, Windows, local_day, slots_of

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z, a Thursday


def point(code: str = "P1", **kw: object) -> PointInfo:
    base = {
        "id": "id-" + code,
        "code": code,
        "subject_bin": "123456789012",
        "facility_id": "f1",
        "facility_type": "substation",
        "region_kato": "550000000",
        "commodity": "electricity",
        "quantities": ["active_import", "voltage_l1"],
        "interval_min": 15,
        "criticality": 2,
        "nominal_voltage": 10_000.0,
        "max_power_kw": None,
        "norms": {"daily_energy_kwh": 1000.0},
        "status": "active",
    }
    base.update(kw)
    return PointInfo(**base)  # type: ignore[arg-type]


def builtin(family: str) -> Rule:
    body = next(b for b in BUILTIN if b["family"] == family)
    return Rule.of({**body, "version": 1})


def test_rule_body_names_the_bad_field() -> None:
    with pytest.raises(ValidationError, match=r"params\.above"):
        RuleBody(name="x", kind="threshold", category="process", severity="major",
                 quantities=["current_l1"], params={})  # fmt: skip
    with pytest.raises(ValidationError, match="scope_value"):
        RuleBody(name="x", kind="comm_loss", category="communication", severity="major",
                 scope_type="region")  # fmt: skip
    with pytest.raises(ValidationError, match=r"params\.k"):
        RuleBody(name="x", kind="anomaly", category="equipment", severity="minor",
                 quantities=["active_import"], params={"k": -1})  # fmt: skip


def test_the_most_specific_rule_of_a_family_wins() -> None:
    general = builtin("voltage_sag")
    body = RuleBody(
        name="tight",
        kind="band",
        family="voltage_sag",
        category="process",
        severity="critical",
        scope_type="point",
        scope_value="P1",
        quantities=["voltage_l1"],
        params={"tolerance_pct": 5, "side": "low"},
    )
    special = Rule.of({**body.model_dump(), "id": "r2", "version": 1})
    rs = RuleSet([general, special])
    assert [r.id for r in rs.for_point(point("P1"), 1) if r.family == "voltage_sag"] == ["r2"]
    assert [r.id for r in rs.for_point(point("P2"), 1) if r.family == "voltage_sag"] == [general.id]


def test_inactive_after_missed_intervals_and_old_backfill_does_not_wake_it() -> None:
    p = point(criticality=2)  # 3 missed intervals, one more to arrive
    live = LiveTable(allowance=1.0)
    lv, turned = live.arrived(p, T0, T0 - 3600, T0 + 30, now=T0 + 30)
    assert turned and lv.status == "active"
    assert live.due_inactive(p, lv, T0 + 4 * 900 - 1) is None
    assert live.due_inactive(p, lv, T0 + 4 * 900) == T0 + 3600
    lv.status = "inactive"
    _, turned = live.arrived(p, T0 - 900, T0 - 7200, T0 + 5000, now=T0 + 5000)
    assert (
        not turned and lv.last_ts == T0
    )  # an old backfill neither wakes it nor moves last_ts back
    _, turned = live.arrived(p, T0 + 4500, T0 + 900, T0 + 5000, now=T0 + 5000)
    assert turned and lv.status == "active"


def test_sag_is_judged_by_measurement_time_not_arrival() -> None:
    windows, baselines = Windows(), Baselines()
    ev = Evaluator(windows, baselines, 6)
    p = point()
    rule = builtin("voltage_sag")
    ts = np.array([T0 + 900, T0 + 1800])
    vs = np.array([10_050.0, 8_100.0])
    windows.put(p.code, "voltage_l1", ts.tolist(), vs.tolist())
    sig = ev.readings(
        {p.code: [rule]}, {p.code: p}, {(p.code, "voltage_l1"): (ts, vs)}, set(), T0 + 1900
    )
    assert len(sig) == 1 and sig[0].occurrences == [T0 + 1800] and sig[0].active
    assert sig[0].limit == pytest.approx(9_000.0)
    # a LATE normal value for an older interval does not end the condition
    old_t, old_v = np.array([T0]), np.array([10_000.0])
    windows.put(p.code, "voltage_l1", old_t.tolist(), old_v.tolist())
    key = (rule.id, "point", p.code)
    sig = ev.readings(
        {p.code: [rule]}, {p.code: p}, {(p.code, "voltage_l1"): (old_t, old_v)}, {key}, T0 + 2000
    )
    assert sig[0].active and not sig[0].occurrences
    # an interruption (near zero) is not a sag
    z_t, z_v = np.array([T0 + 2700]), np.array([12.0])
    windows.put(p.code, "voltage_l1", z_t.tolist(), z_v.tolist())
    sig = ev.readings(
        {p.code: [rule]}, {p.code: p}, {(p.code, "voltage_l1"): (z_t, z_v)}, {key}, T0 + 2800
    )
    assert not sig[0].active and not sig[0].occurrences


def test_anomaly_needs_a_learned_baseline_and_a_sustained_deviation() -> None:
    windows, baselines = Windows(), Baselines()
    ev = Evaluator(windows, baselines, 6)
    p = point()
    rule = builtin("anomaly")
    rng = np.random.default_rng(3)
    days = 10
    ts = T0 + 900 * np.arange(1, 96 * days + 1)
    vs = (
        100
        * (1 + 0.5 * np.sin(2 * np.pi * (ts % 86400) / 86400))
        * (1 + rng.normal(0, 0.02, len(ts)))
    )
    windows.put(p.code, "active_import", ts.tolist(), vs.tolist())
    groups = {(p.code, "active_import"): (ts, vs)}
    assert ev.readings({p.code: [rule]}, {p.code: p}, groups, set(), ts[-1]) == []
    ev.learn(groups, {"active_import"}, {p.code: [rule]}, {p.code: p})
    # normal next day: nothing; a 40 % drop held for three intervals: an alarm
    nt = ts[-1] + 900 * np.arange(1, 9)
    nv = 100 * (1 + 0.5 * np.sin(2 * np.pi * (nt % 86400) / 86400))
    nv[5:] *= 0.6
    windows.put(p.code, "active_import", nt.tolist(), nv.tolist())
    sig = ev.readings(
        {p.code: [rule]}, {p.code: p}, {(p.code, "active_import"): (nt, nv)}, set(), nt[-1]
    )
    assert len(sig) == 1 and sig[0].occurrences == [float(nt[-1])]
    assert sig[0].args["side"] == "low"


def test_a_cold_spell_raises_no_anomaly_on_heat_points_under_the_built_in_rules() -> None:
    windows, baselines = Windows(), Baselines()
    ev = Evaluator(windows, baselines, 6)
    p = point("H1", commodity="heat", quantities=["heat_energy"], nominal_voltage=None, norms={})
    rules = {p.code: [Rule.of({**b, "version": 1}) for b in BUILTIN]}
    ts = T0 + 900 * np.arange(1, 96 * 10 + 1)
    vs = 50 * (1 + 0.2 * np.sin(2 * np.pi * (ts % 86400) / 86400))
    windows.put(p.code, "heat_energy", ts.tolist(), vs.tolist())
    groups = {(p.code, "heat_energy"): (ts, vs)}
    ev.learn(groups, {"heat_energy"}, rules, {p.code: p})
    # −15 °C for a day: the heat load is 60 % up all day, as it should be
    nt = ts[-1] + 900 * np.arange(1, 97)
    nv = 1.6 * 50 * (1 + 0.2 * np.sin(2 * np.pi * (nt % 86400) / 86400))
    windows.put(p.code, "heat_energy", nt.tolist(), nv.tolist())
    sig = ev.readings(rules, {p.code: p}, {(p.code, "heat_energy"): (nt, nv)}, set(), nt[-1])
    assert [s for s in sig if s.rule.kind == "anomaly"] == []


def test_slots_and_local_days() -> None:
    # 2026-01-03 is a Saturday; 00:15 UTC is 05:15 local, the interval started at 05:00
    sat = T0 + 2 * 86400 + 900
    assert slots_of(np.array([sat]))[0] == 5 + 24
    assert local_day(T0 + 19 * 3600) == local_day(T0 + 19 * 3600 - 1)  # 00:00 local ends the day
    assert local_day(T0 + 19 * 3600 + 900) == local_day(T0 + 19 * 3600) + 1
