"""What the registry publishes on its own: devices whose verification comes due."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from egsu.contracts.registry import VerificationDue
from egsu.contracts.streams import REGISTRY_EVENTS
from egsu.core.time import utcnow
from egsu.db import Database
from egsu.registry import models as m
from egsu.registry import repository as repo
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
