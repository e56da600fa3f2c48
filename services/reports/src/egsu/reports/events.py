"""The service's consumers: report jobs, critical alarms, SCADA emergency events, and the schedule."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import orjson

from egsu.bus import Bus, Delivery
from egsu.bus.bus import backoff
from egsu.contracts.readings import IngestBatch
from egsu.contracts.streams import ALARMS, INGEST_BATCHES, REPORTS_JOBS
from egsu.core.errors import ServiceUnavailable
from egsu.core.time import KZ, utcnow
from egsu.reports.config import ReportsSettings
from egsu.reports.context import Period
from egsu.reports.emergency import trigger_from_alarm, trigger_from_event
from egsu.reports.service import OpenData, Queries, Reports, due_runs

log = logging.getLogger("egsu.reports.events")
# Alarm notices that are not a new alarm (life-cycle steps published on the same subject).
NOT_RAISED = {"acknowledged", "cleared", "closed", "shelved", "unshelved", "ack", "clear"}


async def _heartbeat(d: Delivery) -> None:
    while True:
        await asyncio.sleep(15)
        with contextlib.suppress(Exception):
            await d.in_progress()


async def _with_heartbeat(d: Delivery, work: Awaitable[Any]) -> Any:
    beat = asyncio.create_task(_heartbeat(d))
    try:
        return await work
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat


def job_handler(
    reports: Reports, queries: Queries, open_data: OpenData
) -> Callable[[list[Delivery]], Awaitable[None]]:
    async def one(d: Delivery) -> None:
        try:
            job = orjson.loads(d.data)
        except orjson.JSONDecodeError:
            await d.term()
            return
        try:
            if "report_id" in job:
                await _with_heartbeat(d, reports.generate(job["report_id"]))
            elif "query_id" in job:
                await _with_heartbeat(d, queries.run_job(job["query_id"]))
            elif "open_data" in job:
                from datetime import date

                p = job["open_data"]
                await _with_heartbeat(
                    d,
                    open_data.regenerate(
                        Period(date.fromisoformat(p["from"]), date.fromisoformat(p["to"]))
                    ),
                )
            await d.ack()
        except ServiceUnavailable as exc:  # a source is away (e.g. still starting): try again later
            log.warning("report job %s waits: %s", job, exc)
            await d.nak(backoff(d.num_delivered))
        except Exception:  # the job stays queued and comes back after a pause
            log.exception("report job %s failed", job)
            await d.nak(backoff(d.num_delivered))

    async def handle(batch: list[Delivery]) -> None:
        await asyncio.gather(*(one(d) for d in batch))

    return handle


def alarm_handler(reports: Reports) -> Callable[[list[Delivery]], Awaitable[None]]:
    async def handle(batch: list[Delivery]) -> None:
        for d in batch:
            try:
                payload = orjson.loads(d.data)
            except orjson.JSONDecodeError:
                await d.term()
                continue
            if not isinstance(payload, dict):
                await d.term()
                continue
            body = payload.get("data") if isinstance(payload.get("data"), dict) else payload
            step = str(
                body.get("state")
                or body.get("status")
                or body.get("event")
                or body.get("action")
                or "raised"
            ).lower()
            if step in NOT_RAISED:
                await d.ack()
                continue
            trig = trigger_from_alarm(payload)
            if trig is None:
                log.warning("critical alarm without an object or id: %s", d.data[:300])
                await d.term()
                continue
            try:
                await reports.emergency(trig)
            except Exception:
                log.exception("emergency report for %s failed", trig["key"])
                await d.nak(backoff(d.num_delivered))
                continue
            await d.ack()

    return handle


def scada_handler(
    reports: Reports, settings: ReportsSettings
) -> Callable[[list[Delivery]], Awaitable[None]]:
    severities = {s.lower() for s in settings.reports_scada_severities}
    codes = set(settings.reports_scada_codes)

    async def handle(batch: list[Delivery]) -> None:
        for d in batch:
            try:
                raw = IngestBatch.decode_raw(d.data)
            except Exception:  # not a batch: nothing of ours in it
                await d.ack()
                continue
            points = {p["code"]: p for p in raw.get("points", [])}
            found = [
                e
                for e in raw.get("events") or []
                if (str(e.get("severity") or "").lower() in severities or e.get("code") in codes)
                and e.get("point") in points
            ]
            try:
                for e in found:
                    from datetime import UTC, datetime

                    ev = {
                        "ts": datetime.fromtimestamp(float(e["ts"]), UTC).isoformat(),
                        "code": e["code"],
                        "text": e.get("text"),
                        "severity": e.get("severity"),
                    }
                    await reports.emergency(trigger_from_event(points[e["point"]], ev))
            except Exception:
                log.exception("emergency report from a SCADA event failed")
                await d.nak(backoff(d.num_delivered))
                continue
            await d.ack()

    return handle


def declare_consumers(
    bus: Bus, settings: ReportsSettings, reports: Reports, queries: Queries, open_data: OpenData
) -> None:
    bus.consumer(
        stream="REPORTS_JOBS",
        durable="reports-jobs",
        filter_subject=f"{REPORTS_JOBS}.>",
        handler=job_handler(reports, queries, open_data),
        batch=2,
        ack_wait=120,
        max_ack_pending=8,
    )
    bus.consumer(
        stream="ALARMS",
        durable="reports-alarms",
        filter_subject=f"{ALARMS}.critical",
        handler=alarm_handler(reports),
        batch=16,
        ack_wait=60,
    )
    if settings.reports_scada_direct:
        bus.consumer(
            stream="INGEST",
            durable="reports-scada",
            filter_subject=f"{INGEST_BATCHES}.>",
            handler=scada_handler(reports, settings),
            batch=16,
            ack_wait=60,
        )


async def schedule_loop(
    reports: Reports,
    settings: ReportsSettings,
    enqueue_open_data: Callable[[Period, str], Awaitable[bool]],
) -> None:
    """Issue the regular runs when they fall due (each once, whichever replica gets there first)."""
    while True:
        try:
            now = utcnow()
            for name, period in due_runs(now, settings.reports_daily_at):
                await reports.run_schedule(name, period)
            slot = int(now.timestamp() // (settings.reports_open_data_minutes * 60))
            today = now.astimezone(KZ).date()
            await enqueue_open_data(
                Period(today - timedelta(days=settings.reports_open_data_days), today),
                f"slot-{slot}",
            )
        except Exception:  # the next round tries again
            log.exception("schedule round failed")
        await asyncio.sleep(settings.reports_schedule_check_seconds)
