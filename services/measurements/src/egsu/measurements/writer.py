"""Storing a batch: validation, new readings and versions, estimates, roll-ups; one transaction.

A reading whose point, quantity and time already hold the same actual value changes nothing, so
a batch delivered twice (or replayed from the archive) is stored once. A different value becomes
a new current version and the older one stays, marked superseded. The last received wins: a batch
that ingest received before the one holding the current value (redelivered after a later
correction overtook it) adds its value as a superseded version and changes nothing else.

VEE runs inside the same transaction, over the batch and the current readings around it:
- every new version gets its rule bits and quality (``vee.rules``); the numbers behind each hit
  go to ``vee_finding``;
- a physically impossible reading (severity ``reject``) is kept as a superseded version and an
  estimate becomes current when its neighbours allow one;
- the gaps the batch reveals are estimated (linear, or from a similar day) up to the limit;
- an actual replaces an estimate even when the values are equal; an actual that arrives after a
  confirmed edit is kept as a version but the edit stays current;
- runs that the batch extends (stuck value, zero consumption) flag the earlier readings too.
Roll-ups follow whatever became current, so counts and quality shares always match the readings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import numpy as np

from egsu.contracts.readings import NOT_COMMERCIAL as FLAG_NOT_COMMERCIAL
from egsu.contracts.registry import PointIndexItem
from egsu.measurements import rollups, vee_io
from egsu.measurements.catalog import Catalog, Point
from egsu.measurements.points import series_spec
from egsu.measurements.quality import ACTUAL, EDIT, ESTIMATED, SUSPECT, VALID
from egsu.measurements.rollups import COUNTRY, Changes, flush_group_deltas
from egsu.measurements.vee import estimate as E
from egsu.measurements.vee import rules as R
from egsu.measurements.vee.config import HEAT_PAIRS, INTERVAL_OF, REGISTER_OF, RuleBook
from egsu.measurements.vee.engine import (
    LOCAL_OFFSET_S,
    Frame,
    Outages,
    Series,
    SeriesSpec,
    Verdict,
    series_keys,
    series_stats,
    validate,
)

__all__ = [
    "COUNTRY",
    "Result",
    "VeeInputs",
    "flush_group_deltas",
    "months_of",
    "store_batch",
    "utc",
]

RUN_RULES = R.STUCK | R.ZERO  # rules whose hits may reach back to readings stored before


@dataclass
class VeeInputs:
    """What VEE needs besides the readings: rules, the registry's view of the subject's points."""

    rulebook: RuleBook = field(default_factory=RuleBook)
    infos: dict[str, PointIndexItem] = field(default_factory=dict)
    stats_refresh_s: float = 6 * 3600
    stats_window_s: float = 72 * 3600


@dataclass
class Result:
    batch_id: int | None
    count: int = 0
    inserted: int = 0
    superseded: int = 0
    unchanged: int = 0
    flagged: int = 0
    estimated: int = 0
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


def dedup(
    pid: np.ndarray, qid: np.ndarray, ts: np.ndarray, val: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Readings to keep (exact repeats dropped), sorted by key and arrival; each one's rank among
    its key's distinct values, and whether its key had more than one value."""
    n = len(ts)
    ar = np.arange(n)
    o1 = np.lexsort((ar, val, ts, qid, pid))
    same = np.zeros(n, bool)
    same[1:] = (
        (pid[o1][1:] == pid[o1][:-1])
        & (qid[o1][1:] == qid[o1][:-1])
        & (ts[o1][1:] == ts[o1][:-1])
        & (val[o1][1:] == val[o1][:-1])
    )
    kept = o1[~same]
    order = kept[np.lexsort((kept, ts[kept], qid[kept], pid[kept]))]
    k = len(order)
    newkey = np.ones(k, bool)
    p, q, t = pid[order], qid[order], ts[order]
    newkey[1:] = (p[1:] != p[:-1]) | (q[1:] != q[:-1]) | (t[1:] != t[:-1])
    start = np.maximum.accumulate(np.where(newkey, np.arange(k), 0))
    rank = (np.arange(k) - start + 1).astype(np.int32)
    key_no = np.cumsum(newkey) - 1
    dup = np.bincount(key_no)[key_no] > 1
    return order, rank, dup


async def store_batch(
    conn: asyncpg.Connection,
    catalog: Catalog,
    raw: dict[str, Any],
    msg_id: str,
    vee: VeeInputs | None = None,
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
    events = 0
    if raw.get("events"):
        events = await _store_events(conn, catalog, raw, points, batch_id)
    if res.count:
        await _store_readings(conn, catalog, raw, points, qmap, batch_id, res, vee or VeeInputs())
    res.events = events
    await conn.execute(
        "UPDATE measurements.batch SET inserted = $2, superseded = $3, unchanged = $4 WHERE id = $1",
        batch_id,
        res.inserted,
        res.superseded,
        res.unchanged,
    )
    return res


def _pick(a: np.ndarray, j: np.ndarray, ok: np.ndarray, fill: float) -> np.ndarray:
    if not len(a):
        return np.full(len(j), fill, dtype=np.float64 if isinstance(fill, float) else np.int64)
    return np.where(ok, a[j], fill)


def _lookup(keys: np.ndarray, want: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of each wanted key in sorted ``keys`` and whether it is there."""
    if not len(keys):
        return np.zeros(len(want), np.int64), np.zeros(len(want), bool)
    j = np.clip(np.searchsorted(keys, want), 0, len(keys) - 1)
    return j, keys[j] == want


async def _store_readings(
    conn: asyncpg.Connection,
    catalog: Catalog,
    raw: dict[str, Any],
    points: list[Point],
    qmap: dict[str, int],
    batch_id: int,
    res: Result,
    vee: VeeInputs,
) -> None:
    idx = np.asarray(raw["point_idx"], dtype=np.int64)
    pid_of = np.asarray([p.id for p in points], dtype=np.int64)
    pid = pid_of[idx]
    qcodes, qinv = np.unique(np.asarray(raw["quantity"]), return_inverse=True)
    qid = np.asarray([qmap[str(c)] for c in qcodes], dtype=np.int64)[qinv]
    ts = np.rint(np.asarray(raw["ts"], dtype=np.float64)).astype(np.int64)
    val = np.asarray(raw["value"], dtype=np.float64)
    skew = np.asarray(raw["skew_s"], dtype=np.float64) if raw.get("skew_s") else np.zeros(len(ts))
    not_commercial = (
        (np.asarray(raw["flags"], dtype=np.int64) & FLAG_NOT_COMMERCIAL) != 0
        if raw.get("flags")
        else np.zeros(len(ts), bool)
    )
    res.ts_from, res.ts_to = float(ts.min()), float(ts.max())
    res.points = sorted({p.code for p in points})
    res.quantities = sorted(str(c) for c in qcodes)
    received_at = datetime.fromisoformat(raw["received_at"]).timestamp()

    keep, rank, dup = dedup(pid, qid, ts, val)
    pid, qid, ts, val, skew = pid[keep], qid[keep], ts[keep], val[keep], skew[keep]
    not_commercial = not_commercial[keep]
    n = len(keep)
    first = rank == 1
    last = np.ones(n, bool)
    last[:-1] = first[1:]
    key_start = np.maximum.accumulate(np.where(first, np.arange(n), 0))

    # --- the series of the batch and their partners -----------------------------------------
    comb = (pid << 16) | qid
    series_comb, s_row = np.unique(comb, return_inverse=True)
    S_b = len(series_comb)
    sb_first = np.full(S_b, np.iinfo(np.int64).max)
    sb_last = np.full(S_b, np.iinfo(np.int64).min)
    np.minimum.at(sb_first, s_row, ts)
    np.maximum.at(sb_last, s_row, ts)
    specs: list[SeriesSpec] = []
    where: dict[tuple[int, int], int] = {}
    for c in series_comb.tolist():  # per series
        p, q = c >> 16, c & 0xFFFF
        where[(p, q)] = len(specs)
        specs.append(_spec(catalog, vee, p, q))
    ranges_of = list(range(S_b))
    for i in range(S_b):
        sp = specs[i]
        point = catalog.by_id[sp.pid]
        info = vee.infos.get(point.code)
        for other in (REGISTER_OF.get(sp.code), INTERVAL_OF.get(sp.code), HEAT_PAIRS.get(sp.code)):
            oq = catalog.quantities.get(other) if other else None
            if oq is None or (sp.pid, oq) in where:
                continue
            if info is not None and other not in info.quantities:
                continue
            where[(sp.pid, oq)] = len(specs)
            specs.append(_spec(catalog, vee, sp.pid, oq))
            ranges_of.append(i)
    ser = Series(specs)
    ro = np.asarray(ranges_of, np.int64)
    k_back = (
        np.maximum(
            np.maximum(ser.stuck_intervals, ser.zero_intervals),
            ser.linear_max_minutes * 60 / np.maximum(ser.step, 1),
        ).astype(np.int64)
        + 1
    )
    a = sb_first[ro] - k_back * ser.step
    b = sb_last[ro] + k_back * ser.step
    lb = a - (ser.estimate_max_hours * 3600).astype(np.int64)
    ctx = await vee_io.context(conn, ser.pid, ser.qid, a, b, lb)
    cord = np.lexsort((ctx.ts, ctx.i))
    ctx = vee_io.Rows(*(getattr(ctx, f)[cord] for f in vee_io.Rows.__dataclass_fields__))
    ckey = series_keys(ctx.i, ctx.ts)

    # --- each key's current version, and what this batch does to it ------------------------
    bkey = series_keys(s_row, ts)
    j, found = _lookup(ckey, bkey)
    has_cur = found & first
    cur_version = _pick(ctx.version, j, has_cur, 0)
    cur_value = _pick(ctx.value, j, has_cur, np.nan)
    cur_quality = _pick(ctx.quality, j, has_cur, -1)
    cur_origin = _pick(ctx.origin, j, has_cur, -1)
    cur_version, cur_value = cur_version[key_start], cur_value[key_start]
    cur_quality, cur_origin = cur_quality[key_start], cur_origin[key_start]
    has_cur = cur_version > 0
    compare = cur_value.copy()
    not_actual = np.flatnonzero(first & has_cur & (cur_origin != ACTUAL))
    if len(not_actual):  # compare with what the source last said, not with an estimate or edit
        compare[not_actual] = await vee_io.latest_actual(
            conn, pid[not_actual], qid[not_actual], ts[not_actual]
        )
        compare = compare[key_start]
    same_first = has_cur & first & (val == compare)
    skipped_before = (
        np.cumsum(same_first) - np.cumsum(same_first)[key_start] + same_first[key_start]
    )
    insert = ~same_first
    # the last received wins: a batch that ingest received before the one holding the current
    # actual value (a redelivery overtaken by a later correction) is kept as a version only
    overtaken = np.zeros(n, bool)
    top_version = cur_version.copy()  # versions kept after the current one (held) count too
    changes = np.unique(key_start[has_cur & insert])  # first rows of the keys this batch changes
    if len(changes):
        got, top = await vee_io.current_received(
            conn, pid[changes], qid[changes], ts[changes], cur_version[changes]
        )
        overtaken[changes] = (got > received_at) & (cur_origin[changes] == ACTUAL)
        top_version[changes] = top
        overtaken, top_version = overtaken[key_start], top_version[key_start]
    version = top_version + rank - skipped_before
    held = insert & last & ((cur_origin == EDIT) | overtaken)
    becomes = insert & last & ~held
    res.unchanged = int(same_first.sum())
    res.inserted = int(insert.sum())

    # --- statistics of each series' own history before the batch, refreshed when stale -------
    stored, age = await vee_io.stored_stats(conn, ser.pid, ser.qid)
    ser.stored = stored
    ok_ctx = (ctx.origin == ACTUAL) & (ctx.quality == VALID)
    # stale, or too short to judge by yet (a new point: asked again until it has enough)
    refresh = np.flatnonzero((age > vee.stats_refresh_s) | ~(stored[:, 0] >= ser.min_reference))
    if len(refresh):
        hist = await vee_io.history(
            conn,
            ser.pid[refresh],
            ser.qid[refresh],
            a[refresh] + k_back[refresh] * ser.step[refresh] - vee.stats_window_s,
            a[refresh] + k_back[refresh] * ser.step[refresh],
        )
        hf = Frame.build(
            refresh[hist.i],
            hist.ts,
            hist.value,
            np.zeros(len(hist), bool),
            np.ones(len(hist), bool),
            np.ones(len(hist), bool),
        )
        fresh = series_stats(hf, ser)[refresh]
        ser.stored[refresh] = fresh
        await vee_io.save_stats(conn, ser.pid[refresh], ser.qid[refresh], fresh)

    # --- the frame: current readings with the batch's new values in place -------------------
    bi = np.flatnonzero(becomes)
    replaced_ctx = np.zeros(len(ctx), bool)
    jb, fb = _lookup(ckey, bkey[bi])
    replaced_ctx[jb[fb]] = True
    cx = np.flatnonzero(~replaced_ctx)
    m_ctx, m_b = len(cx), len(bi)
    f = Frame.build(
        s=np.concatenate((ctx.i[cx], s_row[bi])),
        ts=np.concatenate((ctx.ts[cx], ts[bi])),
        v=np.concatenate((ctx.value[cx], val[bi])),
        batch=np.concatenate((np.zeros(m_ctx, bool), np.ones(m_b, bool))),
        actual=np.concatenate((ctx.origin[cx] == ACTUAL, np.ones(m_b, bool))),
        # a value its source calls not commercial is no reference for the checks of others
        ok=np.concatenate((ok_ctx[cx], ~not_commercial[bi])),
        skew=np.concatenate((np.zeros(m_ctx), skew[bi])),
        dup=np.concatenate((np.zeros(m_ctx, bool), dup[bi])),
        # where each frame row came from: >= 0 a context row, < 0 the batch row -(i + 1)
        tag=np.concatenate((cx, -(bi + 1))),
        not_commercial=np.concatenate((np.zeros(m_ctx, bool), not_commercial[bi])),
    )
    origin_row = f.tag
    outages = await _outages(conn, raw, points, ser, f)
    day_prior = await _day_prior(conn, ser, f)
    verdict = validate(f, ser, received_at, outages, day_prior)

    # --- estimates of rejected readings (gaps go to the estimator: a batch still on its way
    # may fill them) ------------------------------------------------------------------------
    await _record_gaps(conn, ser, f, verdict)
    tg = E.linear(E.targets(f, ser, verdict, gaps=False), ser)
    ks, kt = E.profile_keys(tg, ser)
    if len(ks):
        vals = await vee_io.values_at(conn, ser.pid[ks], ser.qid[ks], kt)
        tg = E.profile(tg, ser, ks, kt, vals)
    tg = tg.take(np.flatnonzero(~np.isnan(tg.value)))
    est_of_batch = np.full(n, -1, np.int64)  # batch row -> its estimate
    rej = tg.replaces >= 0
    est_of_batch[-(origin_row[tg.replaces[rej]]) - 1] = np.flatnonzero(rej)

    # --- rule bits and quality of the new versions ----------------------------------------
    rules = np.where(dup, R.DUPLICATE, 0).astype(np.int64)
    frame_of_batch = np.full(n, -1, np.int64)
    fb_rows = np.flatnonzero(origin_row < 0)
    frame_of_batch[-(origin_row[fb_rows]) - 1] = fb_rows
    in_frame = frame_of_batch >= 0
    rules[in_frame] = verdict.bits[frame_of_batch[in_frame]]
    quality = np.where((rules & R.FAILING_MASK) != 0, SUSPECT, VALID)
    estimated = est_of_batch >= 0
    current = becomes & ~estimated
    res.flagged = int(((rules & R.FAILING_MASK) != 0).sum())
    res.estimated = len(tg)

    # superseded by this batch: the key's old current version (unless an edit holds), and
    # earlier values of the same key within the batch
    replaced_key = has_cur & becomes
    res.superseded = (
        int(replaced_key.sum())
        + int((insert & ~last).sum())
        + int(estimated.sum())
        + int(held.sum())
    )
    ins = np.flatnonzero(insert)
    if len(ins):
        await conn.execute(
            """
            INSERT INTO measurements.reading (point_id, quantity_id, ts, version, value, quality, rules, origin,
                                              current, skew_s, batch_id, superseded_at)
            SELECT p, q, to_timestamp(t), v, x, ql, r, 0, c, NULLIF(s, 0), $10, CASE WHEN c THEN NULL ELSE now() END
            FROM unnest($1::int[], $2::int2[], $3::float8[], $4::int2[], $5::float8[], $6::bool[], $7::real[],
                        $8::int2[], $9::int[]) AS k(p, q, t, v, x, c, s, ql, r)
            """,
            pid[ins].tolist(),
            qid[ins].tolist(),
            ts[ins].astype(np.float64).tolist(),
            version[ins].tolist(),
            val[ins].tolist(),
            current[ins].tolist(),
            skew[ins].tolist(),
            quality[ins].tolist(),
            rules[ins].tolist(),
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
            ts[rk].astype(np.float64).tolist(),
            cur_version[rk].tolist(),
        )
    est_version = np.ones(len(tg), np.int64)
    rej_rows = -(origin_row[tg.replaces[rej]]) - 1
    est_version[rej] = version[rej_rows] + 1
    if len(tg):
        await conn.execute(
            """
            INSERT INTO measurements.reading (point_id, quantity_id, ts, version, value, quality, rules, origin,
                                              current, batch_id)
            SELECT p, q, to_timestamp(t), v, x, 3, r, 1, true, $6
            FROM unnest($1::int[], $2::int2[], $3::float8[], $4::int2[], $5::float8[], $7::int[])
                 AS k(p, q, t, v, x, r)
            """,
            ser.pid[tg.s].tolist(),
            ser.qid[tg.s].tolist(),
            tg.ts.astype(np.float64).tolist(),
            est_version.tolist(),
            tg.value.tolist(),
            batch_id,
            tg.reason.tolist(),
        )

    # --- earlier readings that a run extended by this batch now reaches ---------------------
    ctx_rows = np.flatnonzero(origin_row >= 0)
    cr = origin_row[ctx_rows]
    add = verdict.bits[ctx_rows] & RUN_RULES & ~ctx.rules[cr]
    up = np.flatnonzero(add != 0)
    up_rows, up_ctx = ctx_rows[up], cr[up]
    new_q = np.where(
        (ctx.quality[up_ctx] == VALID) & (ctx.origin[up_ctx] == ACTUAL),
        SUSPECT,
        ctx.quality[up_ctx],
    )
    if len(up):
        await conn.execute(
            """
            UPDATE measurements.reading r SET rules = r.rules | k.b, quality = k.ql
            FROM unnest($1::int[], $2::int2[], $3::float8[], $4::int2[], $5::int[], $6::int2[]) AS k(p, q, t, v, b, ql)
            WHERE r.point_id = k.p AND r.quantity_id = k.q AND r.ts = to_timestamp(k.t) AND r.version = k.v
            """,
            ser.pid[ctx.i[up_ctx]].tolist(),
            ser.qid[ctx.i[up_ctx]].tolist(),
            ctx.ts[up_ctx].astype(np.float64).tolist(),
            ctx.version[up_ctx].tolist(),
            add[up].tolist(),
            new_q.tolist(),
        )

    # --- roll-ups -------------------------------------------------------------------------
    ch_b = np.flatnonzero(becomes)
    est_idx = est_of_batch[ch_b]
    new_val = np.where(
        est_idx >= 0, _pick(tg.value, np.maximum(est_idx, 0), est_idx >= 0, 0.0), val[ch_b]
    )
    new_qual = np.where(est_idx >= 0, ESTIMATED, quality[ch_b])
    changes = Changes.concat(
        [
            Changes(
                pid[ch_b],
                qid[ch_b],
                ts[ch_b].astype(np.float64),
                has_cur[ch_b],
                np.nan_to_num(cur_value[ch_b]),
                cur_quality[ch_b],
                new_val,
                new_qual,
            ),
            Changes(
                ser.pid[ctx.i[up_ctx]],
                ser.qid[ctx.i[up_ctx]],
                ctx.ts[up_ctx].astype(np.float64),
                np.ones(len(up), bool),
                ctx.value[up_ctx],
                ctx.quality[up_ctx],
                ctx.value[up_ctx],
                new_q,
            ),
        ]
    )
    await rollups.apply(conn, catalog, changes)

    # --- explain: the numbers behind every hit and every estimate -------------------------
    batch_rows = _BatchRows(pid, qid, ts, val, version, rules, dup, frame_of_batch)
    await _findings(conn, ser, verdict, tg, batch_rows, est_version, up_rows, up_ctx, ctx, add[up])


async def _record_gaps(conn: asyncpg.Connection, ser: Series, f: Frame, verdict: Verdict) -> None:
    """Gaps within the estimation limit, for the estimator."""
    g = verdict.gaps
    limit_s = (ser.estimate_max_hours * 3600).astype(np.int64)
    keep = np.flatnonzero(g.missing * ser.step[g.s] <= limit_s[g.s])
    if not len(keep):
        return
    await conn.execute(
        """
        INSERT INTO measurements.vee_gap (point_id, quantity_id, after_ts, before_ts)
        SELECT p, q, to_timestamp(a), to_timestamp(b) FROM unnest($1::int[], $2::int2[], $3::float8[], $4::float8[])
             AS k(p, q, a, b)
        ON CONFLICT (point_id, quantity_id, after_ts) DO UPDATE SET before_ts = EXCLUDED.before_ts,
          detected_at = now()
        """,
        ser.pid[g.s[keep]].tolist(),
        ser.qid[g.s[keep]].tolist(),
        f.ts[g.left[keep]].astype(np.float64).tolist(),
        f.ts[g.right[keep]].astype(np.float64).tolist(),
    )


def _spec(catalog: Catalog, vee: VeeInputs, pid: int, qid: int) -> SeriesSpec:
    point = catalog.by_id[pid]
    code = catalog.quantity_codes[qid]
    return series_spec(
        pid, qid, code, point.commodity, point.interval_min, vee.infos.get(point.code), vee.rulebook
    )


async def _outages(
    conn: asyncpg.Connection, raw: dict[str, Any], points: list[Point], ser: Series, f: Frame
) -> Outages | None:
    zero_series = np.flatnonzero((ser.enabled & R.ZERO) != 0)
    if not len(zero_series) or not len(f):
        return None
    pids = sorted(set(ser.pid[zero_series].tolist()))
    start = float(f.ts.min() - 86400)
    end = float(f.ts.max())
    evs = await vee_io.outage_events(conn, pids, start, end)
    by_code = {p.code: p.id for p in points}
    for e in raw.get("events") or ():  # a handful per batch
        pid = by_code.get(e["point"])
        if pid is not None:
            evs.append((pid, round(e["ts"]), e["code"]))
    if not evs:
        return None
    series_of: dict[int, list[int]] = {}
    for i in zero_series.tolist():
        series_of.setdefault(int(ser.pid[i]), []).append(i)
    return Outages.from_events(series_of, evs)


async def _day_prior(
    conn: asyncpg.Connection, ser: Series, f: Frame
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    with_norm = ~np.isnan(ser.norm_daily)
    if not with_norm.any() or not len(f):
        return None
    first = np.ones(len(f), bool)
    first[1:] = f.s[1:] != f.s[:-1]
    rows = np.flatnonzero(first & with_norm[f.s])
    if not len(rows):
        return None
    s = f.s[rows]
    day = (f.ts[rows] - 1 + LOCAL_OFFSET_S) // 86400
    day_start = day * 86400 - LOCAL_OFFSET_S
    sums = await vee_io.day_sums(conn, ser.pid[s], ser.qid[s], day_start, f.ts[rows])
    return s, day, sums


@dataclass
class _BatchRows:
    pid: np.ndarray
    qid: np.ndarray
    ts: np.ndarray
    val: np.ndarray
    version: np.ndarray
    rules: np.ndarray
    dup: np.ndarray
    frame_row: np.ndarray


async def _findings(
    conn: asyncpg.Connection,
    ser: Series,
    verdict: Verdict,
    tg: E.Targets,
    b: _BatchRows,
    est_version: np.ndarray,
    up_rows: np.ndarray,
    up_ctx: np.ndarray,
    ctx: vee_io.Rows,
    up_bits: np.ndarray,
) -> None:
    """Keep the numbers behind each flagged new version, each earlier reading a run reached, and
    each estimate (its method and anchors, and why it was needed)."""
    flagged = np.flatnonzero(b.rules != 0)
    fr_flagged = b.frame_row[flagged]
    rows_needed = np.concatenate(
        (fr_flagged[fr_flagged >= 0], up_rows, tg.replaces[tg.replaces >= 0])
    )
    details = verdict.details(rows_needed) if len(rows_needed) else {}
    out_p: list[int] = []
    out_q: list[int] = []
    out_t: list[float] = []
    out_v: list[int] = []
    out_r: list[int] = []
    out_d: list[dict[str, Any]] = []

    def put(p: int, q: int, t: float, v: int, r: int, d: dict[str, Any]) -> None:
        out_p.append(p)
        out_q.append(q)
        out_t.append(t)
        out_v.append(v)
        out_r.append(r)
        out_d.append(d)

    dup_values: dict[tuple[int, int, int], list[float]] = {}
    for i in np.flatnonzero(b.dup).tolist():  # per duplicated key, a handful
        dup_values.setdefault((int(b.pid[i]), int(b.qid[i]), int(b.ts[i])), []).append(
            float(b.val[i])
        )
    for i in flagged.tolist():  # per flagged reading
        fr = int(b.frame_row[i])
        d = dict(details.get(fr, {})) if fr >= 0 else {}
        if b.dup[i]:
            d["duplicate"] = {"values": dup_values[(int(b.pid[i]), int(b.qid[i]), int(b.ts[i]))]}
        put(int(b.pid[i]), int(b.qid[i]), float(b.ts[i]), int(b.version[i]), int(b.rules[i]), d)
    for j in range(len(up_rows)):  # per earlier reading a run reached
        c = int(up_ctx[j])
        put(
            int(ser.pid[ctx.i[c]]),
            int(ser.qid[ctx.i[c]]),
            float(ctx.ts[c]),
            int(ctx.version[c]),
            int(up_bits[j]),
            details.get(int(up_rows[j]), {}),
        )
    for i in range(len(tg)):  # per estimate of a rejected reading
        d = {"estimate": tg.details(i), **details.get(int(tg.replaces[i]), {})}
        put(
            int(ser.pid[tg.s[i]]),
            int(ser.qid[tg.s[i]]),
            float(tg.ts[i]),
            int(est_version[i]),
            int(tg.reason[i]),
            d,
        )
    await vee_io.save_findings(conn, out_p, out_q, out_t, out_v, out_r, out_d)


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


def utc(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None
