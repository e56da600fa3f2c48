"""All of monitoring's SQL for reading: live state, channel quality, counts, alarms, history.
The subject scope is applied here."""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from egsu.db.pagination import keyset, page
from egsu.monitoring import models as m

ps = m.point_state
al = m.alarm


def _scoped(stmt: Any, col: Any, scope_bin: str | None) -> Any:
    return stmt.where(col == scope_bin) if scope_bin is not None else stmt


async def list_points(
    session: AsyncSession,
    *,
    scope_bin: str | None,
    filters: dict[str, Any],
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    stmt = _scoped(select(ps), ps.c.subject_bin, scope_bin)
    for k, v in filters.items():
        if v is None:
            continue
        stmt = stmt.where(ps.c.system_ids.any(v)) if k == "system_id" else stmt.where(ps.c[k] == v)
    stmt = keyset(stmt, sort_col=ps.c.code, id_col=ps.c.code, cursor=cursor)
    rows = (await session.execute(stmt.limit(limit + 1))).mappings().all()
    items, nxt = page(rows, limit, sort_key="code", id_key="code")
    return [dict(r) for r in items], nxt


async def point(session: AsyncSession, code: str, scope_bin: str | None) -> dict[str, Any] | None:
    stmt = _scoped(select(ps).where(ps.c.code == code), ps.c.subject_bin, scope_bin)
    row = (await session.execute(stmt)).mappings().first()
    return dict(row) if row else None


async def points_where(session: AsyncSession, **where: Any) -> list[dict[str, Any]]:
    stmt = select(ps)
    for k, v in where.items():
        stmt = stmt.where(ps.c.system_ids.any(v)) if k == "system_id" else stmt.where(ps.c[k] == v)
    return [dict(r) for r in (await session.execute(stmt.order_by(ps.c.code))).mappings()]


QUALITY_SQL = text(
    """
    WITH p AS (SELECT * FROM unnest(CAST(:codes AS text[]), CAST(:steps AS float8[]),
                                    CAST(:starts AS float8[])) AS x(code, step, since)),
    a AS (
      SELECT a.point_code, a.ts, a.delay_s, a.channel, p.step,
             extract(epoch FROM a.ts - lag(a.ts) OVER (PARTITION BY a.point_code ORDER BY a.ts)) AS dt
      FROM monitoring.arrival a JOIN p ON p.code = a.point_code
      WHERE a.ts > to_timestamp(p.since) AND a.ts <= :due_end
    )
    SELECT point_code, count(*) AS received,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY delay_s) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY delay_s) AS p95,
           count(*) FILTER (WHERE channel = 'reserve') AS on_reserve,
           count(*) FILTER (WHERE channel = 'main') AS on_main,
           count(*) FILTER (WHERE dt > step * 1.5) AS inner_gaps,
           extract(epoch FROM min(ts)) AS first_ts, extract(epoch FROM max(ts)) AS last_ts
    FROM a GROUP BY point_code
    """
)

POOLED_SQL = text(
    """
    WITH p AS (SELECT * FROM unnest(CAST(:codes AS text[]), CAST(:starts AS float8[])) AS x(code, since))
    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY delay_s) AS p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY delay_s) AS p95
    FROM monitoring.arrival a JOIN p ON p.code = a.point_code
    WHERE a.ts > to_timestamp(p.since) AND a.ts <= :due_end
    """
)


async def channel_quality(
    session: AsyncSession,
    points: list[dict[str, Any]],
    now: datetime,
    hours: float,
    allowance: float,
) -> dict[str, Any]:
    """Share of expected intervals received, delay from interval end to receipt (median, p95),
    gaps and the channel in use, over the last ``hours``, for one point or pooled over several."""
    if not points:
        return {"hours": hours, "points": 0, "expected": 0, "received": 0, "share": None}
    start = now - timedelta(hours=hours)
    codes, steps, starts, ends = [], [], [], []
    for p in points:
        step = p["interval_min"] * 60.0
        since = max(start.timestamp(), p["known_since"].timestamp())
        since = math.floor(since / step) * step
        end = math.floor((now.timestamp() - allowance * step) / step) * step
        codes.append(p["code"])
        steps.append(step)
        starts.append(since)
        ends.append(end)
    due_end = now
    rows = {
        r["point_code"]: dict(r)
        for r in (
            await session.execute(
                QUALITY_SQL,
                {"codes": codes, "steps": steps, "starts": starts, "due_end": due_end},
            )
        ).mappings()
    }
    expected = received = gaps = on_reserve = on_main = 0
    per_point = []
    for code, step, since, end in zip(codes, steps, starts, ends, strict=True):
        exp = max(0, round((end - since) / step))
        r = rows.get(code)
        got = min(exp, int(r["received"])) if r else 0
        g = 0
        if exp:
            if r is None:
                g = 1
            else:
                g = int(r["inner_gaps"])
                if r["first_ts"] > since + step * 1.5:
                    g += 1
                if r["last_ts"] < end - step * 0.5:
                    g += 1
        expected += exp
        received += got
        gaps += g
        if r:
            on_reserve += int(r["on_reserve"])
            on_main += int(r["on_main"])
        per_point.append((code, exp, got, g, r))
    out: dict[str, Any] = {
        "hours": hours,
        "points": len(points),
        "expected": expected,
        "received": received,
        "share": round(received / expected, 4) if expected else None,
        "gaps": gaps,
        "delay_p50_s": None,
        "delay_p95_s": None,
        "on_main": on_main,
        "on_reserve": on_reserve,
        "reserve_share": round(on_reserve / (on_main + on_reserve), 4)
        if on_main + on_reserve
        else None,
    }
    if len(points) == 1:
        r = per_point[0][4]
        if r:
            out["delay_p50_s"] = round(r["p50"], 3)
            out["delay_p95_s"] = round(r["p95"], 3)
    else:
        pooled = (
            (
                await session.execute(
                    POOLED_SQL, {"codes": codes, "starts": starts, "due_end": due_end}
                )
            )
            .mappings()
            .first()
        )
        if pooled and pooled["p50"] is not None:
            out["delay_p50_s"] = round(pooled["p50"], 3)
            out["delay_p95_s"] = round(pooled["p95"], 3)
    return out


GROUPS = {
    "region": ps.c.region_kato,
    "subject": ps.c.subject_bin,
    "facility_type": ps.c.facility_type,
    "facility": ps.c.facility_id,
    "status": ps.c.status,
}


async def status_counts(
    session: AsyncSession, *, scope_bin: str | None, group_by: str | None, filters: dict[str, Any]
) -> list[dict[str, Any]]:
    cols = [GROUPS[group_by].label("key")] if group_by else []
    stmt = select(*cols, ps.c.status, func.count().label("n"))
    stmt = _scoped(stmt, ps.c.subject_bin, scope_bin)
    for k, v in filters.items():
        if v is not None:
            stmt = stmt.where(ps.c[k] == v)
    stmt = stmt.group_by(*cols, ps.c.status)
    out: dict[Any, dict[str, Any]] = {}
    for r in (await session.execute(stmt)).mappings():
        key = r["key"] if group_by else None
        d = out.setdefault(key, {"key": key, "points": 0, "by_status": {}})
        d["points"] += r["n"]
        d["by_status"][r["status"]] = r["n"]
    return list(out.values())


ALARM_GROUPS = {
    "region": al.c.region_kato,
    "subject": al.c.subject_bin,
    "facility_type": al.c.facility_type,
    "facility": al.c.facility_id,
    "status": None,
}


async def alarm_counts(
    session: AsyncSession, *, scope_bin: str | None, group_by: str | None, filters: dict[str, Any]
) -> dict[Any, dict[str, int]]:
    col = ALARM_GROUPS.get(group_by or "")
    cols = [col.label("key")] if col is not None else []
    stmt = select(*cols, al.c.severity, func.count().label("n")).where(
        al.c.state.in_(("raised", "acknowledged"))
    )
    stmt = _scoped(stmt, al.c.subject_bin, scope_bin)
    for k, v in filters.items():
        if v is not None and k in al.c:
            stmt = stmt.where(al.c[k] == v)
    stmt = stmt.group_by(*cols, al.c.severity)
    out: dict[Any, dict[str, int]] = {}
    for r in (await session.execute(stmt)).mappings():
        out.setdefault(r["key"] if cols else None, {})[r["severity"]] = r["n"]
    return out


STATE_SETS = {
    "active": ("raised", "acknowledged"),
    "open": ("raised", "acknowledged", "cleared"),
    "raised": ("raised",),
    "acknowledged": ("acknowledged",),
    "cleared": ("cleared",),
    "closed": ("closed",),
}


async def list_alarms(
    session: AsyncSession,
    *,
    scope_bin: str | None,
    state: str | None,
    filters: dict[str, Any],
    since: datetime | None,
    until: datetime | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    stmt = _scoped(select(al), al.c.subject_bin, scope_bin)
    if state and state != "all":
        stmt = stmt.where(al.c.state.in_(STATE_SETS[state]))
    for k, v in filters.items():
        if v:
            stmt = stmt.where(al.c[k].in_(v) if isinstance(v, list) else al.c[k] == v)
    if since is not None:
        stmt = stmt.where(al.c.raised_at > since)
    if until is not None:
        stmt = stmt.where(al.c.raised_at <= until)
    stmt = keyset(
        stmt,
        sort_col=al.c.raised_at,
        id_col=al.c.id,
        descending=True,
        cursor=cursor,
        parse=datetime.fromisoformat,
    )
    rows = (await session.execute(stmt.limit(limit + 1))).mappings().all()
    items, nxt = page(rows, limit, sort_key="raised_at", id_key="id")
    return [dict(r) for r in items], nxt


async def alarm(
    session: AsyncSession, alarm_id: str, scope_bin: str | None
) -> dict[str, Any] | None:
    stmt = _scoped(select(al).where(al.c.id == alarm_id), al.c.subject_bin, scope_bin)
    row = (await session.execute(stmt)).mappings().first()
    return dict(row) if row else None


async def history(session: AsyncSession, alarm_id: str) -> list[dict[str, Any]]:
    e = m.alarm_event
    rows = await session.execute(select(e).where(e.c.alarm_id == alarm_id).order_by(e.c.seq))
    return [dict(r) for r in rows.mappings()]


async def open_alarm_count(session: AsyncSession, column: str, value: str) -> dict[str, int]:
    stmt = (
        select(al.c.severity, func.count())
        .where(al.c[column] == value, al.c.state.in_(("raised", "acknowledged")))
        .group_by(al.c.severity)
    )
    return {r[0]: r[1] for r in await session.execute(stmt)}
