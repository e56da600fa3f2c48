"""Ingest's bus side: telemetry in, registry changes, overdue subjects out."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import orjson
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from egsu.bus import Bus, Delivery
from egsu.contracts.streams import INGEST_EVENTS, TELEMETRY
from egsu.core.errors import EgsuError, ServiceUnavailable
from egsu.ingest import models as m
from egsu.ingest.compliance import overdue_now
from egsu.ingest.parsing import parse_json
from egsu.ingest.service import Ingest, Submission
from egsu.runtime.outbox import OutboxRelay, enqueue

log = logging.getLogger("egsu.ingest.events")


class SubjectOverdue(BaseModel):
    """``egsu.ingest.events.overdue`` / ``.recovered``: a subject's data for the latest due interval."""

    subject_bin: str
    overdue: bool
    expected_points: int
    missing_points: int
    interval_end: datetime | None
    since: datetime | None


def telemetry_handler(ingest: Ingest) -> Any:
    """Readings published by a subject's system on ``egsu.telemetry.<bin>``: treated as a REST batch."""

    async def handle(batch: list[Delivery]) -> None:
        for d in batch:
            bin_ = d.subject.rsplit(".", 1)[-1]
            try:
                raw = parse_json(d.data)
                if raw.subject_bin and raw.subject_bin != bin_:
                    log.warning(
                        "telemetry on %s names subject %s; refused", d.subject, raw.subject_bin
                    )
                    await d.term()
                    continue
                await ingest.accept(
                    Submission(
                        subject_bin=bin_,
                        body=d.data,
                        raw=raw,
                        content_type="application/json",
                        source="telemetry",
                        idempotency_key=d.msg_id,
                        submitted_by=f"nats:{bin_}",
                    )
                )
            except ServiceUnavailable as exc:
                log.warning("telemetry from %s waits: %s", bin_, exc.detail)
                await d.nak(min(30.0, 2.0 * d.num_delivered))
                continue
            except EgsuError as exc:  # a batch that can never be accepted: say why and drop it
                log.warning("telemetry from %s refused: %s %s", bin_, exc.code, exc.detail)
                await d.term()
                continue
            await d.ack()

    return handle


def subscribe_registry_changes(bus: Bus, ingest: Ingest) -> Any:
    async def on_change(msg: Any) -> None:
        try:
            change = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            return
        if change.get("entity") == "obligation":
            ingest.obligations.forget()
        elif change.get("entity") in ("metering_point", "facility", "subject"):
            ingest.points.forget(change.get("subject_bin"))

    return bus.nc.subscribe("egsu.registry.changed.>", cb=on_change)  # type: ignore[union-attr]


async def check_overdue(ingest: Ingest, relay: OutboxRelay) -> int:
    """Publish a notice for each subject that became overdue or recovered since the last check."""
    obligations = await ingest.obligations.of(None)
    by_subject = defaultdict(list)
    for o in obligations:
        by_subject[o.subject_bin].append(o)
    now = datetime.now(UTC)
    changed = 0
    async with ingest.db.transaction() as s:
        states = {
            r["subject_bin"]: dict(r)
            for r in (await s.execute(select(m.compliance_state))).mappings()
        }
        conn = await s.connection()
        raw = (await conn.get_raw_connection()).driver_connection
        for bin_, obs in by_subject.items():
            expected, missing, end = await overdue_now(raw, ingest.points, obs, now)
            if not expected:
                continue
            overdue = missing > 0
            prev = states.get(bin_)
            was = bool(prev and prev["overdue"])
            since = (prev["since"] if was and prev else now) if overdue else None
            await s.execute(
                pg_insert(m.compliance_state)
                .values(
                    subject_bin=bin_,
                    overdue=overdue,
                    since=since,
                    missing_points=missing,
                    checked_at=now,
                )
                .on_conflict_do_update(
                    index_elements=["subject_bin"],
                    set_={
                        "overdue": overdue,
                        "since": since,
                        "missing_points": missing,
                        "checked_at": now,
                    },
                )
            )
            if overdue != was:
                notice = SubjectOverdue(
                    subject_bin=bin_,
                    overdue=overdue,
                    expected_points=expected,
                    missing_points=missing,
                    interval_end=end,
                    since=since,
                )
                kind = "overdue" if overdue else "recovered"
                await enqueue(
                    s,
                    m.outbox,
                    f"{INGEST_EVENTS}.{kind}",
                    notice,
                    f"{kind}-{bin_}-{int(now.timestamp())}",
                )
                changed += 1
    if changed:
        relay.poke()
    return changed


async def overdue_loop(ingest: Ingest, relay: OutboxRelay, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await check_overdue(ingest, relay)
        except Exception:  # the next round tries again
            log.exception("overdue check failed")


TELEMETRY_FILTER = f"{TELEMETRY}.>"
