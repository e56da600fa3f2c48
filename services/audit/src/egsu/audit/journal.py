"""The single writer of the chain: appends audit events in batches, idempotent on the event id.

Order of the chain is the order of appending. Exactly one writer appends at a time: the active
replica holds a PostgreSQL advisory lock (``WRITER_LOCK``) and only it pulls from the durable
JetStream consumer; besides that, every append locks the ``chain_head`` row, so even two writers
that both believed themselves active would append one after the other, never fork the chain.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import asyncpg

from egsu.audit.chain import COLUMNS, chain_rows, decode, fields_of
from egsu.audit.records import month_of, next_month
from egsu.bus import Delivery
from egsu.contracts.audit import AuditEvent
from egsu.core.time import utcnow

log = logging.getLogger("egsu.audit.journal")

WRITER_LOCK = "egsu.audit.writer"
RETENTION_LOCK = "egsu.audit.retention"
# A redelivered event was first recorded after it happened; look this far before its time for it.
CLOCK_SKEW = timedelta(days=1)
MIN_TIME = datetime(1, 1, 1, tzinfo=UTC)
MAX_EVENT_ID = 128


def partition_name(month: date) -> str:
    return f"entry_{month:%Y_%m}"


async def ensure_partition(conn: asyncpg.Connection, schema: str, month: date) -> None:
    """Create the month's partition of ``entry`` if it is not there."""
    await conn.execute(
        f'CREATE TABLE IF NOT EXISTS "{schema}".{partition_name(month)} '
        f'PARTITION OF "{schema}".entry '
        f"FOR VALUES FROM ('{month.isoformat()}') TO ('{next_month(month).isoformat()}')"
    )


def rejected_event(d: Delivery, error: str) -> AuditEvent:
    """What is recorded for a message that is not an audit event: nothing is dropped silently."""
    digest = hashlib.sha256(d.data).hexdigest()
    return AuditEvent(
        id=f"rejected-{(d.msg_id or digest)[:48]}",
        time=utcnow(),
        kind="security",
        service="audit",
        action="audit_event_rejected",
        outcome="failure",
        details={"subject": d.subject, "error": error[:500], "size": len(d.data), "sha256": digest},
    )


@dataclass
class AppendResult:
    appended: int
    duplicates: int
    last_seq: int


class Journal:
    """Appends events to the chain over one dedicated connection."""

    def __init__(
        self,
        conn: asyncpg.Connection,
        *,
        schema: str = "audit",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.conn = conn
        self.schema = schema
        self.clock = clock
        self._months: set[date] = set()

    async def try_lock(self) -> bool:
        """Become the active writer if no other replica is (a session-level advisory lock)."""
        return bool(
            await self.conn.fetchval("SELECT pg_try_advisory_lock(hashtext($1))", WRITER_LOCK)
        )

    async def ensure_partitions(self) -> None:
        """This month's and next month's partitions exist."""
        this = month_of(self.clock())
        for m in (this, next_month(this)):
            if m not in self._months:
                await ensure_partition(self.conn, self.schema, m)
                self._months.add(m)

    async def append(self, events: Sequence[AuditEvent]) -> AppendResult:
        """Append the events not yet in the journal, chained, in one transaction."""
        return await self.append_fields([fields_of(ev) for ev in events])

    async def append_fields(self, items: Sequence[list[Any]]) -> AppendResult:
        """``append`` for events already decoded to their stored values (``chain.fields_of``)."""
        unique: dict[str, list[Any]] = {}
        for f in items:
            unique.setdefault(f[0], f)
        s = self.schema
        async with self.conn.transaction():
            head = await self.conn.fetchrow(
                f'SELECT seq, hash, recorded_at FROM "{s}".chain_head WHERE id = 1 FOR UPDATE'
            )
            if not unique:
                return AppendResult(0, len(items), head["seq"])
            cutoff = min(f[1] for f in unique.values()) - CLOCK_SKEW
            known = await self.conn.fetch(
                f'SELECT event_id FROM "{s}".entry '
                "WHERE event_id = ANY($1::text[]) AND recorded_at >= $2",
                list(unique),
                cutoff,
            )
            for r in known:
                unique.pop(r["event_id"], None)
            if not unique:
                return AppendResult(0, len(items), head["seq"])
            now = max(self.clock(), head["recorded_at"] or MIN_TIME)
            if month_of(now) not in self._months:
                await ensure_partition(self.conn, s, month_of(now))
                self._months.add(month_of(now))
            rows, prev = chain_rows(head["seq"], bytes(head["hash"]), now, list(unique.values()))
            seq = rows[-1][0]
            await self.conn.copy_records_to_table(
                "entry", schema_name=s, columns=COLUMNS, records=rows
            )
            await self.conn.execute(
                f'UPDATE "{s}".chain_head SET seq = $1, hash = $2, recorded_at = $3 WHERE id = 1',
                seq,
                prev,
                now,
            )
        return AppendResult(len(rows), len(items) - len(rows), seq)

    async def append_deliveries(self, deliveries: Sequence[Delivery]) -> AppendResult:
        """Decode a batch from JetStream, append it, then acknowledge every message."""
        result = await self.append_fields(decode_deliveries(deliveries))
        for d in deliveries:
            await d.ack()
        return result


def decode_deliveries(deliveries: Sequence[Delivery]) -> list[list[Any]]:
    """The stored values of each message's event; a message that is not one becomes a rejection."""
    items = []
    for d in deliveries:
        try:
            fields = decode(d.data)
            if not 0 < len(fields[0]) <= MAX_EVENT_ID:
                raise ValueError(f"an event id has 1 to {MAX_EVENT_ID} characters")
            items.append(fields)
        except ValueError as exc:  # pydantic's ValidationError included
            log.warning("a message on %s is not an audit event; recorded as rejected", d.subject)
            items.append(fields_of(rejected_event(d, str(exc))))
    return items
