"""All SQL of the forecast service. Callers own the transaction (``db.transaction()``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from egsu.core.errors import FieldError, Unprocessable
from egsu.db.bulk import per_statement
from egsu.db.pagination import decode_cursor, encode_cursor
from egsu.forecast import models as m

# --------------------------------------------------------------------------- series


def _cursor(cursor: str, size: int = 1) -> list[Any]:
    values = decode_cursor(cursor)
    if len(values) != size:
        raise Unprocessable(
            "the cursor is not valid; use next_cursor from the previous page",
            errors=[FieldError("cursor", "invalid_cursor", "not a cursor of this list")],
        )
    return values


async def upsert_series(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Create the series that do not exist yet; their ids by ``level:key``."""
    if not rows:
        return {}
    for chunk in per_statement(rows):
        stmt = insert(m.series).values(chunk)
        stmt = stmt.on_conflict_do_update(
            index_elements=["level", "key", "quantity"],
            set_={
                "group_key": stmt.excluded.group_key,
                "subject_bin": stmt.excluded.subject_bin,
                "region_kato": stmt.excluded.region_kato,
                "step_s": stmt.excluded.step_s,
            },
        )
        await session.execute(stmt)
    quantity = rows[0]["quantity"]
    keys = {(r["level"], r["key"]) for r in rows}
    found = await session.execute(
        select(m.series.c.id, m.series.c.level, m.series.c.key).where(
            m.series.c.quantity == quantity,
            m.series.c.level.in_({level for level, _ in keys}),
            m.series.c.key.in_({key for _, key in keys}),
        )
    )
    return {f"{r.level}:{r.key}": r.id for r in found if (r.level, r.key) in keys}


async def series_of(
    session: AsyncSession, level: str, key: str, quantity: str
) -> dict[str, Any] | None:
    row = (
        (
            await session.execute(
                select(m.series).where(
                    m.series.c.level == level,
                    m.series.c.key == key,
                    m.series.c.quantity == quantity,
                )
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def requested_points(session: AsyncSession, quantity: str) -> list[dict[str, Any]]:
    rows = await session.execute(
        select(m.series).where(m.series.c.level == "point", m.series.c.quantity == quantity)
    )
    return [dict(r) for r in rows.mappings()]


async def list_series(
    session: AsyncSession,
    *,
    level: str | None,
    quantity: str | None,
    scope_bin: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    s = m.series
    stmt = select(s).order_by(s.c.id).limit(limit + 1)
    if level:
        stmt = stmt.where(s.c.level == level)
    if quantity:
        stmt = stmt.where(s.c.quantity == quantity)
    if scope_bin is not None:
        stmt = stmt.where(
            s.c.subject_bin == scope_bin, s.c.level.in_(("point", "facility", "subject"))
        )
    if cursor:
        stmt = stmt.where(s.c.id > int(_cursor(cursor)[0]))
    rows = [dict(r) for r in (await session.execute(stmt)).mappings()]
    nxt = encode_cursor([rows[limit - 1]["id"]]) if len(rows) > limit else None
    rows = rows[:limit]
    if rows:
        latest = await session.execute(
            text(
                "SELECT DISTINCT ON (series_id, horizon) series_id, horizon, issued_at, start_ts, "
                "step_s, array_length(p50, 1) AS n, candidate FROM forecast.forecast_run "
                "WHERE series_id = ANY(:ids) ORDER BY series_id, horizon, issued_at DESC"
            ),
            {"ids": [r["id"] for r in rows]},
        )
        by_series: dict[int, dict[str, Any]] = {}
        for r in latest:
            by_series.setdefault(r.series_id, {})[r.horizon] = {
                "issued_at": r.issued_at.isoformat(),
                "from": r.start_ts.isoformat(),
                "to": (r.start_ts + timedelta(seconds=r.step_s * (r.n or 0))).isoformat(),
                "model": r.candidate,
            }
        for r in rows:
            r["latest"] = by_series.get(r["id"], {})
    return rows, nxt


async def touch_series(session: AsyncSession, ids: Sequence[int], at: datetime) -> None:
    if ids:
        await session.execute(
            update(m.series).where(m.series.c.id.in_(list(ids))).values(last_scored_at=at)
        )


# --------------------------------------------------------------------------- models


async def next_version(session: AsyncSession, group: str, quantity: str, horizon: str) -> int:
    value = await session.scalar(
        select(func.coalesce(func.max(m.model.c.version), 0)).where(
            m.model.c.group_key == group,
            m.model.c.quantity == quantity,
            m.model.c.horizon == horizon,
        )
    )
    return int(value or 0) + 1


async def add_model(session: AsyncSession, values: dict[str, Any]) -> int:
    await session.execute(
        update(m.model)
        .where(
            m.model.c.group_key == values["group_key"],
            m.model.c.quantity == values["quantity"],
            m.model.c.horizon == values["horizon"],
            m.model.c.current,
        )
        .values(current=False)
    )
    return int(
        await session.scalar(insert(m.model).values(current=True, **values).returning(m.model.c.id))
    )


async def add_scores(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    for chunk in per_statement(rows):
        await session.execute(insert(m.backtest_score).values(chunk))


async def current_models(
    session: AsyncSession, group: str, quantity: str
) -> dict[str, dict[str, Any]]:
    rows = await session.execute(
        select(m.model).where(
            m.model.c.group_key == group, m.model.c.quantity == quantity, m.model.c.current
        )
    )
    return {r["horizon"]: dict(r) for r in rows.mappings()}


async def list_models(
    session: AsyncSession,
    *,
    group: str | None,
    quantity: str | None,
    horizon: str | None,
    current: bool | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    t = m.model
    stmt = select(t).order_by(t.c.id.desc()).limit(limit + 1)
    for column, value in ((t.c.group_key, group), (t.c.quantity, quantity), (t.c.horizon, horizon)):
        if value:
            stmt = stmt.where(column == value)
    if current is not None:
        stmt = stmt.where(t.c.current == current)
    if cursor:
        stmt = stmt.where(t.c.id < int(_cursor(cursor)[0]))
    rows = [dict(r) for r in (await session.execute(stmt)).mappings()]
    nxt = encode_cursor([rows[limit - 1]["id"]]) if len(rows) > limit else None
    return rows[:limit], nxt


async def model_by_id(session: AsyncSession, model_id: int) -> dict[str, Any] | None:
    row = (
        (await session.execute(select(m.model).where(m.model.c.id == model_id))).mappings().first()
    )
    return dict(row) if row else None


async def scores_of_model(
    session: AsyncSession, model_id: int, *, level: str | None = None, key: str | None = None
) -> list[dict[str, Any]]:
    t = m.backtest_score
    stmt = select(t).where(t.c.model_id == model_id).order_by(t.c.level, t.c.key, t.c.candidate)
    if level:
        stmt = stmt.where(t.c.level == level)
    if key:
        stmt = stmt.where(t.c.key == key)
    return [dict(r) for r in (await session.execute(stmt)).mappings()]


async def scores_of_series(
    session: AsyncSession, level: str, key: str, quantity: str
) -> list[dict[str, Any]]:
    """Back-test scores of the series under every current model (one per horizon)."""
    t, mo = m.backtest_score, m.model
    stmt = (
        select(t, mo.c.horizon, mo.c.version, mo.c.created_at, mo.c.origins, mo.c.group_key)
        .join(mo, mo.c.id == t.c.model_id)
        .where(t.c.level == level, t.c.key == key, mo.c.quantity == quantity, mo.c.current)
        .order_by(mo.c.horizon, t.c.candidate)
    )
    return [dict(r) for r in (await session.execute(stmt)).mappings()]


# --------------------------------------------------------------------------- forecast runs


async def add_runs(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    for chunk in per_statement(rows):
        await session.execute(insert(m.forecast_run).values(chunk))


async def latest_run(session: AsyncSession, series_id: int, horizon: str) -> dict[str, Any] | None:
    r = m.forecast_run
    row = (
        (
            await session.execute(
                select(r)
                .where(r.c.series_id == series_id, r.c.horizon == horizon)
                .order_by(r.c.issued_at.desc(), r.c.id.desc())
                .limit(1)
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def _overlapping(start: datetime, end: datetime) -> tuple[Any, Any]:
    """Conditions on forecast runs whose steps overlap ``[start, end)``."""
    r = m.forecast_run
    run_end = r.c.start_ts + func.make_interval(
        0, 0, 0, 0, 0, 0, r.c.step_s * func.cardinality(r.c.p50)
    )
    return r.c.start_ts < end, run_end > start


async def runs_covering(
    session: AsyncSession, series_id: int, horizon: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    """Runs of a horizon overlapping ``[start, end)``, oldest issue first."""
    r = m.forecast_run
    stmt = (
        select(r)
        .where(
            r.c.series_id == series_id,
            r.c.horizon == horizon,
            *_overlapping(start, end),
        )
        .order_by(r.c.issued_at, r.c.id)
        .limit(5000)
    )
    return [dict(x) for x in (await session.execute(stmt)).mappings()]


async def runs_of_region(
    session: AsyncSession,
    level: str,
    region_kato: str,
    quantity: str,
    horizon: str,
    start: datetime,
    end: datetime,
    *,
    latest: bool = False,
) -> list[dict[str, Any]]:
    """Runs of every ``level`` series of a region overlapping ``[start, end)``, oldest first;
    with ``latest`` only the newest of each series."""
    r, s = m.forecast_run, m.series
    stmt = (
        select(r.c.series_id, r.c.start_ts, r.c.step_s, r.c.p50, r.c.issued_at)
        .join(s, s.c.id == r.c.series_id)
        .where(
            s.c.level == level,
            s.c.region_kato == region_kato,
            s.c.quantity == quantity,
            r.c.horizon == horizon,
            *_overlapping(start, end),
        )
    )
    if latest:
        stmt = stmt.distinct(r.c.series_id).order_by(
            r.c.series_id, r.c.issued_at.desc(), r.c.id.desc()
        )
        rows = [dict(x) for x in (await session.execute(stmt)).mappings()]
        return sorted(rows, key=lambda x: x["issued_at"])
    stmt = stmt.order_by(r.c.issued_at, r.c.id)
    return [dict(x) for x in (await session.execute(stmt)).mappings()]


async def prune_runs(session: AsyncSession, horizon: str, before: datetime) -> int:
    result = await session.execute(
        delete(m.forecast_run).where(
            m.forecast_run.c.horizon == horizon, m.forecast_run.c.issued_at < before
        )
    )
    return int(result.rowcount or 0)


# --------------------------------------------------------------------------- jobs


def new_job(
    kind: str,
    group: str,
    quantity: str,
    horizons: Sequence[str],
    *,
    origin: str,
    requested_by: str | None = None,
    shard: int = 0,
    shards: int = 1,
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "kind": kind,
        "group_key": group,
        "quantity": quantity,
        "horizons": list(horizons),
        "shard": shard,
        "shards": shards,
        "status": "queued",
        "origin": origin,
        "requested_by": requested_by,
    }


async def add_job(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(m.job).values(**values))


async def job(session: AsyncSession, job_id: str) -> dict[str, Any] | None:
    try:
        uuid.UUID(job_id)
    except ValueError:
        return None
    row = (await session.execute(select(m.job).where(m.job.c.id == job_id))).mappings().first()
    return dict(row) if row else None


async def start_job(
    session: AsyncSession, job_id: str, worker: str, at: datetime
) -> dict[str, Any] | None:
    """Mark a queued (or retried) job running; None if it is done, failed or unknown."""
    row = (
        (
            await session.execute(
                update(m.job)
                .where(m.job.c.id == job_id, m.job.c.status.in_(("queued", "running")))
                .values(
                    status="running",
                    worker=worker,
                    started_at=at,
                    attempts=m.job.c.attempts + 1,
                    error=None,
                )
                .returning(m.job)
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def finish_job(
    session: AsyncSession,
    job_id: str,
    status: str,
    at: datetime,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
) -> None:
    await session.execute(
        update(m.job)
        .where(m.job.c.id == job_id)
        .values(
            status=status,
            finished_at=at if status in ("done", "failed") else None,
            result=result,
            error=error,
        )
    )


async def list_jobs(
    session: AsyncSession,
    *,
    status: str | None,
    kind: str | None,
    group: str | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    t = m.job
    stmt = select(t).order_by(t.c.created_at.desc(), t.c.id.desc()).limit(limit + 1)
    for column, value in ((t.c.status, status), (t.c.kind, kind), (t.c.group_key, group)):
        if value:
            stmt = stmt.where(column == value)
    if cursor:
        c = _cursor(cursor, 2)
        at = datetime.fromisoformat(str(c[0]))
        stmt = stmt.where(or_(t.c.created_at < at, and_(t.c.created_at == at, t.c.id < c[1])))
    rows = [dict(r) for r in (await session.execute(stmt)).mappings()]
    nxt = None
    if len(rows) > limit:
        last = rows[limit - 1]
        nxt = encode_cursor([last["created_at"], last["id"]])
    return rows[:limit], nxt


async def pending_job(session: AsyncSession, kind: str, group: str, quantity: str) -> bool:
    """Whether a job of this kind and group is queued and not yet started."""
    found = await session.scalar(
        select(func.count())
        .select_from(m.job)
        .where(
            m.job.c.kind == kind,
            m.job.c.group_key == group,
            m.job.c.quantity == quantity,
            m.job.c.status == "queued",
        )
    )
    return bool(found)


# --------------------------------------------------------------------------- debounce, schedule


async def mark_data(session: AsyncSession, groups: Sequence[tuple[str, str]], at: datetime) -> None:
    if not groups:
        return
    stmt = insert(m.group_state).values(
        [{"group_key": g, "quantity": q, "data_at": at} for g, q in sorted(set(groups))]
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["group_key", "quantity"], set_={"data_at": stmt.excluded.data_at}
    )
    await session.execute(stmt)


async def claim_updates(
    session: AsyncSession, now: datetime, quiet_seconds: float
) -> list[tuple[str, str]]:
    """Groups with new data whose last update was queued more than ``quiet_seconds`` ago."""
    rows = await session.execute(
        text(
            "UPDATE forecast.group_state SET queued_at = :now "
            "WHERE data_at IS NOT NULL AND (queued_at IS NULL OR "
            "(data_at > queued_at AND queued_at < :limit)) "
            "RETURNING group_key, quantity"
        ),
        {"now": now, "limit": now - timedelta(seconds=quiet_seconds)},
    )
    return [(r.group_key, r.quantity) for r in rows]


async def claim_run(session: AsyncSession, name: str, slot: str) -> bool:
    result = await session.execute(
        insert(m.schedule_claim).values(name=name, slot=slot).on_conflict_do_nothing()
    )
    return bool(result.rowcount)
