"""Failure risk and root cause (R14): pure functions over series, journals and alarms.

**Risk of failure** of a device or a facility is a score from 0 to 100 that combines independent
signs, each mapped to a probability-like weight ``p`` in [0, 1]; the score is
``100 · (1 − Π (1 − p))`` so that one strong sign or several weak ones raise it:

- drift: the last week's output against the three weeks before it (a sustained fall, as before a
  failure, or a rise), and its trend over two weeks (Theil–Sen slope);
- voltage: the mean voltage's deviation from nominal and its change;
- journals: meter and SCADA events (trips, power losses, tampering, clock settings) in the window,
  weighted by their kind and severity;
- alarms: monitoring's alarms by severity (when monitoring is deployed);
- metrology: an overdue or soon due verification of the instrument.

The weights are stated here and returned with every factor, so a score can be read and argued
with; they are a transparent rule, not a model fitted on failures (the System has no labelled
failure history yet).

**Root cause** of an incident: the anomalies (robust z-scores against the same hour of the days
before) and the journal events and alarms on related objects — the same point, the same facility,
facilities on the same feeder, the same subject — before it, ranked by relation, strength and
how shortly they preceded it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
from scipy import stats

from egsu.forecast.texts import message

# Journal events and their weight as signs of trouble (others: 0.05).
EVENT_WEIGHTS = {
    "equipment_trip": 0.6,
    "protection_trip": 0.6,
    "breaker_trip": 0.5,
    "emergency_shutdown": 0.7,
    "power_loss": 0.35,
    "magnetic_field": 0.3,
    "cover_opened": 0.25,
    "clock_set": 0.05,
    "power_restored": 0.0,
    "cover_closed": 0.0,
    "magnetic_field_end": 0.0,
    "channel_switch": 0.02,
}
SEVERITY_WEIGHTS = {
    "emergency": 0.7,
    "critical": 0.6,
    "major": 0.35,
    "minor": 0.15,
    "warning": 0.08,
}
RELATION_WEIGHTS = {
    "same_point": 1.0,
    "same_facility": 0.85,
    "same_feeder": 0.6,
    "same_subject": 0.4,
}
LEAD_SCALE_H = 6.0  # events this many hours before an incident count e⁻¹ as much


def _combine(ps: Iterable[float]) -> float:
    return 1.0 - math.prod(1.0 - min(max(p, 0.0), 1.0) for p in ps)


def level_of(score: float) -> str:
    return (
        "critical"
        if score >= 75
        else "high"
        if score >= 50
        else "elevated"
        if score >= 25
        else "low"
    )


@dataclass
class Factor:
    name: str
    value: float | None
    weight: float
    detail: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {
            "factor": self.name,
            "value": None
            if self.value is None or not math.isfinite(self.value)
            else round(self.value, 4),
            "weight": round(self.weight, 4),
            "detail": self.detail,
            "message": message(f"risk.{self.name}", **self.detail),
        }


def drift(daily: np.ndarray) -> Factor | None:
    """Output drift from daily totals (oldest first, NaN for missing days; 28 days best)."""
    x = np.asarray(daily, dtype=np.float64)
    if np.isfinite(x).sum() < 10:
        return None
    recent, before = x[-7:], x[-28:-7]
    r, b = recent[np.isfinite(recent)], before[np.isfinite(before)]
    if r.size < 3 or b.size < 5:
        return None
    base = float(np.median(b))
    if not base > 0:
        return None
    change = float(np.mean(r) / base - 1)
    last = x[-14:]
    ok = np.isfinite(last)
    slope = 0.0
    if ok.sum() >= 7:
        slope = float(stats.theilslopes(last[ok], np.flatnonzero(ok))[0] / base)
    spread = float(stats.median_abs_deviation(b, scale="normal") / base) if b.size >= 5 else 0.0
    # A change counts beyond the days' own spread: 30 % past it weighs fully.
    excess = max(0.0, abs(change) - 2 * spread)
    weight = min(1.0, excess / 0.3) * (1.0 if change < 0 else 0.6)
    weight = max(weight, min(1.0, max(0.0, -slope * 14 - 2 * spread) / 0.3) * 0.8)
    return Factor(
        "drift",
        change,
        weight,
        {
            "change_pct": round(change * 100, 2),
            "slope_pct_per_day": round(slope * 100, 3),
            "spread_pct": round(spread * 100, 2),
        },
    )


def voltage(daily_mean: np.ndarray, nominal: float | None) -> Factor | None:
    """Deviation of the mean voltage from nominal over the last week, and its change."""
    if not nominal:
        return None
    x = np.asarray(daily_mean, dtype=np.float64)
    recent = x[-7:][np.isfinite(x[-7:])]
    before = x[:-7][np.isfinite(x[:-7])]
    if recent.size < 2:
        return None
    deviation = float(np.mean(recent) / nominal - 1)
    change = float(np.mean(recent) / np.mean(before) - 1) if before.size >= 3 else 0.0
    weight = max(min(1.0, max(0.0, abs(deviation) - 0.02) / 0.08), min(1.0, abs(change) / 0.05))
    return Factor(
        "voltage",
        deviation,
        weight,
        {"deviation_pct": round(deviation * 100, 2), "change_pct": round(change * 100, 2)},
    )


def journal(events: Sequence[Mapping[str, Any]], days: float) -> Factor | None:
    """Trips, losses and tampering in the meter and SCADA journals."""
    if not events:
        return Factor("events", 0.0, 0.0, {"count": 0, "by_code": {}})
    counts: dict[str, int] = {}
    ps = []
    for e in events:
        code = str(e.get("code") or "")
        counts[code] = counts.get(code, 0) + 1
        w = EVENT_WEIGHTS.get(code, 0.05)
        w = max(w, SEVERITY_WEIGHTS.get(str(e.get("severity") or "").lower(), 0.0))
        ps.append(w * 0.6)  # one event is a sign, several make it likely
    weight = _combine(ps)
    return Factor(
        "events",
        float(len(events)),
        weight,
        {"count": len(events), "by_code": counts, "days": days},
    )


def alarm_history(alarms: Sequence[Mapping[str, Any]] | None) -> Factor | None:
    """Monitoring's alarms by severity; None when monitoring is not deployed."""
    if alarms is None:
        return None
    counts: dict[str, int] = {}
    ps = []
    for a in alarms:
        sev = str(a.get("severity") or "warning")
        counts[sev] = counts.get(sev, 0) + 1
        if a.get("category") in ("equipment", "process", "metrology", None):
            ps.append(SEVERITY_WEIGHTS.get(sev, 0.05) * 0.5)
    return Factor(
        "alarms", float(len(alarms)), _combine(ps), {"count": len(alarms), "by_severity": counts}
    )


def verification(due: date | None, today: date) -> Factor | None:
    if due is None:
        return None
    days = (due - today).days
    weight = 0.5 if days < 0 else 0.15 if days <= 30 else 0.0
    return Factor("verification", float(days), weight, {"due": due.isoformat(), "days_left": days})


def score(factors: Iterable[Factor | None]) -> dict[str, Any]:
    present = [f for f in factors if f is not None]
    value = 100 * _combine(f.weight for f in present)
    return {
        "score": round(value, 1),
        "level": level_of(value),
        "label": message(f"level.{level_of(value)}"),
        "factors": [f.as_dict() for f in sorted(present, key=lambda f: -f.weight)],
    }


# --------------------------------------------------------------------------- root cause


def anomalies(
    times: Sequence[int], values: np.ndarray, step_s: int, since: int, threshold: float = 4.0
) -> list[dict[str, Any]]:
    """Steps at or after ``since`` that stand out against the same time of day before.

    The reference of a step is the median and the scaled MAD of the same time of day over the
    days before ``since``; a robust z-score beyond ``threshold``, or a drop to zero where the
    reference is clearly positive, is an anomaly.
    """
    t = np.asarray(times, dtype=np.int64)
    x = np.asarray(values, dtype=np.float64)
    per_day = max(1, 86400 // step_s)
    slot = ((t + 5 * 3600) // step_s) % per_day
    ref = t < since
    out = []
    for k in np.flatnonzero(~ref & np.isfinite(x)):
        same = ref & (slot == slot[k]) & np.isfinite(x)
        sample = x[same]
        if sample.size < 3:
            continue
        median = float(np.median(sample))
        mad = float(stats.median_abs_deviation(sample, scale="normal"))
        scale = max(mad, 0.02 * abs(median), 1e-9)
        z = (x[k] - median) / scale
        dropped = median > 0 and x[k] <= 0.02 * median
        if abs(z) >= threshold or dropped:
            out.append(
                {
                    "ts": int(t[k]),
                    "value": float(x[k]),
                    "expected": median,
                    "z": round(float(z), 2) if math.isfinite(z) else None,
                    "strength": min(1.0, abs(z) / (2 * threshold)) if not dropped else 1.0,
                    "kind": "drop_to_zero" if dropped else ("spike" if z > 0 else "dip"),
                }
            )
    return out


def rank(
    candidates: Sequence[dict[str, Any]], incident_ts: int, limit: int = 50
) -> list[dict[str, Any]]:
    """Candidates (with ``ts``, ``relation`` and ``strength``) before the incident, best first."""
    ranked = []
    for c in candidates:
        lead = incident_ts - int(c["ts"])
        if lead < 0:
            continue
        proximity = math.exp(-lead / 3600 / LEAD_SCALE_H)
        value = RELATION_WEIGHTS.get(c["relation"], 0.3) * float(c["strength"]) * proximity
        ranked.append({**c, "lead_s": lead, "score": round(value, 4)})
    ranked.sort(key=lambda c: (-c["score"], c["lead_s"]))
    return ranked[:limit]


def iso(ts: int) -> str:
    from datetime import UTC

    return datetime.fromtimestamp(ts, UTC).isoformat()
