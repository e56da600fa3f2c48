"""The SQL that feeds the VEE engine and keeps what it finds.

Bulk reads return one row of arrays (``array_agg``), which asyncpg decodes in C and numpy takes
as is: no Python code runs per reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg
import numpy as np
import orjson

from egsu.measurements.vee.engine import OUTAGE_END, OUTAGE_START, STAT_FIELDS

OUTAGE_CODES = sorted(OUTAGE_START | OUTAGE_END)


@dataclass
class Rows:
    """Current readings as columns; ``i`` is the caller's series number."""

    i: np.ndarray
    ts: np.ndarray
    value: np.ndarray
    version: np.ndarray
    quality: np.ndarray
    rules: np.ndarray
    origin: np.ndarray

    @classmethod
    def of(cls, r: asyncpg.Record | None) -> Rows:
        if r is None or r[0] is None:
            z = np.zeros(0, np.int64)
            return cls(z, z, np.zeros(0), z, z, z, z)
        return cls(
            np.asarray(r[0], np.int64),
            np.rint(np.asarray(r[1], np.float64)).astype(np.int64),
            np.asarray(r[2], np.float64),
            np.asarray(r[3], np.int64),
            np.asarray(r[4], np.int64),
            np.asarray(r[5], np.int64),
            np.asarray(r[6], np.int64),
        )

    def __len__(self) -> int:
        return len(self.i)


AGG = """SELECT array_agg(i), array_agg(t), array_agg(value), array_agg(version), array_agg(quality),
       array_agg(rules), array_agg(origin) FROM ({inner}) x"""

CONTEXT = AGG.format(
    inner="""
    SELECT k.i, extract(epoch FROM r.ts) AS t, r.value, r.version, r.quality, r.rules, r.origin
    FROM unnest($1::int[], $2::int2[], $3::float8[], $4::float8[], $5::int[]) AS k(p, q, a, b, i)
    JOIN measurements.reading r
      ON r.point_id = k.p AND r.quantity_id = k.q AND r.current
     AND r.ts > to_timestamp(k.a) AND r.ts <= to_timestamp(k.b)
    UNION ALL
    SELECT k.i, extract(epoch FROM x.ts), x.value, x.version, x.quality, x.rules, x.origin
    FROM unnest($1::int[], $2::int2[], $3::float8[], $6::float8[], $5::int[]) AS k(p, q, a, lb, i)
    CROSS JOIN LATERAL (
      SELECT r.ts, r.value, r.version, r.quality, r.rules, r.origin FROM measurements.reading r
      WHERE r.point_id = k.p AND r.quantity_id = k.q AND r.current
        AND r.ts <= to_timestamp(k.a) AND r.ts > to_timestamp(k.lb)
      ORDER BY r.ts DESC LIMIT 1
    ) x
    """
)


async def context(
    conn: asyncpg.Connection,
    pid: np.ndarray,
    qid: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
    lookback: np.ndarray,
) -> Rows:
    """Current readings of each series in (start, end], plus its last one in (lookback, start]."""
    if not len(pid):
        return Rows.of(None)
    return Rows.of(
        await conn.fetchrow(
            CONTEXT,
            pid.tolist(),
            qid.tolist(),
            start.astype(np.float64).tolist(),
            end.astype(np.float64).tolist(),
            list(range(len(pid))),
            lookback.astype(np.float64).tolist(),
        )
    )


LATEST_ACTUAL = """
SELECT array_agg(k.i), array_agg(x.value) FROM unnest($1::int[], $2::int2[], $3::float8[], $4::int[]) AS k(p, q, t, i)
CROSS JOIN LATERAL (
  SELECT r.value FROM measurements.reading r
  WHERE r.point_id = k.p AND r.quantity_id = k.q AND r.ts = to_timestamp(k.t) AND r.origin = 0
  ORDER BY r.version DESC LIMIT 1
) x
"""


async def latest_actual(
    conn: asyncpg.Connection, pid: np.ndarray, qid: np.ndarray, ts: np.ndarray
) -> np.ndarray:
    """The value of the latest actual version of each key (NaN where there is none)."""
    out = np.full(len(pid), np.nan)
    r = await _per_key(conn, LATEST_ACTUAL, pid, qid, ts)
    if r is not None:
        out[np.asarray(r[0], np.int64)] = np.asarray(r[1], np.float64)
    return out


async def _per_key(
    conn: asyncpg.Connection, sql: str, pid: np.ndarray, qid: np.ndarray, ts: np.ndarray
) -> asyncpg.Record | None:
    """One row of arrays for the keys (point, quantity, ts) numbered 0…n-1; None if none found."""
    if not len(pid):
        return None
    r = await conn.fetchrow(
        sql, pid.tolist(), qid.tolist(), ts.astype(np.float64).tolist(), list(range(len(pid)))
    )
    return r if r[0] is not None else None


CURRENT_RECEIVED = """
SELECT array_agg(k.i), array_agg(extract(epoch FROM b.received_at)), array_agg(m.maxv)
FROM unnest($1::int[], $2::int2[], $3::float8[], $4::int[]) AS k(p, q, t, i)
JOIN measurements.reading r
  ON r.point_id = k.p AND r.quantity_id = k.q AND r.ts = to_timestamp(k.t) AND r.current
LEFT JOIN measurements.batch b ON b.id = r.batch_id
CROSS JOIN LATERAL (
  SELECT max(x.version) AS maxv FROM measurements.reading x
  WHERE x.point_id = k.p AND x.quantity_id = k.q AND x.ts = to_timestamp(k.t)
) m
"""


async def current_received(
    conn: asyncpg.Connection, pid: np.ndarray, qid: np.ndarray, ts: np.ndarray, version: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For keys with a current version: when ingest received the batch that holds it (-inf where
    unknown) and the key's highest version (later, non-current versions may exist)."""
    received = np.full(len(pid), -np.inf)
    top = version.astype(np.int64, copy=True)
    r = await _per_key(conn, CURRENT_RECEIVED, pid, qid, ts)
    if r is not None:
        i = np.asarray(r[0], np.int64)
        received[i] = np.asarray([np.nan if x is None else x for x in r[1]], np.float64)
        top[i] = np.maximum(top[i], np.asarray(r[2], np.int64))
    return np.nan_to_num(received, nan=-np.inf), top


async def stored_stats(
    conn: asyncpg.Connection, pid: np.ndarray, qid: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Stored statistics per series (NaN rows where none) and their age in seconds (inf if none)."""
    stats = np.full((len(pid), len(STAT_FIELDS)), np.nan)
    age = np.full(len(pid), np.inf)
    if not len(pid):
        return stats, age
    r = await conn.fetchrow(
        """
        SELECT array_agg(k.i), array_agg(extract(epoch FROM now() - s.computed_at)), array_agg(s.n),
               array_agg(s.q05), array_agg(s.q25), array_agg(s.q50), array_agg(s.q75), array_agg(s.q95),
               array_agg(s.nonzero), array_agg(s.equal)
        FROM unnest($1::int[], $2::int2[], $3::int[]) AS k(p, q, i)
        JOIN measurements.vee_series s ON s.point_id = k.p AND s.quantity_id = k.q
        """,
        pid.tolist(),
        qid.tolist(),
        list(range(len(pid))),
    )
    if r[0] is None:
        return stats, age
    i = np.asarray(r[0], np.int64)
    age[i] = np.asarray(r[1], np.float64)
    for j in range(len(STAT_FIELDS)):
        stats[i, j] = np.asarray([np.nan if x is None else x for x in r[2 + j]], np.float64)
    return stats, age


async def history(
    conn: asyncpg.Connection,
    pid: np.ndarray,
    qid: np.ndarray,
    start: np.ndarray,
    end: np.ndarray,
) -> Rows:
    """Current valid actual readings of each series in its (start, end], for its statistics."""
    if not len(pid):
        return Rows.of(None)
    return Rows.of(
        await conn.fetchrow(
            AGG.format(
                inner="""
                SELECT k.i, extract(epoch FROM r.ts) AS t, r.value, r.version, r.quality, r.rules, r.origin
                FROM unnest($1::int[], $2::int2[], $3::int[], $4::float8[], $5::float8[]) AS k(p, q, i, a, b)
                JOIN measurements.reading r
                  ON r.point_id = k.p AND r.quantity_id = k.q AND r.current AND r.origin = 0
                 AND r.quality = 0 AND r.ts > to_timestamp(k.a) AND r.ts <= to_timestamp(k.b)
                """
            ),
            pid.tolist(),
            qid.tolist(),
            list(range(len(pid))),
            start.astype(np.float64).tolist(),
            end.astype(np.float64).tolist(),
        )
    )


async def save_stats(
    conn: asyncpg.Connection, pid: np.ndarray, qid: np.ndarray, stats: np.ndarray
) -> None:
    if not len(pid):
        return
    cols = [
        [None if np.isnan(x) else float(x) for x in stats[:, j]] for j in range(len(STAT_FIELDS))
    ]
    await conn.execute(
        """
        INSERT INTO measurements.vee_series AS s (point_id, quantity_id, computed_at, n, q05, q25, q50, q75, q95,
                                                 nonzero, equal)
        SELECT p, q, now(), n, a, b, c, d, e, nz, eq
        FROM unnest($1::int[], $2::int2[], $3::int[], $4::float8[], $5::float8[], $6::float8[], $7::float8[],
                    $8::float8[], $9::float8[], $10::float8[]) AS k(p, q, n, a, b, c, d, e, nz, eq)
        ON CONFLICT (point_id, quantity_id) DO UPDATE SET computed_at = now(), n = EXCLUDED.n,
          q05 = EXCLUDED.q05, q25 = EXCLUDED.q25, q50 = EXCLUDED.q50, q75 = EXCLUDED.q75, q95 = EXCLUDED.q95,
          nonzero = EXCLUDED.nonzero, equal = EXCLUDED.equal
        """,
        pid.tolist(),
        qid.tolist(),
        [int(x) if x == x else 0 for x in stats[:, 0]],
        *cols[1:],
    )


async def outage_events(
    conn: asyncpg.Connection, pids: list[int], start: float, end: float
) -> list[tuple[int, int, str]]:
    """Stored power-loss and restore events of the points in (start, end]."""
    if not pids:
        return []
    rows = await conn.fetch(
        """
        SELECT point_id, extract(epoch FROM ts)::float8, code FROM measurements.meter_event
        WHERE point_id = ANY($1::int[]) AND ts > to_timestamp($2) AND ts <= to_timestamp($3)
          AND code = ANY($4::text[])
        """,
        pids,
        start,
        end,
        OUTAGE_CODES,
    )
    return [(r[0], round(r[1]), r[2]) for r in rows]  # a handful per batch


async def day_sums(
    conn: asyncpg.Connection, pid: np.ndarray, qid: np.ndarray, start: np.ndarray, end: np.ndarray
) -> np.ndarray:
    """Sum of current readings of each series in [start, end) (a day's readings before the frame)."""
    out = np.zeros(len(pid))
    if not len(pid):
        return out
    r = await conn.fetchrow(
        """
        SELECT array_agg(k.i), array_agg(x.s) FROM unnest($1::int[], $2::int2[], $3::float8[], $4::float8[], $5::int[])
             AS k(p, q, a, b, i)
        CROSS JOIN LATERAL (
          SELECT coalesce(sum(r.value), 0) AS s FROM measurements.reading r
          WHERE r.point_id = k.p AND r.quantity_id = k.q AND r.current
            AND r.ts > to_timestamp(k.a) AND r.ts < to_timestamp(k.b)
        ) x
        """,
        pid.tolist(),
        qid.tolist(),
        start.astype(np.float64).tolist(),
        end.astype(np.float64).tolist(),
        list(range(len(pid))),
    )
    if r[0] is not None:
        out[np.asarray(r[0], np.int64)] = np.asarray(r[1], np.float64)
    return out


async def values_at(
    conn: asyncpg.Connection, pid: np.ndarray, qid: np.ndarray, ts: np.ndarray
) -> np.ndarray:
    """Current values at exact keys (NaN where none or not an actual valid reading)."""
    out = np.full(len(pid), np.nan)
    if not len(pid):
        return out
    r = await conn.fetchrow(
        """
        SELECT array_agg(k.i), array_agg(r.value)
        FROM unnest($1::int[], $2::int2[], $3::float8[], $4::int[]) AS k(p, q, t, i)
        JOIN measurements.reading r ON r.point_id = k.p AND r.quantity_id = k.q AND r.ts = to_timestamp(k.t)
         AND r.current AND r.origin = 0 AND r.quality = 0
        """,
        pid.tolist(),
        qid.tolist(),
        ts.astype(np.float64).tolist(),
        list(range(len(pid))),
    )
    if r[0] is not None:
        out[np.asarray(r[0], np.int64)] = np.asarray(r[1], np.float64)
    return out


async def save_findings(
    conn: asyncpg.Connection,
    pid: list[int],
    qid: list[int],
    ts: list[float],
    version: list[int],
    rules: list[int],
    detail: list[dict[str, Any]],
) -> None:
    """Keep the numbers behind rule hits; a later hit on the same version adds to the earlier ones."""
    if not pid:
        return
    await conn.execute(
        """
        INSERT INTO measurements.vee_finding AS f (point_id, quantity_id, ts, version, rules, detail)
        SELECT p, q, to_timestamp(t), v, r, d::jsonb
        FROM unnest($1::int[], $2::int2[], $3::float8[], $4::int2[], $5::int[], $6::text[]) AS k(p, q, t, v, r, d)
        ON CONFLICT (point_id, quantity_id, ts, version) DO UPDATE SET
          rules = f.rules | EXCLUDED.rules, detail = f.detail || EXCLUDED.detail
        """,
        pid,
        qid,
        ts,
        version,
        rules,
        [orjson.dumps(d).decode() for d in detail],
    )
