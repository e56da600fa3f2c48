"""Webhooks: alarm events to external systems, per subscriber, filtered, signed, retried.

Each alarm event (from the ALARMS stream) becomes one delivery per matching subscriber, stored
before it is sent, so nothing is lost when the receiver or this service is down. A delivery is a
``POST`` of the event's JSON with

* ``X-EGSU-Event-Id``, ``X-EGSU-Event-Type``,
* ``X-EGSU-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>``.

A 2xx answer delivers it; anything else is retried after ``webhook_backoff_seconds`` (5 s, 30 s,
2 min, 10 min, 30 min, 1 h by default) until ``webhook_max_attempts``, then it is ``failed``. Every
attempt is in the delivery log.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from egsu.bus import Delivery
from egsu.db import Database
from egsu.monitoring import models as m
from egsu.monitoring.clock import Clock
from egsu.monitoring.config import MonitoringSettings

log = logging.getLogger("egsu.monitoring.webhooks")
FILTER_KEYS = ("severities", "event_types", "kinds", "categories", "subject_bins", "region_katos")
_FIELD = {
    "severities": "severity",
    "kinds": "kind",
    "categories": "category",
    "subject_bins": "subject_bin",
    "region_katos": "region_kato",
}


def signature(secret: str, t: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def matches(hook: dict[str, Any], event: dict[str, Any]) -> bool:
    alarm = event["alarm"]
    if hook["owner_bin"] and alarm.get("subject_bin") != hook["owner_bin"]:
        return False
    f = hook["filter"] or {}
    if f.get("event_types") and event["type"] not in f["event_types"]:
        return False
    return all(not (f.get(key) and alarm.get(fld) not in f[key]) for key, fld in _FIELD.items())


class Webhooks:
    def __init__(self, settings: MonitoringSettings, db: Database, clock: Clock) -> None:
        self.s = settings
        self.db = db
        self.clock = clock
        self.http = httpx.AsyncClient(timeout=settings.webhook_timeout_seconds)
        self.wake = asyncio.Event()

    def handler(self) -> Any:
        async def handle(batch: list[Delivery]) -> None:
            async with self.db.transaction() as s:
                hooks = [
                    dict(r)
                    for r in (
                        await s.execute(select(m.webhook).where(m.webhook.c.enabled))
                    ).mappings()
                ]
                rows = []
                for d in batch:
                    event = orjson.loads(d.data)
                    for h in hooks:
                        if matches(h, event):
                            rows.append(
                                {
                                    "webhook_id": h["id"],
                                    "event_id": event["id"],
                                    "event_type": event["type"],
                                    "alarm_id": event["alarm"]["id"],
                                    "subject_bin": event["alarm"].get("subject_bin"),
                                    "payload": d.data,
                                    "next_attempt_at": self.clock.now(),
                                }
                            )
                if rows:
                    await s.execute(
                        pg_insert(m.webhook_delivery).values(rows).on_conflict_do_nothing()
                    )
            for d in batch:
                await d.ack()
            if rows:
                self.wake.set()

        return handle

    async def deliver_due(self, at: datetime | None = None, subject_bin: str | None = None) -> int:
        """Send every delivery due by ``at``; returns how many were attempted."""
        at = at or self.clock.now()
        w, h = m.webhook_delivery, m.webhook
        async with self.db.transaction() as s:
            stmt = (
                select(w, h.c.url, h.c.secret)
                .join(h, h.c.id == w.c.webhook_id)
                .where(w.c.status == "pending", w.c.next_attempt_at <= at)
                .order_by(w.c.next_attempt_at)
                .limit(100)
                .with_for_update(of=w, skip_locked=True)
            )
            if subject_bin:
                stmt = stmt.where(w.c.subject_bin == subject_bin)
            due = [dict(r) for r in (await s.execute(stmt)).mappings()]
            results = await asyncio.gather(*(self._send(d) for d in due))
            for d, (status, error, ms) in zip(due, results, strict=True):
                attempts = d["attempts"] + 1
                ok = status is not None and 200 <= status < 300
                values: dict[str, Any] = {
                    "attempts": attempts,
                    "last_attempt_at": self.clock.now(),
                    "last_status": status,
                    "last_error": error,
                    "last_duration_ms": ms,
                }
                if ok:
                    values.update(status="delivered", delivered_at=self.clock.now())
                elif attempts >= self.s.webhook_max_attempts:
                    values["status"] = "failed"
                else:
                    backoff = self.s.webhook_backoff_seconds
                    delay = backoff[min(attempts - 1, len(backoff) - 1)]
                    values["next_attempt_at"] = at + timedelta(seconds=delay)
                await s.execute(update(w).where(w.c.id == d["id"]).values(**values))
        return len(due)

    async def _send(self, d: dict[str, Any]) -> tuple[int | None, str | None, float]:
        body = bytes(d["payload"])
        t = int(time.time())
        headers = {
            "content-type": "application/json",
            "x-egsu-event-id": d["event_id"],
            "x-egsu-event-type": d["event_type"],
            "x-egsu-signature": signature(d["secret"], t, body),
            "user-agent": "egsu-monitoring-webhooks",
        }
        started = time.perf_counter()
        try:
            resp = await self.http.post(d["url"], content=body, headers=headers)
        except httpx.HTTPError as exc:
            return (
                None,
                f"{type(exc).__name__}: {exc}"[:500],
                (time.perf_counter() - started) * 1000,
            )
        ms = (time.perf_counter() - started) * 1000
        err = None if resp.is_success else resp.text[:500]
        return resp.status_code, err, ms

    async def loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=1.0)
            self.wake.clear()
            try:
                while await self.deliver_due() >= 100:
                    pass
            except Exception:  # the next round tries again
                log.exception("webhook delivery round failed")

    async def aclose(self) -> None:
        await self.http.aclose()
