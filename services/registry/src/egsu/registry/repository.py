"""All of the registry's SQL. The subject scope is applied here, so a forgotten check cannot leak."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, func, insert, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from egsu.db.pagination import keyset, page
from egsu.registry import models as m
from egsu.registry.entities import EntitySpec


def _parse_sort_value(value: Any) -> Any:
    if isinstance(value, str) and len(value) >= 10 and value[4] == "-" and value[7] == "-":
        try:
            return datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return value
    return value


def _scoped(stmt: Select[Any], spec: EntitySpec, scope_bin: str | None) -> Select[Any]:
    if scope_bin is not None:
        stmt = stmt.where(spec.table.c[spec.subject_col] == scope_bin)
    return stmt


def _filtered(
    stmt: Select[Any], spec: EntitySpec, filters: Mapping[str, Any], q: str | None
) -> Select[Any]:
    t = spec.table
    for name, value in filters.items():
        if value is None:
            continue
        stmt = stmt.where(t.c[name].in_(value) if isinstance(value, list) else t.c[name] == value)
    if q:
        conditions = [t.c.search.op("@@")(func.plainto_tsquery("simple", q))]
        prefix = q.strip().replace("%", "").replace("_", "") + "%"
        for col in ("code", "bin", "serial_number", "name_ru", "name_kk", "name", "title"):
            if col in t.c:
                conditions.append(
                    t.c[col].ilike(prefix if col in ("code", "bin", "serial_number") else f"%{q}%")
                )
        stmt = stmt.where(or_(*conditions))
    return stmt


async def list_page(
    session: AsyncSession,
    spec: EntitySpec,
    *,
    scope_bin: str | None,
    filters: Mapping[str, Any],
    q: str | None,
    sort: str,
    cursor: str | None,
    limit: int,
    extra: Any = None,
) -> tuple[list[dict[str, Any]], str | None]:
    t = spec.table
    descending = sort.startswith("-")
    sort_col = t.c[spec.sorts[sort.lstrip("-")]]
    stmt = _filtered(_scoped(select(t), spec, scope_bin), spec, filters, q)
    if extra is not None:
        stmt = stmt.where(extra)
    stmt = keyset(
        stmt,
        sort_col=sort_col,
        id_col=t.c[spec.id_col],
        descending=descending,
        cursor=cursor,
        parse=_parse_sort_value,
    )
    rows = (await session.execute(stmt.limit(limit + 1))).mappings().all()
    items, nxt = page(rows, limit, sort_key=sort_col.name, id_key=spec.id_col)
    return [dict(r) for r in items], nxt


async def stream_all(
    session: AsyncSession,
    spec: EntitySpec,
    *,
    scope_bin: str | None,
    filters: Mapping[str, Any],
    q: str | None,
    sort: str,
    extra: Any = None,
) -> AsyncIterator[dict[str, Any]]:
    """Every matching row, streamed (exports)."""
    t = spec.table
    sort_col = t.c[spec.sorts[sort.lstrip("-")]]
    stmt = _filtered(_scoped(select(t), spec, scope_bin), spec, filters, q)
    if extra is not None:
        stmt = stmt.where(extra)
    stmt = stmt.order_by(sort_col.desc() if sort.startswith("-") else sort_col, t.c[spec.id_col])
    result = await session.stream(stmt.execution_options(yield_per=2000))
    async for row in result.mappings():
        yield dict(row)


async def get(
    session: AsyncSession,
    spec: EntitySpec,
    id_: str,
    *,
    scope_bin: str | None,
    for_update: bool = False,
) -> dict[str, Any] | None:
    t = spec.table
    stmt = _scoped(select(t).where(t.c[spec.id_col] == id_), spec, scope_bin)
    if for_update:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).mappings().first()
    return dict(row) if row else None


async def insert_row(
    session: AsyncSession, spec: EntitySpec, values: dict[str, Any]
) -> dict[str, Any]:
    t = spec.table
    row = (await session.execute(insert(t).values(**values).returning(t))).mappings().one()
    return dict(row)


async def update_row(
    session: AsyncSession, spec: EntitySpec, id_: str, values: dict[str, Any]
) -> dict[str, Any]:
    t = spec.table
    stmt = (
        update(t)
        .where(t.c[spec.id_col] == id_)
        .values(**values, version=t.c.version + 1, updated_at=func.now())
        .returning(t)
    )
    return dict((await session.execute(stmt)).mappings().one())


async def exists(session: AsyncSession, spec: EntitySpec, id_: str) -> bool:
    t = spec.table
    return (
        await session.execute(select(t.c[spec.id_col]).where(t.c[spec.id_col] == id_))
    ).first() is not None


async def point_by_code(session: AsyncSession, code: str) -> dict[str, Any] | None:
    t = m.metering_point
    row = (await session.execute(select(t).where(t.c.code == code))).mappings().first()
    return dict(row) if row else None


async def point_by_code_80020(session: AsyncSession, code: str) -> dict[str, Any] | None:
    t = m.metering_point
    row = (await session.execute(select(t).where(t.c.code_80020 == code))).mappings().first()
    return dict(row) if row else None


async def codes_of_subject(session: AsyncSession, subject_bin: str, codes: list[str]) -> set[str]:
    t = m.metering_point
    rows = await session.execute(
        select(t.c.code).where(and_(t.c.subject_bin == subject_bin, t.c.code.in_(codes)))
    )
    return {r[0] for r in rows}


async def open_installation(session: AsyncSession, point_id: str) -> dict[str, Any] | None:
    t = m.device_installation
    row = (
        (
            await session.execute(
                select(t)
                .where(t.c.point_id == point_id, t.c.removed_at.is_(None))
                .with_for_update()
            )
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def close_installation(session: AsyncSession, installation_id: int, at: datetime) -> None:
    t = m.device_installation
    await session.execute(update(t).where(t.c.id == installation_id).values(removed_at=at))


async def add_installation(
    session: AsyncSession, device_id: str, point_id: str, at: datetime
) -> None:
    await session.execute(
        insert(m.device_installation).values(
            device_id=device_id, point_id=point_id, installed_at=at
        )
    )


async def installations(session: AsyncSession, point_id: str) -> list[dict[str, Any]]:
    t = m.device_installation
    rows = await session.execute(
        select(t).where(t.c.point_id == point_id).order_by(t.c.installed_at)
    )
    return [dict(r) for r in rows.mappings()]


async def device_installations(session: AsyncSession, device_id: str) -> list[dict[str, Any]]:
    t = m.device_installation
    rows = await session.execute(
        select(t).where(t.c.device_id == device_id).order_by(t.c.installed_at)
    )
    return [dict(r) for r in rows.mappings()]


async def next_doc_version(
    session: AsyncSession, owner_type: str, owner_id: str, title: str
) -> int:
    t = m.document
    current = (
        await session.execute(
            select(func.max(t.c.doc_version)).where(
                t.c.owner_type == owner_type, t.c.owner_id == owner_id, t.c.title == title
            )
        )
    ).scalar()
    return int(current or 0) + 1


async def point_index(
    session: AsyncSession,
    *,
    subject_bin: str | None,
    facility_id: str | None,
    region_kato: str | None,
) -> AsyncIterator[dict[str, Any]]:
    """The compact index of metering points with their facility's type and criticality."""
    p, f = m.metering_point, m.facility
    stmt = select(
        p.c.id,
        p.c.code,
        p.c.subject_bin,
        p.c.facility_id,
        f.c.type.label("facility_type"),
        p.c.region_kato,
        p.c.commodity,
        p.c.position,
        p.c.quantities,
        p.c.units,
        p.c.interval_min,
        p.c.nominal_voltage,
        p.c.rated_current,
        p.c.max_power_kw,
        p.c.register_digits,
        p.c.import_only,
        f.c.criticality,
        p.c.norms,
        p.c.status,
        p.c.code_80020,
        p.c.channels_80020,
    ).join(f, f.c.id == p.c.facility_id)
    if subject_bin:
        stmt = stmt.where(p.c.subject_bin == subject_bin)
    if facility_id:
        stmt = stmt.where(p.c.facility_id == facility_id)
    if region_kato:
        stmt = stmt.where(p.c.region_kato == region_kato)
    result = await session.stream(stmt.order_by(p.c.code).execution_options(yield_per=5000))
    async for row in result.mappings():
        yield dict(row)


async def verification_due(
    session: AsyncSession, *, before: date, scope_bin: str | None
) -> list[dict[str, Any]]:
    d, p = m.device, m.metering_point
    stmt = (
        select(d, p.c.code.label("point_code"))
        .outerjoin(p, p.c.id == d.c.point_id)
        .where(d.c.next_verification_due <= before, d.c.status == "active")
        .order_by(d.c.next_verification_due, d.c.id)
    )
    if scope_bin is not None:
        stmt = stmt.where(d.c.subject_bin == scope_bin)
    return [dict(r) for r in (await session.execute(stmt)).mappings()]


async def mark_verification_notified(session: AsyncSession, device_id: str, due: date) -> None:
    await session.execute(
        update(m.device).where(m.device.c.id == device_id).values(verification_notified_for=due)
    )


# --- integration clients -------------------------------------------------------------------------


async def clients_by_id(session: AsyncSession, client_ids: set[str]) -> dict[str, dict[str, Any]]:
    t = m.integration_client
    if not client_ids:
        return {}
    rows = (
        (await session.execute(select(t).where(t.c.client_id.in_(sorted(client_ids)))))
        .mappings()
        .all()
    )
    return {r["client_id"]: dict(r) for r in rows}


async def lock_event_cursor(session: AsyncSession, start_ms: int) -> dict[str, Any] | None:
    """The login-event cursor, locked for this transaction; None while another replica holds it."""
    t = m.idp_event_cursor
    await session.execute(
        pg_insert(t).values(id=1, time_ms=start_ms).on_conflict_do_nothing(index_elements=["id"])
    )
    row = (
        (await session.execute(select(t).where(t.c.id == 1).with_for_update(skip_locked=True)))
        .mappings()
        .first()
    )
    return dict(row) if row else None


async def move_event_cursor(session: AsyncSession, time_ms: int, ids: list[str]) -> None:
    t = m.idp_event_cursor
    await session.execute(update(t).where(t.c.id == 1).values(time_ms=time_ms, ids_at_time=ids))
