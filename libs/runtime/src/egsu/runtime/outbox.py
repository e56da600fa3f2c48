"""The transactional outbox: events written in the same transaction as the change they announce.

A change and its events (registry changes, audit records) commit or roll back together; a relay
publishes committed events to JetStream (de-duplicated by message id) and deletes them. Several
replicas may relay at once: rows are claimed with ``FOR UPDATE SKIP LOCKED``.
"""

from __future__ import annotations

import asyncio
import logging

from pydantic import BaseModel
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from egsu.bus import Bus, BusUnavailable
from egsu.db import Database

log = logging.getLogger("egsu.outbox")


def outbox_table(metadata: MetaData) -> Table:
    """The outbox table of a service's schema (add it to the service's models and migrations)."""
    return Table(
        "outbox",
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("subject", String(200), nullable=False),
        Column("msg_id", String(200), nullable=False),
        Column("payload", LargeBinary, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


async def enqueue(
    session: AsyncSession, table: Table, subject: str, payload: BaseModel | bytes, msg_id: str
) -> None:
    """Add an event to the outbox inside the caller's transaction."""
    data = payload.model_dump_json().encode() if isinstance(payload, BaseModel) else payload
    await session.execute(insert(table).values(subject=subject, msg_id=msg_id, payload=data))


class OutboxRelay:
    """Publishes committed outbox rows in order and removes them once JetStream has them."""

    def __init__(
        self, db: Database, bus: Bus, table: Table, *, interval: float = 0.2, batch: int = 500
    ) -> None:
        self.db, self.bus, self.table = db, bus, table
        self.interval, self.batch = interval, batch
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    def poke(self) -> None:
        """Publish soon (call after a commit that enqueued events)."""
        self._wake.set()

    async def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._task is not None:
            await self._task

    async def relay_once(self) -> int:
        t = self.table
        async with self.db.transaction() as s:
            rows = (
                await s.execute(
                    select(t.c.id, t.c.subject, t.c.msg_id, t.c.payload)
                    .order_by(t.c.id)
                    .limit(self.batch)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            await self.bus.publish_many([(r.subject, bytes(r.payload), r.msg_id) for r in rows])
            await s.execute(delete(t).where(t.c.id.in_([r.id for r in rows])))
        return len(rows)

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                n = await self.relay_once()
            except BusUnavailable as exc:
                log.warning("outbox: bus unavailable (%s); retrying", exc)
                n = 0
                await asyncio.sleep(1.0)
            except Exception:  # keep relaying whatever one round did; the rows stay for the next
                log.exception("outbox relay round failed")
                n = 0
                await asyncio.sleep(1.0)
            if n == 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
                except TimeoutError:
                    pass
        try:
            await self.relay_once()  # last round on shutdown
        except Exception:  # shutting down: what is left is published by the next start
            log.warning("outbox: rows left for the next start")


async def enqueue_raw(
    conn: object, schema: str, subject: str, payload: BaseModel | bytes, msg_id: str
) -> None:
    """``enqueue`` for code that holds a raw asyncpg connection inside its transaction."""
    data = payload.model_dump_json().encode() if isinstance(payload, BaseModel) else payload
    await conn.execute(  # type: ignore[attr-defined]
        f'INSERT INTO "{schema}".outbox (subject, msg_id, payload) VALUES ($1, $2, $3)',
        subject,
        msg_id,
        data,
    )
