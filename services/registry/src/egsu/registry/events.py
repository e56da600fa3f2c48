"""What the registry publishes on its own: devices whose verification comes due, client logins."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from egsu.bus.audit import AuditLog
from egsu.contracts.audit import Actor
from egsu.contracts.registry import VerificationDue
from egsu.contracts.streams import REGISTRY_EVENTS
from egsu.core.time import utcnow
from egsu.db import Database
from egsu.registry import models as m
from egsu.registry import repository as repo
from egsu.registry.identity import IdentityProvider
from egsu.runtime.outbox import OutboxRelay, enqueue

log = logging.getLogger("egsu.registry.events")


async def notify_verification_due(db: Database, within_days: int) -> int:
    """Announce each device that became due (or overdue) since the last scan; once per due date."""
    today = utcnow().date()
    n = 0
    async with db.transaction() as session:
        for row in await repo.verification_due(
            session, before=today + timedelta(days=within_days), scope_bin=None
        ):
            due = row["next_verification_due"]
            if row["verification_notified_for"] == due:
                continue
            event = VerificationDue(
                device_id=row["id"],
                subject_bin=row["subject_bin"],
                point_code=row["point_code"],
                serial_number=row["serial_number"],
                next_verification_due=due.isoformat(),
                overdue=due < today,
            )
            await enqueue(
                session,
                m.outbox,
                f"{REGISTRY_EVENTS}.verification_due",
                event,
                f"verification-{row['id']}-{due.isoformat()}",
            )
            await repo.mark_verification_notified(session, row["id"], due)
            n += 1
    return n


async def verification_scanner(
    db: Database, relay: OutboxRelay, interval: float, within_days: int
) -> None:
    while True:
        try:
            if await notify_verification_due(db, within_days):
                relay.poke()
        except Exception:  # a failed scan is retried at the next interval
            log.exception("verification scan failed")
        await asyncio.sleep(interval)


# --- the realm's client logins into the audit journal ------------------------------------------

PAGE = 200
MAX_PER_ROUND = 5000
FIRST_LOOKBACK_MS = 3_600_000  # a new registry starts an hour back, not at the realm's beginning


def _actor(ev: dict[str, Any], client: dict[str, Any] | None) -> Actor:
    cid = ev.get("clientId")
    ok = ev["type"] == "CLIENT_LOGIN"
    if client is not None:
        role = client["kind"]
        return Actor(
            user_id=ev.get("userId"),
            username=f"service-account-{cid}",
            role=role,
            roles=[role],
            subject_bin=client["subject_bin"],
            client_id=cid,
        )
    internal = bool(cid and cid.startswith("egsu-"))
    return Actor(
        user_id=ev.get("userId"),
        username=f"service-account-{cid}" if ok else "anonymous",
        role="service" if internal and ok else "anonymous",
        roles=["service"] if internal and ok else [],
        client_id=cid,
    )


async def _new_events(idp: IdentityProvider, after_ms: int, seen: set[str]) -> list[dict[str, Any]]:
    """Login events after the cursor, oldest first (the API pages newest first)."""
    day = datetime.fromtimestamp(after_ms / 1000, UTC).strftime("%Y-%m-%d")
    out: list[dict[str, Any]] = []
    first = 0
    while len(out) < MAX_PER_ROUND:
        page = await idp.login_events(day, first, PAGE)
        for ev in page:
            t = int(ev.get("time", 0))
            if t < after_ms:
                return out[::-1]
            if t == after_ms and _event_id(ev) in seen:
                continue
            out.append(ev)
        if len(page) < PAGE:
            break
        first += PAGE
    return out[::-1]


def _event_id(ev: dict[str, Any]) -> str:
    if ev.get("id"):
        return str(ev["id"])
    key = f"{ev.get('time')}|{ev.get('type')}|{ev.get('clientId')}|{ev.get('ipAddress')}"
    return hashlib.sha256(key.encode()).hexdigest()[:32]


async def import_login_events(db: Database, idp: IdentityProvider, audit: AuditLog) -> int:
    """Copy the realm's new client-login events into the audit journal (through the outbox)."""
    now_ms = int(utcnow().timestamp() * 1000)
    async with db.transaction() as session:
        cursor = await repo.lock_event_cursor(session, now_ms - FIRST_LOOKBACK_MS)
        if cursor is None:
            return 0  # another replica is at it
        events = await _new_events(idp, cursor["time_ms"], set(cursor["ids_at_time"]))
        if not events:
            return 0
        clients = await repo.clients_by_id(
            session, {str(e["clientId"]) for e in events if e.get("clientId")}
        )
        for e in events:
            ok = e["type"] == "CLIENT_LOGIN"
            details = e.get("details") or {}
            ev = audit.event(
                "auth",
                "client.token_issued" if ok else "client.auth_refused",
                actor=_actor(e, clients.get(str(e.get("clientId")))),
                outcome="success" if ok else "denied",
                object_type="integration_client",
                object_id=e.get("clientId"),
                source_ip=e.get("ipAddress"),
                grant_type=details.get("grant_type"),
                client_auth_method=details.get("client_auth_method"),
                error=e.get("error"),
                reason=details.get("reason"),
                idp_event_id=_event_id(e),
            )
            ev.time = datetime.fromtimestamp(int(e["time"]) / 1000, UTC)
            await enqueue(session, m.outbox, AuditLog.subject(ev), ev, f"audit-idp-{_event_id(e)}")
        last = int(events[-1]["time"])
        ids = [_event_id(e) for e in events if int(e["time"]) == last]
        if last == cursor["time_ms"]:
            ids = [*cursor["ids_at_time"], *ids]
        await repo.move_event_cursor(session, last, ids)
    return len(events)


async def login_event_importer(
    db: Database, idp: IdentityProvider, audit: AuditLog, relay: OutboxRelay, interval: float
) -> None:
    while True:
        try:
            if await import_login_events(db, idp, audit):
                relay.poke()
        except Exception:  # the realm or the database away: logged, tried again next round
            log.exception("login events not imported this round")
        await asyncio.sleep(interval)
