"""All SQL of the read API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from egsu.audit.journal import CLOCK_SKEW
from egsu.audit.models import entry

INDEXED_PREFIX = 200  # characters of free-text columns in their indexes (migration 0001)
# Events wait in JetStream at most this long (the AUDIT stream's max age) before they are recorded.
MAX_RECORDING_DELAY = timedelta(days=31)


@dataclass
class EntryFilter:
    time_from: datetime | None = None
    time_to: datetime | None = None
    actor: str | None = None
    actor_id: str | None = None
    role: str | None = None
    client_id: str | None = None
    subject_bin: str | None = None
    action: str | None = None
    kind: str | None = None
    object_id: str | None = None
    object_type: str | None = None
    outcome: str | None = None
    service: str | None = None
    request_id: str | None = None

    def query(self) -> Select[Any]:
        q = select(entry)
        if self.time_from is not None:
            # recorded_at bounds let PostgreSQL skip the months that cannot hold a match
            q = q.where(
                entry.c.occurred_at >= self.time_from,
                entry.c.recorded_at >= self.time_from - CLOCK_SKEW,
            )
        if self.time_to is not None:
            q = q.where(
                entry.c.occurred_at < self.time_to,
                entry.c.recorded_at < self.time_to + MAX_RECORDING_DELAY + CLOCK_SKEW,
            )
        for col, value in (
            (entry.c.actor_username, self.actor),
            (entry.c.client_id, self.client_id),
            (entry.c.subject_bin, self.subject_bin),
            (entry.c.object_id, self.object_id),
        ):
            if value is not None:  # the index holds the first characters (see the migration)
                q = q.where(func.left(col, INDEXED_PREFIX) == value[:INDEXED_PREFIX], col == value)
        for col, value in (
            (entry.c.actor_user_id, self.actor_id),
            (entry.c.actor_role, self.role),
            (entry.c.action, self.action),
            (entry.c.kind, self.kind),
            (entry.c.object_type, self.object_type),
            (entry.c.outcome, self.outcome),
            (entry.c.service, self.service),
            (entry.c.request_id, self.request_id),
        ):
            if value is not None:
                q = q.where(col == value)
        return q


async def page(
    session: AsyncSession, f: EntryFilter, *, limit: int, before_seq: int | None
) -> list[Any]:
    """Newest first, ``limit`` entries older than ``before_seq``."""
    q = f.query()
    if before_seq is not None:
        q = q.where(entry.c.seq < before_seq)
    rows = await session.execute(q.order_by(entry.c.seq.desc()).limit(limit))
    return [r._mapping for r in rows]


async def by_event_id(session: AsyncSession, event_id: str) -> Any | None:
    row = (
        await session.execute(select(entry).where(entry.c.event_id == event_id).limit(1))
    ).first()
    return row._mapping if row else None


async def stream(engine: AsyncEngine, f: EntryFilter) -> AsyncIterator[Any]:
    """Every matching entry, newest first, without holding them all in memory."""
    async with engine.connect() as conn:
        result = await conn.stream(
            f.query().order_by(entry.c.seq.desc()).execution_options(yield_per=2000)
        )
        async for row in result:
            yield row._mapping


async def seq_range(
    session: AsyncSession, recorded_from: datetime | None, recorded_to: datetime | None
) -> tuple[int | None, int | None]:
    """The first and last entry recorded in the time range."""
    q = select(func.min(entry.c.seq), func.max(entry.c.seq))
    if recorded_from is not None:
        q = q.where(entry.c.recorded_at >= recorded_from)
    if recorded_to is not None:
        q = q.where(entry.c.recorded_at <= recorded_to)
    lo, hi = (await session.execute(q)).one()
    return lo, hi
