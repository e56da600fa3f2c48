"""Analytics routes under /api/v1/forecast: scenarios (R16), trends and correlation (R15),
failure risk and root cause (R14), efficiency and risk indicators (R8).

Series are named ``<level>:<key>:<quantity>``: ``region:550000000:heat_energy``,
``country:KZ:active_import``, ``facility:<id>:active_export``, ``subject:<bin>:active_import``,
``point:<code>:voltage_l1``, and the weather ``weather:<kato>:temperature`` (``wind_ms``,
``cloud_pct``). Answers are arrays on one time grid (``ts``: the start of each step, UTC), with
``null`` where there is no value, ready for a chart.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from egsu.auth import Principal
from egsu.contracts.regions import REGIONS_BY_KATO
from egsu.contracts.vocabulary import resolve_quantity
from egsu.core.errors import FieldError, Forbidden, NotFound, ServiceUnavailable, Unprocessable
from egsu.core.time import KZ, utcnow
from egsu.forecast import analytics, insights
from egsu.forecast import weather as weather_db
from egsu.forecast.api import Ops, Reader, Wide, visible_facility, visible_point
from egsu.forecast.service import Forecasting, bad, check_region, run_scenario
from egsu.forecast.sources import COUNTRY, Alarms, PointInfo
from egsu.forecast.texts import message

router = APIRouter(prefix="/api/v1/forecast", tags=["forecast analytics"])

RES_S = {"15m": 900, "30m": 1800, "1h": 3600, "1d": 86400}
MAX_STEPS = 20_000
GENERATING = {"tpp", "chp", "hpp", "wpp", "spp", "gas_turbine", "boiler_house"}
NETWORKS = {"substation", "power_line", "heat_network"}
WEATHER_FIELDS = {"temperature": "temperature_c", "wind_ms": "wind_ms", "cloud_pct": "cloud_pct"}
FromQ = Annotated[datetime | None, Query(alias="from", description="ISO 8601 with offset")]
ToQ = Annotated[datetime | None, Query(alias="to", description="ISO 8601 with offset")]


def _fc(request: Request) -> Forecasting:
    return request.app.state.forecasting  # type: ignore[no-any-return]


def _nums(values: np.ndarray, digits: int = 4) -> list[float | None]:
    return [round(float(v), digits) if np.isfinite(v) else None for v in values]


def _window(
    start: datetime | None, end: datetime | None, default_days: int, max_days: int = 400
) -> tuple[datetime, datetime]:
    for name, v in (("from", start), ("to", end)):
        if v is not None and v.tzinfo is None:
            raise bad(name, "give the time with its UTC offset, e.g. 2026-01-15T00:00:00+05:00")
    end = end or utcnow()
    start = start or end - timedelta(days=default_days)
    if start >= end:
        raise bad("to", "must be after from")
    if end - start > timedelta(days=max_days):
        raise bad("from", f"the window is longer than {max_days} days")
    return start.astimezone(UTC), end.astimezone(UTC)


# --------------------------------------------------------------------------- series references


class Ref:
    def __init__(self, text: str, field: str) -> None:
        parts = text.split(":")
        if len(parts) != 3 or not all(parts):
            raise bad(
                field, "name a series as level:key:quantity, e.g. region:550000000:heat_energy"
            )
        self.level, self.key, self.quantity = parts
        self.field = field
        if self.level == "weather":
            if self.quantity not in WEATHER_FIELDS:
                raise bad(field, "weather series are temperature, wind_ms or cloud_pct")
            if self.key not in REGIONS_BY_KATO:
                raise NotFound(f"no region with KATO {self.key}", code="region_not_found")
            return
        if self.level not in ("point", "facility", "subject", "region", "country"):
            raise bad(field, "level is point, facility, subject, region, country or weather")
        q = resolve_quantity(self.quantity)
        if q is None:
            raise bad(field, f"unknown quantity {self.quantity!r}")
        self.quantity = q.code
        if self.level == "region":
            check_region(self.key)
        if self.level == "country" and self.key.upper() != COUNTRY:
            raise NotFound(f"no country {self.key}", code="country_not_found")

    @property
    def name(self) -> str:
        return f"{self.level}:{self.key}:{self.quantity}"

    @property
    def unit(self) -> str | None:
        if self.level == "weather":
            return {"temperature": "°C", "wind_ms": "m/s", "cloud_pct": "%"}[self.quantity]
        q = resolve_quantity(self.quantity)
        return q.unit if q else None


async def check_access(request: Request, principal: Principal, ref: Ref) -> PointInfo | None:
    if ref.level == "point":
        return await visible_point(request, principal, ref.key)  # type: ignore[no-any-return]
    if ref.level == "facility":
        await visible_facility(request, principal, ref.key)
    elif ref.level == "subject":
        if not principal.can_see_subject(ref.key):
            raise NotFound(f"no subject {ref.key}", code="subject_not_found")
    elif ref.level in ("region", "country") and principal.scope_bin is not None:
        raise Forbidden(
            "a subject sees its own points, facilities and totals, not regions or the country",
            code="subject_scope",
        )
    return None


async def load(
    request: Request, ref: Ref, start: datetime, end: datetime, step_s: int
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """The series on the grid ``[start, end)`` of ``step_s`` (starts of steps, local time)."""
    first = (
        pd.Timestamp(start).tz_convert(KZ).floor("h")
        if step_s < 86400
        else (pd.Timestamp(start).tz_convert(KZ).normalize())
    )
    index = pd.date_range(
        first, pd.Timestamp(end).tz_convert(KZ), freq=f"{step_s}s", inclusive="left"
    )
    if len(index) > MAX_STEPS:
        raise bad("resolution", f"more than {MAX_STEPS} steps; ask for a coarser resolution")
    if len(index) < 2:
        raise bad("from", "the window holds fewer than two steps")
    values = np.full(len(index), np.nan)
    base = int(index[0].timestamp())
    if ref.level == "weather":
        async with request.app.state.db.transaction() as session:
            frames = await weather_db.read(session, [ref.key], start, end, utcnow())
        frame = frames.get(ref.key)
        if frame is not None:
            column = frame[WEATHER_FIELDS[ref.quantity]]
            for ts, v in column.items():
                pos = (int(ts.timestamp()) - base) // step_s
                if 0 <= pos < len(index) and np.isfinite(v):
                    values[pos] = v if np.isnan(values[pos]) else values[pos] + v
            # hourly values averaged into coarser steps
            if step_s > 3600:
                counts = np.zeros(len(index))
                for ts, v in column.items():
                    pos = (int(ts.timestamp()) - base) // step_s
                    if 0 <= pos < len(index) and np.isfinite(v):
                        counts[pos] += 1
                with np.errstate(invalid="ignore", divide="ignore"):
                    values = np.where(counts > 0, values / counts, np.nan)
        return index, values
    q = resolve_quantity(ref.quantity)
    field = "sum" if q is not None and q.kind == "interval" else "avg"
    if ref.level != "point" and step_s < 3600:
        raise bad(
            "resolution",
            "totals of facilities, subjects, regions and the country are hourly or daily",
        )
    level = ref.level
    series = await _fc(request).historian.series(
        level, ref.key if level != "country" else COUNTRY, ref.quantity, start, end, step_s, field
    )
    for ts, v in series.items():
        pos = (ts - base) // step_s
        if 0 <= pos < len(index):
            values[pos] = v
    return index, values


# --------------------------------------------------------------------------- trends, correlation


@router.get(
    "/analytics/decomposition",
    summary="Trend, daily and weekly seasonality and remainder of a series (MSTL)",
)
async def decomposition(
    request: Request,
    principal: Reader,
    series: Annotated[
        str, Query(description="level:key:quantity, e.g. region:550000000:active_import")
    ],
    start: FromQ = None,
    end: ToQ = None,
    resolution: Literal["15m", "30m", "1h", "1d"] = "1h",
) -> dict[str, Any]:
    ref = Ref(series, "series")
    await check_access(request, principal, ref)
    start, end = _window(start, end, 28)
    index, values = await load(request, ref, start, end, RES_S[resolution])
    if np.isfinite(values).sum() < 3:
        raise NotFound(f"no readings of {ref.name} in the window", code="series_empty")
    result = await asyncio.to_thread(analytics.decompose, values, index)
    return {
        "series": ref.name,
        "unit": ref.unit,
        "resolution": resolution,
        "ts": [t.tz_convert("UTC").isoformat() for t in index],
        "observed": _nums(result.observed),
        "trend": _nums(result.trend),
        "seasonal": {k: _nums(v) for k, v in result.seasonal.items()},
        "remainder": _nums(result.remainder),
        "strength": {
            "trend": round(result.trend_strength, 4),
            **{k: round(v, 4) for k, v in result.seasonal_strength.items()},
        },
        "missing": int((~np.isfinite(values)).sum()),
    }


@router.get(
    "/analytics/correlation",
    summary="Pearson and Spearman correlation of two series at every lag (x leads by lag steps)",
)
async def correlation(
    request: Request,
    principal: Reader,
    x: Annotated[str, Query(description="e.g. weather:550000000:temperature")],
    y: Annotated[str, Query(description="e.g. region:550000000:heat_energy")],
    start: FromQ = None,
    end: ToQ = None,
    resolution: Literal["15m", "30m", "1h", "1d"] = "1h",
    max_lag: Annotated[
        int, Query(ge=0, le=500, description="lags from -max_lag to max_lag steps")
    ] = 24,
) -> dict[str, Any]:
    rx, ry = Ref(x, "x"), Ref(y, "y")
    await check_access(request, principal, rx)
    await check_access(request, principal, ry)
    start, end = _window(start, end, 28)
    step = RES_S[resolution]
    (index, xs), (_, ys) = await asyncio.gather(
        load(request, rx, start, end, step), load(request, ry, start, end, step)
    )
    both = np.isfinite(xs) & np.isfinite(ys)
    if both.sum() < 3:
        raise NotFound("fewer than three steps have both series", code="series_empty")
    lags = range(-max_lag, max_lag + 1)
    result = await asyncio.to_thread(analytics.lagged_correlation, xs, ys, lags)
    best = result.best_lag
    k = int(np.flatnonzero(result.lags == best)[0])
    pick = np.flatnonzero(both)
    if pick.size > 2000:
        pick = pick[np.linspace(0, pick.size - 1, 2000).astype(int)]
    return {
        "x": rx.name,
        "y": ry.name,
        "units": {"x": rx.unit, "y": ry.unit},
        "resolution": resolution,
        "lag_step_s": step,
        "lags": [int(v) for v in result.lags],
        "pearson": _nums(result.pearson),
        "pearson_p": _nums(result.pearson_p, 6),
        "spearman": _nums(result.spearman),
        "spearman_p": _nums(result.spearman_p, 6),
        "pairs": [int(v) for v in result.pairs],
        "best_lag": best,
        "best": {
            "lag": best,
            "pearson": _nums(result.pearson[k : k + 1])[0],
            "spearman": _nums(result.spearman[k : k + 1])[0],
        },
        "scatter": {
            "ts": [index[i].tz_convert("UTC").isoformat() for i in pick],
            "x": _nums(xs[pick]),
            "y": _nums(ys[pick]),
        },
    }


# --------------------------------------------------------------------------- scenarios


class ScenarioRequest(BaseModel):
    day: date | None = Field(None, description="local day (default: tomorrow)")
    quantity: str = Field("active_import", description="active_import (electricity) or heat_energy")
    regions: list[str] | None = Field(None, description="affected regions (KATO); default: all")
    temperature_delta_c: float = Field(0.0, ge=-40, le=40)
    demand_growth_pct: float = Field(0.0, ge=-90, le=200)
    outage_facility_ids: list[str] = Field(default_factory=list, max_length=100)


@router.post(
    "/scenarios",
    summary="What-if: temperature change, demand growth, generation out → demand, peak, balance",
)
async def scenario(body: ScenarioRequest, request: Request, principal: Ops) -> dict[str, Any]:
    q = resolve_quantity(body.quantity)
    if q is None:
        raise bad("quantity", f"unknown quantity {body.quantity!r}")
    today = utcnow().astimezone(KZ).date()
    day = body.day or today + timedelta(days=1)
    result = await run_scenario(
        _fc(request),
        day=day,
        quantity=q.code,
        regions=body.regions,
        temperature_delta_c=body.temperature_delta_c,
        demand_growth_pct=body.demand_growth_pct,
        outage_facility_ids=body.outage_facility_ids,
    )
    request.app.state.audit.record_nowait(
        "control",
        "forecast.scenario",
        principal=principal,
        object_type="scenario",
        object_id=f"{q.code}:{day.isoformat()}",
        after=result["assumptions"],
    )
    return result


# --------------------------------------------------------------------------- risk


async def _daily(
    request: Request,
    level: str,
    key: str,
    quantity: str,
    start: datetime,
    end: datetime,
    field: str = "sum",
) -> np.ndarray:
    step = 86400
    first = pd.Timestamp(start).tz_convert(KZ).normalize()
    index = pd.date_range(first, pd.Timestamp(end).tz_convert(KZ), freq="D", inclusive="left")
    values = np.full(len(index), np.nan)
    series = await _fc(request).historian.series(level, key, quantity, start, end, step, field)
    base = int(index[0].timestamp()) if len(index) else 0
    for ts, v in series.items():
        pos = (ts - base) // step
        if 0 <= pos < len(index):
            values[pos] = v
    return values


def _main_quantity(p: PointInfo) -> str | None:
    for q in ("active_export", "active_import", "heat_energy"):
        if q in p.quantities:
            return q
    return None


async def _point_risk(
    request: Request, p: PointInfo, now: datetime, days: int, alarms: list[dict[str, Any]] | None
) -> dict[str, Any]:
    start = now - timedelta(days=28)
    q = _main_quantity(p)
    fc = _fc(request)
    jobs = []
    jobs.append(_daily(request, "point", p.code, q, start, now) if q else _none())
    jobs.append(
        _daily(request, "point", p.code, "voltage_l1", start, now, "avg")
        if "voltage_l1" in p.quantities
        else _none()
    )
    jobs.append(fc.historian.events(p.code, now - timedelta(days=days), now))
    output, volts, events = await asyncio.gather(*jobs)
    factors = [
        insights.drift(output) if output is not None else None,
        insights.voltage(volts, p.nominal_voltage) if volts is not None else None,
        insights.journal(events, days),
        insights.alarm_history(
            [a for a in alarms if a.get("point_code") == p.code] if alarms is not None else None
        ),
    ]
    return {"point": p.code, "quantity": q, **insights.score(factors)}


async def _none() -> None:
    return None


async def _alarms(
    request: Request, start: datetime, end: datetime, **filters: str
) -> list[dict[str, Any]] | None:
    source: Alarms = request.app.state.alarms
    if not source.available:
        return None
    return await source.of(start, end, **filters)


@router.get(
    "/analytics/risk/facilities/{facility_id}",
    summary="Risk of failure of a facility and of each of its metering points (0–100)",
)
async def facility_risk(
    facility_id: str,
    request: Request,
    principal: Reader,
    days: Annotated[int, Query(ge=1, le=90, description="journal and alarm window")] = 30,
) -> dict[str, Any]:
    await visible_facility(request, principal, facility_id)
    directory = await _fc(request).registry.directory()
    points = directory.of_facility(facility_id)
    now = utcnow()
    alarms = await _alarms(request, now - timedelta(days=days), now, facility_id=facility_id)
    results = await asyncio.gather(*(_point_risk(request, p, now, days, alarms) for p in points))
    facility_alarms = insights.alarm_history(
        [a for a in alarms if not a.get("point_code")] if alarms is not None else None
    )
    worst = max((r["score"] for r in results), default=0.0)
    extra = facility_alarms.weight if facility_alarms is not None else 0.0
    value = 100 * (1 - (1 - worst / 100) * (1 - extra))
    return {
        "facility_id": facility_id,
        "score": round(value, 1),
        "level": insights.level_of(value),
        "label": message(f"level.{insights.level_of(value)}"),
        "window_days": days,
        "points": sorted(results, key=lambda r: -r["score"]),
        "alarms_available": alarms is not None,
        "notes": [] if alarms is not None else [message("monitoring.unavailable")],
    }


@router.get(
    "/analytics/risk/devices/{device_id}",
    summary="Risk of failure of a measuring instrument (its point's signs and its verification)",
)
async def device_risk(
    device_id: str,
    request: Request,
    principal: Reader,
    days: Annotated[int, Query(ge=1, le=90)] = 30,
) -> dict[str, Any]:
    fc = _fc(request)
    device = await fc.registry.device(device_id)
    if device is None or not principal.can_see_subject(str(device.get("subject_bin"))):
        raise NotFound(f"no device {device_id}", code="device_not_found")
    directory = await fc.registry.directory()
    point = directory.point_by_id(str(device.get("point_id"))) if device.get("point_id") else None
    now = utcnow()
    due = device.get("next_verification_due")
    verification = insights.verification(
        date.fromisoformat(due) if due else None, now.astimezone(KZ).date()
    )
    alarms = None
    part: dict[str, Any] = {"factors": [], "score": 0.0}
    if point is not None:
        alarms = await _alarms(request, now - timedelta(days=days), now, point_code=point.code)
        part = await _point_risk(request, point, now, days, alarms)
    factors = [f for f in part["factors"]]
    if verification is not None:
        factors.append(verification.as_dict())
    weights = [f["weight"] for f in factors]
    value = 100 * (1 - math.prod(1 - w for w in weights))
    return {
        "device_id": device_id,
        "serial_number": device.get("serial_number"),
        "point": point.code if point else None,
        "score": round(value, 1),
        "level": insights.level_of(value),
        "label": message(f"level.{insights.level_of(value)}"),
        "factors": sorted(factors, key=lambda f: -f["weight"]),
        "alarms_available": alarms is not None,
        "notes": [] if alarms is not None or point is None else [message("monitoring.unavailable")],
    }


# --------------------------------------------------------------------------- root cause


@router.get(
    "/analytics/root-cause",
    summary="Preceding anomalies, journal events and alarms on related objects of an incident, ranked",
)
async def root_cause(
    request: Request,
    principal: Reader,
    alarm_id: Annotated[str | None, Query(description="a monitoring alarm")] = None,
    point: Annotated[str | None, Query(description="the point of a SCADA emergency event")] = None,
    ts: Annotated[datetime | None, Query(description="the incident's time (with offset)")] = None,
    code: Annotated[str | None, Query(description="the event's code, e.g. equipment_trip")] = None,
    lookback_hours: Annotated[int, Query(ge=1, le=168)] = 24,
    limit: Annotated[int, Query(ge=1, le=200)] = 30,
) -> dict[str, Any]:
    fc = _fc(request)
    incident: dict[str, Any]
    if alarm_id:
        source: Alarms = request.app.state.alarms
        if not source.available:
            raise ServiceUnavailable(
                "monitoring is not deployed: name the incident by point and ts instead",
                code="monitoring_unavailable",
            )
        alarm = await source.one(alarm_id)
        if alarm is None or not principal.can_see_subject(str(alarm.get("subject_bin"))):
            raise NotFound(f"no alarm {alarm_id}", code="alarm_not_found")
        point = alarm.get("point_code") or point
        at = alarm.get("first_ts") or alarm.get("raised_at")
        ts = datetime.fromisoformat(str(at)) if at else ts
        code = alarm.get("kind") or code
        incident = {"alarm_id": alarm_id, "facility_id": alarm.get("facility_id")}
    else:
        incident = {}
    if not point:
        raise Unprocessable(
            "point: name the incident's metering point (or give alarm_id)",
            errors=[FieldError("point", "missing", "required without alarm_id")],
        )
    if ts is None:
        raise Unprocessable(
            "ts: the incident's time is required", errors=[FieldError("ts", "missing", "required")]
        )
    if ts.tzinfo is None:
        raise bad("ts", "give the time with its UTC offset")
    p = await visible_point(request, principal, point)
    directory = await fc.registry.directory()
    scope = principal.scope_bin
    related: dict[str, tuple[PointInfo, str]] = {p.code: (p, "same_point")}
    for q in directory.of_facility(p.facility_id):
        related.setdefault(q.code, (q, "same_facility"))
    for fid in directory.feeder_facilities(p.facility_id):
        for q in directory.of_facility(fid):
            related.setdefault(q.code, (q, "same_feeder"))
    for q in directory.of_subject(p.subject_bin)[:60]:
        related.setdefault(q.code, (q, "same_subject"))
    related = {c: v for c, v in related.items() if scope is None or v[0].subject_bin == scope}
    order = sorted(related.values(), key=lambda v: -insights.RELATION_WEIGHTS[v[1]])[:60]
    t_end = ts.astimezone(UTC)
    t_start = t_end - timedelta(hours=lookback_hours)
    baseline_start = t_start - timedelta(days=7)
    incident_ts = int(t_end.timestamp())

    async def scan(info: PointInfo, relation: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        obj = {
            "type": "point",
            "code": info.code,
            "facility_id": info.facility_id,
            "subject_bin": info.subject_bin,
        }
        events = await fc.historian.events(info.code, t_start, t_end)
        for e in events:
            at = int(datetime.fromisoformat(e["ts"]).timestamp())
            if info.code == p.code and code and e.get("code") == code and at >= incident_ts:
                continue  # the incident itself
            w = insights.EVENT_WEIGHTS.get(str(e.get("code")), 0.1)
            w = max(w, insights.SEVERITY_WEIGHTS.get(str(e.get("severity") or "").lower(), 0.0))
            found.append(
                {
                    "kind": "event",
                    "code": e.get("code"),
                    "text": e.get("text"),
                    "severity": e.get("severity"),
                    "ts": at,
                    "relation": relation,
                    "strength": max(w, 0.05),
                    "object": obj,
                }
            )
        step = 900 if info.interval_min <= 15 else 3600
        for quantity in [
            q for q in (_main_quantity(info), "voltage_l1") if q and q in info.quantities
        ]:
            field = "avg" if quantity == "voltage_l1" else "sum"
            series = await fc.historian.series(
                "point", info.code, quantity, baseline_start, t_end, step, field
            )
            if not series:
                continue
            times = sorted(series)
            values = np.array([series[t] for t in times])
            for a in insights.anomalies(times, values, step, int(t_start.timestamp())):
                found.append(
                    {
                        "kind": "anomaly",
                        "code": a["kind"],
                        "quantity": quantity,
                        "ts": a["ts"],
                        "value": round(a["value"], 4),
                        "expected": round(a["expected"], 4),
                        "z": a["z"],
                        "relation": relation,
                        "strength": a["strength"],
                        "object": obj,
                    }
                )
        return found

    scanned = await asyncio.gather(*(scan(info, rel) for info, rel in order))
    candidates = [c for part in scanned for c in part]
    # alarms are raised after their measurement time (late data up to a day): asked by when they
    # were raised, placed at their first occurrence
    alarms = await _alarms(request, t_start, t_end + timedelta(days=1), facility_id=p.facility_id)
    if alarms is not None:
        for a in alarms:
            if alarm_id and a.get("id") == alarm_id:
                continue
            if a.get("kind") == "event":  # the journal event it stands for is a candidate already
                continue
            at = a.get("first_ts") or a.get("raised_at")
            if not at:
                continue
            candidates.append(
                {
                    "kind": "alarm",
                    "code": a.get("kind"),
                    "severity": a.get("severity"),
                    "ts": int(datetime.fromisoformat(str(at)).timestamp()),
                    "relation": "same_point" if a.get("point_code") == p.code else "same_facility",
                    "strength": insights.SEVERITY_WEIGHTS.get(str(a.get("severity")), 0.1),
                    "object": {"type": a.get("object_type"), "id": a.get("object_id")},
                    "alarm_id": a.get("id"),
                }
            )
    ranked = insights.rank(candidates, incident_ts, limit)
    for c in ranked:
        obj = c["object"].get("code") or c["object"].get("id") or ""
        c["message"] = message(
            f"cause.{c['kind']}",
            code=str(c.get("code") or ""),
            object=str(obj),
            quantity=str(c.get("quantity") or ""),
            kind=str(c.get("code") or ""),
            severity=str(c.get("severity") or ""),
            lead_h=round(c["lead_s"] / 3600, 1),
        )
        c["ts"] = insights.iso(c["ts"])
        c.pop("strength", None)
    return {
        "incident": {
            **incident,
            "point": p.code,
            "facility_id": p.facility_id,
            "feeder": (directory.facilities.get(p.facility_id) or {}).get("feeder"),
            "subject_bin": p.subject_bin,
            "ts": t_end.isoformat(),
            "code": code,
        },
        "window": {"from": t_start.isoformat(), "to": t_end.isoformat()},
        "related_points": len(order),
        "alarms_available": alarms is not None,
        "items": ranked,
        "notes": [] if alarms is not None else [message("monitoring.unavailable")],
    }


# --------------------------------------------------------------------------- indicators


def _load_shape(values: np.ndarray) -> dict[str, float | None]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return {"peak": None, "mean": None, "peak_to_average": None, "load_factor": None}
    return {
        "peak": round(float(finite.max()), 3),
        "mean": round(float(finite.mean()), 3),
        "peak_to_average": _r(analytics.peak_to_average(finite)),
        "load_factor": _r(analytics.load_factor(finite)),
    }


def _r(v: Any, digits: int = 4) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return round(f, digits) if math.isfinite(f) else None


async def _hourly(
    request: Request, level: str, key: str, quantity: str, start: datetime, end: datetime
) -> np.ndarray:
    series = await _fc(request).historian.series(level, key, quantity, start, end, 3600)
    return np.array([series[t] for t in sorted(series)]) if series else np.array([])


@router.get(
    "/analytics/indicators/facilities/{facility_id}",
    summary="Efficiency and risk indicators of a facility (specific consumption, losses, load shape)",
)
async def facility_indicators(
    facility_id: str,
    request: Request,
    principal: Reader,
    start: FromQ = None,
    end: ToQ = None,
) -> dict[str, Any]:
    await visible_facility(request, principal, facility_id)
    start, end = _window(start, end, 30)
    fc = _fc(request)
    directory = await fc.registry.directory()
    f = directory.facilities.get(facility_id) or {}
    points = directory.of_facility(facility_id)
    quantities = sorted(
        {q for p in points for q in p.quantities}
        & {"active_import", "active_export", "heat_energy"}
    )
    series = dict(
        zip(
            quantities,
            await asyncio.gather(
                *(_hourly(request, "facility", facility_id, q, start, end) for q in quantities)
            ),
            strict=True,
        )
    )
    totals = {q: round(float(np.nansum(v)), 3) for q, v in series.items() if v.size}
    ftype = f.get("type") or (points[0].facility_type if points else None)
    main = (
        "active_export"
        if ftype in GENERATING and "active_export" in series
        else (
            "heat_energy"
            if "heat_energy" in series and "active_import" not in series
            else "active_import"
        )
    )
    out: dict[str, Any] = {
        "facility_id": facility_id,
        "type": ftype,
        "region_kato": f.get("region_kato"),
        "from": start.isoformat(),
        "to": end.isoformat(),
        "energy": totals,
        "units": {q: resolve_quantity(q).unit for q in totals},  # type: ignore[union-attr]
        "load": {"quantity": main, **_load_shape(series.get(main, np.array([])))},
    }
    indicators: dict[str, Any] = {}
    imp, exp, heat = (
        totals.get("active_import"),
        totals.get("active_export"),
        totals.get("heat_energy"),
    )
    if ftype in GENERATING and imp is not None and exp:
        indicators["own_use_share"] = _r(analytics.specific_consumption(imp, exp))
    if heat and imp is not None:
        indicators["electricity_kwh_per_gcal"] = _r(analytics.specific_consumption(imp, heat), 3)
    if ftype in NETWORKS and imp and exp is not None:
        indicators["loss_share"] = _r(analytics.loss_share(imp, exp))
    capacity = f.get("installed_electric_mw")
    shape = out["load"]
    if capacity and main == "active_export" and shape["peak"] is not None:
        kw = float(capacity) * 1000
        indicators["capacity_factor"] = _r(shape["mean"] / kw)
        indicators["peak_utilisation"] = _r(shape["peak"] / kw)
        indicators["reserve_margin"] = _r(analytics.reserve_margin(kw, shape["peak"]))
    out["indicators"] = indicators
    risk = await facility_risk(facility_id, request, principal, 30)
    out["risk"] = {k: risk[k] for k in ("score", "level", "label")}
    return out


@router.get(
    "/analytics/indicators/regions/{kato}",
    summary="Efficiency and risk indicators of a region (load shape, reserve margin, losses)",
)
async def region_indicators(
    kato: str,
    request: Request,
    principal: Wide,
    start: FromQ = None,
    end: ToQ = None,
) -> dict[str, Any]:
    check_region(kato)
    start, end = _window(start, end, 30)
    fc = _fc(request)
    directory = await fc.registry.directory()
    demand, generation, heat = await asyncio.gather(
        _hourly(request, "region", kato, "active_import", start, end),
        _hourly(request, "region", kato, "active_export", start, end),
        _hourly(request, "region", kato, "heat_energy", start, end),
    )
    electric_kw, _ = directory.installed(kato, "electricity")
    heat_gcal_h, _ = directory.installed(kato, "heat")
    shape = _load_shape(demand)
    heat_shape = _load_shape(heat)
    # Network losses: what network facilities of the region take in and give out.
    networks = sorted(
        fid
        for fid, f in directory.facilities.items()
        if f.get("region_kato") == kato and f.get("type") in NETWORKS
    )[:200]
    flows = await asyncio.gather(
        *(
            asyncio.gather(
                _hourly(request, "facility", fid, "active_import", start, end),
                _hourly(request, "facility", fid, "active_export", start, end),
            )
            for fid in networks
        )
    )
    taken = sum(float(np.nansum(i)) for i, _ in flows)
    given = sum(float(np.nansum(o)) for _, o in flows)
    # The next day's forecast peak (P90) against the installed capacity.
    tomorrow = None
    async with request.app.state.db.transaction() as session:
        from egsu.forecast import repository as repo

        series = await repo.series_of(session, "region", kato, "active_import")
        if series is not None:
            run = await repo.latest_run(session, series["id"], "day_ahead")
            if run is not None:
                tomorrow = {
                    "from": run["start_ts"].isoformat(),
                    "peak_p50": round(max(run["p50"]), 3),
                    "peak_p90": round(max(run["p90"]), 3),
                }
    indicators: dict[str, Any] = {
        "peak_to_average": shape["peak_to_average"],
        "load_factor": shape["load_factor"],
        "heat_peak_to_average": heat_shape["peak_to_average"],
        "self_sufficiency": _r(np.nansum(generation) / np.nansum(demand))
        if demand.size and generation.size
        else None,
        "reserve_margin": _r(analytics.reserve_margin(electric_kw, shape["peak"]))
        if electric_kw and shape["peak"]
        else None,
        "heat_reserve_margin": _r(analytics.reserve_margin(heat_gcal_h, heat_shape["peak"]))
        if heat_gcal_h and heat_shape["peak"]
        else None,
        "network_loss_share": _r(analytics.loss_share(taken, given)) if taken > 0 else None,
    }
    if tomorrow and electric_kw:
        indicators["forecast_reserve_margin_p90"] = _r(
            analytics.reserve_margin(electric_kw, tomorrow["peak_p90"])
        )
    r = REGIONS_BY_KATO[kato]
    return {
        "region_kato": kato,
        "name": {"ru": r.name_ru, "kk": r.name_kk, "en": r.name_en},
        "from": start.isoformat(),
        "to": end.isoformat(),
        "electricity": {
            "unit": "kWh",
            "consumption": round(float(np.nansum(demand)), 3) if demand.size else None,
            "generation": round(float(np.nansum(generation)), 3) if generation.size else None,
            "load": shape,
            "installed_kw": round(electric_kw, 3),
        },
        "heat": {
            "unit": "Gcal",
            "supply": round(float(np.nansum(heat)), 3) if heat.size else None,
            "load": heat_shape,
            "installed_gcal_h": round(heat_gcal_h, 3),
        },
        "networks": {
            "facilities": len(networks),
            "taken_kwh": round(taken, 3),
            "given_kwh": round(given, 3),
        },
        "forecast_day_ahead": tomorrow,
        "indicators": indicators,
    }
