"""Rules over one ingest batch: which (rule, object) pairs had abnormal readings or events, and
whether the condition holds at the newest measurement time known.

Readings are judged by measurement time, not arrival order: the window of recent values decides
"N consecutive intervals", "change from the previous interval" and "the day's total", and the
condition "now" is the condition at the newest interval known, so a late abnormal value raises an
alarm that is already over, and a late normal value does not clear a current one.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from egsu.monitoring.directory import PointInfo
from egsu.monitoring.rules import Rule
from egsu.monitoring.state import Baselines, Windows, local_day, slots_of

ROBUST = 1.25  # mean absolute deviation → standard deviation (normal errors)


def level(b: np.ndarray) -> float:
    """The typical size of a point's values (mean over its learned slots), the floor of a band."""
    seen = b[2] > 0
    return float(np.mean(np.abs(b[0][seen]))) if seen.any() else 0.0


@dataclass
class Signal:
    """What one rule says about one object after a batch or a sweep."""

    rule: Rule
    object_type: str
    object_id: str
    subject_bin: str | None
    facility_id: str | None = None
    facility_type: str | None = None
    region_kato: str | None = None
    point_code: str | None = None
    quantity: str | None = None
    occurrences: list[float] = field(default_factory=list)  # measurement times, abnormal
    active: bool = False  # the condition holds at the newest time known
    value: float | None = None
    limit: float | None = None
    args: dict[str, Any] = field(default_factory=dict)
    late: bool = False

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.rule.id, self.object_type, self.object_id)


def point_signal(rule: Rule, p: PointInfo, **kw: Any) -> Signal:
    return Signal(
        rule,
        "point",
        p.code,
        p.subject_bin,
        facility_id=p.facility_id,
        facility_type=p.facility_type,
        region_kato=p.region_kato,
        point_code=p.code,
        **kw,
    )


def _band_limits(rule: Rule, p: PointInfo) -> tuple[float, float, float] | None:
    """(low, high, interruption) for a band rule at a point, or None when it has no nominal."""
    prm = rule.parsed
    ref = prm.reference
    if ref == "nominal_voltage":
        nominal = p.nominal_voltage
        tol = prm.tolerance_pct or float(p.norms.get("voltage_tolerance_pct", 10.0))
    elif ref == "frequency_nominal":
        nominal = float(p.norms.get("frequency_nominal_hz", 50.0))
        tol = prm.tolerance_pct or 0.4
    else:
        nominal = float(ref)
        tol = prm.tolerance_pct or 10.0
    if not nominal:
        return None
    lo = nominal * (1 - tol / 100) if prm.side in ("low", "both") else -math.inf
    hi = nominal * (1 + tol / 100) if prm.side in ("high", "both") else math.inf
    return lo, hi, nominal * prm.interruption_pct / 100


def _norm(rule: Rule, p: PointInfo, q: str) -> float | None:
    prm = rule.parsed
    if prm.norm is not None:
        return float(prm.norm)
    if prm.period == "interval":
        return p.norms.get("interval_energy_kwh") if q != "heat_energy" else None
    return p.norms.get("heat_daily_gcal") if q == "heat_energy" else p.norms.get("daily_energy_kwh")


class Evaluator:
    def __init__(self, windows: Windows, baselines: Baselines, min_samples: int) -> None:
        self.windows = windows
        self.baselines = baselines
        self.min_samples = min_samples

    # -- the condition of one value ------------------------------------------------------------

    def _abnormal(
        self, rule: Rule, p: PointInfo, q: str, ts: int, v: float
    ) -> tuple[bool, float | None, dict[str, Any]]:
        """Whether one value breaks the rule, the limit it broke, and what to say."""
        prm = rule.parsed
        k = rule.kind
        if k == "threshold":
            if prm.above is not None and v > prm.above:
                return True, prm.above, {"side": "high"}
            if prm.below is not None and v < prm.below:
                return True, prm.below, {"side": "low"}
            return False, None, {}
        if k == "band":
            lim = _band_limits(rule, p)
            if lim is None:
                return False, None, {}
            lo, hi, intr = lim
            if v < lo and v > intr:
                return True, lo, {"side": "low"}
            if v > hi:
                return True, hi, {"side": "high"}
            return False, None, {}
        if k == "above_norm" and prm.period == "interval":
            norm = _norm(rule, p, q)
            if norm and v > norm * (1 + prm.margin_pct / 100):
                return (
                    True,
                    norm,
                    {
                        "period_ru": "за интервал",
                        "period_kk": "интервалға",
                        "period_en": "per interval",
                    },
                )
            return False, None, {}
        if k == "anomaly":
            b = self.baselines.data.get((p.code, q))
            if b is None:
                return False, None, {}
            s = int(slots_of(np.asarray([float(ts)]))[0])
            if b[2, s] < self.min_samples:
                return False, None, {}
            exp, dev = b[0, s], b[1, s]
            band = max(prm.k * ROBUST * dev, prm.min_rel * max(abs(exp), level(b)), 1e-9)
            low, high = v < exp - band, v > exp + band
            hit = (low and prm.direction in ("low", "both")) or (
                high and prm.direction in ("high", "both")
            )
            return (
                bool(hit),
                exp - band if low else exp + band,
                {"expected": exp, "side": "low" if low else "high"},
            )
        if k == "rate_of_change":
            w = self.windows.get(p.code, q)
            prev = w.get(ts - p.interval_min * 60)
            if prev is None:
                return False, None, {}
            d = abs(v - prev)
            if prm.max_delta is not None and d > prm.max_delta:
                return True, prm.max_delta, {"delta": d}
            if prm.max_delta_pct is not None and prev and d > abs(prev) * prm.max_delta_pct / 100:
                return True, abs(prev) * prm.max_delta_pct / 100, {"delta": d}
            return False, None, {}
        return False, None, {}

    def _sustained(self, rule: Rule, p: PointInfo, q: str, ts: int) -> bool:
        n = getattr(rule.parsed, "for_intervals", 1)
        if n <= 1:
            return True
        w = self.windows.get(p.code, q)
        step = p.interval_min * 60
        for j in range(1, n):
            t = ts - j * step
            v = w.get(t)
            if v is None or not self._abnormal(rule, p, q, t, v)[0]:
                return False
        return True

    def _now_condition(
        self, rule: Rule, p: PointInfo, quantities: list[str]
    ) -> tuple[bool, float | None]:
        """Whether the condition holds at the newest interval known for the rule's quantities."""
        newest: int | None = None
        for q in quantities:
            w = self.windows.get(p.code, q)
            if w:
                newest = max(newest or 0, max(w))
        if newest is None:
            return False, None
        for q in quantities:
            v = self.windows.get(p.code, q).get(newest)
            if (
                v is not None
                and self._abnormal(rule, p, q, newest, v)[0]
                and self._sustained(rule, p, q, newest)
            ):
                return True, float(newest)
        return False, float(newest)

    # -- a batch ---------------------------------------------------------------------------------

    def readings(
        self,
        rules_of: dict[str, list[Rule]],
        points: dict[str, PointInfo],
        groups: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]],
        open_keys: set[tuple[str, str, str]],
        received_at: float,
    ) -> list[Signal]:
        """Signals from the readings of a batch; ``groups`` maps (point, quantity) to (ts, values)
        sorted by ts, already merged into the windows."""
        out: list[Signal] = []
        by_point: dict[str, list[tuple[str, np.ndarray, np.ndarray]]] = defaultdict(list)
        for (code, q), (ts, vs) in groups.items():
            by_point[code].append((q, ts, vs))
        for code, series in by_point.items():
            p = points[code]
            for rule in rules_of.get(code, ()):
                if rule.kind not in (
                    "threshold",
                    "band",
                    "rate_of_change",
                    "above_norm",
                    "anomaly",
                ):
                    continue
                qs = rule.quantities or ["active_import"]
                mine = [(q, ts, vs) for q, ts, vs in series if q in qs]
                if not mine:
                    continue
                if rule.kind == "above_norm" and rule.parsed.period == "day":
                    sig = self._daily_norm(rule, p, mine)
                else:
                    sig = self._values(rule, p, mine, received_at)
                if sig is None:
                    if (rule.id, "point", code) not in open_keys:
                        continue
                    now_bad, _ = self._now_condition(rule, p, qs)
                    sig = point_signal(rule, p, active=now_bad)
                out.append(sig)
        return out

    def _values(
        self,
        rule: Rule,
        p: PointInfo,
        series: list[tuple[str, np.ndarray, np.ndarray]],
        received_at: float,
    ) -> Signal | None:
        hits: list[tuple[int, str, float, float | None, dict[str, Any]]] = []
        for q, ts, vs in series:
            cand = self._candidates(rule, p, q, ts, vs)
            for i in cand:
                t, v = int(ts[i]), float(vs[i])
                bad, lim, extra = self._abnormal(rule, p, q, t, v)
                if bad and self._sustained(rule, p, q, t):
                    hits.append((t, q, v, lim, extra))
        if not hits:
            return None
        qs = rule.quantities or ["active_import"]
        now_bad, _ = self._now_condition(rule, p, qs)
        t, q, v, lim, extra = max(hits, key=lambda h: h[0])
        late = received_at - t > 2 * p.interval_min * 60
        return point_signal(
            rule,
            p,
            quantity=q,
            occurrences=sorted({h[0] for h in hits}),
            active=now_bad,
            value=v,
            limit=lim,
            args={"quantity": q, "value": v, "limit": lim, **extra},
            late=late,
        )

    def _candidates(
        self, rule: Rule, p: PointInfo, q: str, ts: np.ndarray, vs: np.ndarray
    ) -> np.ndarray:
        """Indexes worth judging one by one: a vectorised first cut."""
        k, prm = rule.kind, rule.parsed
        if k == "threshold":
            m = np.zeros(len(vs), bool)
            if prm.above is not None:
                m |= vs > prm.above
            if prm.below is not None:
                m |= vs < prm.below
            return np.flatnonzero(m)
        if k == "band":
            lim = _band_limits(rule, p)
            if lim is None:
                return np.empty(0, np.int64)
            lo, hi, intr = lim
            return np.flatnonzero(((vs < lo) & (vs > intr)) | (vs > hi))
        if k == "above_norm":
            norm = _norm(rule, p, q)
            if not norm:
                return np.empty(0, np.int64)
            return np.flatnonzero(vs > norm * (1 + prm.margin_pct / 100))
        if k == "anomaly":
            b = self.baselines.data.get((p.code, q))
            if b is None:
                return np.empty(0, np.int64)
            s = slots_of(ts)
            exp, dev, n = b[0, s], b[1, s], b[2, s]
            floor = prm.min_rel * np.maximum(np.abs(exp), level(b))
            band = np.maximum(np.maximum(prm.k * ROBUST * dev, floor), 1e-9)
            return np.flatnonzero((n >= self.min_samples) & (np.abs(vs - exp) > band))
        return np.arange(len(vs))

    def _daily_norm(
        self, rule: Rule, p: PointInfo, series: list[tuple[str, np.ndarray, np.ndarray]]
    ) -> Signal | None:
        occurrences: list[float] = []
        best: tuple[float, float, str, int] | None = None
        prm = rule.parsed
        newest_day: dict[str, int] = {}
        for q, ts, _ in series:
            norm = _norm(rule, p, q)
            if not norm:
                continue
            w = self.windows.get(p.code, q)
            if w:
                newest_day[q] = local_day(max(w))
            for day in sorted({local_day(float(t)) for t in ts.tolist()}):
                total = sum(v for t, v in w.items() if local_day(t) == day)
                if total > norm * (1 + prm.margin_pct / 100):
                    end = max(t for t in w if local_day(t) == day)
                    occurrences.append(float(end))
                    if best is None or end > best[3]:
                        best = (total, norm, q, end)
        if best is None:
            return None
        total, norm, q, _ = best
        # the condition holds now while the newest day known is over its norm
        now_bad = False
        for qq, day in newest_day.items():
            w = self.windows.get(p.code, qq)
            nn = _norm(rule, p, qq)
            if nn and sum(v for t, v in w.items() if local_day(t) == day) > nn * (
                1 + prm.margin_pct / 100
            ):
                now_bad = True
        return point_signal(
            rule,
            p,
            quantity=q,
            occurrences=sorted(set(occurrences)),
            active=now_bad,
            value=total,
            limit=norm,
            args={"quantity": q, "value": total, "limit": norm},
        )

    def learn(
        self,
        groups: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]],
        anomaly_qs: set[str],
        rules_of: dict[str, list[Rule]],
        points: dict[str, PointInfo],
    ) -> None:
        """Teach the baselines the batch's normal values (those the anomaly rule did not flag)."""
        for (code, q), (ts, vs) in groups.items():
            if q not in anomaly_qs:
                continue
            p = points[code]
            rules = [r for r in rules_of.get(code, ()) if r.kind == "anomaly" and q in r.quantities]
            keep = np.ones(len(vs), bool)
            for r in rules:
                bad = self._candidates(r, p, q, ts, vs)
                keep[bad] = False
            if keep.any():
                self.baselines.learn(code, q, slots_of(ts[keep]), vs[keep])
