"""Routes: reports, recommendations and queries under /api/v1/reports; open data under /api/v1/open."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from egsu.auth import Principal, public, require_roles
from egsu.core.errors import FieldError, Forbidden, NotFound, Unprocessable
from egsu.core.time import KZ, utcnow
from egsu.db.deps import Session
from egsu.reports import repository as repo
from egsu.reports import schemas as s
from egsu.reports.context import Period
from egsu.reports.opendata import DATASETS, meta, select_rows, to_csv
from egsu.reports.queries import QueryCreate, narrow_fields, plan_size, run_query
from egsu.reports.render import CONTENT_TYPES
from egsu.reports.service import KINDS, OpenData, Reports, kinds_listing

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
open_router = APIRouter(prefix="/api/v1/open", tags=["open data"])

Reader = Annotated[
    Principal, Depends(require_roles("ministry", "operator", "government", "subject", "auditor"))
]
Requester = Annotated[
    Principal, Depends(require_roles("ministry", "operator", "government", "subject"))
]
Ops = Annotated[Principal, Depends(require_roles("ministry", "operator"))]
Wide = Annotated[Principal, Depends(require_roles("ministry", "operator", "government"))]
StateBody = Annotated[Principal, Depends(require_roles("government", "ministry", "operator"))]
Anyone = Annotated[Principal | None, Depends(public)]


def _reports(request: Request) -> Reports:
    return request.app.state.reports  # type: ignore[no-any-return]


def _bad(field: str, msg: str) -> Unprocessable:
    return Unprocessable(f"{field}: {msg}", errors=[FieldError(field, "invalid", msg)])


# --- reports -------------------------------------------------------------------------------------


@router.get("/kinds", summary="The kinds of report, their levels, periods, formats and languages")
async def list_kinds(_: Reader) -> dict[str, Any]:
    return {"items": kinds_listing()}


@router.post(
    "",
    status_code=202,
    response_model=s.ReportAccepted,
    summary="Ask for a report; it is made by a job",
)
async def create_report(
    body: s.ReportCreate, request: Request, principal: Requester
) -> s.ReportAccepted:
    r = await _reports(request).request(
        kind=body.kind,
        level=body.level,
        scope=body.scope,
        start=body.period.start,
        end=body.period.end,
        fmt=body.format,
        language=body.language,
        principal=principal,
    )
    return s.ReportAccepted(id=r["id"], status=r["status"])


@router.get(
    "",
    summary="Reports, newest first (a subject sees its own local ones; state bodies regional and national)",
)
async def list_reports(
    principal: Reader,
    session: Session,
    kind: str | None = None,
    level: Literal["local", "regional", "national"] | None = None,
    scope: str | None = None,
    status: Literal["queued", "running", "done", "failed"] | None = None,
    origin: Literal["request", "schedule", "alarm", "scada", "reissue"] | None = None,
    format: Literal["xlsx", "pdf", "csv", "json"] | None = None,
    period_from: Annotated[
        date | None, Query(alias="from", description="reports whose period ends on or after")
    ] = None,
    period_to: Annotated[
        date | None, Query(alias="to", description="reports whose period starts on or before")
    ] = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    if kind is not None and kind not in KINDS:
        raise _bad("kind", f"one of {', '.join(KINDS)}")
    items, nxt = await repo.list_reports(
        session,
        principal,
        filters={
            "kind": kind,
            "level": level,
            "scope": scope,
            "status": status,
            "origin": origin,
            "format": format,
        },
        created_from=created_from,
        created_to=created_to,
        period_from=period_from,
        period_to=period_to,
        limit=limit,
        cursor=cursor,
    )
    return {"items": [s.ReportRead.of(r) for r in items], "next_cursor": nxt}


@router.get("/schedules", summary="The regular reports and their latest runs")
async def schedules(request: Request, _: Ops, session: Session) -> dict[str, Any]:
    st = request.app.state.settings
    return {
        "daily": {"at": st.reports_daily_at, "time_zone": "+05:00", "reports": st.reports_daily},
        "monthly": {"day": 1, "at": st.reports_daily_at, "reports": st.reports_monthly},
        "open_data": {
            "every_minutes": st.reports_open_data_minutes,
            "days": st.reports_open_data_days,
        },
        "runs": await repo.last_runs(session),
    }


@router.post(
    "/schedules/{name}/run", status_code=202, summary="Run a regular report set now (on demand)"
)
async def run_schedule(
    name: Literal["daily", "monthly"],
    request: Request,
    principal: Ops,
    body: s.ScheduleRun | None = None,
) -> dict[str, Any]:
    today = datetime.now(KZ).date()
    if body and body.period:
        period = Period(body.period.start, body.period.end)
    elif name == "daily":
        period = Period(today - timedelta(days=1), today - timedelta(days=1))
    else:
        last = today.replace(day=1) - timedelta(days=1)
        period = Period(last.replace(day=1), last)
    ids = await _reports(request).run_schedule(name, period, force=True)
    await request.app.state.audit.record(
        "control",
        "schedule.run",
        principal=principal,
        object_type="schedule",
        object_id=name,
        reports=len(ids),
    )
    return {"schedule": name, "period": {"from": period.start, "to": period.end}, "reports": ids}


@router.post("/open-data/regenerate", summary="Regenerate the open datasets for a period now")
async def regenerate_open_data(
    body: s.OpenDataRegenerate, request: Request, principal: Ops
) -> dict[str, Any]:
    if body.end < body.start or (body.end - body.start).days > 92:
        raise _bad("to", "on or after from, within 92 days")
    od: OpenData = request.app.state.open_data
    counts = await od.regenerate(Period(body.start, body.end))
    await request.app.state.audit.record(
        "control",
        "open_data.regenerate",
        principal=principal,
        object_type="open_data",
        object_id="all",
        rows=counts,
    )
    return {"rows": counts}


# --- recommendations -----------------------------------------------------------------------------


@router.get("/recommendations", summary="Recommendations (§47) with the numbers that justify them")
async def list_recommendations(
    _: Wide,
    session: Session,
    status: Literal["new", "accepted", "rejected", "done"] | None = None,
    kind: Literal["peak_shift", "equipment"] | None = None,
    level: Literal["regional", "national"] | None = None,
    scope: str | None = None,
    report_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    items, nxt = await repo.list_recommendations(
        session,
        filters={
            "status": status,
            "kind": kind,
            "level": level,
            "scope": scope,
            "report_id": report_id,
        },
        limit=limit,
        cursor=cursor,
    )
    return {"items": [s.RecommendationRead.of(r) for r in items], "next_cursor": nxt}


@router.get("/recommendations/{rec_id}", summary="One recommendation")
async def get_recommendation(rec_id: str, _: Wide, session: Session) -> s.RecommendationRead:
    r = await repo.get_recommendation(session, rec_id)
    if r is None:
        raise NotFound(f"no recommendation {rec_id}", code="recommendation_not_found")
    return s.RecommendationRead.of(r)


TRANSITIONS = {
    "new": {"accepted", "rejected"},
    "accepted": {"done", "rejected"},
    "rejected": set(),
    "done": set(),
}


@router.patch(
    "/recommendations/{rec_id}",
    summary="Accept, reject (with a reason) or mark a recommendation done",
)
async def update_recommendation(
    rec_id: str, body: s.RecommendationUpdate, request: Request, principal: Ops, session: Session
) -> s.RecommendationRead:
    r = await repo.get_recommendation(session, rec_id, lock=True)
    if r is None:
        raise NotFound(f"no recommendation {rec_id}", code="recommendation_not_found")
    if body.status not in TRANSITIONS[r["status"]]:
        raise Unprocessable(
            f"status: a {r['status']} recommendation cannot become {body.status}",
            errors=[
                FieldError(
                    "status",
                    "invalid_transition",
                    f"from {r['status']}: {', '.join(sorted(TRANSITIONS[r['status']])) or 'nothing'}",
                )
            ],
        )
    if body.status == "rejected" and not (body.reason and body.reason.strip()):
        raise Unprocessable(
            "reason: say why the recommendation is rejected",
            errors=[FieldError("reason", "missing", "required when rejecting")],
        )
    after = await repo.update_recommendation(
        session, rec_id, status=body.status, reason=body.reason, updated_by=principal.username
    )
    await request.app.state.audit.record(
        "change",
        "recommendation.status",
        principal=principal,
        object_type="recommendation",
        object_id=rec_id,
        before={"status": r["status"]},
        after={"status": body.status, "reason": body.reason},
    )
    return s.RecommendationRead.of(after)


# --- queries of state bodies ---------------------------------------------------------------------


@router.post(
    "/queries",
    summary="A query of a state body: purpose and legal basis required; large ones run as jobs",
    responses={
        200: {"description": "answered"},
        202: {"description": "running as a job; follow the link"},
    },
)
async def create_query(body: QueryCreate, request: Request, principal: StateBody) -> JSONResponse:
    if principal.has_any("government") and not principal.has_any("ministry", "operator"):
        narrow = narrow_fields(body)
        if narrow:
            raise Forbidden(
                f"state bodies see regions, facility types and the nation, not single subjects or facilities: drop {', '.join(narrow)}",
                code="scope_not_allowed",
            )
    src = request.app.state.sources
    qid = str(uuid.uuid4())
    units = await plan_size(src, body)
    large = units > request.app.state.settings.reports_query_sync_units
    values = {
        "id": qid,
        "requested_by": principal.username,
        "requested_role": principal.role,
        "purpose": body.purpose,
        "legal_basis": body.legal_basis,
        "body": body.model_dump(mode="json", by_alias=True),
        "status": "queued" if large else "running",
    }
    db = request.app.state.db
    audit = request.app.state.audit
    if large:
        from egsu.contracts.streams import REPORTS_JOBS
        from egsu.reports.models import outbox
        from egsu.runtime.outbox import enqueue

        async with db.transaction() as session:
            await repo.add_query(session, values)
            await enqueue(
                session,
                outbox,
                f"{REPORTS_JOBS}.query",
                orjson.dumps({"query_id": qid}),
                f"query-{qid}",
            )
        request.app.state.relay.poke()
        await audit.record(
            "access",
            "query.submit",
            principal=principal,
            object_type="query",
            object_id=qid,
            purpose=body.purpose,
            legal_basis=body.legal_basis,
            dataset=body.dataset,
            units=units,
            mode="job",
        )
        return JSONResponse(
            {
                "id": qid,
                "status": "queued",
                "result": f"/api/v1/reports/queries/{qid}/result",
                "link": f"/api/v1/reports/queries/{qid}",
            },
            status_code=202,
        )
    rows = await run_query(src, body)
    answer = {"id": qid, "status": "done", "dataset": body.dataset, "rows": rows}
    data = orjson.dumps(answer, default=str)
    async with db.transaction() as session:
        await repo.add_query(
            session,
            {
                **values,
                "status": "done",
                "rows": len(rows),
                "bytes": len(data),
                "finished_at": utcnow(),
            },
        )
    await audit.record(
        "access",
        "query.answer",
        principal=principal,
        object_type="query",
        object_id=qid,
        purpose=body.purpose,
        legal_basis=body.legal_basis,
        dataset=body.dataset,
        rows=len(rows),
        bytes=len(data),
        mode="sync",
    )
    return JSONResponse(content=orjson.loads(data))


async def _visible_query(session: Any, qid: str, principal: Principal) -> dict[str, Any]:
    q = await repo.get_query(session, qid)
    if q is None or (
        q["requested_by"] != principal.username and not principal.has_any("ministry", "operator")
    ):
        raise NotFound(f"no query {qid}", code="query_not_found")
    return q


@router.get("/queries/{qid}", summary="A query's status and answer size")
async def get_query(qid: str, principal: StateBody, session: Session) -> dict[str, Any]:
    q = await _visible_query(session, qid, principal)
    return {
        "id": q["id"],
        "status": q["status"],
        "purpose": q["purpose"],
        "legal_basis": q["legal_basis"],
        "query": q["body"],
        "rows": q["rows"],
        "bytes": q["bytes"],
        "error": q["error"],
        "created_at": q["created_at"],
        "finished_at": q["finished_at"],
        "result": f"/api/v1/reports/queries/{qid}/result"
        if q["status"] == "done" and q["result_key"]
        else None,
    }


@router.get("/queries/{qid}/result", summary="The answer of a query that ran as a job")
async def query_result(
    qid: str,
    request: Request,
    principal: StateBody,
    session: Session,
    format: Literal["json", "csv"] = "json",
) -> Response:
    q = await _visible_query(session, qid, principal)
    if q["status"] != "done" or not q["result_key"]:
        raise NotFound(f"query {qid} has no result yet ({q['status']})", code="result_not_ready")
    data = await request.app.state.store.get("reports", q["result_key"])
    await request.app.state.audit.record(
        "access",
        "query.download",
        principal=principal,
        object_type="query",
        object_id=qid,
        purpose=q["purpose"],
        legal_basis=q["legal_basis"],
        rows=q["rows"],
        bytes=len(data),
    )
    if format == "json":
        return Response(data, media_type="application/json")
    rows = orjson.loads(data)["rows"]
    import csv
    import io

    buf = io.StringIO()
    cols = list(rows[0]) if rows else []
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    return Response(("\ufeff" + buf.getvalue()).encode(), media_type="text/csv; charset=utf-8")


# --- one report ----------------------------------------------------------------------------------


async def _visible_report(session: Any, rid: str, principal: Principal) -> dict[str, Any]:
    r = await repo.get_report(session, rid, principal) if len(rid) <= 36 else None
    if r is None:
        raise NotFound(f"no report {rid}", code="report_not_found")
    return r


@router.get("/{rid}", summary="A report's status and metadata")
async def get_report(rid: str, principal: Reader, session: Session) -> dict[str, Any]:
    r = await _visible_report(session, rid, principal)
    out = s.ReportRead.of(r).model_dump(mode="json")
    if r["kind"] == "emergency":
        out["events"] = [
            {
                "source": e["source"],
                "key": e["source_key"],
                "occurred_at": e["occurred_at"].isoformat(),
            }
            for e in await repo.emergencies_of(session, rid)
        ]
    return out


@router.get(
    "/{rid}/download",
    summary="Download a finished report (the download is audited)",
    responses={200: {"content": {v.split(";")[0]: {} for v in CONTENT_TYPES.values()}}},
)
async def download_report(
    rid: str, request: Request, principal: Reader, session: Session
) -> Response:
    r = await _visible_report(session, rid, principal)
    if r["status"] != "done":
        raise NotFound(f"report {rid} is not ready ({r['status']})", code="report_not_ready")
    data = await request.app.state.store.get("reports", r["object_key"])
    await request.app.state.audit.record(
        "access",
        "report.download",
        principal=principal,
        object_type="report",
        object_id=rid,
        report_kind=r["kind"],
        level=r["level"],
        scope=r["scope"],
        format=r["format"],
        size=len(data),
        sha256=r["sha256"],
    )
    name = f"{r['kind']}_{r['level']}_{r['scope'] or 'KZ'}_{r['period_from']}_{r['period_to']}.{r['format']}"
    return Response(
        data,
        media_type=r["content_type"],
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "X-Content-SHA256": r["sha256"] or "",
        },
    )


@router.post(
    "/{rid}/reissue",
    status_code=202,
    response_model=s.ReportAccepted,
    summary="The same report (same inputs, same numbers) in another format or language",
)
async def reissue_report(
    rid: str, body: s.ReportReissue, request: Request, principal: Requester, session: Session
) -> s.ReportAccepted:
    r = await _visible_report(session, rid, principal)
    out = await _reports(request).reissue(
        r, body.format or r["format"], body.language or r["language"], principal
    )
    return s.ReportAccepted(id=out["id"], status=out["status"])


# --- open data -----------------------------------------------------------------------------------


@open_router.get("/datasets", summary="The open-data catalogue (no token needed)")
async def open_catalogue(request: Request, _: Anyone, session: Session) -> dict[str, Any]:
    st = request.app.state.settings
    cat = await repo.open_catalogue(session)
    items = []
    for name in DATASETS:
        m = meta(name, cat.get(name), st.reports_open_min_subjects, st.reports_open_dominance)
        items.append(
            {
                k: m[k]
                for k in (
                    "name",
                    "version",
                    "title",
                    "description",
                    "owner",
                    "update_frequency",
                    "last_update",
                    "licence",
                    "formats",
                    "rows",
                )
            }
            | {
                "data": f"/api/v1/open/datasets/{name}",
                "meta": f"/api/v1/open/datasets/{name}/meta",
            }
        )
    return {"items": items, "next_cursor": None}


def _dataset(name: str) -> str:
    if name not in DATASETS:
        raise NotFound(
            f"no open dataset {name}; see /api/v1/open/datasets", code="dataset_not_found"
        )
    return name


@open_router.get(
    "/datasets/{name}/meta",
    summary="A dataset's metadata in ru/kk/en: description, owner, frequency, last update, licence, fields",
)
async def open_meta(name: str, request: Request, _: Anyone, session: Session) -> dict[str, Any]:
    st = request.app.state.settings
    return meta(
        _dataset(name),
        (await repo.open_catalogue(session)).get(name),
        st.reports_open_min_subjects,
        st.reports_open_dominance,
    )


RESERVED = {"format", "page", "count", "source", "apikey", "apiKey"}


@open_router.get(
    "/datasets/{name}",
    summary="A dataset's rows as a JSON array or CSV; filter by any field (and date_from/date_to), page with page/count or an egov-style source",
)
async def open_data(
    name: str,
    request: Request,
    _: Anyone,
    session: Session,
    format: Literal["json", "csv"] = "json",
    page: Annotated[int | None, Query(ge=1)] = None,
    count: Annotated[int | None, Query(ge=1, le=10_000)] = None,
    source: Annotated[
        str | None,
        Query(
            max_length=4000,
            description='e.g. {"from":0,"size":100,"query":{"bool":{"must":[{"match":{"region_kato":"550000000"}}]}}}',
        ),
    ] = None,
) -> Response:
    _dataset(name)
    params = {k: v for k, v in request.query_params.items() if k not in RESERVED}
    day_from = day_to = None
    try:
        if "date_from" in params:
            day_from = date.fromisoformat(params["date_from"])
        if "date_to" in params:
            day_to = date.fromisoformat(params["date_to"])
    except ValueError:
        raise _bad("date_from" if "date_from" in params else "date_to", "use YYYY-MM-DD") from None
    rows = await repo.open_rows(session, name, day_from, day_to)
    selected, total = select_rows(name, rows, params, source, page, count)
    headers = {"X-Total-Count": str(total)}
    if format == "csv":
        return Response(
            to_csv(name, selected),
            media_type="text/csv; charset=utf-8",
            headers={**headers, "Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(orjson.dumps(selected), media_type="application/json", headers=headers)
