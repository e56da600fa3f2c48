"""The live state in memory: per point its newest measurement time, latest values, status and
channel; recent values by measurement time (for rules that look back); learned seasonal baselines.

The status rules (against the point's own interval and its facility's criticality, never a
global timeout):

* a point turns **inactive** when ``missed_allowed + allowance`` intervals have passed since its
  newest measurement time (or since monitoring learned of it, if it never reported); only the
  passing of time does this (the sweep);
* it turns **active** again only when data arrives whose measurement time is recent enough by the
  same rule. A late backfill of old intervals fills the history but does not make a silent point
  active; a measurement time later than its receipt is capped at the receipt time.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson

from egsu.monitoring.directory import PointInfo

LOCAL = timedelta(hours=5)
SLOTS = 48  # local hour of day × (working day, weekend)
WINDOW_S = 30 * 3600


@dataclass(slots=True)
class PointLive:
    code: str
    known_since: float
    status: str = "pending"  # pending | active | inactive | unmonitored
    status_since: float = 0.0
    last_ts: float | None = None
    last_received_at: float | None = None
    values: dict[str, tuple[float, float]] = field(default_factory=dict)  # q -> (ts, value)
    channel: str | None = None
    channel_since: float | None = None
    dirty: bool = False


def limit_s(p: PointInfo, allowance: float) -> float:
    """How long a point may be silent before it is inactive."""
    return (p.missed_allowed + allowance) * p.interval_min * 60.0


def missed_intervals(p: PointInfo, live: PointLive, at: float, allowance: float) -> int:
    base = live.last_ts if live.last_ts is not None else live.known_since
    return max(0, math.floor((at - base) / (p.interval_min * 60.0) - allowance))


class LiveTable:
    def __init__(self, allowance: float) -> None:
        self.allowance = allowance
        self.points: dict[str, PointLive] = {}

    def get(self, code: str, now: float) -> PointLive:
        live = self.points.get(code)
        if live is None:
            live = self.points[code] = PointLive(code, known_since=now, status_since=now)
            live.dirty = True
        return live

    def load(self, rows: list[dict[str, Any]]) -> None:
        for r in rows:
            values = {
                q: (float(x[0]), float(x[1])) for q, x in (r["values"] or {}).items() if len(x) == 2
            }
            self.points[r["code"]] = PointLive(
                r["code"],
                known_since=r["known_since"].timestamp(),
                status=r["status"],
                status_since=r["status_since"].timestamp(),
                last_ts=r["last_ts"].timestamp() if r["last_ts"] else None,
                last_received_at=r["last_received_at"].timestamp()
                if r["last_received_at"]
                else None,
                values=values,
                channel=r["channel"],
                channel_since=r["channel_since"].timestamp() if r["channel_since"] else None,
            )

    def arrived(
        self, p: PointInfo, newest_ts: float, oldest_ts: float, received_at: float, now: float
    ) -> tuple[PointLive, bool]:
        """Data for a point came; (its state, whether it just turned active)."""
        live = self.get(p.code, now)
        # the point has been known since its registration or its oldest data, whichever is first
        live.known_since = min(live.known_since, oldest_ts - p.interval_min * 60)
        newer = live.last_ts is None or newest_ts > live.last_ts
        if newer:
            live.last_ts = newest_ts
        if live.last_received_at is None or received_at > live.last_received_at:
            live.last_received_at = received_at
        live.dirty = True
        turned = False
        # only data newer than anything seen, and recent, ends a silence: old backfill does not
        recent = newer and now - newest_ts < limit_s(p, self.allowance)
        if p.monitored and live.status != "active" and recent:
            live.status, live.status_since, turned = "active", now, True
        return live, turned

    def due_inactive(self, p: PointInfo, live: PointLive, at: float) -> float | None:
        """When the point turned inactive, if it has by ``at`` and is not marked so yet."""
        if not p.monitored or live.status == "inactive":
            return None
        base = live.last_ts if live.last_ts is not None else live.known_since
        deadline = base + limit_s(p, self.allowance)
        return deadline if at >= deadline else None


class Windows:
    """Recent values of the quantities rules look at, by measurement time."""

    def __init__(self) -> None:
        self.data: dict[tuple[str, str], dict[int, float]] = {}
        self._trim_at: dict[tuple[str, str], int] = {}

    def put(self, code: str, q: str, ts: list[int], values: list[float]) -> dict[int, float]:
        key = (code, q)
        w = self.data.get(key)
        if w is None:
            w = self.data[key] = {}
        w.update(zip(ts, values, strict=True))
        if len(w) > self._trim_at.get(key, 256):
            newest = max(w)
            for t in [t for t in w if t < newest - WINDOW_S]:
                del w[t]
            self._trim_at[key] = len(w) + 256
        return w

    def get(self, code: str, q: str) -> dict[int, float]:
        return self.data.get((code, q), {})

    def dump(self) -> bytes:
        return zlib.compress(
            orjson.dumps(
                [[c, q, list(w.keys()), list(w.values())] for (c, q), w in self.data.items()]
            ),
            3,
        )

    def restore(self, blob: bytes) -> None:
        for c, q, ts, vs in orjson.loads(zlib.decompress(blob)):
            self.data[(c, q)] = dict(zip(ts, vs, strict=True))


def slots_of(ts: np.ndarray) -> np.ndarray:
    """Seasonal slot of each interval (by its start, local time): hour of day, working day or not."""
    local = ts - 1 + LOCAL.total_seconds()
    hour = (local // 3600) % 24
    weekday = ((local // 86400) + 3) % 7  # 1970-01-01 was a Thursday (3)
    return (hour + 24 * (weekday >= 5)).astype(np.int64)


def local_day(ts: float) -> int:
    """The local day (days since 1970-01-01, UTC+05:00) an interval ending at ``ts`` belongs to."""
    return int((ts - 1 + LOCAL.total_seconds()) // 86400)


class Baselines:
    """Per point and quantity: an exponentially weighted mean and mean absolute deviation per
    seasonal slot, learned from the point's own history as it streams in (abnormal values are
    left out so a fault does not teach itself)."""

    def __init__(self, alpha_min: float = 0.1) -> None:
        self.alpha_min = alpha_min
        self.data: dict[tuple[str, str], np.ndarray] = {}

    def get(self, code: str, q: str) -> np.ndarray:
        b = self.data.get((code, q))
        if b is None:
            b = self.data[(code, q)] = np.zeros((3, SLOTS))
        return b

    def learn(self, code: str, q: str, slots: np.ndarray, values: np.ndarray) -> None:
        """Fold a batch of values into the slots' means and deviations (vectorised: the k values
        of one slot weigh like k steps of the exponential average)."""
        b = self.get(code, q)
        k = np.bincount(slots, minlength=SLOTS).astype(np.float64)
        seen = k > 0
        if not seen.any():
            return
        mean, dev, n = b[0], b[1], b[2]
        bmean = np.bincount(slots, weights=values, minlength=SLOTS)[seen] / k[seen]
        fresh = seen & (n == 0)
        # deviation of the batch around the mean it is compared with
        ref = np.where(n == 0, 0.0, mean)
        ref[seen & fresh] = bmean[fresh[seen]]
        bdev = (
            np.bincount(slots, weights=np.abs(values - ref[slots]), minlength=SLOTS)[seen] / k[seen]
        )
        nn = n[seen] + k[seen]
        a = np.maximum(1.0 / nn, self.alpha_min)
        a_eff = np.where(n[seen] == 0, 1.0, 1.0 - (1.0 - a) ** k[seen])
        mean[seen] += a_eff * (bmean - mean[seen])
        dev[seen] += a_eff * (bdev - dev[seen])
        n[seen] = nn

    def dump(self) -> bytes:
        return zlib.compress(
            orjson.dumps([[c, q, b.tolist()] for (c, q), b in self.data.items()]), 3
        )

    def restore(self, blob: bytes) -> None:
        for c, q, b in orjson.loads(zlib.decompress(blob)):
            self.data[(c, q)] = np.asarray(b, dtype=np.float64)


def dt(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None
