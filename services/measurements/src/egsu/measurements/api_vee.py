"""VEE routes under /api/v1/measurements: corrections, rules, quality analytics, indicators."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request

from egsu.auth import Principal, require_roles
from egsu.contracts.regions import REGIONS_BY_KATO
from egsu.core.errors import NotFound
from egsu.measurements import analytics
from egsu.measurements.api import Reader, Wide, quantity_of, visible_point, window
from egsu.measurements.corrections import Corrections
from egsu.measurements.schemas import CorrectionCreate, Decision, Rejection, reasons_list
from egsu.measurements.vee import rules as R

router = APIRouter(prefix="/api/v1/measurements", tags=["vee"])
Requester = Annotated[Principal, Depends(require_roles("ministry", "operator", "subject"))]
Decider = Annotated[Principal, Depends(require_roles("ministry", "operator"))]
Status = Literal["pending", "confirmed", "rejected"]
MAX_ANALYTICS_DAYS = 400


def corrections(request: Request) -> Corrections:
    return request.app.state.corrections  # type: ignore[no-any-return]


@router.get("/vee/rules", summary="The validation rules: codes, bits of `rules`, severity, names")
async def vee_rules(principal: Reader) -> dict[str, Any]:
    return {"items": [r.as_dict() for r in R.RULES]}


@router.get("/corrections/reasons", summary="Reason codes a correction may give")
async def correction_reasons(principal: Reader) -> dict[str, Any]:
    return {"items": reasons_list()}


@router.post(
    "/corrections",
    status_code=201,
    summary="Propose a correction (pending until another operator or ministry user confirms it)",
)
async def create_correction(
    body: CorrectionCreate, request: Request, principal: Requester
) -> dict[str, Any]:
    point = await visible_point(request, principal, body.point)
    q, qid = quantity_of(request, body.quantity)
    if qid is None and body.re_estimate:
        raise NotFound(f"no {q} readings of metering point {point.code}", code="no_readings")
    if qid is None:
        async with request.app.state.pool.acquire() as conn:
            qid = (await request.app.state.catalog.quantity_ids(conn, [q]))[q]
    infos = await request.app.state.directory.of_subject(point.subject_bin)
    return await corrections(request).create(
        principal,
        point,
        qid,
        body,
        infos,
        request.app.state.settings.correction_max_intervals,
    )


@router.get("/corrections", summary="Corrections, newest first (a subject sees its own)")
async def list_corrections(
    request: Request,
    principal: Reader,
    status: Status | None = None,
    point: str | None = None,
    subject_bin: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: str | None = None,
) -> dict[str, Any]:
    point_id = None
    if point is not None:
        point_id = (await visible_point(request, principal, point)).id
    return await corrections(request).list(principal, status, point_id, subject_bin, limit, cursor)


@router.get(
    "/corrections/{correction_id}", summary="One correction, with the readings it covers now"
)
async def get_correction(correction_id: str, request: Request, principal: Reader) -> dict[str, Any]:
    return await corrections(request).get(principal, correction_id)


@router.post(
    "/corrections/{correction_id}/confirm",
    summary="Confirm a correction: its values become the current readings (not by its author)",
)
async def confirm_correction(
    correction_id: str, request: Request, principal: Decider, body: Decision | None = None
) -> dict[str, Any]:
    return await corrections(request).confirm(
        principal, correction_id, body.comment if body else None
    )


@router.post(
    "/corrections/{correction_id}/reject",
    summary="Reject a correction with a comment; nothing changes (not by its author)",
)
async def reject_correction(
    correction_id: str, body: Rejection, request: Request, principal: Decider
) -> dict[str, Any]:
    return await corrections(request).reject(principal, correction_id, body.comment)


Start = Annotated[
    datetime | None, Query(alias="from", description="exclusive; ISO 8601 with offset")
]
End = Annotated[datetime | None, Query(alias="to", description="inclusive; ISO 8601 with offset")]


@router.get(
    "/quality/points/{code}",
    summary="A point's share of valid, suspect, estimated, edited and missing intervals; top rules",
)
async def point_quality(
    code: str, request: Request, principal: Reader, start: Start = None, end: End = None
) -> dict[str, Any]:
    p = await visible_point(request, principal, code)
    start, end = window(start, end, MAX_ANALYTICS_DAYS)
    infos = await request.app.state.directory.of_subject(p.subject_bin)
    info = {code: infos[code]} if code in infos else {}
    async with request.app.state.pool.acquire() as conn:
        out = await analytics.quality(conn, request.app.state.catalog, [p], info, start, end)
    return {"point": p.code, **out}


@router.get(
    "/quality/subjects/{bin}", summary="A subject's data quality over a period, worst points first"
)
async def subject_quality(
    bin: str, request: Request, principal: Reader, start: Start = None, end: End = None
) -> dict[str, Any]:
    if not principal.can_see_subject(bin):
        raise NotFound(f"no readings of subject {bin}", code="subject_not_found")
    start, end = window(start, end, MAX_ANALYTICS_DAYS)
    infos = await request.app.state.directory.of_subject(bin)
    catalog = request.app.state.catalog
    async with request.app.state.pool.acquire() as conn:
        points = await catalog.points_where(conn, "subject_bin", bin)
        out = await analytics.quality(conn, catalog, points, infos, start, end, per_point=True)
    return {"subject_bin": bin, **out}


@router.get(
    "/quality/regions/{kato}", summary="A region's data quality over a period, worst points first"
)
async def region_quality(
    kato: str, request: Request, principal: Wide, start: Start = None, end: End = None
) -> dict[str, Any]:
    if kato not in REGIONS_BY_KATO:
        raise NotFound(f"no region with KATO {kato}", code="region_not_found")
    start, end = window(start, end, MAX_ANALYTICS_DAYS)
    infos = await request.app.state.directory.of_region(kato)
    catalog = request.app.state.catalog
    async with request.app.state.pool.acquire() as conn:
        points = await catalog.points_where(conn, "region_kato", kato)
        out = await analytics.quality(conn, catalog, points, infos, start, end, per_point=True)
    return {"region_kato": kato, **out}


@router.get(
    "/indicators/facilities/{facility_id}",
    summary="Energy-efficiency and risk indicators of a facility: losses, load factor, above-norm share",
)
async def facility_indicators(
    facility_id: str, request: Request, principal: Reader, start: Start = None, end: End = None
) -> dict[str, Any]:
    start, end = window(start, end, MAX_ANALYTICS_DAYS)
    infos = list((await request.app.state.directory.of_facility(facility_id)).values())
    if not infos or not principal.can_see_subject(infos[0].subject_bin):
        raise NotFound(f"no metering points of facility {facility_id}", code="facility_not_found")
    async with request.app.state.pool.acquire() as conn:
        return await analytics.facility_indicators(
            conn, request.app.state.catalog, facility_id, infos, start, end
        )


@router.get(
    "/indicators/regions/{kato}",
    summary="Energy-efficiency and risk indicators of a region: network losses, load factor, above-norm share",
)
async def region_indicators(
    kato: str, request: Request, principal: Wide, start: Start = None, end: End = None
) -> dict[str, Any]:
    if kato not in REGIONS_BY_KATO:
        raise NotFound(f"no region with KATO {kato}", code="region_not_found")
    start, end = window(start, end, MAX_ANALYTICS_DAYS)
    infos = list((await request.app.state.directory.of_region(kato)).values())
    async with request.app.state.pool.acquire() as conn:
        return await analytics.region_indicators(
            conn, request.app.state.catalog, kato, infos, start, end
        )
