"""Each validation rule on a hand-made series where the answer is obvious (pure: no servers)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from egsu.contracts.registry import PointIndexItem
from egsu.measurements.points import series_spec
from egsu.measurements.vee import estimate as E
from egsu.measurements.vee import rules as R
from egsu.measurements.vee.config import RuleBook, Thresholds
from egsu.measurements.vee.engine import Frame, Outages, Series, SeriesSpec, Verdict, validate
from egsu.measurements.writer import dedup

T0 = 1_780_000_200 // 900 * 900  # a quarter-hour boundary in May 2026
BOOK = RuleBook()


def spec(code: str, pid: int = 1, qid: int = 1, step: int = 900, **kw: Any) -> SeriesSpec:
    commodity = "heat" if code.startswith(("heat", "coolant", "temp")) else "electricity"
    mask, th = BOOK.for_quantity(commodity, code)
    th = kw.pop("th", th)
    mask = kw.pop("enabled", mask)
    return SeriesSpec(pid, qid, code, step, mask, th, **kw)


def frame(
    series: list[tuple[int, np.ndarray, np.ndarray]],
    batch: np.ndarray | None = None,
    **kw: Any,
) -> Frame:
    """(series number, ts, values) blocks; every row is a batch row unless ``batch`` says."""
    s = np.concatenate([np.full(len(t), i) for i, t, _ in series])
    ts = np.concatenate([t for _, t, _ in series])
    v = np.concatenate([x for _, _, x in series])
    n = len(s)
    return Frame.build(
        s,
        ts,
        v,
        np.ones(n, bool) if batch is None else batch,
        np.ones(n, bool),
        np.ones(n, bool),
        **kw,
    )


def grid(n: int, step: int = 900, start: int = T0) -> np.ndarray:
    return start + step * (np.arange(n) + 1)


def shape(n: int = 192, base: float = 10.0) -> np.ndarray:
    """A daily load shape with a little noise: nothing in it should be flagged."""
    i = np.arange(n)
    rng = np.random.default_rng(7)
    return np.round(base * (1 + 0.3 * np.sin(2 * np.pi * i / 96)) + rng.normal(0, 0.1, n), 3)


def one(
    code: str, values: np.ndarray, received_at: float | None = None, **kw: Any
) -> tuple[Frame, Verdict]:
    ts = grid(len(values), kw.get("step", 900))
    ser = Series([spec(code, **kw)])
    f = frame([(0, ts, np.asarray(values, float))])
    return f, validate(f, ser, received_at if received_at is not None else float(ts[-1] + 3600))


def hits(f: Frame, v: Verdict, rule: int) -> list[int]:
    """Interval numbers (1-based, as in ``grid``) the rule flagged."""
    rows = np.flatnonzero(v.bits & rule)
    return ((f.ts[rows] - T0) // 900).tolist()


def test_a_clean_series_has_no_flags() -> None:
    _, v = one("active_import", shape())
    assert not v.bits.any() and not len(v.gaps.s)


def test_gap() -> None:
    ts = grid(20)
    keep = np.ones(20, bool)
    keep[5:8] = False  # intervals 6, 7, 8 missing
    ser = Series([spec("active_import")])
    f = frame([(0, ts[keep], np.full(keep.sum(), 5.0))])
    v = validate(f, ser, float(ts[-1]))
    assert v.gaps.missing.tolist() == [3]
    assert f.ts[v.gaps.left].tolist() == [ts[4]] and f.ts[v.gaps.right].tolist() == [ts[8]]
    off = Series([spec("active_import", enabled=R.ALL_MASK & ~R.GAP)])
    assert not len(validate(f, off, float(ts[-1])).gaps.s)


def test_duplicate_with_a_different_value() -> None:
    pid = np.array([1, 1, 1, 1, 1])
    qid = np.array([1, 1, 1, 1, 1])
    ts = np.array([900, 1800, 900, 2700, 900])
    val = np.array([5.0, 6.0, 7.0, 8.0, 5.0])  # 900 twice with 5 (an exact repeat) and once with 7
    order, rank, dup = dedup(pid, qid, ts, val)
    assert val[order].tolist() == [5.0, 7.0, 6.0, 8.0] and rank.tolist() == [1, 2, 1, 1]
    assert dup.tolist() == [True, True, False, False]
    ser = Series([spec("active_import")])
    f = frame([(0, ts[order][1:], val[order][1:])], dup=dup[1:])  # the key's last value is current
    v = validate(f, ser, 10_000.0)
    assert (v.bits & R.DUPLICATE).astype(bool).tolist() == [True, False, False]


def test_timestamp_in_the_future() -> None:
    values = shape(8)
    ts = grid(8)
    # received 200 s before interval 7 ended (within the 5-minute tolerance) and before 8 ended
    f, v = one("active_import", values, received_at=float(ts[6] - 200))
    assert hits(f, v, R.FUTURE) == [8]
    f, v = one("active_import", values, received_at=float(ts[5]))
    assert hits(f, v, R.FUTURE) == [7, 8]


def test_too_old_to_accept_without_review() -> None:
    ts = grid(4)
    f, v = one("active_import", shape(4), received_at=float(ts[-1] + 367 * 86400))
    assert hits(f, v, R.TOO_OLD) == [1, 2, 3, 4]
    f, v = one("active_import", shape(4), received_at=float(ts[-1] + 300 * 86400))
    assert hits(f, v, R.TOO_OLD) == []


def test_negative_where_impossible() -> None:
    values = shape(10)
    values[3] = -2.0
    f, v = one("active_import", values)
    assert hits(f, v, R.NEGATIVE) == [4]
    # signed quantities may be negative
    f, v = one("active_power", values)
    assert hits(f, v, R.NEGATIVE) == []


def test_above_physical_capacity() -> None:
    values = shape(10)
    values[6] = 130.0
    f, v = one("active_import", values, cap=120.0)
    assert hits(f, v, R.CAPACITY) == [7]
    f, v = one("active_import", values)  # capacity unknown
    assert hits(f, v, R.CAPACITY) == []


def test_capacity_comes_from_the_registry() -> None:
    info = PointIndexItem.model_validate(
        {
            "id": "x",
            "code": "P",
            "subject_bin": "1",
            "facility_id": "f",
            "facility_type": "substation",
            "region_kato": "550000000",
            "commodity": "electricity",
            "position": "consumption",
            "quantities": ["active_import", "current_l1"],
            "interval_min": 15,
            "nominal_voltage": 10_000,
            "rated_current": 100,
        }
    )
    energy = series_spec(1, 1, "active_import", "electricity", 15, info, BOOK)
    assert energy.cap == pytest.approx(math.sqrt(3) * 10_000 * 100 / 1000 * 0.25 * 1.2)
    current = series_spec(1, 2, "current_l1", "electricity", 15, info, BOOK)
    assert current.cap == pytest.approx(120.0)
    info = info.model_copy(update={"max_power_kw": 400.0})
    assert series_spec(1, 1, "active_import", "electricity", 15, info, BOOK).cap == pytest.approx(
        120.0
    )


def test_spike_against_the_points_own_history() -> None:
    values = shape()
    values[100] = 80.0
    f, v = one("active_import", values)
    assert hits(f, v, R.SPIKE) == [101]
    numbers = next(n[2] for n in v.notes if n[0] == "spike")
    assert numbers["z"][0] > 6 and numbers["median"][0] == pytest.approx(
        np.median(values), rel=0.05
    )
    # a level shift of +40 % is not a spike, and too little history judges nothing
    shifted = shape()
    shifted[120:] *= 1.4
    f, v = one("active_import", shifted)
    assert hits(f, v, R.SPIKE) == []
    f, v = one("active_import", values[90:110])  # 20 readings: fewer than min_reference
    assert hits(f, v, R.SPIKE) == []


def test_a_whole_day_at_twice_the_load_is_not_a_row_of_spikes() -> None:
    normal = shape(96)
    stats = (288, *np.quantile(normal, [0.05, 0.25, 0.5, 0.75, 0.95]).tolist(), 1.0, 0.0)
    f, v = one("active_import", normal * 2.6, stats=stats)
    assert hits(f, v, R.SPIKE) == []
    spiky = normal.copy()
    spiky[50] *= 6
    f, v = one("active_import", spiky, stats=stats)
    assert hits(f, v, R.SPIKE) == [51]


def test_spike_uses_stored_statistics_for_a_small_batch() -> None:
    ser = Series([spec("active_import", stats=(500, 7.0, 9.0, 10.0, 11.0, 13.0, 1.0, 0.01))])
    ts = grid(3)
    f = frame([(0, ts, np.array([10.0, 90.0, 11.0]))])
    assert hits(f, validate(f, ser, float(ts[-1])), R.SPIKE) == [2]


def test_stuck_value() -> None:
    values = shape()
    values[50:62] = values[50]
    f, v = one("active_power", values)
    assert hits(f, v, R.STUCK) == list(range(51, 63))
    short = shape()
    short[50:55] = short[50]  # five equal readings are not enough
    f, v = one("active_power", short)
    assert hits(f, v, R.STUCK) == []
    # a point whose readings often repeat (coarse resolution) is not stuck
    coarse = np.round(shape() / 4) * 4
    f, v = one("active_power", coarse)
    assert hits(f, v, R.STUCK) == []


def test_stuck_run_reaches_back_into_stored_readings() -> None:
    values = shape()
    values[150:170] = values[150]
    ts = grid(192)
    ser = Series([spec("active_power")])
    batch = np.zeros(192, bool)
    batch[165:] = True  # the batch brings the end of the run
    f = frame([(0, ts, values)], batch=batch)
    v = validate(f, ser, float(ts[-1]))
    assert hits(f, v, R.STUCK) == list(range(151, 171))


def test_zero_consumption_while_the_facility_works() -> None:
    values = shape()
    values[60:70] = 0.0
    f, v = one("active_import", values)
    assert hits(f, v, R.ZERO) == list(range(61, 71))
    # a reported power outage explains the zeros
    ser = Series([spec("active_import")])
    ts = grid(192)
    outages = Outages.from_events(
        {1: [0]}, [(1, int(ts[59] + 60), "power_loss"), (1, int(ts[69] - 30), "power_restored")]
    )
    assert hits(f, validate(f, ser, float(ts[-1]), outages), R.ZERO) == []
    # judged by the point's own history when it is known: a point that is often idle (night
    # zeros) is not flagged, one that always consumes is
    night_off = np.where(np.sin(2 * np.pi * np.arange(192) / 96) > 0, shape(), 0.0)
    idle = (2000, 0.0, 0.0, 8.0, 11.0, 13.0, 0.5, 0.0)
    f, v = one("active_import", night_off, stats=idle)
    assert hits(f, v, R.ZERO) == []
    busy = (2000, 7.0, 8.0, 10.0, 11.0, 13.0, 1.0, 0.0)
    f, v = one("active_import", night_off, stats=busy)
    assert len(hits(f, v, R.ZERO)) == int((night_off == 0).sum()) - 1  # not the lone zero


def _register_pair(
    intervals: np.ndarray, register: np.ndarray, **reg_kw: Any
) -> tuple[Frame, Verdict]:
    ts = grid(len(intervals))
    ser = Series([spec("active_import", qid=1), spec("active_import_register", qid=2, **reg_kw)])
    f = frame([(0, ts, intervals), (1, ts, register)])
    return f, validate(f, ser, float(ts[-1]))


def test_sum_check_blames_the_intervals_when_one_span_disagrees() -> None:
    iv = shape(20)
    reg = 1000 + np.cumsum(iv)
    iv_bad = iv.copy()
    iv_bad[7] *= 1.5  # the interval says more than the register advanced
    f, v = _register_pair(iv_bad, reg)
    rows = np.flatnonzero(v.bits & R.SUM_CHECK)
    assert f.s[rows].tolist() == [0] and ((f.ts[rows] - T0) // 900).tolist() == [8]
    f, v = _register_pair(iv, reg)
    assert not (v.bits & R.SUM_CHECK).any()


def test_sum_check_blames_the_register_reading_between_two_opposite_mismatches() -> None:
    iv = shape(20)
    reg = 1000 + np.cumsum(iv)
    reg[9] += 25.0  # one corrupted register reading
    f, v = _register_pair(iv, reg)
    rows = np.flatnonzero(v.bits & R.SUM_CHECK)
    assert f.s[rows].tolist() == [1] and ((f.ts[rows] - T0) // 900).tolist() == [10]


def test_register_decrease_and_rollover() -> None:
    iv = np.full(12, 4.0)
    reg = 99_980.0 + np.cumsum(iv)  # passes 100,000 at interval 5
    wrapped = np.mod(reg, 100_000.0)
    f, v = _register_pair(iv, wrapped, reg_limit=100_000.0)
    assert (
        hits(f, v, R.ROLLOVER) == [5] and not (v.bits & (R.REGISTER_DECREASE | R.SUM_CHECK)).any()
    )
    # without the register's digits the same wrap is a decrease
    f, v = _register_pair(iv, wrapped)
    assert hits(f, v, R.REGISTER_DECREASE) == [5] and not (v.bits & R.ROLLOVER).any()
    assert (R.BY_CODE["rollover"].severity, R.BY_CODE["register_decrease"].severity) == (
        "notice",
        "suspect",
    )


def test_export_on_an_import_only_point() -> None:
    values = np.zeros(8)
    values[2] = 3.5
    f, v = one("active_export", values, import_only=True)
    assert hits(f, v, R.EXPORT_IMPORT_ONLY) == [3]
    f, v = one("active_export", values)
    assert hits(f, v, R.EXPORT_IMPORT_ONLY) == []
    power = np.full(8, 5.0)
    power[4] = -1.0
    f, v = one("active_power", power, import_only=True)
    assert hits(f, v, R.EXPORT_IMPORT_ONLY) == [5]


def test_voltage_outside_ten_percent_of_nominal() -> None:
    u = np.full(20, 230.0) + np.tile([0.5, -0.5], 10)
    u[4] = 205.0  # -10.9 %
    u[12] = 251.0  # +9.1 %: inside
    f, v = one("voltage_l1", u, u_nom=230.0)
    assert hits(f, v, R.VOLTAGE_RANGE) == [5]
    # a point registered with its line voltage and measuring phase voltage
    f, v = one("voltage_l1", u, u_nom=230.0 * math.sqrt(3))
    assert hits(f, v, R.VOLTAGE_RANGE) == [5]


def test_excessive_voltage_fluctuation() -> None:
    u = np.full(20, 230.0)
    u[8] = 243.0  # +5.7 % step, within the ±10 % band
    f, v = one("voltage_l2", u, u_nom=230.0)
    assert hits(f, v, R.VOLTAGE_FLUCTUATION) == [9, 10] and hits(f, v, R.VOLTAGE_RANGE) == []


def test_fluctuation_is_judged_against_the_points_usual_steps() -> None:
    rng = np.random.default_rng(3)
    noisy = 230.0 * (1 + 0.015 * rng.standard_normal(96))  # steps of 2 % are normal here
    noisy = np.clip(noisy, 230 * 0.93, 230 * 1.07)
    f, v = one("voltage_l1", noisy, u_nom=230.0)
    steps = 100 * np.abs(np.diff(noisy)) / 230
    assert steps.max() > 5 and hits(f, v, R.VOLTAGE_FLUCTUATION) == []
    noisy[60] = 230 * 1.09
    noisy[59] = 230 * 0.93
    f, v = one("voltage_l1", noisy, u_nom=230.0)
    assert 61 in hits(f, v, R.VOLTAGE_FLUCTUATION)


def test_consumption_above_the_norm() -> None:
    values = np.full(96, 2.0)  # 192 kWh a day
    values[30] = 7.0
    f, v = one("active_import", values, norm_interval=6.0)
    assert hits(f, v, R.ABOVE_NORM) == [31]
    f, v = one("active_import", values, norm_daily=150.0)
    assert hits(f, v, R.ABOVE_NORM)[0] == 73  # 2 × 72 + 7 = 151 > 150 at interval 73
    # what the day held before the batch counts
    ts = grid(96)
    ser = Series([spec("active_import", norm_daily=150.0)])
    f = frame([(0, ts[60:], values[60:])])
    day = (int(ts[60]) - 1 + 5 * 3600) // 86400
    prior = (np.array([0]), np.array([day]), np.array([140.0]))
    flagged = hits(f, validate(f, ser, float(ts[-1]), day_prior=prior), R.ABOVE_NORM)
    assert flagged and flagged[0] > 60


def test_heat_balance_supply_against_return() -> None:
    sup = np.full(10, 50.0)
    ret = np.full(10, 49.5)
    ret[6] = 45.0  # 10 % lost
    ts = grid(10)
    ser = Series(
        [spec("coolant_mass_supply", qid=1, heat_tol=0.03), spec("coolant_mass_return", qid=2)]
    )
    f = frame([(0, ts, sup), (1, ts, ret)])
    v = validate(f, ser, float(ts[-1]))
    rows = np.flatnonzero(v.bits & R.HEAT_BALANCE)
    assert sorted(f.s[rows].tolist()) == [0, 1] and set(((f.ts[rows] - T0) // 900).tolist()) == {7}


def test_clock_skew() -> None:
    ts = grid(6)
    ser = Series([spec("active_import")])
    f = frame([(0, ts, shape(6))], skew=np.array([0, 3, -40, 0, 14, 200.0]))
    assert hits(f, validate(f, ser, float(ts[-1])), R.CLOCK_SKEW) == [3, 6]


def test_rules_and_thresholds_per_commodity_and_quantity() -> None:
    book = RuleBook(
        rules_off={"electricity:voltage_l1": ["voltage_fluctuation"], "heat": ["stuck"]},
        thresholds={"*": {"spike_z": 9}, "active_import": {"stuck_intervals": 12}},
    )
    mask, th = book.for_quantity("electricity", "voltage_l1")
    assert not mask & R.VOLTAGE_FLUCTUATION and mask & R.VOLTAGE_RANGE
    assert book.for_quantity("electricity", "voltage_l2")[0] & R.VOLTAGE_FLUCTUATION
    assert not book.for_quantity("heat", "heat_power")[0] & R.STUCK
    assert book.for_quantity("electricity", "active_import")[1].stuck_intervals == 12
    assert th.spike_z == 9 and th.stuck_intervals == Thresholds().stuck_intervals
    with pytest.raises(ValueError, match="unknown VEE thresholds"):
        RuleBook(thresholds={"*": {"spike_zz": 1}})
    with pytest.raises(KeyError):
        RuleBook(rules_off={"heat": ["no_such_rule"]})


def test_rule_bits_are_stable() -> None:
    assert {r.code: r.bit for r in R.RULES} == {
        "gap": 0, "duplicate": 1, "future": 2, "too_old": 3, "negative": 4, "capacity": 5,
        "spike": 6, "stuck": 7, "zero_consumption": 8, "sum_check": 9, "register_decrease": 10,
        "rollover": 11, "export_import_only": 12, "voltage_range": 13, "voltage_fluctuation": 14,
        "above_norm": 15, "heat_balance": 16, "clock_skew": 17, "not_commercial": 18,
    }  # fmt: skip
    assert R.codes_of(R.SPIKE | R.GAP) == ["gap", "spike"]


# --- estimation ---------------------------------------------------------------------------------


def _estimate(values: np.ndarray, keep: np.ndarray, **kw: Any) -> E.Targets:
    ts = grid(len(values), kw.get("step", 900))
    ser = Series([spec("active_import", **kw)])
    f = frame([(0, ts[keep], values[keep])])
    v = validate(f, ser, float(ts[-1]))
    return E.linear(E.targets(f, ser, v), ser)


def test_short_gap_is_interpolated_linearly() -> None:
    values = np.arange(20, dtype=float)
    keep = np.ones(20, bool)
    keep[6:9] = False
    t = _estimate(values, keep)
    assert t.value.tolist() == [6.0, 7.0, 8.0] and set(t.method.tolist()) == {E.LINEAR}
    assert t.reason.tolist() == [R.GAP] * 3


def test_long_gap_uses_a_similar_day_scaled_to_the_neighbours() -> None:
    n = 96 * 8
    values = shape(n)
    keep = np.ones(n, bool)
    keep[96 * 7 + 20 : 96 * 7 + 40] = False  # 5 h on the last day
    t = _estimate(values, keep)
    assert np.isnan(t.value).all()  # longer than 2 h: not linear
    ser = Series([spec("active_import")])
    ts = grid(n)
    ks, kt = E.profile_keys(t, ser)
    lookup = dict(zip(ts.tolist(), values.tolist(), strict=True))
    got = E.profile(t, ser, ks, kt, np.array([lookup.get(int(x), np.nan) for x in kt]))
    assert set(got.method.tolist()) == {E.PROFILE} and set(got.lag_s.tolist()) == {7 * 86400}
    truth = values[96 * 7 + 20 : 96 * 7 + 40]
    assert np.abs(got.value - truth).max() / truth.mean() < 0.05


def test_gap_beyond_the_limit_stays_missing() -> None:
    values = np.full(96 * 3, 5.0) + np.tile([0.0, 0.1], 96 * 3 // 2)
    keep = np.ones(len(values), bool)
    keep[10 : 10 + 96 * 2 + 4] = False  # 49 h
    t = _estimate(values, keep)
    assert len(t) == 0


def test_rejected_reading_is_estimated_from_usable_neighbours() -> None:
    values = shape()
    values[100] = -5.0
    values[101] = 500.0
    keep = np.ones(len(values), bool)
    t = _estimate(values, keep, cap=200.0)
    assert sorted(((t.ts - T0) // 900).tolist()) == [101, 102]
    expected = values[99] + (values[102] - values[99]) * np.array([1, 2]) / 3
    assert np.allclose(np.sort(t.value), np.sort(expected))
    assert all(r & (R.NEGATIVE | R.CAPACITY | R.SPIKE) for r in t.reason.tolist())


def test_no_gap_towards_a_reading_from_the_future() -> None:
    ts = grid(12)
    ser = Series([spec("active_import")])
    keep = np.r_[np.arange(8), [11]]  # a reading stamped 3 intervals ahead of the others
    f = frame([(0, ts[keep], shape(12)[keep])])
    v = validate(f, ser, float(ts[7] + 60))
    assert hits(f, v, R.FUTURE) == [12] and not len(v.gaps.s)
