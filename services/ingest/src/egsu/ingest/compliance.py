"""Completeness and timeliness of submissions (R5): which intervals arrived, and when.

Each (point, local day) row holds two bit strings with one bit per interval of the day (UTC+05:00):
``received`` and ``late`` (received after the obligation's deadline). Batches OR their bits in, so
a repeated or out-of-order batch never counts twice and lateness is judged at the first arrival.
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import numpy as np

from egsu.core.errors import ServiceUnavailable
from egsu.ingest.points import PointDirectory, PointInfo

log = logging.getLogger("egsu.ingest.compliance")
LOCAL = 5 * 3600  # Kazakhstan: UTC+05:00
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Obligation:
    id: str
    subject_bin: str
    facility_id: str | None
    point_codes: tuple[str, ...]
    interval_min: int
    deadline_min: int
    valid_from: date
    valid_to: date | None

    def points(self, points: dict[str, PointInfo]) -> list[PointInfo]:
        if self.point_codes:
            return [points[c] for c in self.point_codes if c in points]
        return [
            p for p in points.values() if self.facility_id in (None, p.facility_id) and p.active
        ]


class ObligationDirectory:
    def __init__(self, registry: httpx.AsyncClient, ttl: float) -> None:
        self.registry = registry
        self.ttl = ttl
        self._cache: dict[str | None, tuple[float, list[Obligation]]] = {}

    def forget(self) -> None:
        self._cache.clear()

    async def of(self, subject_bin: str | None) -> list[Obligation]:
        hit = self._cache.get(subject_bin)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        out: list[Obligation] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 1000, "data_kind": "readings"}
            if subject_bin:
                params["subject_bin"] = subject_bin
            if cursor:
                params["cursor"] = cursor
            try:
                resp = await self.registry.get("/api/v1/registry/obligations", params=params)
                resp.raise_for_status()
            except httpx.HTTPError as exc:
                raise ServiceUnavailable(
                    "the registry cannot be reached for obligations", code="registry_unavailable"
                ) from exc
            body = resp.json()
            for o in body["items"]:
                out.append(
                    Obligation(
                        o["id"],
                        o["subject_bin"],
                        o["facility_id"],
                        tuple(o["point_codes"]),
                        o["interval_min"],
                        o["deadline_min"],
                        date.fromisoformat(o["valid_from"]),
                        date.fromisoformat(o["valid_to"]) if o["valid_to"] else None,
                    )
                )
            cursor = body.get("next_cursor")
            if not cursor:
                break
        self._cache[subject_bin] = (time.monotonic(), out)
        return out


def deadlines(
    obligations: list[Obligation], points: dict[str, PointInfo], default_min: int
) -> dict[str, int]:
    """Deadline in seconds after the interval's end, per point code (the strictest obligation wins)."""
    out: dict[str, int] = {}
    for o in obligations:
        for p in o.points(points):
            out[p.code] = min(out.get(p.code, o.deadline_min * 60), o.deadline_min * 60)
    return defaultdict(lambda: default_min * 60, out)


def arrival_rows(
    codes: list[str],
    intervals_s: list[int],
    point_idx: np.ndarray,
    ts: np.ndarray,
    received_at: float,
    deadline_s: np.ndarray,
    subject_bin: str,
) -> list[tuple[Any, ...]]:
    """(point_code, day, subject_bin, received bits, late bits) for every (point, local day) in a batch."""
    step = np.asarray(intervals_s, dtype=np.int64)[point_idx]
    start = ts.astype(np.int64) - step + LOCAL
    day = start // 86400
    slot = (start % 86400) // step
    late = received_at > ts + deadline_s[point_idx]
    order = np.lexsort((day, point_idx))
    pi, dy, sl, lt = point_idx[order], day[order], slot[order], late[order]
    bounds = np.flatnonzero(np.diff(pi) | np.diff(dy)) + 1
    rows = []
    for g in np.split(np.arange(len(pi)), bounds):
        if not len(g):
            continue
        p = int(pi[g[0]])
        n = 86400 // intervals_s[p]
        rec = np.zeros(n, dtype=np.uint8)
        lat = np.zeros(n, dtype=np.uint8)
        rec[sl[g]] = 1
        lat[sl[g][lt[g]]] = 1
        rows.append(
            (
                codes[p],
                EPOCH + timedelta(days=int(dy[g[0]])),
                subject_bin,
                asyncpg.BitString.frombytes(np.packbits(rec).tobytes(), n),
                asyncpg.BitString.frombytes(np.packbits(lat).tobytes(), n),
            )
        )
    return rows


UPSERT_ARRIVAL = """
INSERT INTO ingest.arrival AS a (point_code, day, subject_bin, received, late, updated_at)
VALUES ($1, $2, $3, $4, $5, now())
ON CONFLICT (point_code, day) DO UPDATE SET
  received = CASE WHEN length(a.received) = length(EXCLUDED.received)
                  THEN a.received | EXCLUDED.received ELSE EXCLUDED.received END,
  late = CASE WHEN length(a.late) = length(EXCLUDED.late)
              THEN a.late | (EXCLUDED.late & ~a.received) ELSE EXCLUDED.late END,
  updated_at = now()
"""


def bitstr(b: Any) -> str:
    """An asyncpg BitString (or None) as a plain string of 0 and 1."""
    if b is None:
        return ""
    return b.as_string().replace(" ", "") if hasattr(b, "as_string") else str(b)


def _bits(b: Any, upto: int | None = None) -> int:
    s = bitstr(b)
    return (s[:upto] if upto is not None else s).count("1")


async def report(
    conn: asyncpg.Connection,
    directory: PointDirectory,
    obligations: list[Obligation],
    day_from: date,
    day_to: date,
    now: datetime,
) -> list[dict[str, Any]]:
    """Per subject: expected, received and late intervals over the period, up to what is due by now."""
    by_subject: dict[str, list[Obligation]] = defaultdict(list)
    for o in obligations:
        by_subject[o.subject_bin].append(o)
    out = []
    now_s = now.timestamp()
    for bin_, obs in sorted(by_subject.items()):
        points = await directory.of_subject(bin_)
        expected = received = late = 0
        plan: dict[str, tuple[PointInfo, int, date, date]] = {}
        for o in obs:
            lo = max(day_from, o.valid_from)
            hi = min(day_to, o.valid_to or day_to)
            for p in o.points(points):
                if lo <= hi:
                    prev = plan.get(p.code)
                    deadline = (
                        o.deadline_min * 60 if prev is None else min(prev[1], o.deadline_min * 60)
                    )
                    plan[p.code] = (
                        p,
                        deadline,
                        min(lo, prev[2]) if prev else lo,
                        max(hi, prev[3]) if prev else hi,
                    )
        if not plan:
            continue
        rows = await conn.fetch(
            "SELECT point_code, day, received, late FROM ingest.arrival "
            "WHERE point_code = ANY($1::text[]) AND day BETWEEN $2 AND $3",
            list(plan),
            day_from,
            day_to,
        )
        got = {(r["point_code"], r["day"]): r for r in rows}
        for code, (p, deadline, lo, hi) in plan.items():
            n = 86400 // p.interval_s
            d = lo
            while d <= hi:
                day_start = (d - EPOCH).days * 86400 - LOCAL
                # slots whose deadline has passed by now
                due = int(np.clip((now_s - deadline - day_start) // p.interval_s, 0, n))
                expected += due
                r = got.get((code, d))
                if r is not None and due:
                    received += _bits(r["received"], due)
                    late += _bits(r["late"], due)
                d += timedelta(days=1)
        completeness = received / expected if expected else 1.0
        late_share = late / received if received else 0.0
        status = "ok"
        if completeness < 0.99:
            status = "incomplete"
        elif late_share > 0.05:
            status = "late"
        out.append(
            {
                "subject_bin": bin_,
                "points": len(plan),
                "expected": expected,
                "received": received,
                "missing": expected - received,
                "late": late,
                "completeness": round(completeness, 4),
                "late_share": round(late_share, 4),
                "status": status,
            }
        )
    return out


async def overdue_now(
    conn: asyncpg.Connection, directory: PointDirectory, obs: list[Obligation], now: datetime
) -> tuple[int, int, datetime | None]:
    """(expected points, missing points, interval end) for the latest interval whose deadline passed."""
    points = await directory.of_subject(obs[0].subject_bin)
    today = now.date()
    want: dict[str, tuple[PointInfo, int]] = {}
    for o in obs:
        if o.valid_from > today or (o.valid_to and o.valid_to < today):
            continue
        for p in o.points(points):
            want[p.code] = (
                p,
                min(want.get(p.code, (p, o.deadline_min * 60))[1], o.deadline_min * 60),
            )
    if not want:
        return 0, 0, None
    missing = 0
    latest_end = None
    keys = []
    for code, (p, deadline) in want.items():
        end = (int(now.timestamp()) - deadline) // p.interval_s * p.interval_s
        start_local = end - p.interval_s + LOCAL
        keys.append(
            (
                code,
                EPOCH + timedelta(days=start_local // 86400),
                (start_local % 86400) // p.interval_s,
            )
        )
        latest_end = max(latest_end or end, end)
    rows = await conn.fetch(
        "SELECT point_code, day, received FROM ingest.arrival WHERE point_code = ANY($1::text[]) AND day = ANY($2::date[])",
        [k[0] for k in keys],
        list({k[1] for k in keys}),
    )
    got = {(r["point_code"], r["day"]): r["received"] for r in rows}
    for code, day, slot in keys:
        s = bitstr(got.get((code, day)))
        if slot >= len(s) or s[slot] != "1":
            missing += 1
    return len(want), missing, datetime.fromtimestamp(latest_end, UTC) if latest_end else None
