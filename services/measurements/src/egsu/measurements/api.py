"""Historian routes under /api/v1/measurements."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Depends, Query, Request

from egsu.auth import Principal, require_roles
from egsu.contracts.regions import REGIONS_BY_KATO
from egsu.contracts.vocabulary import resolve_quantity
from egsu.core.errors import FieldError, NotFound, Unprocessable
from egsu.measurements import queries
from egsu.measurements.catalog import Catalog, Point
from egsu.measurements.rollups import COUNTRY

router = APIRouter(prefix="/api/v1/measurements", tags=["measurements"])
Reader = Annotated[
    Principal, Depends(require_roles("ministry", "operator", "government", "service", "subject"))
]
Wide = Annotated[Principal, Depends(require_roles("ministry", "operator", "government", "service"))]
PointResolution = Literal["native", "15m", "30m", "1h", "1d", "1mo"]
GroupResolution = Literal["1h", "1d", "1mo"]
SECONDS = {"15m": 900, "30m": 1800, "1h": 3600, "1d": 86400, "1mo": 86400 * 31}


def _bad(field: str, message: str) -> Unprocessable:
    return Unprocessable(f"{field}: {message}", errors=[FieldError(field, "invalid", message)])


def window(
    start: datetime | None, end: datetime | None, max_span_days: int = 3700
) -> tuple[datetime, datetime]:
    """The query window (from, to], one day back from now by default."""
    for name, v in (("from", start), ("to", end)):
        if v is not None and v.tzinfo is None:
            raise _bad(name, "give the time with its UTC offset, e.g. 2026-01-15T00:00:00+05:00")
    end = end or datetime.now(UTC)
    start = start or end - timedelta(days=1)
    if start >= end:
        raise _bad("to", "must be after from")
    if (end - start).days > max_span_days:
        raise _bad("from", f"the window is longer than {max_span_days} days")
    return start, end


def quantity_of(request: Request, code: str) -> tuple[str, int | None]:
    q = resolve_quantity(code)
    if q is None:
        raise _bad("quantity", f"unknown quantity {code!r}")
    catalog: Catalog = request.app.state.catalog
    return q.code, catalog.quantities.get(q.code)


async def visible_point(request: Request, principal: Principal, code: str) -> Point:
    pool: asyncpg.Pool = request.app.state.pool
    async with pool.acquire() as conn:
        p = await request.app.state.catalog.point(conn, code)
    if p is None or not principal.can_see_subject(p.subject_bin):
        raise NotFound(f"no readings of metering point {code}", code="point_not_found")
    return p


def _check_size(start: datetime, end: datetime, step_s: int, limit: int) -> None:
    if (end - start).total_seconds() / step_s > limit:
        raise _bad(
            "resolution",
            f"more than {limit} items; ask for a coarser resolution or a shorter window",
        )


@router.get("/points/{code}/readings", summary="A metering point's readings, native or in buckets")
async def point_readings(
    code: str,
    request: Request,
    principal: Reader,
    quantity: Annotated[str, Query(description="quantity code, e.g. active_import")],
    start: Annotated[
        datetime | None, Query(alias="from", description="exclusive; ISO 8601 with offset")
    ] = None,
    end: Annotated[
        datetime | None, Query(alias="to", description="inclusive; ISO 8601 with offset")
    ] = None,
    resolution: PointResolution = "native",
    versions: Literal["current", "all"] = "current",
    explain: Annotated[
        bool,
        Query(
            description="native only: which rule fired with what numbers, the origin of each value, "
            "and the missing intervals between stored readings"
        ),
    ] = False,
) -> dict[str, Any]:
    p = await visible_point(request, principal, code)
    start, end = window(start, end)
    q, qid = quantity_of(request, quantity)
    unit = resolve_quantity(q).unit  # type: ignore[union-attr]
    if resolution in ("15m", "30m") and SECONDS[resolution] <= p.interval_min * 60:
        resolution = "native"
    limit = request.app.state.settings.max_items
    items: list[dict[str, Any]] = []
    if qid is not None:
        async with request.app.state.pool.acquire() as conn:
            if resolution == "native":
                _check_size(start, end, p.interval_min * 60, limit)
                items = await queries.native(
                    conn, p.id, qid, start, end, versions == "all", limit, explain, p.interval_min
                )
            else:
                items = await queries.point_buckets(conn, p.id, qid, start, end, resolution)
    return {
        "point": p.code,
        "quantity": q,
        "unit": unit,
        "resolution": f"{p.interval_min}m" if resolution == "native" else resolution,
        "interval_min": p.interval_min,
        "items": items,
    }


@router.get(
    "/points/{code}/readings/history",
    summary="Every version of one reading: who, when, why, old and new",
)
async def reading_history(
    code: str,
    request: Request,
    principal: Reader,
    quantity: str,
    ts: Annotated[datetime, Query(description="the reading's time (end of its interval)")],
) -> dict[str, Any]:
    if ts.tzinfo is None:
        raise _bad("ts", "give the time with its UTC offset")
    p = await visible_point(request, principal, code)
    q, qid = quantity_of(request, quantity)
    versions: list[dict[str, Any]] = []
    if qid is not None:
        async with request.app.state.pool.acquire() as conn:
            versions = await queries.history(conn, p.id, qid, ts)
    return {
        "point": p.code,
        "quantity": q,
        "ts": ts.astimezone(UTC).isoformat(),
        "versions": versions,
    }


@router.get("/points/{code}/events", summary="A metering point's meter journal and SCADA events")
async def point_events(
    code: str,
    request: Request,
    principal: Reader,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
) -> dict[str, Any]:
    p = await visible_point(request, principal, code)
    start, end = window(start, end)
    async with request.app.state.pool.acquire() as conn:
        items = await queries.events(conn, p.id, start, end, limit)
    return {"point": p.code, "items": items}


async def _group(
    request: Request,
    level: int,
    key: str,
    quantity: str,
    start: datetime | None,
    end: datetime | None,
    resolution: str,
    label: dict[str, Any],
) -> dict[str, Any]:
    start, end = window(start, end)
    q, qid = quantity_of(request, quantity)
    from egsu.measurements.catalog import GROUPED

    if q not in GROUPED:
        raise _bad(
            "quantity", f"{q} does not add up over several points; ask a metering point for it"
        )
    _check_size(start, end, SECONDS[resolution], request.app.state.settings.max_items)
    items: list[dict[str, Any]] = []
    if qid is not None:
        async with request.app.state.pool.acquire() as conn:
            items = await queries.group_series(conn, level, key, qid, start, end, resolution)
    unit = resolve_quantity(q).unit  # type: ignore[union-attr]
    return {**label, "quantity": q, "unit": unit, "resolution": resolution, "items": items}


@router.get(
    "/facilities/{facility_id}/readings", summary="A facility's totals per hour, day or month"
)
async def facility_readings(
    facility_id: str,
    request: Request,
    principal: Reader,
    quantity: str,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    resolution: GroupResolution = "1h",
) -> dict[str, Any]:
    scope = principal.scope_bin
    if scope is not None:
        async with request.app.state.pool.acquire() as conn:
            owner = await conn.fetchval(
                "SELECT subject_bin FROM measurements.point WHERE facility_id = $1 LIMIT 1",
                facility_id,
            )
        if owner != scope:
            raise NotFound(f"no readings of facility {facility_id}", code="facility_not_found")
    return await _group(
        request, 1, facility_id, quantity, start, end, resolution, {"facility_id": facility_id}
    )


@router.get("/subjects/{bin}/readings", summary="A subject's totals per hour, day or month")
async def subject_readings(
    bin: str,
    request: Request,
    principal: Reader,
    quantity: str,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    resolution: GroupResolution = "1h",
) -> dict[str, Any]:
    if not principal.can_see_subject(bin):
        raise NotFound(f"no readings of subject {bin}", code="subject_not_found")
    return await _group(request, 2, bin, quantity, start, end, resolution, {"subject_bin": bin})


@router.get("/regions/{kato}/readings", summary="A region's totals per hour, day or month")
async def region_readings(
    kato: str,
    request: Request,
    principal: Wide,
    quantity: str,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    resolution: GroupResolution = "1h",
) -> dict[str, Any]:
    if kato not in REGIONS_BY_KATO:
        raise NotFound(f"no region with KATO {kato}", code="region_not_found")
    return await _group(request, 3, kato, quantity, start, end, resolution, {"region_kato": kato})


@router.get("/country/readings", summary="The country's totals per hour, day or month")
async def country_readings(
    request: Request,
    principal: Wide,
    quantity: str,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    resolution: GroupResolution = "1h",
) -> dict[str, Any]:
    return await _group(request, 4, COUNTRY, quantity, start, end, resolution, {"country": COUNTRY})


@router.get("/batches/{receipt_id}", summary="Whether a receipt's batch is in the historian yet")
async def batch_status(receipt_id: str, request: Request, principal: Reader) -> dict[str, Any]:
    async with request.app.state.pool.acquire() as conn:
        rows = await conn.fetch(
            "SELECT msg_id, subject_bin, source, stored_at, count, inserted, superseded, unchanged "
            "FROM measurements.batch WHERE receipt_id = $1 ORDER BY id",
            receipt_id,
        )
    rows = [r for r in rows if principal.can_see_subject(r["subject_bin"])]
    if not rows:
        raise NotFound(
            f"receipt {receipt_id} is not in the historian (yet)", code="batch_not_stored"
        )
    return {
        "receipt_id": receipt_id,
        "stored": True,
        "deliveries": [{**dict(r), "stored_at": r["stored_at"].isoformat()} for r in rows],
    }
