"""The write path with VEE on the real database: versions, estimates, run flags and roll-ups."""

from __future__ import annotations

import numpy as np
import pytest

from egsu.measurements.corrections import apply_values
from egsu.measurements.vee import rules as R

from .conftest import Harness

T0 = 1_780_000_200 // 900 * 900  # 2026-05-28, a quarter-hour boundary
Q = "active_import"


def day(n: int = 96, base: float = 10.0) -> np.ndarray:
    i = np.arange(n)
    return np.round(base + 3 * np.sin(i / 96 * 2 * np.pi) + 0.2 * np.cos(i * 1.7), 3)


def rows(code: str, values: np.ndarray, first: int = 0) -> list[tuple[str, str, float, float]]:
    return [(code, Q, T0 + 900 * (first + i + 1), float(x)) for i, x in enumerate(values)]


async def hour(h: Harness, code: str, interval: int, q: str = Q) -> dict[str, int]:
    """The hour roll-up holding interval number ``interval`` (1-based, as in ``rows``)."""
    label = (T0 + 900 * interval - 1) // 3600 * 3600
    async with h.pool.acquire() as conn:
        r = await conn.fetchrow(
            "SELECT count, valid_count, suspect_count, estimated_count, edited_count, sum "
            "FROM measurements.point_hour WHERE point_id = $1 AND quantity_id = $2 "
            "AND hour = to_timestamp($3)",
            h.catalog.points[code].id,
            h.catalog.quantities[q],
            float(label),
        )
    return dict(r)


async def test_spike_is_kept_as_a_version_and_a_resend_changes_nothing(harness: Harness) -> None:
    code = harness.point(quantities=[Q], max_power_kw=1000)
    v = day()
    v[40] = 95.0
    res = await harness.store(rows(code, v))
    assert (res.inserted, res.estimated, res.flagged) == (96, 1, 1)
    got = await harness.readings(code, Q, all_versions=True)
    at = [g for g in got if g["t"] == T0 + 900 * 41]
    assert [(g["value"], g["current"], g["origin"], g["rules"]) for g in at] == [
        (95.0, False, 0, R.SPIKE),
        (at[1]["value"], True, 1, R.SPIKE),
    ]
    assert abs(at[1]["value"] - (v[39] + v[41]) / 2) < 1e-6
    h = await hour(harness, code, 41)
    assert (h["estimated_count"], h["valid_count"]) == (1, h["count"] - 1)
    again = await harness.store(rows(code, v))
    assert (again.inserted, again.unchanged) == (0, 96)
    assert len(await harness.readings(code, Q, all_versions=True)) == 97


async def test_actual_after_a_confirmed_edit_is_kept_but_the_edit_stays(harness: Harness) -> None:
    code = harness.point(quantities=[Q])
    await harness.store(rows(code, np.array([1.0, 2.0, 3.0, 4.0])))
    pid, qid = harness.catalog.points[code].id, harness.catalog.quantities[Q]
    async with harness.pool.acquire() as conn, conn.transaction():
        record = {"reason_code": "data_correction", "requested_by": '{"username": "operator"}'}
        await apply_values(
            conn,
            harness.catalog,
            pid,
            qid,
            [{"ts": "2026-05-28T20:45:00+00:00", "value": 9.0}],
            "c-1",
            record,  # type: ignore[arg-type]
        )
    ts = T0 + 900  # the first interval
    now = await harness.readings(code, Q)
    assert (now[0]["value"], now[0]["quality"]) == (9.0, 4)
    # the source sends its old value again: nothing new; a different one: a version, not current
    assert (await harness.store([(code, Q, ts, 1.0)])).inserted == 0
    assert (await harness.store([(code, Q, ts, 1.5)])).inserted == 1
    versions = [g for g in await harness.readings(code, Q, all_versions=True) if g["t"] == ts]
    assert [(g["value"], g["origin"], g["current"]) for g in versions] == [
        (1.0, 0, False),
        (9.0, 2, True),
        (1.5, 0, False),
    ]


async def test_a_batch_received_earlier_does_not_override_a_later_correction(
    harness: Harness,
) -> None:
    code = harness.point(quantities=[Q])
    v = day(8)
    received = T0 + 900 * 8 + 3600
    await harness.store(rows(code, v[:4]), received_at=received)
    before = await hour(harness, code, 1)
    # the source corrects interval 1; a batch it had sent before the correction comes late
    # (redelivered after a failure): its value is kept as a version, the correction stays
    fix = await harness.store([(code, Q, T0 + 900, 50.0)], received_at=received + 600)
    assert fix.inserted == 1
    older = await harness.store(
        [(code, Q, T0 + 900, 7.0), *rows(code, v[4:], first=4)], received_at=received + 300
    )
    assert (older.inserted, older.superseded) == (5, 1)
    versions = [g for g in await harness.readings(code, Q, all_versions=True) if g["t"] == T0 + 900]
    assert [(g["value"], g["current"]) for g in versions] == [
        (float(v[0]), False),
        (50.0, True),
        (7.0, False),
    ]
    after = await hour(harness, code, 1)
    assert after["sum"] == pytest.approx(before["sum"] - float(v[0]) + 50.0)
    assert after["count"] == before["count"]
    # a batch received after the correction wins as usual
    await harness.store([(code, Q, T0 + 900, 8.0)], received_at=received + 900)
    assert (await harness.readings(code, Q))[0]["value"] == 8.0


async def test_a_run_extended_by_a_later_batch_flags_the_earlier_readings(harness: Harness) -> None:
    code = harness.point(quantities=["active_power"])
    v = day(192)
    v[150:166] = v[150]
    first = [(code, "active_power", T0 + 900 * (i + 1), float(x)) for i, x in enumerate(v[:156])]
    await harness.store(first)  # the run has 6 readings so far: not yet stuck
    second = [(code, "active_power", T0 + 900 * (i + 1), float(v[i])) for i in range(156, 192)]
    await harness.store(second)
    got = await harness.readings(code, "active_power")
    stuck = [i for i, g in enumerate(got) if g["rules"] & R.STUCK]
    assert stuck == list(range(150, 166))
    assert {got[i]["quality"] for i in stuck} == {1}
    # the hour of the run's first reading: flagged after the fact, the roll-up follows
    r = await hour(harness, code, 151, "active_power")
    label = (T0 + 900 * 151 - 1) // 3600
    same_hour = [i for i in range(1, 193) if (T0 + 900 * i - 1) // 3600 == label]
    in_run = sum(1 for i in same_hour if 151 <= i <= 166)
    assert (r["count"], r["suspect_count"], r["valid_count"]) == (4, in_run, 4 - in_run)


async def test_gaps_are_estimated_later_unless_a_batch_fills_them_first(harness: Harness) -> None:
    code = harness.point(quantities=[Q])
    v = day(24)
    await harness.store(rows(code, v[:6]))
    await harness.store(rows(code, v[10:], first=10))  # intervals 7..10 missing
    await harness.store(rows(code, v[14:16], first=14))
    assert [g["t"] for g in await harness.readings(code, Q)] == [
        T0 + 900 * i for i in (*range(1, 7), *range(11, 25))
    ]
    await harness.store(rows(code, v[6:8], first=6))  # the late batch fills half of the gap
    assert await harness.estimate() == 2
    got = await harness.readings(code, Q)
    est = [g for g in got if g["origin"] == 1]
    assert [(g["t"] - T0) // 900 for g in est] == [9, 10]
    assert [g["rules"] for g in est] == [R.GAP, R.GAP] and {g["quality"] for g in est} == {3}
    step = (v[10] - v[7]) / 3
    assert [round(g["value"], 6) for g in est] == [round(v[7] + step, 6), round(v[7] + 2 * step, 6)]
    h = await hour(harness, code, 9)
    assert h["estimated_count"] >= 1 and h["count"] == h["valid_count"] + h["estimated_count"]
    # the actual replaces the estimate, even with the very same value, and the roll-up follows
    await harness.store([(code, Q, T0 + 900 * 9, est[0]["value"])])
    got = {(g["t"] - T0) // 900: g for g in await harness.readings(code, Q)}
    assert (got[9]["origin"], got[9]["quality"], got[9]["version"]) == (0, 0, 2)
    h2 = await hour(harness, code, 9)
    assert h2["estimated_count"] == h["estimated_count"] - 1 and h2["sum"] == pytest.approx(
        h["sum"]
    )
    assert await harness.estimate() == 0
