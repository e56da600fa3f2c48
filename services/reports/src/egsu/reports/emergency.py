"""The emergency report, raised by a critical alarm or a SCADA emergency event.

The alarm's payload belongs to monitoring (libs/contracts/alarms.py once it lands); until then it
is read defensively here: an object (or an envelope whose ``data`` is one) with an id, a severity,
a time and whatever it has of a metering point code, a facility id, a subject BIN and a region.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from egsu.contracts.regions import REGIONS_BY_KATO
from egsu.core.time import utcnow
from egsu.reports.context import Period, Scope, Sources
from egsu.reports.document import Chart, Column, Document, Table
from egsu.reports.energy import Data, fetch, local
from egsu.reports.i18n import LANGUAGES, t

BEFORE = timedelta(hours=3)
AFTER = timedelta(hours=1)
MAIN_QUANTITIES = (
    "active_import",
    "active_export",
    "heat_energy",
    "active_power",
    "voltage_l1",
    "heat_power",
)


def _first(d: dict[str, Any], *keys: str) -> Any:
    for k in keys:
        v = d.get(k)
        if v not in (None, ""):
            return v
    return None


def _time(v: Any) -> datetime | None:
    if isinstance(v, (int, float)):
        return datetime.fromtimestamp(float(v), UTC)
    if isinstance(v, str):
        try:
            dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
        except ValueError:
            return None
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    return None


def trigger_from_alarm(payload: dict[str, Any]) -> dict[str, Any] | None:
    """A normalised trigger from an alarm event, or None when it names no object at all."""
    body = dict(payload)
    if isinstance(body.get("data"), dict):
        body = {**{k: v for k, v in body.items() if k != "data"}, **body["data"]}
    obj = body.get("object") if isinstance(body.get("object"), dict) else {}
    obj_type = _first(obj, "type") or _first(body, "object_type")
    obj_id = _first(obj, "id") or _first(body, "object_id")
    point = _first(body, "point_code", "point", "metering_point")
    facility = _first(body, "facility_id", "facility")
    subject = _first(body, "subject_bin", "bin")
    if obj_type in ("point", "metering_point") and not point:
        point = obj_id
    if obj_type == "facility" and not facility:
        facility = obj_id
    if obj_type == "subject" and not subject:
        subject = obj_id
    alarm_id = _first(body, "alarm_id", "id")
    if not (point or facility or subject) or not alarm_id:
        return None
    message = _first(body, "message", "title", "text", "description")
    if isinstance(message, dict):
        message = message.get("ru") or next(iter(message.values()), None)
    return {
        "source": "alarm",
        "key": f"alarm:{alarm_id}",
        "id": str(alarm_id),
        "severity": str(_first(body, "severity") or "critical"),
        "code": str(_first(body, "kind", "rule_kind", "type", "code", "rule") or "alarm"),
        "message": str(message) if message is not None else None,
        "occurred_at": (
            _time(_first(body, "raised_at", "occurred_at", "time", "ts", "started_at")) or utcnow()
        ).isoformat(),
        "point_code": point,
        "facility_id": facility,
        "subject_bin": subject,
        "region_kato": _first(body, "region_kato", "region"),
        "value": _first(body, "value"),
    }


def trigger_from_event(point: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    return {
        "source": "scada",
        "key": f"scada:{point['code']}:{event['ts']}:{event['code']}",
        "id": None,
        "severity": event.get("severity") or "emergency",
        "code": event["code"],
        "message": event.get("text"),
        "occurred_at": event["ts"],
        "point_code": point["code"],
        "facility_id": point.get("facility_id"),
        "subject_bin": point.get("subject_bin"),
        "region_kato": point.get("region_kato"),
        "value": None,
    }


async def locate(src: Sources, trig: dict[str, Any]) -> dict[str, Any]:
    """Fill in the facility, subject and region of a trigger from the registry."""
    out = dict(trig)
    if out.get("point_code") and not out.get("facility_id"):
        p = await src.registry.point(out["point_code"])
        if p:
            out["facility_id"] = p.get("facility_id")
            out["subject_bin"] = out.get("subject_bin") or p.get("subject_bin")
    if out.get("facility_id") and not (out.get("subject_bin") and out.get("region_kato")):
        f = await src.registry.facility(out["facility_id"])
        if f:
            out["subject_bin"] = out.get("subject_bin") or f.get("subject_bin")
            out["region_kato"] = out.get("region_kato") or f.get("region_kato")
    if out.get("subject_bin") and not out.get("region_kato"):
        s = await src.registry.subject(out["subject_bin"])
        if s:
            out["region_kato"] = s.get("region_kato")
    return out


async def gather_emergency(
    src: Sources, trig: dict[str, Any], related: list[dict[str, Any]]
) -> dict[str, Any]:
    at = datetime.fromisoformat(trig["occurred_at"])
    d = (
        await src.registry.directory(subject_bin=trig["subject_bin"])
        if trig.get("subject_bin")
        else None
    )
    fid = trig.get("facility_id")
    points = [p for p in (d.points if d else []) if p.facility_id == fid] if fid else []
    start = (at - BEFORE).replace(minute=0, second=0, microsecond=0)
    end = at + AFTER
    series: dict[str, Any] = {}
    if fid and points:
        scope = Scope("local", "facility", fid, trig.get("subject_bin"), trig.get("region_kato"))
        day = Period(local(int(start.timestamp())).date(), local(int(end.timestamp())).date())
        series = await fetch(
            src,
            scope,
            points,
            ("active_import", "active_export", "heat_energy"),
            day,
            "1h",
            breakdown=True,
        )
    events: list[dict[str, Any]] = []
    codes = [p.code for p in points][:30] or (
        [trig["point_code"]] if trig.get("point_code") else []
    )

    async def ev(code: str) -> None:
        for e in await src.historian.events(code, at - timedelta(hours=2), end):
            events.append({**e, "point": code})

    await asyncio.gather(*(ev(c) for c in codes))
    readings: dict[str, Any] = {}
    point = next((p for p in points if p.code == trig.get("point_code")), None)
    if point is not None:
        q = next((q for q in MAIN_QUANTITIES if point.measures(q)), None)
        if q:
            around = await src.historian.native(point.code, q, at - BEFORE, end)
            recent = await src.historian.native(
                point.code, q, utcnow() - timedelta(days=1), utcnow()
            )
            readings = {"quantity": q, "items": around, "last": recent[-1] if recent else None}
    alarms = await src.alarms.of_facility(fid, at - timedelta(hours=2), end) if fid else None
    state = (
        await src.alarms.one(trig["id"])
        if trig.get("source") == "alarm" and trig.get("id")
        else None
    )
    facility = d.facilities.get(fid, {}) if d and fid else {}
    return {
        "trigger": trig,
        "related": related,
        "facility": {
            k: facility.get(k)
            for k in ("id", "name_ru", "name_kk", "type", "feeder", "installed_electric_mw")
        },
        "subject": {lang: d.subject_name(trig["subject_bin"], lang) for lang in LANGUAGES}
        if d
        else None,
        "positions": {p.code: p.position for p in points},
        "series": series,
        "window": [start.isoformat(), end.isoformat()],
        "events": sorted(events, key=lambda e: e["ts"]),
        "readings": readings,
        "alarms": alarms,
        "alarm_state": state,
    }


def build_emergency(inputs: dict[str, Any], req: dict[str, Any], lang: str) -> Document:
    trig = inputs["trigger"]
    at = datetime.fromisoformat(trig["occurred_at"])
    fac = inputs["facility"]
    fname = (
        (fac.get("name_kk") if lang == "kk" else fac.get("name_ru"))
        or trig.get("facility_id")
        or trig.get("subject_bin")
        or "—"
    )
    region = REGIONS_BY_KATO.get(trig.get("region_kato") or "")
    what = " — ".join(x for x in (trig.get("code"), trig.get("message")) if x)
    doc = Document(
        title=f"{t('kind.emergency', lang)}: {fname}",
        subtitle=f"{what} · {local(int(at.timestamp())).strftime('%Y-%m-%d %H:%M')}",
        language=lang,
        meta=[
            ("_sheet", t("meta.sheet", lang), None),
            ("kind", t("meta.kind", lang), t("kind.emergency", lang)),
            ("level", t("meta.level", lang), t("level." + req["level"], lang)),
            ("report_id", t("meta.report_id", lang), req.get("id")),
            (
                "generated_at",
                t("meta.generated_at", lang),
                datetime.fromisoformat(req["generated_at"]) if req.get("generated_at") else None,
            ),
            ("inputs_sha256", t("meta.inputs", lang), req.get("inputs_sha256")),
        ],
    )
    cols = [
        Column("item", t("meta.caption", lang), "text"),
        Column("value", t("meta.value", lang), "text"),
    ]
    rows = [
        [t("em.what", lang), what or "—"],
        [t("em.when", lang), local(int(at.timestamp())).strftime("%Y-%m-%d %H:%M:%S")],
        [t("em.where", lang), fname],
        [t("em.point", lang), trig.get("point_code") or "—"],
        [
            t("em.subject", lang),
            ((inputs.get("subject") or {}).get(lang) or "")
            + f" ({trig.get('subject_bin') or '—'})",
        ],
        [t("em.region", lang), region.name(lang) if region else (trig.get("region_kato") or "—")],
        [
            t("em.source", lang),
            t(f"em.source.{trig['source']}", lang) + (f" {trig['id']}" if trig.get("id") else ""),
        ],
        [t("em.severity", lang), trig.get("severity") or "—"],
    ]
    doc.tables.append(Table("event", t("table.event", lang), cols, rows))
    # affected consumers and load: the hour before the event against the hour it happened in
    data = Data(inputs["series"])
    hour = int(at.timestamp()) // 3600 * 3600
    mw = t("unit.mw", lang)
    cols = [
        Column("point", t("col.point", lang), "text"),
        Column("position", t("col.kind", lang), "text"),
        Column("load_before", t("col.load_before", lang), unit=mw),
        Column("load_after", t("col.load_after", lang), unit=mw),
    ]
    rows = []
    pos_caption = {
        "consumption": "item.consumption",
        "generation": "item.generation",
        "own_needs": "item.own_needs",
        "interchange": "item.ic_net",
    }
    for code, pos in sorted(inputs["positions"].items()):
        before = after = 0.0
        for q in ("active_import", "active_export"):
            s = data.series.get((q, pos, code), {})
            before += s.get(hour - 3600, [0.0])[0] / 1000
            after += s.get(hour, [0.0])[0] / 1000
        if pos in ("consumption", "generation") or before or after:
            rows.append([code, t(pos_caption.get(pos, "item.consumption"), lang), before, after])
    affected = [r for r in rows if r[1] == t("item.consumption", lang)]
    if rows:
        rows.append(
            ["", t("em.consumers", lang), sum(r[2] for r in affected), sum(r[3] for r in affected)]
        )
    doc.tables.append(Table("affected", t("table.affected", lang), cols, rows))
    # timeline
    cols = [
        Column("time", t("col.time", lang), "datetime"),
        Column("source", t("col.source", lang), "text"),
        Column("point", t("col.point", lang), "text"),
        Column("event", t("col.event", lang), "text"),
        Column("text", t("col.text", lang), "text"),
        Column("severity", t("col.severity", lang), "text"),
    ]
    timeline = [
        [
            datetime.fromisoformat(e["ts"]),
            "meter/SCADA",
            e["point"],
            e["code"],
            e.get("text"),
            e.get("severity"),
        ]
        for e in inputs["events"]
    ]
    for tr in [trig, *inputs["related"]]:
        timeline.append(
            [
                datetime.fromisoformat(tr["occurred_at"]),
                t(f"em.source.{tr['source']}", lang),
                tr.get("point_code"),
                tr.get("code"),
                tr.get("message"),
                tr.get("severity"),
            ]
        )
    for a in inputs.get("alarms") or []:
        ts = _time(_first(a, "raised_at", "time", "ts"))
        if ts:
            timeline.append(
                [
                    ts,
                    "monitoring",
                    _first(a, "point_code", "point"),
                    _first(a, "kind", "rule_kind", "type"),
                    _first(a, "message", "title"),
                    a.get("severity"),
                ]
            )
    timeline.sort(key=lambda r: r[0])
    doc.tables.append(Table("timeline", t("table.timeline", lang), cols, timeline))
    rd = inputs.get("readings") or {}
    if rd.get("items"):
        cols = [
            Column("time", t("col.time", lang), "datetime"),
            Column("value", f"{t('col.value', lang)} ({rd['quantity']})"),
        ]
        rows = [[datetime.fromisoformat(i["ts"]), i["value"]] for i in rd["items"]]
        doc.tables.append(Table("readings", t("table.readings_around", lang), cols, rows))
        doc.charts.append(
            Chart(
                "readings",
                t("chart.readings_around", lang),
                "line",
                [local(int(r[0].timestamp())).strftime("%H:%M") for r in rows],
                [(rd["quantity"], [r[1] for r in rows])],
            )
        )
    state = inputs.get("alarm_state")
    cols = [
        Column("item", t("meta.caption", lang), "text"),
        Column("value", t("meta.value", lang), "text"),
    ]
    rows = []
    if trig["source"] == "alarm":
        rows.append(
            [
                t("em.alarm_state", lang),
                str(_first(state, "state", "status") or "—")
                if state
                else t("note.alarm_state_unknown", lang),
            ]
        )
    last = rd.get("last")
    if last:
        rows.append([t("em.last_reading", lang), f"{last['value']} ({rd['quantity']})"])
        rows.append(
            [
                t("em.last_reading_at", lang),
                local(int(datetime.fromisoformat(last["ts"]).timestamp())).strftime(
                    "%Y-%m-%d %H:%M"
                ),
            ]
        )
    doc.tables.append(Table("current_state", t("table.current_state", lang), cols, rows))
    doc.notes.append(t("note.emergency_auto", lang))
    doc.summary = {
        "trigger": trig["key"],
        "facility_id": trig.get("facility_id"),
        "occurred_at": trig["occurred_at"],
        "affected_load_before_mw": sum(r[2] for r in affected) if affected else 0.0,
        "events": len(inputs["events"]),
    }
    return doc
