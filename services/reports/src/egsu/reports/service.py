"""The reports service's domain logic: requests, generation jobs, archive, recommendations, schedule."""

from __future__ import annotations

import gzip
import hashlib
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import orjson

from egsu.auth import Principal
from egsu.bus import Bus
from egsu.bus.audit import AuditLog
from egsu.contracts.audit import Actor
from egsu.contracts.regions import REGIONS_BY_KATO
from egsu.contracts.streams import REPORTS_JOBS
from egsu.core.errors import FieldError, Forbidden, NotFound, Unprocessable
from egsu.core.time import KZ, utcnow
from egsu.db import Database
from egsu.reports import models as m
from egsu.reports import repository as repo
from egsu.reports.context import Period, Scope, Sources
from egsu.reports.emergency import build_emergency, gather_emergency, locate
from egsu.reports.energy import build_energy, gather_energy
from egsu.reports.i18n import LANGUAGES, all_languages, t
from egsu.reports.quality import build_quality, gather_quality
from egsu.reports.recommendations import (
    equipment,
    equipment_candidates,
    gather_causes,
    gather_equipment,
    peak_shift,
)
from egsu.reports.render import CONTENT_TYPES, render
from egsu.runtime.outbox import OutboxRelay, enqueue
from egsu.storage import ObjectStore

log = logging.getLogger("egsu.reports")
BIN = re.compile(r"^\d{12}$")
UUID = re.compile(r"^[0-9a-fA-F-]{36}$")


@dataclass(frozen=True)
class Kind:
    name: str
    period: str  # days | months | event
    max_days: int
    requestable: bool = True
    recommendations: bool = False


KINDS: dict[str, Kind] = {
    "daily_electricity_balance": Kind(
        "daily_electricity_balance", "days", 31, recommendations=True
    ),
    "daily_heat_supply": Kind("daily_heat_supply", "days", 31),
    "monthly_consumption_generation": Kind(
        "monthly_consumption_generation", "months", 366, recommendations=True
    ),
    "data_quality": Kind("data_quality", "days", 92),
    "emergency": Kind("emergency", "event", 2, requestable=False),
}


def kinds_listing() -> list[dict[str, Any]]:
    return [
        {
            "kind": k.name,
            "title": all_languages(f"kind.{k.name}"),
            "description": all_languages(f"kinddesc.{k.name}"),
            "levels": ["local", "regional", "national"] if k.name != "emergency" else ["local"],
            "period": k.period,
            "max_days": k.max_days,
            "formats": list(CONTENT_TYPES),
            "languages": list(LANGUAGES),
            "on_request": k.requestable,
            "automatic": k.name == "emergency",
        }
        for k in KINDS.values()
    ]


def _bad(field: str, msg: str, code: str = "invalid") -> Unprocessable:
    return Unprocessable(f"{field}: {msg}", errors=[FieldError(field, code, msg)])


def canonical(data: Any) -> bytes:
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS)


def archive_key(report_id: str, created: datetime, ext: str) -> str:
    local = created.astimezone(KZ)
    return f"{local:%Y/%m/%d}/{report_id}.{ext}"


class Reports:
    def __init__(
        self,
        db: Database,
        bus: Bus,
        store: ObjectStore,
        audit: AuditLog,
        sources: Sources,
        relay: OutboxRelay,
    ) -> None:
        self.db, self.bus, self.store, self.audit = db, bus, store, audit
        self.src = sources
        self.settings = sources.settings
        self.relay = relay

    # --- requests --------------------------------------------------------------------------------

    async def resolve_scope(
        self, level: str, scope: str | None, principal: Principal | None
    ) -> Scope:
        """Check that the scope exists and that the caller may have a report about it."""
        if (
            principal is not None
            and principal.has_any("subject")
            and not principal.has_any("ministry", "operator", "government", "service")
            and level != "local"
        ):
            raise Forbidden(
                "a subject gets local reports about itself only", code="level_not_allowed"
            )
        if (
            principal is not None
            and principal.has_any("government")
            and not principal.has_any("ministry", "operator", "service")
            and level == "local"
        ):
            raise Forbidden(
                "state bodies get regional and national reports", code="level_not_allowed"
            )
        if level == "national":
            if scope not in (None, "", "KZ"):
                raise _bad("scope", "omit the scope for a national report")
            return Scope("national", "country", "KZ")
        if not scope:
            raise _bad(
                "scope", "give a KATO code (regional) or a BIN or facility id (local)", "missing"
            )
        if level == "regional":
            if scope not in REGIONS_BY_KATO:
                raise _bad(
                    "scope",
                    f"{scope} is not the KATO code of a region or city of republican significance",
                )
            return Scope("regional", "region", scope, region_kato=scope)
        scope_bin = principal.scope_bin if principal is not None else None
        if BIN.match(scope):
            if scope_bin is not None and scope != scope_bin:
                raise NotFound(f"no subject {scope}", code="scope_not_found")
            s = await self.src.registry.subject(scope)
            if s is None:
                raise NotFound(f"no subject {scope}", code="scope_not_found")
            return Scope(
                "local", "subject", scope, subject_bin=scope, region_kato=s.get("region_kato")
            )
        if UUID.match(scope):
            f = await self.src.registry.facility(scope)
            if f is None or (scope_bin is not None and f["subject_bin"] != scope_bin):
                raise NotFound(f"no facility {scope}", code="scope_not_found")
            return Scope(
                "local",
                "facility",
                scope.lower(),
                subject_bin=f["subject_bin"],
                region_kato=f.get("region_kato"),
            )
        raise _bad(
            "scope", "a local report is about a subject (12-digit BIN) or a facility (its id)"
        )

    def check_period(self, kind: Kind, start: date, end: date) -> None:
        if end < start:
            raise _bad("period.to", "must be on or after period.from")
        if kind.period == "months":
            last = (end.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
            if start.day != 1 or end != last:
                raise _bad(
                    "period", "a monthly report covers whole months: from the 1st to the last day"
                )
        if (end - start).days + 1 > kind.max_days:
            raise _bad("period.to", f"a {kind.name} report covers at most {kind.max_days} days")
        today = datetime.now(KZ).date()
        if start > today:
            raise _bad("period.from", "the period has not begun yet")

    async def request(
        self,
        *,
        kind: str,
        level: str,
        scope: str | None,
        start: date,
        end: date,
        fmt: str,
        language: str,
        principal: Principal | None,
        origin: str = "request",
        requested_by: str | None = None,
    ) -> dict[str, Any]:
        """Queue a report and its generation job; the job runs off the request path."""
        k = KINDS[kind]
        if not k.requestable and origin == "request":
            raise _bad(
                "kind",
                "emergency reports are raised automatically by critical alarms and SCADA emergency events",
            )
        sc = await self.resolve_scope(level, scope, principal)
        self.check_period(k, start, end)
        rid = str(uuid.uuid4())
        values = {
            "id": rid,
            "kind": kind,
            "level": level,
            "scope": None if sc.type == "country" else sc.key,
            "scope_bin": sc.subject_bin,
            "scope_kato": sc.region_kato,
            "period_from": start,
            "period_to": end,
            "format": fmt,
            "language": language,
            "status": "queued",
            "origin": origin,
            "requested_by": requested_by or (principal.username if principal else "system"),
            "requested_role": principal.role if principal else "system",
            "title": t(f"kind.{kind}", language),
        }
        async with self.db.transaction() as s:
            await repo.add_report(s, values)
            await enqueue(
                s,
                m.outbox,
                f"{REPORTS_JOBS}.report",
                orjson.dumps({"report_id": rid}),
                f"report-{rid}",
            )
        self.relay.poke()
        if principal is not None:
            await self.audit.record(
                "control",
                "report.request",
                principal=principal,
                object_type="report",
                object_id=rid,
                after={
                    "kind": kind,
                    "level": level,
                    "scope": values["scope"],
                    "period": [start.isoformat(), end.isoformat()],
                    "format": fmt,
                },
            )
        return values

    async def reissue(
        self, source: dict[str, Any], fmt: str, language: str, principal: Principal
    ) -> dict[str, Any]:
        """The same report from its archived inputs, in another format or language."""
        if source["status"] != "done" or not source["inputs_key"]:
            raise _bad("id", "only a finished report can be issued again", "not_done")
        rid = str(uuid.uuid4())
        values = {
            k: source[k]
            for k in (
                "kind",
                "level",
                "scope",
                "scope_bin",
                "scope_kato",
                "period_from",
                "period_to",
                "trigger",
            )
        }
        values.update(
            id=rid,
            format=fmt,
            language=language,
            status="queued",
            origin="reissue",
            requested_by=principal.username,
            requested_role=principal.role,
            title=t(f"kind.{source['kind']}", language),
            source_report_id=source["id"],
            inputs_key=source["inputs_key"],
            inputs_sha256=source["inputs_sha256"],
        )
        async with self.db.transaction() as s:
            await repo.add_report(s, values)
            await enqueue(
                s,
                m.outbox,
                f"{REPORTS_JOBS}.report",
                orjson.dumps({"report_id": rid}),
                f"report-{rid}",
            )
        self.relay.poke()
        await self.audit.record(
            "control",
            "report.reissue",
            principal=principal,
            object_type="report",
            object_id=rid,
            source=source["id"],
        )
        return values

    # --- generation ------------------------------------------------------------------------------

    async def generate(self, report_id: str) -> str:
        """Run one report job; returns the final status."""
        async with self.db.transaction() as s:
            row = await repo.claim_report(s, report_id, utcnow())
        if row is None:
            return "gone"
        try:
            await self._generate(row)
        except Exception as exc:
            failed = row["attempts"] >= self.settings.reports_job_attempts
            log.warning(
                "report %s failed (attempt %d): %s", report_id, row["attempts"], exc, exc_info=True
            )
            async with self.db.transaction() as s:
                await repo.update_report(
                    s,
                    report_id,
                    status="failed" if failed else "queued",
                    error=f"{type(exc).__name__}: {exc}"[:2000],
                )
            if not failed:
                raise
            return "failed"
        return "done"

    async def _generate(self, row: dict[str, Any]) -> None:
        scope = self._scope_of(row)
        calls_before = self.src.historian.calls
        if row["source_report_id"]:
            archived = orjson.loads(
                gzip.decompress(await self.store.get("reports", row["inputs_key"]))
            )
            inputs, recs_ids = (
                archived["data"],
                [r["id"] for r in archived.get("recommendations") or []],
            )
            inputs_key, inputs_sha = row["inputs_key"], row["inputs_sha256"]
            recs = (
                await self._recommendations_by_id(recs_ids)
                if archived.get("recommendations") is not None
                else None
            )
        else:
            inputs = await self._gather(row, scope)
            inputs_sha = hashlib.sha256(canonical(inputs)).hexdigest()
            recs = (
                await self._recommend(row, scope, inputs)
                if self._wants_recommendations(row)
                else None
            )
            archived = {
                "report": {
                    k: _plain(row[k])
                    for k in ("id", "kind", "level", "scope", "period_from", "period_to")
                },
                "inputs_sha256": inputs_sha,
                "data": inputs,
                "recommendations": [
                    {"id": r["id"], "numbers": r["numbers"], "text": r["text"]} for r in recs
                ]
                if recs is not None
                else None,
            }
            inputs_key = archive_key(row["id"], row["created_at"], "inputs.json.gz")
            await self.store.put(
                "reports",
                inputs_key,
                gzip.compress(canonical(archived)),
                content_type="application/gzip",
                metadata={"inputs-sha256": inputs_sha, "report-id": row["id"]},
            )
        req = {
            "id": row["id"],
            "kind": row["kind"],
            "level": row["level"],
            "scope": scope.as_dict() | {"breakdown": scope.breakdown},
            "generated_at": utcnow().isoformat(),
            "inputs_sha256": inputs_sha,
            "recommendations": [_rec_view(r) for r in recs] if recs is not None else None,
        }
        doc = self._build(row["kind"], inputs, req, row["language"])
        data = render(doc, row["format"])
        key = archive_key(row["id"], row["created_at"], row["format"])
        sha = hashlib.sha256(data).hexdigest()
        await self.store.put(
            "reports",
            key,
            data,
            content_type=CONTENT_TYPES[row["format"]],
            metadata={"sha256": sha, "inputs-sha256": inputs_sha, "report-id": row["id"]},
        )
        summary = {k: _plain(v) for k, v in doc.summary.items()}
        summary["historian_calls"] = self.src.historian.calls - calls_before  # (other jobs may add)
        async with self.db.transaction() as s:
            await repo.update_report(
                s,
                row["id"],
                status="done",
                finished_at=utcnow(),
                object_key=key,
                content_type=CONTENT_TYPES[row["format"]],
                size=len(data),
                sha256=sha,
                inputs_key=inputs_key,
                inputs_sha256=inputs_sha,
                summary=summary,
                title=doc.title,
                error=None,
            )

    def _scope_of(self, row: dict[str, Any]) -> Scope:
        if row["level"] == "national":
            return Scope("national", "country", "KZ")
        if row["level"] == "regional":
            return Scope("regional", "region", row["scope"], region_kato=row["scope"])
        typ = "subject" if BIN.match(row["scope"] or "") else "facility"
        return Scope(
            "local", typ, row["scope"], subject_bin=row["scope_bin"], region_kato=row["scope_kato"]
        )

    def _wants_recommendations(self, row: dict[str, Any]) -> bool:
        return KINDS[row["kind"]].recommendations and row["level"] in ("regional", "national")

    async def _gather(self, row: dict[str, Any], scope: Scope) -> dict[str, Any]:
        period = Period(row["period_from"], row["period_to"])
        kind = row["kind"]
        if kind == "emergency":
            trig = row["trigger"]
            async with self.db.transaction() as s:
                linked = await repo.emergencies_of(s, row["id"])
            related = [e["payload"] for e in linked if e["payload"].get("key") != trig.get("key")]
            return await gather_emergency(self.src, trig, related)
        if kind == "data_quality":
            return await gather_quality(self.src, scope, period)
        inputs = await gather_energy(self.src, scope, period, kind)
        if self._wants_recommendations(row):
            eq = await gather_equipment(self.src, scope, period)
            cands = equipment_candidates(eq, period)
            inputs["equipment"] = eq
            inputs["equipment_causes"] = await gather_causes(self.src, eq, cands, period)
            nxt = period.end + timedelta(days=1)
            from egsu.reports.energy import _forecast_level
            from egsu.reports.sources import window

            a, b = window(nxt, nxt)
            f = await self.src.forecasts.hourly(*_forecast_level(scope), "active_import", a, b)
            inputs["forecast_next_day"] = sorted(f.items()) if f else None
        return inputs

    def _build(self, kind: str, inputs: dict[str, Any], req: dict[str, Any], lang: str) -> Any:
        if kind == "emergency":
            return build_emergency(inputs, req, lang)
        if kind == "data_quality":
            return build_quality(inputs, req, lang)
        return build_energy(inputs, req, lang)

    async def _recommend(
        self, row: dict[str, Any], scope: Scope, inputs: dict[str, Any]
    ) -> list[dict[str, Any]]:
        from egsu.reports.energy import Data, electricity

        period = Period(row["period_from"], row["period_to"])
        found: list[dict[str, Any]] = []
        if row["kind"] == "daily_electricity_balance":
            data = Data(inputs["series"]["hourly"])
            parts = {
                p: {h: electricity(data, p, {h})["consumption"] for h in data.stamps()}
                for p in data.parts()
            }
            fc = (
                {int(ts): v for ts, v in inputs["forecast_next_day"]}
                if inputs.get("forecast_next_day")
                else None
            )
            found += peak_shift(
                parts, inputs["names"], fc, self.settings.reports_peak_shift_share, scope.breakdown
            )
        cands = equipment_candidates(inputs["equipment"], period)
        found += equipment(inputs["equipment"], cands, inputs["equipment_causes"])
        out = []
        async with self.db.transaction() as s:
            for r in found:
                fp = f"{r['kind']}:{row['level']}:{row['scope'] or 'KZ'}:{r['target_id']}:{r.get('metric', '')}:{period.start}:{period.end}"
                out.append(
                    await repo.upsert_recommendation(
                        s,
                        {
                            "id": str(uuid.uuid4()),
                            "fingerprint": fp,
                            "kind": r["kind"],
                            "level": row["level"],
                            "scope": row["scope"],
                            "target_type": r["target_type"],
                            "target_id": r["target_id"],
                            "target_name": r.get("target_name"),
                            "period_from": period.start,
                            "period_to": period.end,
                            "text": r["text"],
                            "numbers": r["numbers"],
                            "report_id": row["id"],
                        },
                    )
                )
        return out

    async def _recommendations_by_id(self, ids: list[str]) -> list[dict[str, Any]]:
        async with self.db.transaction() as s:
            out = [await repo.get_recommendation(s, i) for i in ids]
        return [r for r in out if r]

    # --- emergencies -----------------------------------------------------------------------------

    async def emergency(self, trig: dict[str, Any]) -> str | None:
        """An emergency report for a trigger (once per trigger; one per incident of a facility)."""
        trig = await locate(self.src, trig)
        at = datetime.fromisoformat(trig["occurred_at"])
        rid = str(uuid.uuid4())
        async with self.db.transaction() as s:
            existing = None
            if trig.get("facility_id"):
                existing = await repo.open_incident(
                    s, trig["facility_id"], at, self.settings.reports_incident_window_seconds
                )
            fresh = await repo.add_emergency(
                s,
                {
                    "source_key": trig["key"],
                    "source": trig["source"],
                    "facility_id": trig.get("facility_id"),
                    "subject_bin": trig.get("subject_bin"),
                    "point_code": trig.get("point_code"),
                    "occurred_at": at,
                    "report_id": existing or rid,
                    "payload": trig,
                },
            )
            if not fresh or existing:
                return existing
            day = at.astimezone(KZ).date()
            scope = trig.get("facility_id") or trig.get("subject_bin")
            await repo.add_report(
                s,
                {
                    "id": rid,
                    "kind": "emergency",
                    "level": "local",
                    "scope": scope,
                    "scope_bin": trig.get("subject_bin"),
                    "scope_kato": trig.get("region_kato"),
                    "period_from": day,
                    "period_to": day,
                    "format": self.settings.reports_emergency_format,
                    "language": self.settings.reports_language,
                    "status": "queued",
                    "origin": "alarm" if trig["source"] == "alarm" else "scada",
                    "requested_by": "system",
                    "requested_role": "system",
                    "title": t("kind.emergency", self.settings.reports_language),
                    "trigger": trig,
                },
            )
            await enqueue(
                s,
                m.outbox,
                f"{REPORTS_JOBS}.report",
                orjson.dumps({"report_id": rid}),
                f"report-{rid}",
            )
        self.relay.poke()
        await self.audit.record(
            "abnormal",
            "emergency.report",
            object_type="report",
            object_id=rid,
            trigger=trig["key"],
            facility_id=trig.get("facility_id"),
            subject_bin=trig.get("subject_bin"),
        )
        return rid

    # --- schedule --------------------------------------------------------------------------------

    async def run_schedule(self, name: str, period: Period, *, force: bool = False) -> list[str]:
        """Issue a regular run (daily or monthly) once per period; returns the reports queued."""
        entries = self.settings.reports_daily if name == "daily" else self.settings.reports_monthly
        label = period.start.isoformat() if name == "daily" else period.start.strftime("%Y-%m")
        async with self.db.transaction() as s:
            claimed = await repo.claim_run(s, name, label)
        if not claimed and not force:
            return []
        regions: list[str] = []
        if any(":regional:" in e for e in entries):
            d = await self.src.registry.directory()
            regions = sorted({p.region_kato for p in d.points if p.region_kato in REGIONS_BY_KATO})
        ids = []
        for e in entries:
            kind, level, fmt = e.split(":")
            for scope in regions if level == "regional" else [None]:
                r = await self.request(
                    kind=kind,
                    level=level,
                    scope=scope,
                    start=period.start,
                    end=period.end,
                    fmt=fmt,
                    language=self.settings.reports_language,
                    principal=None,
                    origin="schedule",
                    requested_by=f"schedule:{name}",
                )
                ids.append(r["id"])
        await self.audit.record(
            "control",
            f"schedule.{name}",
            object_type="schedule",
            object_id=f"{name}:{label}",
            reports=len(ids),
        )
        return ids


def _plain(v: Any) -> Any:
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    return v


def _rec_view(r: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": r["id"],
        "kind": r["kind"],
        "target_id": r["target_id"],
        "target_name": r["target_name"],
        "text": r["text"],
        "status": r["status"],
        "numbers": r["numbers"],
    }


def due_runs(now: datetime, daily_at: str) -> list[tuple[str, Period]]:
    """The regular runs due at ``now``: yesterday's daily run once the time has come, last month's on the 1st."""
    local = now.astimezone(KZ)
    hh, mm = (int(x) for x in daily_at.split(":"))
    if (local.hour, local.minute) < (hh, mm):
        return []
    yesterday = local.date() - timedelta(days=1)
    out = [("daily", Period(yesterday, yesterday))]
    if local.day == 1:
        last = local.date() - timedelta(days=1)
        out.append(("monthly", Period(last.replace(day=1), last)))
    return out


class OpenData:
    """Regenerates the open datasets and serves them."""

    def __init__(self, db: Database, sources: Sources) -> None:
        self.db, self.src = db, sources
        s = sources.settings
        from egsu.reports.opendata import Suppressor

        self.suppressor = Suppressor(s.reports_open_min_subjects, s.reports_open_dominance)

    async def regenerate(self, period: Period) -> dict[str, int]:
        from egsu.reports.opendata import build_capacity_rows, build_energy_rows, refreshed

        energy = await build_energy_rows(self.src, period, self.suppressor)
        capacity = await build_capacity_rows(self.src, self.suppressor)
        meta = refreshed()
        async with self.db.transaction() as s:
            for name, rows in energy.items():
                await repo.replace_open_rows(s, name, rows, (period.start, period.end), meta)
            await repo.replace_open_rows(
                s, "installed_capacity_by_region_type", capacity, None, meta
            )
        return {
            **{k: len(v) for k, v in energy.items()},
            "installed_capacity_by_region_type": len(capacity),
        }


class Queries:
    """Queries of state bodies: run now when small, as a job when large; every answer audited."""

    def __init__(
        self,
        db: Database,
        store: ObjectStore,
        audit: AuditLog,
        sources: Sources,
        relay: OutboxRelay,
    ) -> None:
        self.db, self.store, self.audit, self.src, self.relay = db, store, audit, sources, relay

    async def run_job(self, query_id: str) -> None:
        from egsu.reports.queries import QueryCreate, run_query

        async with self.db.transaction() as s:
            row = await repo.get_query(s, query_id)
        if row is None or row["status"] == "done":
            return
        q = QueryCreate.model_validate(row["body"])
        try:
            rows = await run_query(self.src, q)
        except Exception as exc:
            async with self.db.transaction() as s:
                await repo.update_query(
                    s,
                    query_id,
                    status="failed",
                    error=f"{type(exc).__name__}: {exc}"[:2000],
                    finished_at=utcnow(),
                )
            raise
        body = orjson.dumps({"id": query_id, "rows": rows})
        key = f"queries/{query_id}.json"
        await self.store.put("reports", key, body, content_type="application/json")
        async with self.db.transaction() as s:
            await repo.update_query(
                s,
                query_id,
                status="done",
                rows=len(rows),
                bytes=len(body),
                result_key=key,
                finished_at=utcnow(),
            )
        await self.audit.record(
            "access",
            "query.answer",
            object_type="query",
            object_id=query_id,
            actor=Actor(username=row["requested_by"], role=row["requested_role"]),
            purpose=row["purpose"],
            legal_basis=row["legal_basis"],
            dataset=q.dataset,
            rows=len(rows),
            bytes=len(body),
            mode="job",
        )
