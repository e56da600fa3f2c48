"""The write path with VEE: flags, estimates and roll-ups stored in one transaction."""

from __future__ import annotations

import numpy as np

from .conftest import Harness

T0 = 1_780_000_200 // 900 * 900  # 2026-05-28, a quarter-hour boundary


def day(n: int = 96, base: float = 10.0) -> np.ndarray:
    i = np.arange(n)
    return np.round(base + 3 * np.sin(i / 96 * 2 * np.pi) + 0.2 * np.cos(i * 1.7), 3)


async def test_spike_is_kept_as_a_version_and_estimated(harness: Harness) -> None:
    code = harness.point(quantities=["active_import"], max_power_kw=1000)
    v = day()
    v[40] = 95.0
    rows = [(code, "active_import", T0 + 900 * (i + 1), float(x)) for i, x in enumerate(v)]
    res = await harness.store(rows)
    assert res.inserted == 96
    got = await harness.readings(code, "active_import", all_versions=True)
    at = [g for g in got if g["t"] == T0 + 900 * 41]
    assert [(g["value"], g["current"], g["origin"]) for g in at][0] == (95.0, False, 0)
    est = at[1]
    assert est["current"] and est["origin"] == 1 and est["quality"] == 3
    assert abs(est["value"] - (v[39] + v[41]) / 2) < 1e-6
