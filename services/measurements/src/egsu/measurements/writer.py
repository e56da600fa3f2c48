"""Storing a batch: new readings, new versions of changed ones, roll-ups; all in one transaction.

A reading whose point, quantity and time already hold the same value changes nothing, so a batch
delivered twice (or replayed from the archive) is stored once. A different value becomes a new
current version and the older one stays, marked superseded. Estimates (VEE) are versions too, so an
actual reading that arrives later replaces an estimate the same way.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import numpy as np

from egsu.measurements.catalog import GROUPED, POWER, Catalog, Point
from egsu.measurements.quality import VALID

LEVELS = (1, 2, 3, 4)  # facility, subject, region, country
COUNTRY = "KZ"


@dataclass
class Result:
    batch_id: int | None
    count: int = 0
    inserted: int = 0
    superseded: int = 0
    unchanged: int = 0
    ts_from: float | None = None
    ts_to: float | None = None
    points: list[str] = field(default_factory=list)
    quantities: list[str] = field(default_factory=list)
    events: int = 0
    duplicate_delivery: bool = False


def months_of(ts: np.ndarray) -> set[tuple[int, int]]:
    if not len(ts):
        return set()
    m = (ts.astype("datetime64[s]").astype("datetime64[M]")).astype(int)
    return {(1970 + int(x) // 12, int(x) % 12 + 1) for x in np.unique(m)}


def _dedup(
    pid: np.ndarray, qid: np.ndarray, ts: np.ndarray, val: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the batch to keep (drop exact repeats) and each kept reading's rank among its key's values."""
    order = np.lexsort((np.arange(len(ts)), ts, qid, pid))
    p, q, t, v = pid[order], qid[order], ts[order], val[order]
    same_key = np.zeros(len(order), dtype=bool)
    same_key[1:] = (p[1:] == p[:-1]) & (q[1:] == q[:-1]) & (t[1:] == t[:-1])
    if not same_key.any():
        return order, np.ones(len(order), dtype=np.int32)
    keep = []
    rank = []
    seen: list[float] = []
    for i in range(len(order)):
        if not same_key[i]:
            seen = []
        if v[i] in seen:
            continue
        seen.append(v[i])
        keep.append(order[i])
        rank.append(len(seen))
    return np.asarray(keep, dtype=np.int64), np.asarray(rank, dtype=np.int32)


async def store_batch(
    conn: asyncpg.Connection, catalog: Catalog, raw: dict[str, Any], msg_id: str
) -> Result:
    """Write one ingest batch inside the caller's transaction."""
    batch_id = await conn.fetchval(
        "INSERT INTO measurements.batch (msg_id, receipt_id, subject_bin, source, received_at, count, inserted, "
        "superseded, unchanged) VALUES ($1, $2, $3, $4, $5, $6, 0, 0, 0) ON CONFLICT (msg_id) DO NOTHING RETURNING id",
        msg_id,
        raw["receipt_id"],
        raw["subject_bin"],
        raw["source"],
        datetime.fromisoformat(raw["received_at"]),
        len(raw["ts"]),
    )
    if batch_id is None:
        return Result(batch_id=None, duplicate_delivery=True)
    res = Result(batch_id=batch_id, count=len(raw["ts"]))
    points = await catalog.point_ids(conn, raw["points"])
    qmap = await catalog.quantity_ids(conn, raw["quantity"])
    if res.count:
        await _store_readings(conn, catalog, raw, points, qmap, batch_id, res)
    if raw.get("events"):
        res.events = await _store_events(conn, catalog, raw, points, batch_id)
    await conn.execute(
        "UPDATE measurements.batch SET inserted = $2, superseded = $3, unchanged = $4 WHERE id = $1",
        batch_id,
        res.inserted,
        res.superseded,
        res.unchanged,
    )
    return res


async def _store_readings(
    conn: asyncpg.Connection,
    catalog: Catalog,
    raw: dict[str, Any],
    points: list[Point],
    qmap: dict[str, int],
    batch_id: int,
    res: Result,
) -> None:
    idx = np.asarray(raw["point_idx"], dtype=np.int64)
    pid_of = np.asarray([p.id for p in points], dtype=np.int32)
    pid = pid_of[idx]
    qcodes = raw["quantity"]
    qid = np.asarray([qmap[c] for c in qcodes], dtype=np.int16)
    ts = np.asarray(raw["ts"], dtype=np.float64)
    val = np.asarray(raw["value"], dtype=np.float64)
    skew = (
        np.asarray(raw["skew_s"], dtype=np.float32)
        if raw.get("skew_s")
        else np.zeros(len(ts), np.float32)
    )
    res.ts_from, res.ts_to = float(ts.min()), float(ts.max())
    res.points = sorted({p.code for p in points})
    res.quantities = sorted(set(qcodes))

    keep, rank = _dedup(pid, qid, ts, val)
    pid, qid, ts, val, skew = pid[keep], qid[keep], ts[keep], val[keep], skew[keep]
    n = len(keep)
    # the key's current version in the store, if any
    first = rank == 1
    fi = np.flatnonzero(first)
    rows = await conn.fetch(
        """
        SELECT k.i, r.version, r.value, r.quality
        FROM unnest($1::int[], $2::int2[], $3::float8[], $4::int[]) AS k(p, q, t, i)
        JOIN measurements.reading r
          ON r.point_id = k.p AND r.quantity_id = k.q AND r.ts = to_timestamp(k.t) AND r.current
        """,
        pid[fi].tolist(),
        qid[fi].tolist(),
        ts[fi].tolist(),
        fi.tolist(),
    )
    cur_version = np.zeros(n, dtype=np.int32)
    cur_value = np.full(n, np.nan)
    cur_quality = np.full(n, -1, dtype=np.int32)
    if rows:
        ii = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        cur_version[ii] = [r[1] for r in rows]
        cur_value[ii] = [r[2] for r in rows]
        cur_quality[ii] = [r[3] for r in rows]
    # spread each key's current version to its later ranks
    key_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))
    cur_version = cur_version[key_start]
    cur_value = cur_value[key_start]
    cur_quality = cur_quality[key_start]
    has_cur = cur_version > 0
    same_first = has_cur & first & (val == cur_value)
    skipped_before = (
        np.cumsum(same_first) - np.cumsum(same_first)[key_start] + same_first[key_start]
    )
    insert = ~same_first
    version = cur_version + rank - skipped_before
    # the last value of each key becomes current
    last = np.ones(n, dtype=bool)
    last[:-1] = key_start[1:] != key_start[:-1]
    current = insert & last
    res.unchanged = int(same_first.sum())
    res.inserted = int(insert.sum())
    # a key whose current version is replaced
    replaced_key = has_cur & last & insert
    res.superseded = int(replaced_key.sum()) + int((insert & ~last).sum())
    ins = np.flatnonzero(insert)
    if len(ins):
        await conn.execute(
            """
            INSERT INTO measurements.reading (point_id, quantity_id, ts, version, value, quality, current, skew_s,
                                              batch_id, superseded_at)
            SELECT p, q, to_timestamp(t), v, x, 0, c, NULLIF(s, 0), $9, CASE WHEN c THEN NULL ELSE now() END
            FROM unnest($1::int[], $2::int2[], $3::float8[], $4::int2[], $5::float8[], $6::bool[], $7::real[], $8::int[])
                 AS k(p, q, t, v, x, c, s, i)
            """,
            pid[ins].tolist(),
            qid[ins].tolist(),
            ts[ins].tolist(),
            version[ins].tolist(),
            val[ins].tolist(),
            current[ins].tolist(),
            skew[ins].tolist(),
            ins.tolist(),
            batch_id,
        )
    rk = np.flatnonzero(replaced_key)
    if len(rk):
        await conn.execute(
            """
            UPDATE measurements.reading r SET current = false, superseded_at = now()
            FROM unnest($1::int[], $2::int2[], $3::float8[], $4::int2[]) AS k(p, q, t, v)
            WHERE r.point_id = k.p AND r.quantity_id = k.q AND r.ts = to_timestamp(k.t) AND r.version = k.v
            """,
            pid[rk].tolist(),
            qid[rk].tolist(),
            ts[rk].tolist(),
            cur_version[rk].tolist(),
        )
    # roll-ups: what each key's current value changed by
    ch = np.flatnonzero(current)
    if not len(ch):
        return
    old = np.where(has_cur[ch], cur_value[ch], 0.0)
    new_key = ~has_cur[ch]
    old_valid = (cur_quality[ch] == VALID) & has_cur[ch]
    d_sum = val[ch] - old
    d_count = new_key.astype(np.int32)
    d_valid = 1 - old_valid.astype(
        np.int32
    )  # new versions are valid until validation says otherwise
    hour = (np.floor((ts[ch] - 1) / 3600) * 3600).astype(np.int64)
    await _point_hours(conn, pid[ch], qid[ch], hour, val[ch], d_sum, d_count, d_valid, has_cur[ch])
    await _group_deltas(conn, catalog, pid[ch], qid[ch], hour, val[ch], old, d_count, d_valid)


async def _point_hours(
    conn: asyncpg.Connection,
    pid: np.ndarray,
    qid: np.ndarray,
    hour: np.ndarray,
    val: np.ndarray,
    d_sum: np.ndarray,
    d_count: np.ndarray,
    d_valid: np.ndarray,
    replaced: np.ndarray,
) -> None:
    order = np.lexsort((hour, qid, pid))
    p, q, h = pid[order], qid[order], hour[order]
    bounds = np.flatnonzero((np.diff(p) != 0) | (np.diff(q) != 0) | (np.diff(h) != 0)) + 1
    starts = np.concatenate(([0], bounds))
    s_sum = np.add.reduceat(d_sum[order], starts)
    s_count = np.add.reduceat(d_count[order], starts)
    s_valid = np.add.reduceat(d_valid[order], starts)
    s_min = np.minimum.reduceat(val[order], starts)
    s_max = np.maximum.reduceat(val[order], starts)
    dirty = np.maximum.reduceat(replaced[order].astype(np.int8), starts).astype(bool)
    clean = ~dirty
    if clean.any():
        await conn.execute(
            """
            INSERT INTO measurements.point_hour AS ph (point_id, quantity_id, hour, sum, count, valid_count, min, max)
            SELECT p, q, to_timestamp(h), s, c, v, mn, mx
            FROM unnest($1::int[], $2::int2[], $3::float8[], $4::float8[], $5::int[], $6::int[], $7::float8[], $8::float8[])
                 AS k(p, q, h, s, c, v, mn, mx)
            ON CONFLICT (point_id, quantity_id, hour) DO UPDATE SET
              sum = ph.sum + EXCLUDED.sum, count = ph.count + EXCLUDED.count,
              valid_count = ph.valid_count + EXCLUDED.valid_count,
              min = LEAST(ph.min, EXCLUDED.min), max = GREATEST(ph.max, EXCLUDED.max)
            """,
            p[starts][clean].tolist(),
            q[starts][clean].tolist(),
            h[starts][clean].astype(np.float64).tolist(),
            s_sum[clean].tolist(),
            s_count[clean].tolist(),
            s_valid[clean].tolist(),
            s_min[clean].tolist(),
            s_max[clean].tolist(),
        )
    if dirty.any():
        await recompute_point_hours(conn, p[starts][dirty], q[starts][dirty], h[starts][dirty])


async def recompute_point_hours(
    conn: asyncpg.Connection, pid: np.ndarray, qid: np.ndarray, hour: np.ndarray
) -> None:
    """Recompute hour roll-ups exactly from the current readings (after a value was replaced)."""
    await conn.execute(
        """
        INSERT INTO measurements.point_hour AS ph (point_id, quantity_id, hour, sum, count, valid_count, min, max)
        SELECT k.p, k.q, to_timestamp(k.h), coalesce(sum(r.value), 0), count(r.value),
               count(r.value) FILTER (WHERE r.quality = 0), min(r.value), max(r.value)
        FROM unnest($1::int[], $2::int2[], $3::float8[]) AS k(p, q, h)
        LEFT JOIN measurements.reading r
          ON r.point_id = k.p AND r.quantity_id = k.q AND r.current
         AND r.ts > to_timestamp(k.h) AND r.ts <= to_timestamp(k.h + 3600)
        GROUP BY k.p, k.q, k.h
        ON CONFLICT (point_id, quantity_id, hour) DO UPDATE SET
          sum = EXCLUDED.sum, count = EXCLUDED.count, valid_count = EXCLUDED.valid_count,
          min = EXCLUDED.min, max = EXCLUDED.max
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
    acc: dict[tuple[int, str, int, int], list[float]] = defaultdict(lambda: [0.0, 0, 0])
    grouped_q = {q for q in np.unique(qid).tolist() if codes.get(q) in GROUPED}
    if not grouped_q:
        return
    mask = np.isin(qid, list(grouped_q))
    # weights: energy adds up; a power reading adds its share of the hour's mean
    weight = np.ones(len(pid))
    for q in grouped_q:
        if codes[q] in POWER:
            sel = qid == q
            weight[sel] = [catalog.by_id[int(x)].interval_min / 60 for x in pid[sel]]
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
    for j, st in enumerate(starts.tolist()):
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


async def _store_events(
    conn: asyncpg.Connection,
    catalog: Catalog,
    raw: dict[str, Any],
    points: list[Point],
    batch_id: int,
) -> int:
    codes = {p.code: p.id for p in points}
    evs = [e for e in raw["events"] if e["point"] in codes or e["point"] in catalog.points]
    if not evs:
        return 0
    ids = [codes.get(e["point"]) or catalog.points[e["point"]].id for e in evs]
    status = await conn.execute(
        """
        INSERT INTO measurements.meter_event (point_id, ts, code, text, severity, batch_id)
        SELECT p, to_timestamp(t), c, x, s, $6 FROM unnest($1::int[], $2::float8[], $3::text[], $4::text[], $5::text[])
             AS k(p, t, c, x, s)
        ON CONFLICT (point_id, ts, code) DO NOTHING
        """,
        ids,
        [e["ts"] for e in evs],
        [e["code"] for e in evs],
        [e.get("text") for e in evs],
        [e.get("severity") for e in evs],
        batch_id,
    )
    return int(status.split()[-1])


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


def utc(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None
