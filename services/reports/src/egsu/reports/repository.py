"""All SQL of the reports service. Who may see a report is decided here, in the query."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from egsu.auth import Principal
from egsu.db.pagination import keyset, page
from egsu.reports import models as m


def visible(principal: Principal) -> Any:
    """The reports a caller may see: a subject its own local ones, government regional and national."""
    r = m.report
    if principal.has_any("ministry", "operator", "service", "auditor"):
        return True
    conds = []
    if principal.has_any("government"):
        conds.append(r.c.level.in_(("regional", "national")))
    if principal.has_any("subject") and principal.bin:
        conds.append(and_(r.c.level == "local", r.c.scope_bin == principal.bin))
    return or_(*conds) if conds else False


async def add_report(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(m.report).values(**values))


async def get_report(
    session: AsyncSession, report_id: str, principal: Principal | None = None
) -> dict[str, Any] | None:
    stmt = select(m.report).where(m.report.c.id == report_id)
    if principal is not None:
        stmt = stmt.where(visible(principal))
    row = (await session.execute(stmt)).mappings().first()
    return dict(row) if row else None


async def update_report(session: AsyncSession, report_id: str, **values: Any) -> None:
    await session.execute(update(m.report).where(m.report.c.id == report_id).values(**values))


async def claim_report(
    session: AsyncSession, report_id: str, now: datetime
) -> dict[str, Any] | None:
    """Mark a queued (or interrupted) report running; None when it is already done."""
    row = (
        (
            await session.execute(
                update(m.report)
                .where(m.report.c.id == report_id, m.report.c.status.in_(("queued", "running")))
                .values(status="running", started_at=now, attempts=m.report.c.attempts + 1)
                .returning(*m.report.c)
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def list_reports(
    session: AsyncSession,
    principal: Principal,
    *,
    filters: dict[str, Any],
    created_from: datetime | None,
    created_to: datetime | None,
    period_from: date | None,
    period_to: date | None,
    limit: int,
    cursor: str | None,
) -> tuple[list[dict[str, Any]], str | None]:
    r = m.report
    stmt = select(r).where(visible(principal))
    for k, v in filters.items():
        if v is not None:
            stmt = stmt.where(r.c[k] == v)
    if created_from:
        stmt = stmt.where(r.c.created_at >= created_from)
    if created_to:
        stmt = stmt.where(r.c.created_at < created_to)
    if period_from:
        stmt = stmt.where(r.c.period_to >= period_from)
    if period_to:
        stmt = stmt.where(r.c.period_from <= period_to)
    stmt = keyset(
        stmt,
        sort_col=r.c.created_at,
        id_col=r.c.id,
        descending=True,
        cursor=cursor,
        parse=datetime.fromisoformat,
    )
    rows = (await session.execute(stmt.limit(limit + 1))).mappings().all()
    items, nxt = page(rows, limit, sort_key="created_at", id_key="id")
    return [dict(x) for x in items], nxt


# --- emergencies ---------------------------------------------------------------------------------


async def add_emergency(session: AsyncSession, values: dict[str, Any]) -> bool:
    """Record a triggering event once; False when it was seen before."""
    res = await session.execute(
        pg_insert(m.emergency)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["source_key"])
        .returning(m.emergency.c.source_key)
    )
    return res.first() is not None


async def open_incident(
    session: AsyncSession, facility_id: str, at: datetime, seconds: int
) -> str | None:
    """The report of an emergency of the same facility within ``seconds`` of ``at``."""
    e = m.emergency
    from datetime import timedelta

    row = (
        await session.execute(
            select(e.c.report_id)
            .where(
                e.c.facility_id == facility_id,
                e.c.occurred_at.between(
                    at - timedelta(seconds=seconds), at + timedelta(seconds=seconds)
                ),
            )
            .order_by(e.c.created_at)
            .limit(1)
        )
    ).first()
    return row[0] if row else None


async def emergencies_of(session: AsyncSession, report_id: str) -> list[dict[str, Any]]:
    e = m.emergency
    rows = (
        (
            await session.execute(
                select(e).where(e.c.report_id == report_id).order_by(e.c.occurred_at)
            )
        )
        .mappings()
        .all()
    )
    return [dict(r) for r in rows]


# --- recommendations -----------------------------------------------------------------------------


async def upsert_recommendation(session: AsyncSession, values: dict[str, Any]) -> dict[str, Any]:
    rc = m.recommendation
    stmt = pg_insert(rc).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["fingerprint"],
        set_={
            "numbers": stmt.excluded.numbers,
            "text": stmt.excluded.text,
            "updated_at": func.now(),
        },
    ).returning(*rc.c)
    return dict((await session.execute(stmt)).mappings().one())


async def get_recommendation(
    session: AsyncSession, rec_id: str, *, lock: bool = False
) -> dict[str, Any] | None:
    stmt = select(m.recommendation).where(m.recommendation.c.id == rec_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).mappings().first()
    return dict(row) if row else None


async def update_recommendation(
    session: AsyncSession, rec_id: str, **values: Any
) -> dict[str, Any]:
    rc = m.recommendation
    row = (
        (
            await session.execute(
                update(rc)
                .where(rc.c.id == rec_id)
                .values(**values, updated_at=func.now())
                .returning(*rc.c)
            )
        )
        .mappings()
        .one()
    )
    return dict(row)


async def list_recommendations(
    session: AsyncSession, *, filters: dict[str, Any], limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    rc = m.recommendation
    stmt = select(rc)
    for k, v in filters.items():
        if v is not None:
            stmt = stmt.where(rc.c[k] == v)
    stmt = keyset(
        stmt,
        sort_col=rc.c.created_at,
        id_col=rc.c.id,
        descending=True,
        cursor=cursor,
        parse=datetime.fromisoformat,
    )
    rows = (await session.execute(stmt.limit(limit + 1))).mappings().all()
    items, nxt = page(rows, limit, sort_key="created_at", id_key="id")
    return [dict(x) for x in items], nxt


# --- queries of state bodies ---------------------------------------------------------------------


async def add_query(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(m.query).values(**values))


async def get_query(session: AsyncSession, query_id: str) -> dict[str, Any] | None:
    row = (
        (await session.execute(select(m.query).where(m.query.c.id == query_id))).mappings().first()
    )
    return dict(row) if row else None


async def update_query(session: AsyncSession, query_id: str, **values: Any) -> None:
    await session.execute(update(m.query).where(m.query.c.id == query_id).values(**values))


# --- open data -----------------------------------------------------------------------------------


async def replace_open_rows(
    session: AsyncSession,
    dataset: str,
    rows: list[dict[str, Any]],
    days: tuple[date, date] | None,
    meta: dict[str, Any],
) -> None:
    """Replace a dataset's rows (those of the given days, or all of them) and its catalogue entry."""
    o = m.open_row
    stmt = delete(o).where(o.c.dataset == dataset)
    if days is not None:
        stmt = stmt.where(o.c.day.between(days[0], days[1]))
    await session.execute(stmt)
    if rows:
        await session.execute(insert(o), [{"dataset": dataset, **r} for r in rows])
    total = (
        await session.execute(select(func.count()).select_from(o).where(o.c.dataset == dataset))
    ).scalar_one()
    suppressed = (
        await session.execute(
            select(func.count())
            .select_from(o)
            .where(o.c.dataset == dataset, o.c.data["suppressed"].astext == "true")
        )
    ).scalar_one()
    span = (
        await session.execute(
            select(func.min(o.c.day), func.max(o.c.day)).where(o.c.dataset == dataset)
        )
    ).one()
    values = {
        "refreshed_at": meta["refreshed_at"],
        "rows": total,
        "suppressed": suppressed,
        "coverage_from": span[0],
        "coverage_to": span[1],
    }
    await session.execute(
        pg_insert(m.open_dataset)
        .values(name=dataset, **values)
        .on_conflict_do_update(index_elements=["name"], set_=values)
    )


async def open_catalogue(session: AsyncSession) -> dict[str, dict[str, Any]]:
    rows = (await session.execute(select(m.open_dataset))).mappings().all()
    return {r["name"]: dict(r) for r in rows}


async def open_rows(
    session: AsyncSession, dataset: str, day_from: date | None, day_to: date | None
) -> list[dict[str, Any]]:
    o = m.open_row
    stmt = select(o.c.data).where(o.c.dataset == dataset)
    if day_from:
        stmt = stmt.where(o.c.day >= day_from)
    if day_to:
        stmt = stmt.where(o.c.day <= day_to)
    return [r[0] for r in (await session.execute(stmt.order_by(o.c.key))).all()]


# --- schedule ------------------------------------------------------------------------------------


async def claim_run(session: AsyncSession, name: str, period: str) -> bool:
    res = await session.execute(
        pg_insert(m.schedule_run)
        .values(name=name, period=period)
        .on_conflict_do_nothing()
        .returning(m.schedule_run.c.name)
    )
    return res.first() is not None


async def last_runs(session: AsyncSession) -> list[dict[str, Any]]:
    s = m.schedule_run
    rows = (
        (await session.execute(select(s).order_by(s.c.created_at.desc()).limit(50)))
        .mappings()
        .all()
    )
    return [dict(r) for r in rows]
