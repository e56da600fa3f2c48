"""The gap estimator: estimates the gaps batches revealed, once no batch is likely to fill them.

A batch records the gaps it finds (``vee_gap``) instead of estimating them at once: batches of one
subject often arrive out of order (a backfill, several days in flight), and an estimate written
for a day whose batch is a second behind would only be superseded again. The estimator runs every
few seconds in the historian, takes gaps older than ``vee_estimate_delay_seconds`` (several
replicas share the work: ``FOR UPDATE SKIP LOCKED``), looks at what is still missing, estimates it
(linear up to 2 h, a similar day up to 48 h) as versions with origin and quality ``estimated`` and
rule ``gap``, and updates the roll-ups, all in one transaction per round.
"""

from __future__ import annotations

import logging
from typing import Any

import asyncpg
import numpy as np

from egsu.core.errors import ServiceUnavailable
from egsu.measurements import rollups, vee_io
from egsu.measurements.catalog import Catalog
from egsu.measurements.points import PointDirectory, series_spec
from egsu.measurements.quality import ACTUAL, ESTIMATED, VALID
from egsu.measurements.vee import estimate as E
from egsu.measurements.vee import rules as R
from egsu.measurements.vee.config import RuleBook
from egsu.measurements.vee.engine import Frame, Series, series_keys

log = logging.getLogger("egsu.measurements.estimator")


async def estimate_due_gaps(
    pool: asyncpg.Pool,
    catalog: Catalog,
    directory: PointDirectory,
    rulebook: RuleBook,
    delay_s: float,
    limit: int = 2000,
) -> int:
    """Estimate the gaps older than ``delay_s``; returns the number of estimates written."""
    async with pool.acquire() as conn:
        due = await conn.fetch(
            "SELECT DISTINCT p.subject_bin FROM measurements.vee_gap g JOIN measurements.point p ON p.id = g.point_id "
            "WHERE g.detected_at < now() - make_interval(secs => $1) LIMIT 100",
            delay_s,
        )
    infos: dict[str, Any] = {}
    for r in due:  # per subject: the registry's limits (register digits), cached
        try:
            infos.update(await directory.of_subject(r[0]))
        except ServiceUnavailable:
            continue  # estimated with the default limits
    async with pool.acquire() as conn, conn.transaction():
        gaps = await conn.fetch(
            """
            SELECT point_id, quantity_id, extract(epoch FROM after_ts)::float8 AS a,
                   extract(epoch FROM before_ts)::float8 AS b
            FROM measurements.vee_gap WHERE detected_at < now() - make_interval(secs => $1)
            ORDER BY detected_at LIMIT $2 FOR UPDATE SKIP LOCKED
            """,
            delay_s,
            limit,
        )
        if not gaps:
            return 0
        written = await _estimate(conn, catalog, rulebook, infos, gaps)
        await conn.execute(
            """
            DELETE FROM measurements.vee_gap g USING unnest($1::int[], $2::int2[], $3::float8[]) AS k(p, q, a)
            WHERE g.point_id = k.p AND g.quantity_id = k.q AND g.after_ts = to_timestamp(k.a)
            """,
            [g["point_id"] for g in gaps],
            [g["quantity_id"] for g in gaps],
            [g["a"] for g in gaps],
        )
    return written


async def _estimate(
    conn: asyncpg.Connection,
    catalog: Catalog,
    rulebook: RuleBook,
    infos: dict[str, Any],
    gaps: list[asyncpg.Record],
) -> int:
    # one series per (point, quantity), each with the span of all its gaps
    keys: dict[tuple[int, int], int] = {}
    specs = []
    for g in gaps:  # per gap
        k = (g["point_id"], g["quantity_id"])
        if k in keys:
            continue
        point = await catalog.point_by_id(conn, k[0])
        if point is None:
            continue
        keys[k] = len(specs)
        specs.append(
            series_spec(
                k[0],
                k[1],
                catalog.quantity_codes.get(k[1], ""),
                point.commodity,
                point.interval_min,
                infos.get(point.code),
                rulebook,
            )
        )
    if not specs:
        return 0
    ser = Series(specs)
    lo = np.full(ser.size, np.inf)
    hi = np.full(ser.size, -np.inf)
    for g in gaps:
        i = keys.get((g["point_id"], g["quantity_id"]))
        if i is not None:
            lo[i] = min(lo[i], g["a"])
            hi[i] = max(hi[i], g["b"])
    reach = (ser.linear_max_minutes * 60).astype(np.int64) + ser.step
    a = lo.astype(np.int64) - reach
    ctx = await vee_io.context(conn, ser.pid, ser.qid, a, hi.astype(np.int64) + reach, a)
    f = Frame.build(
        ctx.i,
        ctx.ts,
        ctx.value,
        np.zeros(len(ctx), bool),
        ctx.origin == ACTUAL,
        (ctx.origin == ACTUAL) & (ctx.quality == VALID),
    )
    parts: list[E.Targets] = []
    for g in gaps:  # per gap, then per run of intervals still missing in it
        i = keys.get((g["point_id"], g["quantity_id"]))
        if i is None:
            continue
        step = int(ser.step[i])
        slots = np.arange(int(g["a"]) + step, int(g["b"]), step, dtype=np.int64)
        if len(f):  # what a batch filled since the gap was found is not estimated
            want = series_keys(np.full(len(slots), i), slots)
            j = np.clip(np.searchsorted(f.key, want), 0, len(f) - 1)
            slots = slots[f.key[j] != want]
        if not len(slots):
            continue
        breaks = np.flatnonzero(np.diff(slots) != step) + 1
        for run in np.split(slots, breaks):
            parts.append(E.targets_for_range(f, ser, i, run, R.GAP))
    if not parts:
        return 0
    tg = E.Targets(
        **{
            k: np.concatenate([getattr(p, k) for p in parts])
            for k in E.Targets.__dataclass_fields__
        }
    )
    # two gap records may cover the same intervals (a later batch split a gap): once each
    _, first = np.unique(series_keys(tg.s, tg.ts), return_index=True)
    tg = E.linear(tg.take(np.sort(first)), ser)
    ks, kt = E.profile_keys(tg, ser)
    if len(ks):
        tg = E.profile(tg, ser, ks, kt, await vee_io.values_at(conn, ser.pid[ks], ser.qid[ks], kt))
    tg = tg.take(np.flatnonzero(~np.isnan(tg.value)))
    if not len(tg):
        return 0
    pid, qid = ser.pid[tg.s], ser.qid[tg.s]
    await conn.execute(
        """
        INSERT INTO measurements.reading (point_id, quantity_id, ts, version, value, quality, rules, origin, current)
        SELECT p, q, to_timestamp(t), 1, x, $5, $6, 1, true
        FROM unnest($1::int[], $2::int2[], $3::float8[], $4::float8[]) AS k(p, q, t, x)
        """,
        pid.tolist(),
        qid.tolist(),
        tg.ts.astype(np.float64).tolist(),
        tg.value.tolist(),
        ESTIMATED,
        R.GAP,
    )
    details = []
    for j in range(len(tg)):  # per estimate
        missing = (
            int((tg.right_ts[j] - tg.left_ts[j]) // ser.step[tg.s[j]] - 1)
            if tg.right_ts[j] > 0
            else None
        )
        details.append(
            {
                "estimate": tg.details(j),
                "gap": {
                    "missing_intervals": missing,
                    "after": int(tg.left_ts[j]),
                    "before": int(tg.right_ts[j]),
                },
            }
        )
    await vee_io.save_findings(
        conn,
        pid.tolist(),
        qid.tolist(),
        tg.ts.astype(np.float64).tolist(),
        [1] * len(tg),
        [R.GAP] * len(tg),
        details,
    )
    n = len(tg)
    await rollups.apply(
        conn,
        catalog,
        rollups.Changes(
            pid,
            qid,
            tg.ts.astype(np.float64),
            np.zeros(n, bool),
            np.zeros(n),
            np.full(n, -1, np.int64),
            tg.value,
            np.full(n, ESTIMATED, np.int64),
        ),
    )
    return n
