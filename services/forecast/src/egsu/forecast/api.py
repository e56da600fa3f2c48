"""Routes under /api/v1/forecast: forecasts per level, weather, jobs, models and back-test scores.

Forecasts: ``GET /points/{code}``, ``/facilities/{id}``, ``/subjects/{bin}`` (a subject sees its
own), ``/regions/{kato}`` and ``/country`` (not for a subject) with ``quantity``, ``horizon``
(``intraday``, ``day_ahead``, ``week_ahead``), ``from``/``to`` and ``resolution``; each item is
``{"ts", "p10", "p50", "p90"}``, ``ts`` the start of the step in UTC, values in the quantity's
canonical unit per step. The regions' P50 add up exactly to the nation's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from egsu.auth import Principal, require_roles
from egsu.contracts.regions import REGIONS_BY_KATO
from egsu.contracts.vocabulary import resolve_quantity
from egsu.core.errors import FieldError, NotFound, Unprocessable, UnsupportedMediaType
from egsu.db.deps import Session
from egsu.forecast import repository as repo
from egsu.forecast import weather
from egsu.forecast.jobs import Jobs
from egsu.forecast.service import Forecasting, aggregate, bad, check_region
from egsu.forecast.sources import COUNTRY, Directory, step_of_interval

router = APIRouter(prefix="/api/v1/forecast", tags=["forecast"])

Reader = Annotated[
    Principal, Depends(require_roles("ministry", "operator", "government", "service", "subject"))
]
Wide = Annotated[Principal, Depends(require_roles("ministry", "operator", "government", "service"))]
Ops = Annotated[Principal, Depends(require_roles("ministry", "operator"))]
WeatherWriter = Annotated[Principal, Depends(require_roles("ministry", "operator", "service"))]

Horizon = Literal["intraday", "day_ahead", "week_ahead"]
Resolution = Literal["native", "15m", "30m", "1h", "1d"]
RESOLUTION_S = {"15m": 900, "30m": 1800, "1h": 3600, "1d": 86400}
QuantityQ = Annotated[
    str,
    Query(description="quantity code: active_import (electricity), heat_energy (heat) …"),
]
FromQ = Annotated[datetime | None, Query(alias="from", description="ISO 8601 with offset")]
ToQ = Annotated[datetime | None, Query(alias="to", description="ISO 8601 with offset (exclusive)")]
MAX_BODY = 64 * 1024 * 1024


def _forecasting(request: Request) -> Forecasting:
    return request.app.state.forecasting  # type: ignore[no-any-return]


def _jobs(request: Request) -> Jobs:
    return request.app.state.jobs  # type: ignore[no-any-return]


def quantity_of(code: str) -> str:
    q = resolve_quantity(code)
    if q is None:
        raise bad("quantity", f"unknown quantity {code!r}")
    return q.code


def window_of(start: datetime | None, end: datetime | None) -> None:
    for name, v in (("from", start), ("to", end)):
        if v is not None and v.tzinfo is None:
            raise bad(name, "give the time with its UTC offset, e.g. 2026-01-15T00:00:00+05:00")
    if start is not None and end is not None and start >= end:
        raise bad("to", "must be after from")
    if start is not None and end is not None and (end - start).days > 400:
        raise bad("from", "the window is longer than 400 days")


async def directory(request: Request) -> Directory:
    return await _forecasting(request).registry.directory()


async def visible_point(request: Request, principal: Principal, code: str) -> Any:
    d = await directory(request)
    p = d.points.get(code)
    if p is None:
        d = await _forecasting(request).registry.directory(fresh=True)
        p = d.points.get(code)
    if p is None or not principal.can_see_subject(p.subject_bin):
        raise NotFound(f"no metering point {code}", code="point_not_found")
    return p


async def visible_facility(request: Request, principal: Principal, facility_id: str) -> str:
    """The facility's owner, or 404 for an unknown facility or another subject's."""
    d = await directory(request)
    owner = d.facility_subject(facility_id)
    if owner is None:
        d = await _forecasting(request).registry.directory(fresh=True)
        owner = d.facility_subject(facility_id)
    if owner is None or not principal.can_see_subject(owner):
        raise NotFound(f"no facility {facility_id}", code="facility_not_found")
    return owner


# --------------------------------------------------------------------------- forecasts


async def _read(
    request: Request,
    level: str,
    key: str,
    quantity: str,
    horizon: str,
    start: datetime | None,
    end: datetime | None,
    resolution: str,
) -> dict[str, Any]:
    window_of(start, end)
    body = await _forecasting(request).read(level, key, quantity, horizon, start, end)
    step = int(body["step_s"])
    if resolution != "native":
        target = RESOLUTION_S[resolution]
        if target < step or target % step:
            raise bad("resolution", f"the series' step is {step // 60} min; ask for it or coarser")
        body["items"] = aggregate(body["items"], step, target)
        body["step_s"] = target
    body["resolution"] = _label(body["step_s"])
    return body


def _label(step_s: int) -> str:
    return {900: "15m", 1800: "30m", 3600: "1h", 86400: "1d"}.get(step_s, f"{step_s}s")


@router.get("/points/{code}", summary="Forecast of a metering point at its own step (P10/P50/P90)")
async def point_forecast(
    code: str,
    request: Request,
    principal: Reader,
    quantity: QuantityQ = "active_import",
    horizon: Horizon = "day_ahead",
    start: FromQ = None,
    end: ToQ = None,
    resolution: Resolution = "native",
) -> dict[str, Any]:
    await visible_point(request, principal, code)
    q = quantity_of(quantity)
    return await _read(request, "point", code, q, horizon, start, end, resolution)


class PointRequest(BaseModel):
    quantity: str = Field("active_import", description="the quantity to forecast")


@router.post(
    "/points/{code}",
    status_code=202,
    summary="Forecast a metering point from now on: registers its series and queues its training",
)
async def request_point(
    code: str, body: PointRequest, request: Request, principal: Ops
) -> dict[str, Any]:
    p = await visible_point(request, principal, code)
    q = quantity_of(body.quantity)
    if q not in p.quantities:
        raise bad("quantity", f"metering point {code} does not measure {q}")
    step = step_of_interval(p.interval_min)
    group = f"point:{step}"
    async with request.app.state.db.transaction() as session:
        await repo.upsert_series(
            session,
            [
                {
                    "level": "point",
                    "key": code,
                    "quantity": q,
                    "group_key": group,
                    "subject_bin": p.subject_bin,
                    "region_kato": p.region_kato,
                    "step_s": step,
                    "requested_by": principal.username,
                }
            ],
        )
    rows = await _jobs(request).enqueue(
        "train", group, q, origin="request", requested_by=principal.username
    )
    await request.app.state.audit.record(
        "control",
        "forecast.point.request",
        principal=principal,
        object_type="metering_point",
        object_id=code,
        after={"quantity": q, "job_id": rows[0]["id"]},
    )
    return {"series": {"level": "point", "key": code, "quantity": q}, "job": _job_view(rows[0])}


@router.get("/facilities/{facility_id}", summary="Forecast of a facility's hourly total")
async def facility_forecast(
    facility_id: str,
    request: Request,
    principal: Reader,
    quantity: QuantityQ = "active_import",
    horizon: Horizon = "day_ahead",
    start: FromQ = None,
    end: ToQ = None,
    resolution: Resolution = "native",
) -> dict[str, Any]:
    await visible_facility(request, principal, facility_id)
    q = quantity_of(quantity)
    return await _read(request, "facility", facility_id, q, horizon, start, end, resolution)


@router.get("/subjects/{bin}", summary="Forecast of a subject's hourly total")
async def subject_forecast(
    bin: str,
    request: Request,
    principal: Reader,
    quantity: QuantityQ = "active_import",
    horizon: Horizon = "day_ahead",
    start: FromQ = None,
    end: ToQ = None,
    resolution: Resolution = "native",
) -> dict[str, Any]:
    if not principal.can_see_subject(bin):
        raise NotFound(f"no subject {bin}", code="subject_not_found")
    q = quantity_of(quantity)
    return await _read(request, "subject", bin, q, horizon, start, end, resolution)


@router.get(
    "/regions/{kato}", summary="Forecast of a region's hourly total (reconciled with the nation)"
)
async def region_forecast(
    kato: str,
    request: Request,
    principal: Wide,
    quantity: QuantityQ = "active_import",
    horizon: Horizon = "day_ahead",
    start: FromQ = None,
    end: ToQ = None,
    resolution: Resolution = "native",
) -> dict[str, Any]:
    check_region(kato)
    q = quantity_of(quantity)
    body = await _read(request, "region", kato, q, horizon, start, end, resolution)
    region = REGIONS_BY_KATO[kato]
    body["name"] = {"ru": region.name_ru, "kk": region.name_kk, "en": region.name_en}
    return body


@router.get("/country/scores", summary="Back-test scores on the nation's total")
async def country_scores(
    principal: Wide, session: Session, quantity: QuantityQ = "active_import"
) -> dict[str, Any]:
    return await _scores(session, "country", COUNTRY, quantity_of(quantity))


async def _country(
    request: Request,
    quantity: str,
    horizon: str,
    start: datetime | None,
    end: datetime | None,
    resolution: str,
) -> dict[str, Any]:
    q = quantity_of(quantity)
    return await _read(request, "country", COUNTRY, q, horizon, start, end, resolution)


@router.get("/country", summary="Forecast of the nation's hourly total (the sum of the regions)")
async def country_forecast(
    request: Request,
    principal: Wide,
    quantity: QuantityQ = "active_import",
    horizon: Horizon = "day_ahead",
    start: FromQ = None,
    end: ToQ = None,
    resolution: Resolution = "native",
) -> dict[str, Any]:
    return await _country(request, quantity, horizon, start, end, resolution)


@router.get("/country/{key}", summary="The nation's forecast, addressed as /country/KZ")
async def country_forecast_keyed(
    key: str,
    request: Request,
    principal: Wide,
    quantity: QuantityQ = "active_import",
    horizon: Horizon = "day_ahead",
    start: FromQ = None,
    end: ToQ = None,
    resolution: Resolution = "native",
) -> dict[str, Any]:
    if key.upper() != COUNTRY:
        raise NotFound(f"no country {key}; the country is {COUNTRY}", code="country_not_found")
    return await _country(request, quantity, horizon, start, end, resolution)


# --------------------------------------------------------------------------- scores, series


def _score_view(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "model_id": r["model_id"],
        "horizon": r.get("horizon"),
        "version": r.get("version"),
        "trained_at": r["created_at"].isoformat() if r.get("created_at") else None,
        "origins": r.get("origins"),
        "candidate": r["candidate"],
        "selected": r["selected"],
        **{k: r[k] for k in ("mape", "smape", "mase", "rmse", "pinball", "coverage_p10_p90")},
    }


async def _scores(session: Any, level: str, key: str, quantity: str) -> dict[str, Any]:
    rows = await repo.scores_of_series(session, level, key, quantity)
    if not rows:
        raise NotFound(
            f"no back-test scores of {level} {key} ({quantity}) yet", code="scores_not_found"
        )
    horizons: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        horizons.setdefault(r["horizon"], []).append(_score_view(r))
    return {
        "level": level,
        "key": key,
        "quantity": quantity,
        "baseline": "seasonal_naive",
        "horizons": horizons,
    }


@router.get("/points/{code}/scores", summary="Back-test scores of every model on a point")
async def point_scores(
    code: str,
    request: Request,
    principal: Reader,
    session: Session,
    quantity: QuantityQ = "active_import",
) -> dict[str, Any]:
    await visible_point(request, principal, code)
    return await _scores(session, "point", code, quantity_of(quantity))


@router.get("/facilities/{facility_id}/scores", summary="Back-test scores on a facility")
async def facility_scores(
    facility_id: str,
    request: Request,
    principal: Reader,
    session: Session,
    quantity: QuantityQ = "active_import",
) -> dict[str, Any]:
    await visible_facility(request, principal, facility_id)
    return await _scores(session, "facility", facility_id, quantity_of(quantity))


@router.get("/subjects/{bin}/scores", summary="Back-test scores on a subject's total")
async def subject_scores(
    bin: str, principal: Reader, session: Session, quantity: QuantityQ = "active_import"
) -> dict[str, Any]:
    if not principal.can_see_subject(bin):
        raise NotFound(f"no subject {bin}", code="subject_not_found")
    return await _scores(session, "subject", bin, quantity_of(quantity))


@router.get("/regions/{kato}/scores", summary="Back-test scores on a region's total")
async def region_scores(
    kato: str, principal: Wide, session: Session, quantity: QuantityQ = "active_import"
) -> dict[str, Any]:
    check_region(kato)
    return await _scores(session, "region", kato, quantity_of(quantity))


@router.get("/series", summary="Forecast series and their latest forecast per horizon")
async def list_series(
    principal: Reader,
    session: Session,
    level: Literal["point", "facility", "subject", "region", "country"] | None = None,
    quantity: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> dict[str, Any]:
    if principal.scope_bin is not None and level in ("region", "country"):
        return {"items": [], "next_cursor": None}
    rows, nxt = await repo.list_series(
        session,
        level=level,
        quantity=quantity_of(quantity) if quantity else None,
        scope_bin=principal.scope_bin,
        limit=limit,
        cursor=cursor,
    )
    items = [
        {
            "level": r["level"],
            "key": r["key"],
            "quantity": r["quantity"],
            "group": r["group_key"],
            "step_s": r["step_s"],
            "subject_bin": r["subject_bin"],
            "region_kato": r["region_kato"],
            "last_scored_at": r["last_scored_at"].isoformat() if r["last_scored_at"] else None,
            "latest": r["latest"],
        }
        for r in rows
    ]
    return {"items": items, "next_cursor": nxt}


# --------------------------------------------------------------------------- weather


@router.post(
    "/weather",
    summary="Load observed and forecast weather per region (JSON items or CSV)",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["items"],
                        "properties": {
                            "source": {"type": "string"},
                            "items": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["region_kato", "ts", "temperature_c"],
                                    "properties": {
                                        "region_kato": {"type": "string"},
                                        "ts": {"type": "string", "format": "date-time"},
                                        "temperature_c": {"type": "number"},
                                        "issued_at": {
                                            "type": "string",
                                            "format": "date-time",
                                            "description": "a forecast's issue time; absent for observations",
                                        },
                                        "wind_ms": {"type": "number"},
                                        "cloud_pct": {"type": "number"},
                                    },
                                },
                            },
                        },
                    }
                },
                "text/csv": {
                    "schema": {
                        "type": "string",
                        "description": "columns region_kato,ts,temperature_c[,issued_at,wind_ms,cloud_pct,source]",
                    }
                },
            }
        }
    },
)
async def post_weather(request: Request, principal: WeatherWriter) -> dict[str, Any]:
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    body = await request.body()
    if len(body) > MAX_BODY:
        raise bad("body", f"larger than {MAX_BODY // 1024 // 1024} MB; send it in parts")
    source = None
    if ctype in ("application/json", ""):
        items, source = weather.parse_json(body)
    elif ctype in ("text/csv", "application/csv"):
        items = weather.parse_csv(body)
    else:
        raise UnsupportedMediaType(f"send application/json or text/csv, not {ctype}")
    rows = weather.validate(items, source)
    async with request.app.state.db.transaction() as session:
        stored = await weather.store(session, rows)
    regions = sorted({r.region_kato for r in rows})
    request.app.state.audit.record_nowait(
        "change",
        "forecast.weather.load",
        principal=principal,
        object_type="weather",
        object_id=",".join(regions)[:200],
        after={
            **stored,
            "from": min(r.ts for r in rows).isoformat(),
            "to": max(r.ts for r in rows).isoformat(),
        },
    )
    return {"stored": stored, "regions": regions}


@router.get("/weather/regions/{kato}", summary="Weather of a region: observed, forecast or both")
async def get_weather(
    kato: str,
    request: Request,
    principal: Reader,
    start: FromQ = None,
    end: ToQ = None,
    kind: Literal["best", "observed", "forecast"] = "best",
    issued_before: Annotated[
        datetime | None, Query(description="forecasts issued by this time (default: now)")
    ] = None,
) -> dict[str, Any]:
    check_region(kato)
    window_of(start, end)
    if issued_before is not None and issued_before.tzinfo is None:
        raise bad("issued_before", "give the time with its UTC offset")
    from egsu.core.time import utcnow

    now = issued_before or utcnow()
    end = end or now + _days(2)
    start = start or end - _days(3)
    if (end - start).days > 400:
        raise bad("from", "the window is longer than 400 days")
    async with request.app.state.db.transaction() as session:
        frames = await weather.read(session, [kato], start, end, now)
    frame = frames.get(kato)
    items = []
    if frame is not None:
        for ts, row in frame.iterrows():
            if kind == "observed" and not row["observed"]:
                continue
            if kind == "forecast" and row["observed"]:
                continue
            items.append(
                {
                    "ts": ts.isoformat(),
                    "temperature_c": _num(row["temperature_c"]),
                    "wind_ms": _num(row["wind_ms"]),
                    "cloud_pct": _num(row["cloud_pct"]),
                    "kind": "observed" if row["observed"] else "forecast",
                }
            )
    return {"region_kato": kato, "unit": "°C", "items": items}


def _days(n: int) -> Any:
    from datetime import timedelta

    return timedelta(days=n)


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if f == f else None


# --------------------------------------------------------------------------- jobs


class JobCreate(BaseModel):
    kind: Literal["train", "score"] = Field(
        description="train (back-test, fit, then score) or score"
    )
    group: Literal["national", "facility", "subject", "point"] = Field(
        "national", description="national: every region and the country"
    )
    quantity: str = "active_import"
    horizons: list[Horizon] | None = Field(None, description="default: every horizon")
    step_minutes: Literal[15, 30, 60, 1440] | None = Field(
        None, description="points only: the step of the points to (re)forecast"
    )


def _job_view(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": r["id"],
        "kind": r["kind"],
        "group": r["group_key"],
        "quantity": r["quantity"],
        "horizons": r["horizons"],
        "shard": r.get("shard", 0),
        "shards": r.get("shards", 1),
        "status": r["status"],
        "origin": r["origin"],
        "requested_by": r.get("requested_by"),
        "attempts": r.get("attempts", 0),
        "worker": r.get("worker"),
        "error": r.get("error"),
        "result": r.get("result"),
        "created_at": r["created_at"].isoformat() if r.get("created_at") else None,
        "started_at": r["started_at"].isoformat() if r.get("started_at") else None,
        "finished_at": r["finished_at"].isoformat() if r.get("finished_at") else None,
    }


@router.post(
    "/jobs", status_code=202, summary="Queue a training or scoring job (ministry, operator)"
)
async def create_job(body: JobCreate, request: Request, principal: Ops) -> JSONResponse:
    q = quantity_of(body.quantity)
    group = body.group
    if group == "point":
        if body.step_minutes is None:
            raise Unprocessable(
                "step_minutes: points are forecast by step; give 15, 30, 60 or 1440",
                errors=[FieldError("step_minutes", "missing", "required for group point")],
            )
        group = f"point:{step_of_interval(body.step_minutes)}"
    rows = await _jobs(request).enqueue(
        body.kind, group, q, body.horizons, origin="request", requested_by=principal.username
    )
    await request.app.state.audit.record(
        "control",
        f"forecast.job.{body.kind}",
        principal=principal,
        object_type="forecast_job",
        object_id=rows[0]["id"],
        after={"group": group, "quantity": q, "horizons": rows[0]["horizons"], "jobs": len(rows)},
    )
    async with request.app.state.db.transaction() as session:
        fresh = [await repo.job(session, r["id"]) for r in rows]
    return JSONResponse({"items": [_job_view(r) for r in fresh if r is not None]}, status_code=202)


@router.get("/jobs", summary="Training and scoring jobs, newest first")
async def list_jobs(
    principal: Wide,
    session: Session,
    status: Literal["queued", "running", "done", "failed"] | None = None,
    kind: Literal["train", "score"] | None = None,
    group: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    rows, nxt = await repo.list_jobs(
        session, status=status, kind=kind, group=group, limit=limit, cursor=cursor
    )
    return {"items": [_job_view(r) for r in rows], "next_cursor": nxt}


@router.get("/jobs/{job_id}", summary="One job: status, attempts, result or error")
async def get_job(job_id: str, principal: Wide, session: Session) -> dict[str, Any]:
    row = await repo.job(session, job_id)
    if row is None:
        raise NotFound(f"no job {job_id}", code="job_not_found")
    return _job_view(row)


# --------------------------------------------------------------------------- models


def _model_view(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": r["id"],
        "group": r["group_key"],
        "quantity": r["quantity"],
        "horizon": r["horizon"],
        "version": r["version"],
        "current": r["current"],
        "object": {
            "bucket": "models",
            "key": r["object_key"],
            "sha256": r["sha256"],
            "size": r["size"],
        },
        "series": r["series_count"],
        "origins": r["origins"],
        "step_s": r["step_s"],
        "default_model": r["default_model"],
        "selected": r["selected"],
        "scores": r["scores"],
        "baseline": "seasonal_naive",
        "reconciliation": r["reconciliation"],
        "data_from": r["data_from"].isoformat() if r["data_from"] else None,
        "data_to": r["data_to"].isoformat() if r["data_to"] else None,
        "train_seconds": r["train_seconds"],
        "notes": r["notes"],
        "job_id": r["job_id"],
        "created_at": r["created_at"].isoformat(),
    }


@router.get("/models", summary="Trained model versions with their pooled back-test scores")
async def list_models(
    principal: Wide,
    session: Session,
    group: str | None = None,
    quantity: str | None = None,
    horizon: Horizon | None = None,
    current: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    rows, nxt = await repo.list_models(
        session,
        group=group,
        quantity=quantity_of(quantity) if quantity else None,
        horizon=horizon,
        current=current,
        limit=limit,
        cursor=cursor,
    )
    return {"items": [_model_view(r) for r in rows], "next_cursor": nxt}


@router.get("/models/{model_id}", summary="One model version")
async def get_model(model_id: int, principal: Wide, session: Session) -> dict[str, Any]:
    row = await repo.model_by_id(session, model_id)
    if row is None:
        raise NotFound(f"no model {model_id}", code="model_not_found")
    return _model_view(row)


@router.get(
    "/models/{model_id}/scores",
    summary="Back-test metrics of every candidate on every series of a model version",
)
async def model_scores(
    model_id: int,
    principal: Wide,
    session: Session,
    level: str | None = None,
    key: str | None = None,
) -> dict[str, Any]:
    row = await repo.model_by_id(session, model_id)
    if row is None:
        raise NotFound(f"no model {model_id}", code="model_not_found")
    rows = await repo.scores_of_model(session, model_id, level=level, key=key)
    return {
        "model_id": model_id,
        "items": [
            {
                "level": r["level"],
                "key": r["key"],
                "candidate": r["candidate"],
                "selected": r["selected"],
                **{
                    k: r[k]
                    for k in ("mape", "smape", "mase", "rmse", "pinball", "coverage_p10_p90")
                },
            }
            for r in rows
        ],
    }
