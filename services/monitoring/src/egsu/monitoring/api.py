"""Monitoring routes under /api/v1/monitoring."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from nats.js import api as js_api
from pydantic import ValidationError
from sqlalchemy import delete, insert, select, update

from egsu.auth import Principal
from egsu.bus.audit import AuditLog
from egsu.contracts.alarms import SEVERITIES
from egsu.contracts.regions import REGIONS_BY_KATO
from egsu.contracts.streams import ALARMS
from egsu.core.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from egsu.db.deps import Session
from egsu.monitoring import models as m
from egsu.monitoring import repository as repo
from egsu.monitoring.alarms import snapshot
from egsu.monitoring.deps import Controller, MonitorDep, Reader, Responder, Subscriber
from egsu.monitoring.rules import KINDS, RuleBody
from egsu.monitoring.schemas import (
    ClockSet,
    Comment,
    CommentRequired,
    RuleUpdate,
    Shelve,
    Sweep,
    WebhookCreate,
    WebhookUpdate,
)
from egsu.monitoring.state import missed_intervals
from egsu.monitoring.texts import EVENT_NAMES

router = APIRouter(prefix="/api/v1/monitoring", tags=["monitoring"])
Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
Cursor = Annotated[str | None, Query(description="next_cursor of the previous page")]
STATUSES = ("active", "inactive", "pending", "unmonitored")


def _bad(field: str, message: str) -> Unprocessable:
    return Unprocessable(f"{field}: {message}", errors=[FieldError(field, "invalid", message)])


def _iso(v: Any) -> Any:
    return v.isoformat() if isinstance(v, datetime) else v


def _audit(request: Request) -> AuditLog:
    return request.app.state.audit  # type: ignore[no-any-return]


# --- live state ---------------------------------------------------------------------------------


def point_view(r: dict[str, Any], monitor: Any) -> dict[str, Any]:
    p = monitor.directory.points.get(r["code"])
    live = monitor.live.points.get(r["code"])
    now = monitor.clock.ts()
    missed = None
    if p is not None and live is not None:
        missed = missed_intervals(p, live, now, monitor.s.arrival_allowance_intervals)
    values = {
        q: {"ts": datetime.fromtimestamp(t, UTC).isoformat(), "value": v}
        for q, (t, v) in ((live.values.items()) if live else {})
    }
    return {
        "code": r["code"],
        "subject_bin": r["subject_bin"],
        "facility_id": r["facility_id"],
        "facility_type": r["facility_type"],
        "region_kato": r["region_kato"],
        "system_ids": r["system_ids"],
        "interval_min": r["interval_min"],
        "criticality": r["criticality"],
        "inactive_after_intervals": p.missed_allowed if p else None,
        "status": live.status if live else r["status"],
        "status_since": datetime.fromtimestamp(live.status_since, UTC).isoformat()
        if live
        else _iso(r["status_since"]),
        "last_ts": _iso(r["last_ts"])
        if not live
        else (datetime.fromtimestamp(live.last_ts, UTC).isoformat() if live.last_ts else None),
        "last_received_at": datetime.fromtimestamp(live.last_received_at, UTC).isoformat()
        if live and live.last_received_at
        else _iso(r["last_received_at"]),
        "missed_intervals": missed,
        "values": values,
        "channel": live.channel if live else r["channel"],
        "devices": [
            {"id": d.id, "serial_number": d.serial_number, "model": d.model}
            for d in monitor.directory.devices_of_point(r["code"])
        ],
    }


@router.get("/points", summary="Live state of metering points: status, last reading, channel")
async def list_points(
    principal: Reader,
    session: Session,
    monitor: MonitorDep,
    subject_bin: str | None = None,
    region_kato: str | None = None,
    facility_id: str | None = None,
    facility_type: str | None = None,
    system_id: str | None = None,
    status: Literal["active", "inactive", "pending", "unmonitored"] | None = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    await monitor.flush()
    rows, nxt = await repo.list_points(
        session,
        scope_bin=principal.scope_bin,
        filters={
            "subject_bin": subject_bin,
            "region_kato": region_kato,
            "facility_id": facility_id,
            "facility_type": facility_type,
            "system_id": system_id,
            "status": status,
        },
        limit=limit,
        cursor=cursor,
    )
    return {"items": [point_view(r, monitor) for r in rows], "next_cursor": nxt}


async def _visible_point(
    session: Any, code: str, principal: Principal, monitor: Any
) -> dict[str, Any]:
    await monitor.flush()
    r = await repo.point(session, code, principal.scope_bin)
    if r is None:
        raise NotFound(f"no metering point {code} is monitored", code="point_not_found")
    return r


@router.get("/points/{code}", summary="One point: status, last values, channel quality, alarms")
async def get_point(
    code: str, principal: Reader, session: Session, monitor: MonitorDep
) -> dict[str, Any]:
    r = await _visible_point(session, code, principal, monitor)
    out = point_view(r, monitor)
    out["channel_quality"] = await repo.channel_quality(
        session, [r], monitor.clock.now(), 24, monitor.s.arrival_allowance_intervals
    )
    out["active_alarms"] = await repo.open_alarm_count(session, "point_code", code)
    return out


@router.get(
    "/points/{code}/channel-quality",
    summary="Channel quality of a point: share received, delay median and p95, gaps, channel",
)
async def point_quality(
    code: str,
    principal: Reader,
    session: Session,
    monitor: MonitorDep,
    hours: Annotated[float, Query(gt=0, le=168)] = 24,
) -> dict[str, Any]:
    r = await _visible_point(session, code, principal, monitor)
    q = await repo.channel_quality(
        session, [r], monitor.clock.now(), hours, monitor.s.arrival_allowance_intervals
    )
    return {
        "point": code,
        "channel": monitor.live.points[code].channel if code in monitor.live.points else None,
        **q,
    }


def _aggregate(points: list[dict[str, Any]], monitor: Any) -> dict[str, Any]:
    by: dict[str, int] = {}
    last = None
    for r in points:
        live = monitor.live.points.get(r["code"])
        st = live.status if live else r["status"]
        by[st] = by.get(st, 0) + 1
        lt = live.last_ts if live else None
        if lt and (last is None or lt > last):
            last = lt
    monitored = [s for s in by if s != "unmonitored"]
    n = sum(by[s] for s in monitored)
    if n == 0:
        status = "unmonitored"
    elif by.get("active", 0) == n:
        status = "active"
    elif by.get("active", 0) == 0 and by.get("inactive", 0) > 0:
        status = "inactive"
    elif by.get("inactive", 0) > 0:
        status = "partial"
    else:
        status = "pending"
    return {
        "status": status,
        "points": len(points),
        "by_status": by,
        "last_ts": datetime.fromtimestamp(last, UTC).isoformat() if last else None,
    }


@router.get("/facilities", summary="Facilities with the status of their points")
async def list_facilities(
    principal: Reader,
    session: Session,
    monitor: MonitorDep,
    subject_bin: str | None = None,
    region_kato: str | None = None,
    facility_type: str | None = None,
    status: Literal["active", "inactive", "partial", "pending", "unmonitored"] | None = None,
) -> dict[str, Any]:
    where = {
        k: v
        for k, v in {
            "subject_bin": principal.scope_bin or subject_bin,
            "region_kato": region_kato,
            "facility_type": facility_type,
        }.items()
        if v
    }
    rows = await repo.points_where(session, **where)
    by_fac: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_fac.setdefault(r["facility_id"], []).append(r)
    items = []
    for fid, pts in sorted(by_fac.items()):
        f = monitor.directory.facilities.get(fid)
        agg = _aggregate(pts, monitor)
        if status and agg["status"] != status:
            continue
        items.append(
            {
                "id": fid,
                "name_ru": f.name_ru if f else None,
                "name_kk": f.name_kk if f else None,
                "subject_bin": pts[0]["subject_bin"],
                "facility_type": pts[0]["facility_type"],
                "region_kato": pts[0]["region_kato"],
                "criticality": pts[0]["criticality"],
                **agg,
            }
        )
    return {"items": items, "next_cursor": None}


@router.get("/facilities/{id}", summary="One facility: its points' status, channel quality, alarms")
async def get_facility(
    id: str, principal: Reader, session: Session, monitor: MonitorDep
) -> dict[str, Any]:
    await monitor.flush()
    pts = await repo.points_where(session, facility_id=id)
    if not pts or not principal.can_see_subject(pts[0]["subject_bin"]):
        raise NotFound(f"no facility {id} is monitored", code="facility_not_found")
    f = monitor.directory.facilities.get(id)
    return {
        "id": id,
        "name_ru": f.name_ru if f else None,
        "name_kk": f.name_kk if f else None,
        "subject_bin": pts[0]["subject_bin"],
        "facility_type": pts[0]["facility_type"],
        "region_kato": pts[0]["region_kato"],
        **_aggregate(pts, monitor),
        "channel_quality": await repo.channel_quality(
            session, pts, monitor.clock.now(), 24, monitor.s.arrival_allowance_intervals
        ),
        "active_alarms": await repo.open_alarm_count(session, "facility_id", id),
        "point_states": [point_view(r, monitor) for r in pts],
    }


def _system_view(sys_: Any, pts: list[dict[str, Any]], monitor: Any) -> dict[str, Any]:
    channels: dict[str, int] = {}
    for r in pts:
        live = monitor.live.points.get(r["code"])
        if live and live.channel:
            channels[live.channel] = channels.get(live.channel, 0) + 1
    in_use = "reserve" if channels.get("reserve") else ("main" if channels.get("main") else None)
    return {
        "id": sys_.id,
        "subject_bin": sys_.subject_bin,
        "kind": sys_.kind,
        "name": sys_.name,
        "facility_ids": sys_.facility_ids,
        "channels": sys_.channels,
        "channel_in_use": in_use,
        "points_by_channel": channels,
        **_aggregate(pts, monitor),
    }


@router.get("/systems", summary="Subjects' ASKUE and SCADA systems with the status of their points")
async def list_systems(
    principal: Reader,
    session: Session,
    monitor: MonitorDep,
    subject_bin: str | None = None,
    status: Literal["active", "inactive", "partial", "pending", "unmonitored"] | None = None,
) -> dict[str, Any]:
    await monitor.flush()
    scope = principal.scope_bin or subject_bin
    items = []
    for sys_ in sorted(monitor.directory.systems.values(), key=lambda s: s.id):
        if scope and sys_.subject_bin != scope:
            continue
        pts = await repo.points_where(session, system_id=sys_.id)
        view = _system_view(sys_, pts, monitor)
        if status and view["status"] != status:
            continue
        items.append(view)
    return {"items": items, "next_cursor": None}


@router.get("/systems/{id}", summary="One system: its points, channel in use and channel quality")
async def get_system(
    id: str, principal: Reader, session: Session, monitor: MonitorDep
) -> dict[str, Any]:
    sys_ = monitor.directory.systems.get(id)
    if sys_ is None or not principal.can_see_subject(sys_.subject_bin):
        raise NotFound(f"no system {id}", code="system_not_found")
    await monitor.flush()
    pts = await repo.points_where(session, system_id=id)
    out = _system_view(sys_, pts, monitor)
    out["channel_quality"] = await repo.channel_quality(
        session, pts, monitor.clock.now(), 24, monitor.s.arrival_allowance_intervals
    )
    out["active_alarms"] = await repo.open_alarm_count(session, "object_id", id)
    return out


def _device_view(d: Any, monitor: Any) -> dict[str, Any]:
    code = monitor.directory.point_by_id.get(d.point_id) if d.point_id else None
    live = monitor.live.points.get(code) if code else None
    return {
        "id": d.id,
        "subject_bin": d.subject_bin,
        "type": d.type,
        "model": d.model,
        "serial_number": d.serial_number,
        "point_code": code,
        "status": (live.status if live else "pending") if code else "not_installed",
        "last_ts": datetime.fromtimestamp(live.last_ts, UTC).isoformat()
        if live and live.last_ts
        else None,
        "values": {
            q: {"ts": datetime.fromtimestamp(t, UTC).isoformat(), "value": v}
            for q, (t, v) in (live.values.items() if live else ())
        },
        "channel": live.channel if live else None,
        "next_verification_due": d.next_verification_due,
    }


@router.get("/devices", summary="Measuring instruments with the status of the point they serve")
async def list_devices(
    principal: Reader,
    monitor: MonitorDep,
    subject_bin: str | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    scope = principal.scope_bin or subject_bin
    items = [
        _device_view(d, monitor)
        for d in sorted(monitor.directory.devices.values(), key=lambda d: d.id)
        if d.status == "active" and (not scope or d.subject_bin == scope)
    ]
    if status:
        items = [i for i in items if i["status"] == status]
    return {"items": items, "next_cursor": None}


@router.get("/devices/{id}", summary="One measuring instrument's live state")
async def get_device(id: str, principal: Reader, monitor: MonitorDep) -> dict[str, Any]:
    d = monitor.directory.devices.get(id)
    if d is None or not principal.can_see_subject(d.subject_bin):
        raise NotFound(f"no device {id}", code="device_not_found")
    return _device_view(d, monitor)


@router.get(
    "/summary", summary="Counts for dashboards: points by status, active alarms by severity"
)
async def summary(
    principal: Reader,
    session: Session,
    monitor: MonitorDep,
    group_by: Literal["region", "subject", "facility_type", "facility", "status"] | None = None,
    subject_bin: str | None = None,
    region_kato: str | None = None,
    facility_type: str | None = None,
) -> dict[str, Any]:
    await monitor.flush()
    filters = {
        "subject_bin": subject_bin,
        "region_kato": region_kato,
        "facility_type": facility_type,
    }
    points = await repo.status_counts(
        session, scope_bin=principal.scope_bin, group_by=group_by, filters=filters
    )
    alarms = await repo.alarm_counts(
        session, scope_bin=principal.scope_bin, group_by=group_by, filters=filters
    )
    groups = {g["key"]: {**g, "active_alarms": alarms.get(g["key"], {})} for g in points}
    for key, counts in alarms.items():
        groups.setdefault(key, {"key": key, "points": 0, "by_status": {}, "active_alarms": counts})
    items = sorted(groups.values(), key=lambda g: str(g["key"]))
    if group_by == "region":
        for g in items:
            reg = REGIONS_BY_KATO.get(g["key"])
            g["name"] = {"ru": reg.name_ru, "kk": reg.name_kk, "en": reg.name_en} if reg else None
    total_alarms: dict[str, int] = {}
    for counts in alarms.values():
        for sev, n in counts.items():
            total_alarms[sev] = total_alarms.get(sev, 0) + n
    total_status: dict[str, int] = {}
    for g in points:
        for st, n in g["by_status"].items():
            total_status[st] = total_status.get(st, 0) + n
    return {
        "group_by": group_by,
        "points": sum(total_status.values()),
        "by_status": total_status,
        "active_alarms": total_alarms,
        "items": items if group_by else [],
    }


# --- alarms ----------------------------------------------------------------------------------------


def alarm_view(a: dict[str, Any]) -> dict[str, Any]:
    out = snapshot(a).model_dump(mode="json")
    out.update(
        cleared_by=a["cleared_by"],
        closed_at=_iso(a["closed_at"]),
        closed_by=a["closed_by"],
        shelved_by=a["shelved_by"],
        last_at=_iso(a["last_at"]),
        reminders=a["reminders"],
        condition_gone_since=_iso(a["ok_since"]),
    )
    return out


@router.get("/alarms", summary="Alarms, newest first; a subject sees only its own")
async def list_alarms(
    principal: Reader,
    session: Session,
    state: Literal[
        "active", "open", "raised", "acknowledged", "cleared", "closed", "all"
    ] = "active",
    severity: Annotated[
        list[Literal["critical", "major", "minor", "warning"]] | None, Query()
    ] = None,
    kind: str | None = None,
    category: str | None = None,
    subject_bin: str | None = None,
    region_kato: str | None = None,
    facility_id: str | None = None,
    facility_type: str | None = None,
    point_code: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> dict[str, Any]:
    for name, v in (("from", start), ("to", end)):
        if v is not None and v.tzinfo is None:
            raise _bad(name, "give the time with its UTC offset")
    rows, nxt = await repo.list_alarms(
        session,
        scope_bin=principal.scope_bin,
        state=state,
        filters={
            "severity": severity,
            "kind": kind,
            "category": category,
            "subject_bin": subject_bin,
            "region_kato": region_kato,
            "facility_id": facility_id,
            "facility_type": facility_type,
            "point_code": point_code,
            "object_type": object_type,
            "object_id": object_id,
        },
        since=start,
        until=end,
        limit=limit,
        cursor=cursor,
    )
    return {"items": [alarm_view(r) for r in rows], "next_cursor": nxt}


async def _visible_alarm(session: Any, alarm_id: str, principal: Principal) -> dict[str, Any]:
    try:
        uuid.UUID(alarm_id)
    except ValueError:
        raise NotFound(f"no alarm {alarm_id}", code="alarm_not_found") from None
    a = await repo.alarm(session, alarm_id, principal.scope_bin)
    if a is None:
        raise NotFound(f"no alarm {alarm_id}", code="alarm_not_found")
    return a


def _history_view(h: dict[str, Any]) -> dict[str, Any]:
    return {
        "seq": h["seq"],
        "type": h["type"],
        "at": _iso(h["at"]),
        "actor": h["actor"],
        "comment": h["comment"],
        "details": h["details"],
    }


@router.get(
    "/alarms/stream",
    summary="Server-sent events of alarms in the caller's scope",
    response_class=EventSourceResponse,
)
async def alarm_stream(
    request: Request,
    principal: Reader,
    severity: Annotated[
        list[Literal["critical", "major", "minor", "warning"]] | None, Query()
    ] = None,
    kind: str | None = None,
    subject_bin: str | None = None,
    region_kato: str | None = None,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> AsyncIterator[ServerSentEvent]:
    """``event:`` is the step (raised, acknowledged, cleared, …), ``data:`` the alarm event, ``id:`` its
    position in the stream (send it back as Last-Event-ID to resume). The first event is ``ready``."""
    scope = principal.scope_bin
    bus = request.app.state.bus
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=10_000)
    start_seq = None
    if last_event_id and last_event_id.isdigit():
        start_seq = int(last_event_id) + 1
    config = js_api.ConsumerConfig(
        deliver_policy=js_api.DeliverPolicy.BY_START_SEQUENCE
        if start_seq
        else js_api.DeliverPolicy.NEW,
        opt_start_seq=start_seq,
    )

    async def on_msg(msg: Any) -> None:
        with contextlib.suppress(asyncio.QueueFull):
            queue.put_nowait(msg)

    sub = await bus.js.subscribe(
        f"{ALARMS}.>", stream="ALARMS", cb=on_msg, ordered_consumer=True, config=config
    )
    try:
        yield ServerSentEvent(event="ready", data={"scope": scope or "all"}, retry=2000)
        while True:
            msg = await queue.get()
            try:
                event = orjson.loads(msg.data)
                alarm = event["alarm"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue
            if scope is not None and alarm.get("subject_bin") != scope:
                continue
            if severity and alarm.get("severity") not in severity:
                continue
            if kind and alarm.get("kind") != kind:
                continue
            if subject_bin and alarm.get("subject_bin") != subject_bin:
                continue
            if region_kato and alarm.get("region_kato") != region_kato:
                continue
            seq = msg.metadata.sequence.stream if msg.metadata else None
            yield ServerSentEvent(
                event=event["type"], raw_data=msg.data.decode(), id=str(seq) if seq else None
            )
    finally:
        with contextlib.suppress(Exception):
            await sub.unsubscribe()


@router.get("/alarms/{id}", summary="One alarm with its full history")
async def get_alarm(id: str, principal: Reader, session: Session) -> dict[str, Any]:
    a = await _visible_alarm(session, id, principal)
    return {**alarm_view(a), "history": [_history_view(h) for h in await repo.history(session, id)]}


@router.get("/alarms/{id}/history", summary="Every step of one alarm: who, when, what")
async def alarm_history(id: str, principal: Reader, session: Session) -> dict[str, Any]:
    await _visible_alarm(session, id, principal)
    return {
        "items": [_history_view(h) for h in await repo.history(session, id)],
        "next_cursor": None,
    }


async def _act(
    request: Request,
    principal: Principal,
    monitor: Any,
    alarm_id: str,
    action: str,
    fn: Any,
    *args: Any,
) -> dict[str, Any]:
    async with monitor.lock, monitor.db.transaction() as s:
        a = await monitor.engine.get_for_update(s, alarm_id, principal.scope_bin)
        before = {
            "state": a["state"],
            "acknowledged_by": a["acknowledged_by"],
            "shelved_until": _iso(a["shelved_until"]),
        }
        await fn(s, a, principal.username, *args, monitor.clock.now())
        await _audit(request).record(
            "control",
            f"alarm.{action}",
            principal=principal,
            object_type="alarm",
            object_id=alarm_id,
            before=before,
            after={
                "state": a["state"],
                "acknowledged_by": a["acknowledged_by"],
                "shelved_until": _iso(a["shelved_until"]),
            },
            request_id=request.headers.get("x-request-id"),
            subject_bin=a["subject_bin"],
        )
    if monitor.relay is not None:
        monitor.relay.poke()
    return alarm_view(a)


@router.post("/alarms/{id}/acknowledge", summary="Acknowledge an alarm (with a comment)")
async def acknowledge(
    id: str, body: Comment, request: Request, principal: Responder, monitor: MonitorDep
) -> dict[str, Any]:
    return await _act(
        request, principal, monitor, id, "acknowledged", monitor.engine.acknowledge, body.comment
    )


@router.post("/alarms/{id}/clear", summary="Clear an active alarm by hand (operator, ministry)")
async def clear(
    id: str, body: Comment, request: Request, principal: Controller, monitor: MonitorDep
) -> dict[str, Any]:
    return await _act(
        request, principal, monitor, id, "cleared", monitor.engine.clear_by_hand, body.comment
    )


@router.post("/alarms/{id}/close", summary="Close a cleared alarm (operator, ministry)")
async def close(
    id: str, body: Comment, request: Request, principal: Controller, monitor: MonitorDep
) -> dict[str, Any]:
    return await _act(request, principal, monitor, id, "closed", monitor.engine.close, body.comment)


@router.post("/alarms/{id}/shelve", summary="Shelve an alarm for maintenance until a time")
async def shelve(
    id: str, body: Shelve, request: Request, principal: Controller, monitor: MonitorDep
) -> dict[str, Any]:
    until = body.until or monitor.clock.now() + timedelta(minutes=body.minutes or 0)
    return await _act(
        request, principal, monitor, id, "shelved", monitor.engine.shelve, until, body.comment
    )


@router.post("/alarms/{id}/unshelve", summary="End an alarm's shelf time now")
async def unshelve(
    id: str, body: Comment, request: Request, principal: Controller, monitor: MonitorDep
) -> dict[str, Any]:
    return await _act(
        request, principal, monitor, id, "unshelved", monitor.engine.unshelve, body.comment
    )


@router.post("/alarms/{id}/comments", summary="Add a comment to an alarm's history")
async def comment(
    id: str, body: CommentRequired, request: Request, principal: Responder, monitor: MonitorDep
) -> dict[str, Any]:
    return await _act(
        request, principal, monitor, id, "commented", monitor.engine.comment, body.comment
    )


# --- rules --------------------------------------------------------------------------------------------


def rule_view(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(r["id"]),
        "name": r["name"],
        "kind": r["kind"],
        "family": r["family"],
        "category": r["category"],
        "severity": r["severity"],
        "scope_type": r["scope_type"],
        "scope_value": r["scope_value"],
        "quantities": r["quantities"],
        "params": r["params"],
        "hold_s": r["hold_s"],
        "enabled": r["enabled"],
        "builtin": r["builtin"],
        "version": r["version"],
        "updated_by": r["updated_by"],
        "created_at": _iso(r["created_at"]),
        "updated_at": _iso(r["updated_at"]),
    }


def _rule_visible(r: dict[str, Any], principal: Principal, monitor: Any) -> bool:
    scope = principal.scope_bin
    if scope is None or r["scope_type"] in ("all", "region", "facility_type"):
        return True
    v = r["scope_value"]
    if r["scope_type"] == "subject":
        return bool(v == scope)
    if r["scope_type"] == "facility":
        f = monitor.directory.facilities.get(v)
        return f is not None and f.subject_bin == scope
    p = monitor.directory.points.get(v)
    return p is not None and p.subject_bin == scope


@router.get("/rules", summary="Alarm rules")
async def list_rules(
    principal: Reader,
    session: Session,
    monitor: MonitorDep,
    kind: str | None = None,
    enabled: bool | None = None,
) -> dict[str, Any]:
    stmt = select(m.rule).order_by(m.rule.c.builtin.desc(), m.rule.c.name)
    if kind:
        stmt = stmt.where(m.rule.c.kind == kind)
    if enabled is not None:
        stmt = stmt.where(m.rule.c.enabled == enabled)
    rows = [dict(r) for r in (await session.execute(stmt)).mappings()]
    return {
        "items": [rule_view(r) for r in rows if _rule_visible(r, principal, monitor)],
        "next_cursor": None,
    }


async def _rule(session: Any, rule_id: str, lock: bool = False) -> dict[str, Any]:
    try:
        uuid.UUID(rule_id)
    except ValueError:
        raise NotFound(f"no rule {rule_id}", code="rule_not_found") from None
    stmt = select(m.rule).where(m.rule.c.id == rule_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).mappings().first()
    if row is None:
        raise NotFound(f"no rule {rule_id}", code="rule_not_found")
    return dict(row)


@router.get("/rules/{id}", summary="One alarm rule")
async def get_rule(
    id: str, principal: Reader, session: Session, monitor: MonitorDep
) -> dict[str, Any]:
    r = await _rule(session, id)
    if not _rule_visible(r, principal, monitor):
        raise NotFound(f"no rule {id}", code="rule_not_found")
    return rule_view(r)


@router.get("/rules/{id}/versions", summary="Every version of a rule: who changed what, when")
async def rule_versions(id: str, principal: Controller, session: Session) -> dict[str, Any]:
    await _rule(session, id)
    v = m.rule_version
    rows = await session.execute(select(v).where(v.c.rule_id == id).order_by(v.c.version))
    return {
        "items": [
            {
                "version": r["version"],
                "body": r["body"],
                "changed_by": r["changed_by"],
                "changed_at": _iso(r["changed_at"]),
                "comment": r["comment"],
            }
            for r in rows.mappings()
        ],
        "next_cursor": None,
    }


def _body_of(r: dict[str, Any]) -> dict[str, Any]:
    return {
        k: r[k]
        for k in ("name", "kind", "family", "category", "severity", "scope_type", "scope_value",
                  "quantities", "params", "hold_s", "enabled")
    }  # fmt: skip


@router.post("/rules", status_code=201, summary="Add an alarm rule (operator, ministry)")
async def create_rule(
    body: RuleBody, request: Request, principal: Controller, session: Session, monitor: MonitorDep
) -> JSONResponse:
    rid = str(uuid.uuid4())
    data = body.model_dump()
    await session.execute(
        insert(m.rule).values(id=rid, **data, version=1, updated_by=principal.username)
    )
    await session.execute(
        insert(m.rule_version).values(
            rule_id=rid, version=1, body=data, changed_by=principal.username
        )
    )
    await _audit(request).record(
        "change", "alarm_rule.create", principal=principal, object_type="alarm_rule",
        object_id=rid, after=data,
    )  # fmt: skip
    await monitor.reload_rules(session)
    return JSONResponse(rule_view(await _rule(session, rid)), status_code=201)


@router.patch("/rules/{id}", summary="Change an alarm rule: a new version (operator, ministry)")
async def update_rule(
    id: str,
    body: RuleUpdate,
    request: Request,
    principal: Controller,
    session: Session,
    monitor: MonitorDep,
) -> dict[str, Any]:
    cur = await _rule(session, id, lock=True)
    if body.version is not None and body.version != cur["version"]:
        raise Conflict(
            f"the rule is at version {cur['version']}, not {body.version}; reload it and try again",
            code="version_conflict",
        )
    changes = body.model_dump(exclude_unset=True, exclude={"version", "comment"})
    if cur["builtin"] and "kind" in changes:
        raise _bad("kind", "the kind of a built-in rule cannot change")
    merged = {**_body_of(cur), **changes}
    try:
        new = RuleBody.model_validate(merged).model_dump()
    except ValidationError as exc:
        e = exc.errors()[0]
        msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
        field, _, reason = (
            msg.partition(": ")
            if ": " in msg
            else (".".join(map(str, e["loc"])) or "body", "", msg)
        )
        raise _bad(field, reason or msg) from None
    version = cur["version"] + 1
    await session.execute(
        update(m.rule)
        .where(m.rule.c.id == id)
        .values(
            **new, version=version, updated_by=principal.username, updated_at=monitor.clock.now()
        )
    )
    await session.execute(
        insert(m.rule_version).values(
            rule_id=id,
            version=version,
            body=new,
            changed_by=principal.username,
            comment=body.comment,
        )
    )
    await _audit(request).record(
        "change", "alarm_rule.update", principal=principal, object_type="alarm_rule", object_id=id,
        before=_body_of(cur), after=new, version=version,
    )  # fmt: skip
    if cur["enabled"] and not new["enabled"]:
        async with monitor.lock:
            await monitor.forget_rule_alarms(session, id, principal.username)
    await monitor.reload_rules(session)
    if monitor.relay is not None:
        monitor.relay.poke()
    return rule_view(await _rule(session, id))


# --- webhooks -------------------------------------------------------------------------------------------


def webhook_view(w: dict[str, Any], secret: str | None = None) -> dict[str, Any]:
    out = {
        "id": str(w["id"]),
        "name": w["name"],
        "url": w["url"],
        "owner_bin": w["owner_bin"],
        "filter": w["filter"],
        "enabled": w["enabled"],
        "created_by": w["created_by"],
        "version": w["version"],
        "created_at": _iso(w["created_at"]),
        "updated_at": _iso(w["updated_at"]),
    }
    if secret is not None:
        out["secret"] = secret
    return out


def _check_url(request: Request, url: str) -> None:
    if request.app.state.settings.environment == "prod" and not url.startswith("https://"):
        raise _bad("url", "webhooks must use https")


async def _webhook(
    session: Any, wid: str, principal: Principal, lock: bool = False
) -> dict[str, Any]:
    try:
        uuid.UUID(wid)
    except ValueError:
        raise NotFound(f"no webhook {wid}", code="webhook_not_found") from None
    stmt = select(m.webhook).where(m.webhook.c.id == wid)
    if principal.scope_bin is not None:
        stmt = stmt.where(m.webhook.c.owner_bin == principal.scope_bin)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).mappings().first()
    if row is None:
        raise NotFound(f"no webhook {wid}", code="webhook_not_found")
    return dict(row)


@router.get("/webhooks", summary="Webhook subscriptions (a subject sees its own)")
async def list_webhooks(principal: Subscriber, session: Session) -> dict[str, Any]:
    stmt = select(m.webhook).order_by(m.webhook.c.created_at)
    if principal.scope_bin is not None:
        stmt = stmt.where(m.webhook.c.owner_bin == principal.scope_bin)
    return {
        "items": [webhook_view(dict(r)) for r in (await session.execute(stmt)).mappings()],
        "next_cursor": None,
    }


@router.post(
    "/webhooks",
    status_code=201,
    summary="Subscribe a URL to alarm events; the secret is shown once",
)
async def create_webhook(
    body: WebhookCreate, request: Request, principal: Subscriber, session: Session
) -> JSONResponse:
    url = str(body.url)
    _check_url(request, url)
    secret = body.secret or secrets.token_urlsafe(32)
    wid = str(uuid.uuid4())
    row = {
        "id": wid,
        "name": body.name,
        "url": url,
        "secret": secret,
        "owner_bin": principal.scope_bin,
        "filter": body.filter.model_dump(),
        "enabled": body.enabled,
        "created_by": principal.username,
    }
    await session.execute(insert(m.webhook).values(**row))
    await _audit(request).record(
        "change", "webhook.create", principal=principal, object_type="webhook", object_id=wid,
        after={k: v for k, v in row.items() if k != "secret"},
    )  # fmt: skip
    return JSONResponse(
        webhook_view(await _webhook(session, wid, principal), secret), status_code=201
    )


@router.get("/webhooks/{id}", summary="One webhook subscription")
async def get_webhook(id: str, principal: Subscriber, session: Session) -> dict[str, Any]:
    return webhook_view(await _webhook(session, id, principal))


@router.patch("/webhooks/{id}", summary="Change a webhook subscription")
async def update_webhook(
    id: str, body: WebhookUpdate, request: Request, principal: Subscriber, session: Session
) -> dict[str, Any]:
    cur = await _webhook(session, id, principal, lock=True)
    changes = body.model_dump(exclude_unset=True, mode="json")
    if "url" in changes:
        _check_url(request, changes["url"])
    await session.execute(
        update(m.webhook)
        .where(m.webhook.c.id == id)
        .values(**changes, version=cur["version"] + 1, updated_at=datetime.now(UTC))
    )
    await _audit(request).record(
        "change", "webhook.update", principal=principal, object_type="webhook", object_id=id,
        before={k: cur[k] for k in ("name", "url", "filter", "enabled")},
        after={k: v for k, v in changes.items() if k != "secret"},
    )  # fmt: skip
    return webhook_view(await _webhook(session, id, principal))


@router.delete("/webhooks/{id}", status_code=204, summary="Remove a webhook subscription")
async def delete_webhook(
    id: str, request: Request, principal: Subscriber, session: Session
) -> JSONResponse:
    cur = await _webhook(session, id, principal, lock=True)
    await session.execute(delete(m.webhook).where(m.webhook.c.id == id))
    await _audit(request).record(
        "change", "webhook.delete", principal=principal, object_type="webhook", object_id=id,
        before={k: cur[k] for k in ("name", "url", "filter", "enabled")},
    )  # fmt: skip
    return JSONResponse(None, status_code=204)


@router.get("/webhooks/{id}/deliveries", summary="The delivery log of a webhook")
async def webhook_deliveries(
    id: str,
    principal: Subscriber,
    session: Session,
    status: Literal["pending", "delivered", "failed"] | None = None,
    limit: Limit = 100,
) -> dict[str, Any]:
    await _webhook(session, id, principal)
    d = m.webhook_delivery
    stmt = select(d).where(d.c.webhook_id == id).order_by(d.c.id.desc()).limit(limit)
    if status:
        stmt = stmt.where(d.c.status == status)
    items = [
        {
            "id": r["id"],
            "event_id": r["event_id"],
            "event_type": r["event_type"],
            "alarm_id": str(r["alarm_id"]) if r["alarm_id"] else None,
            "status": r["status"],
            "attempts": r["attempts"],
            "next_attempt_at": _iso(r["next_attempt_at"]) if r["status"] == "pending" else None,
            "last_attempt_at": _iso(r["last_attempt_at"]),
            "last_status": r["last_status"],
            "last_error": r["last_error"],
            "last_duration_ms": r["last_duration_ms"],
            "delivered_at": _iso(r["delivered_at"]),
            "created_at": _iso(r["created_at"]),
        }
        for r in (await session.execute(stmt)).mappings()
    ]
    return {"items": items, "next_cursor": None}


# --- evaluation on demand, vocabulary ------------------------------------------------------------------


@router.post("/sweep", summary="Evaluate what time does (inactivity, hold times, escalation) now")
async def sweep(
    body: Sweep, request: Request, principal: Controller, monitor: MonitorDep
) -> dict[str, Any]:
    """Runs at once what the service does every few seconds. ``at`` later than now is accepted only
    where time travel is allowed (tests and drills, never production)."""
    now = monitor.clock.now()
    at = body.at or now
    if at > now + timedelta(seconds=1) and not monitor.s.allow_time_travel:
        raise Forbidden("evaluation at a future time is switched off here", code="time_travel_off")
    result = await monitor.sweep(at, body.subject_bin)
    webhooks = request.app.state.webhooks
    sent = await webhooks.deliver_due(at, body.subject_bin) if webhooks is not None else 0
    await _audit(request).record(
        "control", "monitoring.sweep", principal=principal, object_type="monitoring",
        object_id=body.subject_bin or "all", at=at.isoformat(),
    )  # fmt: skip
    return {"at": at.isoformat(), **result, "webhook_attempts": sent}


@router.put("/clock", summary="Set the monitor's clock (tests and drills only; never production)")
async def set_clock(
    body: ClockSet, request: Request, principal: Controller, monitor: MonitorDep
) -> dict[str, Any]:
    if not monitor.s.allow_time_travel:
        raise Forbidden("the monitor's clock is wall time here", code="time_travel_off")
    monitor.clock.set(body.at)
    await _audit(request).record(
        "control", "monitoring.clock", principal=principal, object_type="monitoring",
        object_id="clock", at=body.at.isoformat() if body.at else None,
    )  # fmt: skip
    return {"now": monitor.clock.now().isoformat(), "offset_s": round(monitor.clock.offset, 3)}


@router.get("/batches/{receipt_id}", summary="Whether monitoring has taken in an ingest batch")
async def batch_seen(receipt_id: str, _: Reader, session: Session) -> dict[str, Any]:
    row = (
        (
            await session.execute(
                select(m.processed_batch).where(m.processed_batch.c.receipt_id == receipt_id)
            )
        )
        .mappings()
        .first()
    )
    if row is None:
        raise NotFound(f"batch {receipt_id} not taken in yet", code="batch_not_seen")
    return {"receipt_id": receipt_id, "processed_at": _iso(row["processed_at"])}


@router.get("/vocabulary", summary="Rule kinds, severities, statuses and event codes with names")
async def vocabulary(_: Reader) -> dict[str, Any]:
    return {
        "rule_kinds": list(KINDS),
        "severities": list(SEVERITIES),
        "point_statuses": list(STATUSES),
        "event_codes": {c: {"ru": n[0], "kk": n[1], "en": n[2]} for c, n in EVENT_NAMES.items()},
        "channel_event": {"code": "channel_switch", "text": ["main", "reserve"]},
    }
