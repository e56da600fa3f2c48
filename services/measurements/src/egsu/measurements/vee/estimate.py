"""Estimation of gaps and rejected intervals.

Anchors are the nearest usable actual readings around the hole (never an estimate, an edit or a
failing reading). A hole up to ``linear_max_minutes`` long is interpolated on a straight line
between its anchors; a longer one, up to ``estimate_max_hours``, takes the same times of a
similar day (a week back, then two weeks back, then the day before) scaled so that the similar
day's anchors match ours. Registers are always interpolated (they are cumulative). Holes that are
longer, or have no anchors, stay missing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from egsu.measurements.vee import rules as R
from egsu.measurements.vee.engine import KEY_SHIFT, Frame, Series, Verdict, series_keys

LINEAR, PROFILE, FLAT = 0, 1, 2
METHODS = {LINEAR: "linear", PROFILE: "similar_day", FLAT: "flat"}
PROFILE_LAGS_S = (7 * 86400, 14 * 86400, 86400)
SCALE_LIMITS = (0.25, 4.0)


@dataclass
class Targets:
    """Intervals to estimate, with their anchors; ``value`` is NaN until estimated."""

    s: np.ndarray
    ts: np.ndarray
    reason: np.ndarray  # rule bits that made the interval need an estimate
    replaces: np.ndarray  # frame row of the rejected actual, or -1 for a gap
    gap: np.ndarray  # index into verdict.gaps of a gap slot, or -1
    left_ts: np.ndarray
    left_v: np.ndarray
    right_ts: np.ndarray
    right_v: np.ndarray
    value: np.ndarray
    method: np.ndarray
    lag_s: np.ndarray
    scale: np.ndarray

    def __len__(self) -> int:
        return len(self.s)

    def take(self, idx: np.ndarray) -> Targets:
        return Targets(**{k: getattr(self, k)[idx] for k in self.__dataclass_fields__})

    def details(self, i: int) -> dict[str, object]:
        """The numbers behind estimate ``i``, for explain."""
        d: dict[str, object] = {"method": METHODS[int(self.method[i])]}
        if self.left_ts[i] >= 0:
            d["left_ts"] = int(self.left_ts[i])
            d["left_value"] = round(float(self.left_v[i]), 6)
        if self.right_ts[i] >= 0:
            d["right_ts"] = int(self.right_ts[i])
            d["right_value"] = round(float(self.right_v[i]), 6)
        if self.method[i] == PROFILE:
            d["profile_lag_days"] = int(self.lag_s[i]) // 86400
            d["scale"] = round(float(self.scale[i]), 6)
        return d


def _empty() -> Targets:
    z = np.zeros(0, np.int64)
    f = np.zeros(0)
    return Targets(z, z, z, z, z, z, f, z, f, f, z, z, f)


def targets(f: Frame, ser: Series, verdict: Verdict, gaps: bool = True) -> Targets:
    """Every interval the verdict leaves without a usable value: rejected readings and (unless
    ``gaps`` is false) the slots of the gaps it found."""
    n = len(f)
    if not n:
        return _empty()
    bits = verdict.bits
    usable = f.actual & f.ok & ((bits & R.FAILING_MASK) == 0)
    ar = np.arange(n)
    last_usable = np.maximum.accumulate(np.where(usable, ar, -1))
    first_usable = np.minimum.accumulate(np.where(usable, ar, n)[::-1])[::-1]

    # gap slots
    g = verdict.gaps
    limit_s = (ser.estimate_max_hours * 3600).astype(np.int64)
    fill = (g.missing * ser.step[g.s] <= limit_s[g.s]) & gaps
    gidx = np.flatnonzero(fill)
    gs, gl, gr, gm = g.s[fill], g.left[fill], g.right[fill], g.missing[fill]
    slot_gap = np.repeat(np.arange(len(gs)), gm)
    within = np.arange(len(slot_gap)) - np.repeat(np.cumsum(gm) - gm, gm)
    slot_s = gs[slot_gap]
    slot_ts = f.ts[gl][slot_gap] + (within + 1) * ser.step[slot_s]
    slot_l = last_usable[gl][slot_gap]
    slot_r = first_usable[gr][slot_gap]

    # rejected actuals of this batch
    rej = np.flatnonzero(f.batch & f.actual & ((bits & R.REJECT_MASK) != 0))
    rej_l = np.where(rej > 0, last_usable[np.maximum(rej - 1, 0)], -1)
    rej_r = np.where(rej < n - 1, first_usable[np.minimum(rej + 1, n - 1)], n)

    s = np.concatenate((slot_s, f.s[rej]))
    ts = np.concatenate((slot_ts, f.ts[rej]))
    left = np.concatenate((slot_l, rej_l))
    right = np.concatenate((slot_r, rej_r))
    reason = np.concatenate(
        (np.full(len(slot_s), R.GAP, np.int64), bits[rej] & (R.REJECT_MASK | R.FAILING_MASK))
    )
    replaces = np.concatenate((np.full(len(slot_s), -1, np.int64), rej))
    gap = np.concatenate((gidx[slot_gap], np.full(len(rej), -1, np.int64)))
    has_l = (left >= 0) & (f.s[np.clip(left, 0, n - 1)] == s)
    has_r = (right < n) & (f.s[np.clip(right, 0, n - 1)] == s)
    li, ri = np.clip(left, 0, n - 1), np.clip(right, 0, n - 1)
    m = len(s)
    return Targets(
        s=s,
        ts=ts,
        reason=reason,
        replaces=replaces,
        gap=gap,
        left_ts=np.where(has_l, f.ts[li], -1),
        left_v=np.where(has_l, f.v[li], np.nan),
        right_ts=np.where(has_r, f.ts[ri], -1),
        right_v=np.where(has_r, f.v[ri], np.nan),
        value=np.full(m, np.nan),
        method=np.full(m, -1, np.int64),
        lag_s=np.zeros(m, np.int64),
        scale=np.ones(m),
    )


def linear(t: Targets, ser: Series) -> Targets:
    """Fill what straight lines (and flat repeats at a series' end) can; the rest stays NaN."""
    if not len(t):
        return t
    step = ser.step[t.s]
    both = (t.left_ts >= 0) & (t.right_ts >= 0)
    span = np.where(both, t.right_ts - t.left_ts, 0)
    missing_s = span - step
    lin_max = (ser.linear_max_minutes[t.s] * 60).astype(np.int64)
    est_max = (ser.estimate_max_hours[t.s] * 3600).astype(np.int64)
    register = ser.is_register[t.s]
    lin = both & ((missing_s <= lin_max) | (register & (missing_s <= est_max)))
    lv, rv = t.left_v, t.right_v.copy()
    limit = ser.reg_limit[t.s]
    wrap = register & (rv < lv) & ~np.isnan(limit)
    rv = np.where(wrap, rv + limit, rv)
    frac = (t.ts - t.left_ts) / np.maximum(span, 1)
    val = lv + (rv - lv) * frac
    val = np.where(wrap, np.mod(val, np.where(np.isnan(limit), 1.0, limit)), val)
    t.value = np.where(lin, val, t.value)
    t.method = np.where(lin, LINEAR, t.method)
    # a rejected reading at the end of a series: repeat the last usable value for a short while
    flat = (
        ~lin
        & (t.left_ts >= 0)
        & (t.right_ts < 0)
        & ~register
        & (t.ts - t.left_ts <= lin_max)
        & (t.replaces >= 0)
    )
    t.value = np.where(flat, t.left_v, t.value)
    t.method = np.where(flat, FLAT, t.method)
    return t


def profile_keys(t: Targets, ser: Series) -> tuple[np.ndarray, np.ndarray]:
    """Series and times whose values the similar-day method needs (targets still NaN)."""
    need = _needs_profile(t, ser)
    if not need.any():
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    s = t.s[need]
    parts_s, parts_t = [], []
    for lag in PROFILE_LAGS_S:
        for col in (t.ts[need], t.left_ts[need], t.right_ts[need]):
            parts_s.append(s)
            parts_t.append(col - lag)
    ks = np.concatenate(parts_s)
    kt = np.concatenate(parts_t)
    key = np.unique(series_keys(ks, kt))
    return key >> KEY_SHIFT, key & ((1 << KEY_SHIFT) - 1)


def _needs_profile(t: Targets, ser: Series) -> np.ndarray:
    both = (t.left_ts >= 0) & (t.right_ts >= 0)
    missing_s = t.right_ts - t.left_ts - ser.step[t.s]
    est_max = (ser.estimate_max_hours[t.s] * 3600).astype(np.int64)
    return np.isnan(t.value) & both & (missing_s <= est_max) & ~ser.is_register[t.s]


def profile(
    t: Targets, ser: Series, key_s: np.ndarray, key_ts: np.ndarray, values: np.ndarray
) -> Targets:
    """Fill holes from a similar day: ``values`` at (key_s, key_ts), NaN where nothing is stored."""
    need = np.flatnonzero(_needs_profile(t, ser))
    if not len(need) or not len(key_s):
        return t
    keys = series_keys(key_s, key_ts)
    order = np.argsort(keys)
    keys, vals = keys[order], np.asarray(values, np.float64)[order]

    def at(s: np.ndarray, ts: np.ndarray) -> np.ndarray:
        want = series_keys(s, ts)
        j = np.clip(np.searchsorted(keys, want), 0, len(keys) - 1)
        return np.where(keys[j] == want, vals[j], np.nan)

    s = t.s[need]
    done = np.zeros(len(need), bool)
    lo, hi = SCALE_LIMITS
    for lag in PROFILE_LAGS_S:
        p = at(s, t.ts[need] - lag)
        pl = at(s, t.left_ts[need] - lag)
        pr = at(s, t.right_ts[need] - lag)
        ok = ~done & ~np.isnan(p) & ~np.isnan(pl) & ~np.isnan(pr)
        denom = pl + pr
        num = t.left_v[need] + t.right_v[need]
        scale = np.where(np.abs(denom) > 1e-12, num / np.where(denom == 0, 1, denom), 1.0)
        scale = np.clip(scale, lo, hi)
        idx = need[ok]
        t.value[idx] = p[ok] * scale[ok]
        t.method[idx] = PROFILE
        t.lag_s[idx] = lag
        t.scale[idx] = scale[ok]
        done |= ok
    return t


def targets_for_range(f: Frame, ser: Series, s: int, slots: np.ndarray, reason: int) -> Targets:
    """Targets for the given times of series ``s``, anchored outside them (a re-estimate)."""
    m = len(slots)
    usable = f.actual & f.ok & (f.s == s)
    rows = np.flatnonzero(usable)
    key = f.ts[rows]
    lo, hi = int(slots.min()), int(slots.max())
    li = np.searchsorted(key, lo, side="left") - 1  # last usable before the first slot
    ri = np.searchsorted(key, hi, side="right")  # first usable after the last slot
    has_l = li >= 0
    has_r = ri < len(rows)
    lrow = rows[li] if has_l else -1
    rrow = rows[ri] if has_r else -1
    return Targets(
        s=np.full(m, s, np.int64),
        ts=slots.astype(np.int64),
        reason=np.full(m, reason, np.int64),
        replaces=np.full(m, -1, np.int64),
        gap=np.full(m, -1, np.int64),
        left_ts=np.full(m, f.ts[lrow] if has_l else -1, np.int64),
        left_v=np.full(m, f.v[lrow] if has_l else np.nan),
        right_ts=np.full(m, f.ts[rrow] if has_r else -1, np.int64),
        right_v=np.full(m, f.v[rrow] if has_r else np.nan),
        value=np.full(m, np.nan),
        method=np.full(m, -1, np.int64),
        lag_s=np.zeros(m, np.int64),
        scale=np.ones(m),
    )
