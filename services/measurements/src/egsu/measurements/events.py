"""The historian's consumer: batches from ingest into the store, then a notice for everyone else."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

import asyncpg
import numpy as np
import orjson

from egsu.bus import Delivery
from egsu.contracts.readings import IngestBatch, ReadingsStored
from egsu.contracts.streams import READINGS_STORED, REGISTRY_CHANGED
from egsu.measurements.catalog import Catalog
from egsu.measurements.estimator import estimate_due_gaps
from egsu.measurements.points import PointDirectory
from egsu.measurements.vee.config import RuleBook
from egsu.measurements.writer import VeeInputs, flush_group_deltas, months_of, store_batch, utc
from egsu.runtime.outbox import OutboxRelay, enqueue_raw

log = logging.getLogger("egsu.measurements.events")


class Historian:
    def __init__(
        self,
        pool: asyncpg.Pool,
        catalog: Catalog,
        relay: OutboxRelay,
        workers: int,
        directory: PointDirectory,
        rulebook: RuleBook,
        stats_refresh_s: float = 6 * 3600,
        stats_window_s: float = 72 * 3600,
    ) -> None:
        self.pool = pool
        self.catalog = catalog
        self.relay = relay
        self.directory = directory
        self.rulebook = rulebook
        self.stats_refresh_s = stats_refresh_s
        self.stats_window_s = stats_window_s
        self.sem = asyncio.Semaphore(workers)
        self.flush_wake = asyncio.Event()
        self.stored = 0
        self.estimated = 0

    async def prepare(self, raw: dict[str, Any]) -> None:
        """Point and quantity numbers and partitions, committed before the batch's own transaction."""
        async with self.pool.acquire() as conn:
            await self.catalog.point_ids(conn, raw["points"])
            await self.catalog.quantity_ids(conn, raw["quantity"])
            await self.catalog.ensure_partitions(
                conn, months_of(np.asarray(raw["ts"], dtype=np.float64))
            )

    async def vee_inputs(self, subject_bin: str) -> VeeInputs:
        """The registry's view of the subject's points (fetched before the batch's transaction)."""
        return VeeInputs(
            rulebook=self.rulebook,
            infos=await self.directory.of_subject(subject_bin),
            stats_refresh_s=self.stats_refresh_s,
            stats_window_s=self.stats_window_s,
        )

    async def store(self, raw: dict[str, Any], msg_id: str) -> ReadingsStored | None:
        _, vee = await asyncio.gather(self.prepare(raw), self.vee_inputs(raw["subject_bin"]))
        async with self.pool.acquire() as conn, conn.transaction():
            res = await store_batch(conn, self.catalog, raw, msg_id, vee)
            if res.duplicate_delivery:
                return None
            notice = ReadingsStored(
                batch_id=res.batch_id or 0,
                receipt_id=raw["receipt_id"],
                subject_bin=raw["subject_bin"],
                source=raw["source"],
                received_at=datetime.fromisoformat(raw["received_at"]),
                stored_at=datetime.now(UTC),
                count=res.count,
                inserted=res.inserted,
                superseded=res.superseded,
                unchanged=res.unchanged,
                ts_from=utc(res.ts_from),
                ts_to=utc(res.ts_to),
                points=res.points[:1000],
                quantities=res.quantities,
                events=res.events,
            )
            await enqueue_raw(
                conn,
                "measurements",
                f"{READINGS_STORED}.{raw['subject_bin']}",
                notice,
                f"stored-{msg_id}",
            )
        self.stored += res.count
        return notice

    def handler(self) -> Any:
        """Batches of one subject are stored in the order they were received; subjects in parallel."""

        async def one(d: Delivery) -> None:
            raw = IngestBatch.decode_raw(d.data)
            await self.store(raw, d.msg_id or raw["receipt_id"])
            await d.ack()

        async def in_order(group: list[Delivery]) -> list[tuple[Delivery, BaseException | None]]:
            out: list[tuple[Delivery, BaseException | None]] = []
            async with self.sem:
                for d in group:
                    try:
                        await one(d)
                        out.append((d, None))
                    except Exception as exc:  # this batch comes back later; the others go on
                        out.append((d, exc))
            return out

        async def handle(batch: list[Delivery]) -> None:
            groups: dict[str, list[Delivery]] = {}
            for d in batch:
                groups.setdefault(d.subject, []).append(d)
            for results in await asyncio.gather(*(in_order(g) for g in groups.values())):
                for d, exc in results:
                    if exc is not None:
                        log.warning(
                            "batch %s not stored yet (%s: %s); it will be delivered again",
                            d.msg_id,
                            type(exc).__name__,
                            exc,
                        )
                        await d.nak(min(30.0, 0.5 * 2 ** min(d.num_delivered, 6)))
            self.relay.poke()
            self.flush_wake.set()

        return handle

    async def estimator(self, every: float, delay: float) -> None:
        """Estimate the gaps batches found once they are ``delay`` seconds old."""
        while True:
            await asyncio.sleep(every)
            try:
                n = await estimate_due_gaps(
                    self.pool, self.catalog, self.directory, self.rulebook, delay
                )
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("gap estimation failed (%s); retrying", exc)
                continue
            if n:
                self.estimated += n
                self.flush_wake.set()

    async def flusher(self, interval: float) -> None:
        """Fold group deltas into group roll-ups shortly after each batch (and at least every interval)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flush_wake.wait(), timeout=interval)
            self.flush_wake.clear()
            try:
                async with self.pool.acquire() as conn:
                    await flush_group_deltas(conn)
            except (asyncpg.PostgresError, OSError) as exc:
                log.warning("group roll-up flush failed (%s); retrying", exc)
                await asyncio.sleep(1.0)


def subscribe_registry_changes(bus: Any, directory: PointDirectory) -> Any:
    """Drop a subject's cached point index when the registry changes one of its points."""

    async def on_change(msg: Any) -> None:
        try:
            change = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            return
        if change.get("entity") in ("metering_point", "facility", "subject"):
            directory.forget(change.get("subject_bin"))

    return bus.nc.subscribe(f"{REGISTRY_CHANGED}.>", cb=on_change)
