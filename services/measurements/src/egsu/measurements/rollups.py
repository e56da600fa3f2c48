"""Roll-ups that follow every change of a current reading: point hours and group deltas.

A change is (old current value and quality, if any) → (new current value and quality). Hours
that only gain readings are updated by increments; hours where a current value was replaced are
recomputed exactly from the current readings. Group totals (facility, subject, region, country)
receive deltas that one flusher folds into ``group_hour``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import asyncpg
import numpy as np

from egsu.measurements.catalog import GROUPED, POWER, Catalog
from egsu.measurements.quality import EDITED, ESTIMATED, SUSPECT, VALID

COUNTRY = "KZ"


@dataclass
class Changes:
    pid: np.ndarray
    qid: np.ndarray
    ts: np.ndarray  # seconds
    old_exists: np.ndarray
    old_value: np.ndarray
    old_quality: np.ndarray
    new_value: np.ndarray
    new_quality: np.ndarray

    def __len__(self) -> int:
        return len(self.pid)

    @classmethod
    def concat(cls, parts: list[Changes]) -> Changes:
        parts = [p for p in parts if len(p)]
        if not parts:
            z = np.zeros(0, np.int64)
            return cls(z, z, np.zeros(0), np.zeros(0, bool), np.zeros(0), z, np.zeros(0), z)
        return cls(
            **{k: np.concatenate([getattr(p, k) for p in parts]) for k in cls.__dataclass_fields__}
        )


def _delta(q: int, ch: Changes) -> np.ndarray:
    return (ch.new_quality == q).astype(np.int32) - (ch.old_exists & (ch.old_quality == q)).astype(
        np.int32
    )


async def apply(conn: asyncpg.Connection, catalog: Catalog, ch: Changes) -> None:
    """Bring point hours and group deltas in line with the changes (inside the caller's transaction)."""
    if not len(ch):
        return
    old = np.where(ch.old_exists, ch.old_value, 0.0)
    d_sum = ch.new_value - old
    d_count = (~ch.old_exists).astype(np.int32)
    d_q = {q: _delta(q, ch) for q in (VALID, SUSPECT, ESTIMATED, EDITED)}
    ts = ch.ts.astype(np.float64)
    hour = (np.floor((ts - 1) / 3600) * 3600).astype(np.int64)
    await _point_hours(conn, ch.pid, ch.qid, hour, ch.new_value, d_sum, d_count, d_q, ch.old_exists)
    await _group_deltas(conn, catalog, ch.pid, ch.qid, hour, ch.new_value, old, d_count, d_q[VALID])


async def _point_hours(
    conn: asyncpg.Connection,
    pid: np.ndarray,
    qid: np.ndarray,
    hour: np.ndarray,
    val: np.ndarray,
    d_sum: np.ndarray,
    d_count: np.ndarray,
    d_q: dict[int, np.ndarray],
    replaced: np.ndarray,
) -> None:
    order = np.lexsort((hour, qid, pid))
    p, q, h = pid[order], qid[order], hour[order]
    bounds = np.flatnonzero((np.diff(p) != 0) | (np.diff(q) != 0) | (np.diff(h) != 0)) + 1
    starts = np.concatenate(([0], bounds))
    s_sum = np.add.reduceat(d_sum[order], starts)
    s_count = np.add.reduceat(d_count[order], starts)
    s_q = {k: np.add.reduceat(a[order], starts) for k, a in d_q.items()}
    s_min = np.minimum.reduceat(val[order], starts)
    s_max = np.maximum.reduceat(val[order], starts)
    dirty = np.maximum.reduceat(replaced[order].astype(np.int8), starts).astype(bool)
    clean = ~dirty
    if clean.any():
        await conn.execute(
            """
            INSERT INTO measurements.point_hour AS ph (point_id, quantity_id, hour, sum, count, valid_count, min, max,
                                                      suspect_count, estimated_count, edited_count)
            SELECT p, q, to_timestamp(h), s, c, v, mn, mx, su, es, ed
            FROM unnest($1::int[], $2::int2[], $3::float8[], $4::float8[], $5::int[], $6::int[], $7::float8[],
                        $8::float8[], $9::int[], $10::int[], $11::int[])
                 AS k(p, q, h, s, c, v, mn, mx, su, es, ed)
            ON CONFLICT (point_id, quantity_id, hour) DO UPDATE SET
              sum = ph.sum + EXCLUDED.sum, count = ph.count + EXCLUDED.count,
              valid_count = ph.valid_count + EXCLUDED.valid_count,
              suspect_count = ph.suspect_count + EXCLUDED.suspect_count,
              estimated_count = ph.estimated_count + EXCLUDED.estimated_count,
              edited_count = ph.edited_count + EXCLUDED.edited_count,
              min = LEAST(ph.min, EXCLUDED.min), max = GREATEST(ph.max, EXCLUDED.max)
            """,
            p[starts][clean].tolist(),
            q[starts][clean].tolist(),
            h[starts][clean].astype(np.float64).tolist(),
            s_sum[clean].tolist(),
            s_count[clean].tolist(),
            s_q[VALID][clean].tolist(),
            s_min[clean].tolist(),
            s_max[clean].tolist(),
            s_q[SUSPECT][clean].tolist(),
            s_q[ESTIMATED][clean].tolist(),
            s_q[EDITED][clean].tolist(),
        )
    if dirty.any():
        await recompute_point_hours(conn, p[starts][dirty], q[starts][dirty], h[starts][dirty])


async def recompute_point_hours(
    conn: asyncpg.Connection, pid: np.ndarray, qid: np.ndarray, hour: np.ndarray
) -> None:
    """Recompute hour roll-ups exactly from the current readings (after a value was replaced)."""
    await conn.execute(
        """
        INSERT INTO measurements.point_hour AS ph (point_id, quantity_id, hour, sum, count, valid_count, min, max,
                                                  suspect_count, estimated_count, edited_count)
        SELECT k.p, k.q, to_timestamp(k.h), coalesce(sum(r.value), 0), count(r.value),
               count(r.value) FILTER (WHERE r.quality = 0), min(r.value), max(r.value),
               count(r.value) FILTER (WHERE r.quality = 1), count(r.value) FILTER (WHERE r.quality = 3),
               count(r.value) FILTER (WHERE r.quality = 4)
        FROM unnest($1::int[], $2::int2[], $3::float8[]) AS k(p, q, h)
        LEFT JOIN measurements.reading r
          ON r.point_id = k.p AND r.quantity_id = k.q AND r.current
         AND r.ts > to_timestamp(k.h) AND r.ts <= to_timestamp(k.h + 3600)
        GROUP BY k.p, k.q, k.h
        ON CONFLICT (point_id, quantity_id, hour) DO UPDATE SET
          sum = EXCLUDED.sum, count = EXCLUDED.count, valid_count = EXCLUDED.valid_count,
          min = EXCLUDED.min, max = EXCLUDED.max, suspect_count = EXCLUDED.suspect_count,
          estimated_count = EXCLUDED.estimated_count, edited_count = EXCLUDED.edited_count
        """,
        pid.tolist(),
        qid.tolist(),
        hour.astype(np.float64).tolist(),
    )


async def _group_deltas(
    conn: asyncpg.Connection,
    catalog: Catalog,
    pid: np.ndarray,
    qid: np.ndarray,
    hour: np.ndarray,
    new: np.ndarray,
    old: np.ndarray,
    d_count: np.ndarray,
    d_valid: np.ndarray,
) -> None:
    codes = catalog.quantity_codes
    grouped_q = [q for q in np.unique(qid).tolist() if codes.get(q) in GROUPED]
    if not grouped_q:
        return
    mask = np.isin(qid, grouped_q)
    # weights: energy adds up; a power reading adds its share of the hour's mean
    weight = np.ones(len(pid))
    power_q = [q for q in grouped_q if codes[q] in POWER]
    if power_q:
        sel = np.isin(qid, power_q)
        ids, inv = np.unique(pid[sel], return_inverse=True)
        minutes = np.asarray([catalog.by_id[int(x)].interval_min for x in ids], np.float64)
        weight[sel] = minutes[inv] / 60
    delta = (new - old) * weight
    # aggregate per point first, then fan out to the levels
    sel = np.flatnonzero(mask)
    order = sel[np.lexsort((hour[sel], qid[sel], pid[sel]))]
    p, q, h = pid[order], qid[order], hour[order]
    bounds = np.flatnonzero((np.diff(p) != 0) | (np.diff(q) != 0) | (np.diff(h) != 0)) + 1
    starts = np.concatenate(([0], bounds))
    s_d = np.add.reduceat(delta[order], starts)
    s_c = np.add.reduceat(d_count[order], starts)
    s_v = np.add.reduceat(d_valid[order], starts)
    acc: dict[tuple[int, str, int, int], list[float]] = defaultdict(lambda: [0.0, 0, 0])
    for j, st in enumerate(starts.tolist()):  # per point and hour, not per reading
        point = catalog.by_id[int(p[st])]
        for level, key in (
            (1, point.facility_id),
            (2, point.subject_bin),
            (3, point.region_kato),
            (4, COUNTRY),
        ):
            a = acc[(level, key, int(q[st]), int(h[st]))]
            a[0] += float(s_d[j])
            a[1] += int(s_c[j])
            a[2] += int(s_v[j])
    items = sorted(acc.items())
    await conn.execute(
        """
        INSERT INTO measurements.group_delta (level, key, quantity_id, hour, sum, count, valid_count)
        SELECT l, k, q, to_timestamp(h), s, c, v
        FROM unnest($1::int2[], $2::text[], $3::int2[], $4::float8[], $5::float8[], $6::int[], $7::int[])
             AS x(l, k, q, h, s, c, v)
        """,
        [k[0] for k, _ in items],
        [k[1] for k, _ in items],
        [k[2] for k, _ in items],
        [float(k[3]) for k, _ in items],
        [v[0] for _, v in items],
        [v[1] for _, v in items],
        [v[2] for _, v in items],
    )


FLUSH = """
WITH d AS (DELETE FROM measurements.group_delta RETURNING level, key, quantity_id, hour, sum, count, valid_count)
INSERT INTO measurements.group_hour AS g (level, key, quantity_id, hour, sum, count, valid_count)
SELECT level, key, quantity_id, hour, sum(sum), sum(count), sum(valid_count) FROM d
GROUP BY level, key, quantity_id, hour
ORDER BY level, key, quantity_id, hour
ON CONFLICT (level, key, quantity_id, hour) DO UPDATE SET
  sum = g.sum + EXCLUDED.sum, count = g.count + EXCLUDED.count, valid_count = g.valid_count + EXCLUDED.valid_count
"""


async def flush_group_deltas(conn: asyncpg.Connection) -> int:
    """Fold pending group changes into the group roll-ups (one flusher at a time)."""
    async with conn.transaction():
        if not await conn.fetchval(
            "SELECT pg_try_advisory_xact_lock(hashtext('measurements.group_flush'))"
        ):
            return 0
        status = await conn.execute(FLUSH)
    return int(status.split()[-1])
