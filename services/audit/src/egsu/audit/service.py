"""The writer role of one replica of the audit service.

Every replica serves the read API. One of them is the *active writer*: it holds the PostgreSQL
advisory lock ``egsu.audit.writer`` on a dedicated connection and, while it does, pulls from the
durable JetStream consumer ``audit-journal``, appends, makes checkpoints and runs retention. The
others wait in standby and try the lock every few seconds; when the active writer dies its
connection closes, the lock is released and a standby takes over. Messages the dead writer had
fetched but not acknowledged come back after the consumer's ack wait and are written once (the
journal is idempotent on the event id).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import nats.errors
import nats.js.errors
from nats.js import api

from egsu.audit.archive import Archiver
from egsu.audit.checkpoints import ChainBroken, Checkpointer
from egsu.audit.config import AuditSettings
from egsu.audit.journal import Journal, decode_deliveries
from egsu.audit.signing import Keyring, SigningKey
from egsu.bus import Bus, Delivery
from egsu.bus.audit import AuditLog
from egsu.bus.bus import backoff
from egsu.contracts.streams import AUDIT
from egsu.core.errors import EgsuError
from egsu.core.time import utcnow
from egsu.storage import ObjectStore

log = logging.getLogger("egsu.audit.service")

DURABLE = "audit-journal"
ACK_WAIT = 60.0  # seconds before JetStream redelivers what a writer took and did not acknowledge
DB_ERRORS = (OSError, asyncpg.PostgresError, asyncpg.InterfaceError)


def dsn_of(database_url: str) -> str:
    """An asyncpg DSN from the System's PostgreSQL URL."""
    for prefix in (
        "postgresql+asyncpg://",
        "postgresql+psycopg://",
        "postgresql+psycopg2://",
        "postgres://",
    ):
        if database_url.startswith(prefix):
            return "postgresql://" + database_url[len(prefix) :]
    return database_url


class JournalWriter:
    """Standby until this replica holds the writer lock; then the journal's only writer."""

    def __init__(
        self,
        settings: AuditSettings,
        bus: Bus,
        store: ObjectStore,
        key: SigningKey,
        keyring: Keyring,
        audit: AuditLog | None = None,
        *,
        stream: str = "AUDIT",
        durable: str = DURABLE,
        filter_subject: str = f"{AUDIT}.>",
        schema: str = "audit",
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.store = store
        self.key = key
        self.keyring = keyring
        self.audit = audit
        self.stream, self.durable, self.filter_subject = stream, durable, filter_subject
        self.schema = schema
        self.clock = clock
        self.dsn = dsn_of(settings.database_url or "")
        self.active = False
        self.appended = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one statement at a time on the writer's connection
        self._reported: set[tuple[str, str]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="audit-writer")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self._term()
            except DB_ERRORS as exc:
                log.warning("audit writer: database unavailable (%s); retrying", exc)
                await self._sleep(1.0)
            except Exception:  # never leave the journal without a writer: log, pause, start again
                log.exception("audit writer: the term failed; starting a new one")
                await self._sleep(2.0)

    async def _term(self) -> None:
        """One term: connect, wait for the writer lock, write until stopped or disconnected."""
        conn = await asyncpg.connect(
            self.dsn, server_settings={"application_name": "egsu-audit-writer"}
        )
        try:
            journal = Journal(conn, schema=self.schema, clock=self.clock)
            while not await journal.try_lock():
                await self._sleep(self.settings.audit_standby_poll_seconds)
                if self._stop.is_set():
                    return
            log.info("audit writer: this replica is the active writer")
            await journal.ensure_partitions()
            ended = asyncio.Event()
            consuming = asyncio.create_task(self._consume(journal, ended), name="audit-consume")
            self.active = True
            try:
                await self._maintain(conn, journal)
            finally:
                self.active = False
                ended.set()
                await consuming
        finally:
            await conn.close(timeout=5)

    async def _consume(self, journal: Journal, ended: asyncio.Event) -> None:
        """Pull from the durable consumer; the next batch is fetched and decoded while the one
        before it is being written (two batches in flight at most, written in order)."""
        config = api.ConsumerConfig(
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=ACK_WAIT,
            max_ack_pending=max(20_000, 4 * self.settings.audit_batch),
            max_deliver=-1,
            filter_subject=self.filter_subject,
        )
        sub = None
        writing: asyncio.Task[None] | None = None
        try:
            while not (self._stop.is_set() or ended.is_set()):
                try:
                    if sub is None:
                        sub = await self.bus.js.pull_subscribe(
                            self.filter_subject,
                            durable=self.durable,
                            stream=self.stream,
                            config=config,
                        )
                    msgs = await sub.fetch(self.settings.audit_batch, timeout=0.5)
                except (TimeoutError, nats.errors.TimeoutError):
                    continue
                except (nats.errors.Error, nats.js.errors.Error, OSError) as exc:
                    log.warning("audit writer: JetStream: %s; retrying", exc)
                    sub = None
                    await self._sleep(0.5)
                    continue
                deliveries = [Delivery(m) for m in msgs]
                items = decode_deliveries(deliveries)
                if writing is not None:
                    await writing
                writing = asyncio.create_task(self._write(journal, deliveries, items))
        finally:
            if writing is not None:
                await writing
            if sub is not None:  # no pull left pending: closing the connection need not drain it
                with contextlib.suppress(nats.errors.Error, OSError):
                    await sub.unsubscribe()

    async def _write(
        self, journal: Journal, deliveries: list[Delivery], items: list[list[Any]]
    ) -> None:
        try:
            async with self._lock:
                result = await journal.append_fields(items)
        except Exception:  # the batch comes back later; the term ends if the connection is gone
            log.exception(
                "audit writer: %d events not written; JetStream redelivers them", len(items)
            )
            for d in deliveries:
                with contextlib.suppress(nats.errors.Error, OSError):
                    await d.nak(backoff(d.num_delivered))
            return
        for d in deliveries:  # an ack that is lost means a redelivery, written once
            with contextlib.suppress(nats.errors.Error, OSError):
                await d.ack()
        self.appended += result.appended

    async def _maintain(self, conn: asyncpg.Connection, journal: Journal) -> None:
        """Partitions ahead, checkpoints when due, retention now and then; until the term ends.

        Checkpoints are made on a connection of their own, so appending never waits for them.
        """
        s = self.settings
        cp_conn = await asyncpg.connect(
            self.dsn, server_settings={"application_name": "egsu-audit-checkpoints"}
        )
        try:
            checkpointer = Checkpointer(
                cp_conn,
                self.store,
                self.key,
                schema=self.schema,
                max_entries=s.audit_checkpoint_max_entries,
                min_age=timedelta(seconds=s.audit_checkpoint_seconds),
                clock=self.clock,
            )
            next_retention = time.monotonic() + min(30.0, s.audit_retention_check_seconds)
            tick = min(1.0, s.audit_checkpoint_seconds / 2)
            while not self._stop.is_set():
                async with self._lock:
                    if conn.is_closed():
                        raise asyncpg.InterfaceError("the writer's connection is closed")
                    await journal.ensure_partitions()
                try:
                    await checkpointer.run()
                except ChainBroken as exc:
                    self._alarm("audit_chain_broken", str(exc))
                except EgsuError as exc:  # the object store is away: the checkpoint waits
                    log.warning("audit writer: checkpoint not written: %s", exc)
                if time.monotonic() >= next_retention:
                    next_retention = time.monotonic() + s.audit_retention_check_seconds
                    await self.retention()
                await self._sleep(tick)
        finally:
            await cp_conn.close(timeout=5)

    async def retention(self) -> None:
        """Archive the months past the online period (on a connection of its own)."""
        s = self.settings
        conn = await asyncpg.connect(
            self.dsn, server_settings={"application_name": "egsu-audit-retention"}
        )
        try:
            archiver = Archiver(
                conn,
                self.store,
                self.key,
                self.keyring,
                schema=self.schema,
                retention_months=s.audit_retention_months,
                part_entries=s.audit_archive_part_entries,
                clock=self.clock,
            )
            for seg in await archiver.run():
                log.info("audit month %s archived (%d entries)", seg.month, seg.entries)
        except Exception as exc:
            log.exception("audit retention failed")
            self._alarm("audit_retention_failed", str(exc))
        finally:
            await conn.close(timeout=5)

    def _alarm(self, action: str, detail: str) -> None:
        """Journal an abnormal situation of the journal itself (once per distinct problem)."""
        log.error("%s: %s", action, detail)
        if self.audit is not None and (action, detail) not in self._reported:
            self._reported.add((action, detail))
            self.audit.record_nowait(
                "abnormal",
                action,
                outcome="failure",
                object_type="audit_journal",
                object_id=self.schema,
                detail=detail[:500],
            )
