"""Accepting a batch: idempotency, validation, raw archive, JetStream, receipt, arrival bits.

The receipt is written and answered only after JetStream has acknowledged the batch and the raw
archive holds it. A batch is one message, so it is in the stream whole or not at all. A retry after a
failure publishes again under a new message id; the historian stores a value only once, so a batch
that did reach the stream before the failure is not doubled.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from egsu.bus import Bus
from egsu.contracts.readings import IngestBatch
from egsu.contracts.streams import INGEST_BATCHES
from egsu.core.errors import Conflict, FieldError, Unprocessable
from egsu.db import Database
from egsu.ingest import exchange80020
from egsu.ingest import models as m
from egsu.ingest.compliance import UPSERT_ARRIVAL, ObligationDirectory, arrival_rows, deadlines
from egsu.ingest.config import IngestSettings
from egsu.ingest.parsing import Canonical, RawBatch, Rejection, canonicalise
from egsu.ingest.points import PointDirectory, PointInfo
from egsu.storage import ObjectStore

log = logging.getLogger("egsu.ingest")
MAX_STORED_REJECTIONS = 1000


@dataclass
class Submission:
    subject_bin: str
    body: bytes
    raw: RawBatch
    content_type: str
    source: str  # rest | csv | telemetry | document | replay
    idempotency_key: str | None
    submitted_by: str | None
    document: dict[str, Any] | None = None
    extension: str = "json"
    exchange: exchange80020.Message | None = None  # an 80020 file (``raw`` stays empty)


def receipt_view(
    row: dict[str, Any], rejected: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    return {
        "receipt_id": row["id"],
        "subject_bin": row["subject_bin"],
        "status": row["status"],
        "source": row["source"],
        "received_at": row["received_at"].isoformat(),
        "accepted_at": row["accepted_at"].isoformat() if row["accepted_at"] else None,
        "sha256": row["sha256"],
        "idempotency_key": row["idempotency_key"],
        "accepted": row["accepted"],
        "rejected_count": row["rejected"],
        "rejected": rejected if rejected is not None else row["rejections"],
        "events": row["events"],
        "points": row["points"],
        "ts_from": row["ts_from"].isoformat() if row["ts_from"] else None,
        "ts_to": row["ts_to"].isoformat() if row["ts_to"] else None,
        "document": row.get("document"),
        "exchange": row.get("exchange"),
    }


class Ingest:
    def __init__(
        self,
        settings: IngestSettings,
        db: Database,
        bus: Bus,
        store: ObjectStore,
        points: PointDirectory,
        obligations: ObligationDirectory,
    ) -> None:
        self.settings, self.db, self.bus, self.store = settings, db, bus, store
        self.points, self.obligations = points, obligations

    async def _existing(self, subject_bin: str, key: str) -> dict[str, Any] | None:
        async with self.db.transaction() as s:
            row = (
                (
                    await s.execute(
                        select(m.receipt).where(
                            m.receipt.c.subject_bin == subject_bin,
                            m.receipt.c.idempotency_key == key,
                        )
                    )
                )
                .mappings()
                .first()
            )
        return dict(row) if row else None

    async def accept(self, sub: Submission) -> tuple[int, dict[str, Any]]:
        """(HTTP status, receipt) for a submission."""
        sha = hashlib.sha256(sub.body).hexdigest()
        key = sub.idempotency_key or sub.raw.batch_id or f"sha256:{sha}"
        existing = await self._existing(sub.subject_bin, key)
        if existing is not None:
            if existing["sha256"] != sha:
                raise Conflict(
                    "this Idempotency-Key was already used for a different body; use a new key for new data",
                    code="idempotency_conflict",
                    receipt_id=existing["id"],
                )
            return 202, receipt_view(existing)
        size = sub.exchange.size if sub.exchange is not None else len(sub.raw.readings)
        if size > self.settings.max_batch_readings:
            from egsu.core.errors import PayloadTooLarge

            raise PayloadTooLarge(
                f"at most {self.settings.max_batch_readings} readings a batch; split it",
                code="batch_too_large",
            )
        points = await self.points.of_subject(sub.subject_bin)
        flags: list[int] = []
        exchange: dict[str, Any] | None = None
        rejected: list[Rejection]
        if sub.exchange is not None:
            unknown = exchange80020.unknown_codes(sub.exchange, points)
            owners = await self.points.owners(unknown, by="code_80020") if unknown else {}
            points, owners = await self._fresh(sub.subject_bin, points, owners)
            canon, rejected, flags, exchange = exchange80020.canonical(
                sub.exchange, points, owners, self.settings.skew_tolerance
            )
        else:
            codes = {r.get("point") for r in sub.raw.readings if isinstance(r, dict)}
            unknown = [c for c in codes if isinstance(c, str) and c and c not in points]
            foreign = await self.points.owners(unknown) if unknown else {}
            points, foreign = await self._fresh(sub.subject_bin, points, foreign)
            canon = canonicalise(sub.raw, points, foreign, self.settings.skew_tolerance)
            rejected = canon.rejected
        rejections = [r.as_dict() for r in rejected]
        if canon.accepted == 0 and not canon.events and (size or sub.raw.events):
            raise Unprocessable(
                "no reading of the batch could be accepted; see errors",
                code="no_valid_readings",
                errors=[FieldError(r.field, r.code, r.message, r.index) for r in rejected[:100]],
                rejected_count=len(rejected),
                **({"exchange": exchange} if exchange is not None else {}),
            )
        received_at = datetime.now(UTC)
        receipt_id = str(uuid.uuid4())
        raw_key = f"{sub.subject_bin}/{received_at:%Y/%m/%d}/{receipt_id}.{sub.extension}.gz"
        batch = IngestBatch(
            receipt_id=receipt_id,
            subject_bin=sub.subject_bin,
            received_at=received_at,
            source=sub.source,
            points=canon.points,
            point_idx=canon.point_idx,
            quantity=canon.quantity,
            ts=canon.ts,
            value=canon.value,
            skew_s=canon.skew_s,
            flags=flags,
            events=canon.events,
        )
        # The raw archive and the bus in parallel; the receipt only when both hold the batch.
        await asyncio.gather(
            self.store.put(
                "raw",
                raw_key,
                gzip.compress(sub.body, 1),
                content_type="application/gzip",
                metadata={
                    "sha256": sha,
                    "subject-bin": sub.subject_bin,
                    "source": sub.source,
                    "payload-type": sub.content_type,
                },
            ),
            self.bus.publish(
                f"{INGEST_BATCHES}.{sub.subject_bin}", batch.encode(), msg_id=receipt_id
            ),
        )
        row = await self._record(
            sub, key, sha, receipt_id, canon, rejections, raw_key, received_at, exchange
        )
        if row["id"] != receipt_id:  # an identical post got its receipt first: same answer for both
            if row["sha256"] != sha:
                raise Conflict(
                    "this Idempotency-Key was already used for a different body",
                    code="idempotency_conflict",
                    receipt_id=row["id"],
                )
            return 202, receipt_view(row)
        return 202, receipt_view(row, rejections)

    async def _fresh(
        self, subject_bin: str, points: dict[str, PointInfo], owners: dict[str, str | None]
    ) -> tuple[dict[str, PointInfo], dict[str, str | None]]:
        """The subject's points re-read when the registry says a code missing from them is its own."""
        # a point or code made moments ago, before its change event reached this process
        if subject_bin not in owners.values():
            return points, owners
        self.points.forget(subject_bin)
        fresh = await self.points.of_subject(subject_bin)
        return fresh, {c: b for c, b in owners.items() if b != subject_bin}

    async def _record(
        self,
        sub: Submission,
        key: str,
        sha: str,
        receipt_id: str,
        canon: Canonical,
        rejections: list[dict[str, Any]],
        raw_key: str,
        received_at: datetime,
        exchange: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write the receipt and the arrival bits in one transaction; return the receipt row."""
        ts = np.asarray(canon.ts, dtype=np.float64)
        values: dict[str, Any] = {
            "id": receipt_id,
            "subject_bin": sub.subject_bin,
            "idempotency_key": key,
            "sha256": sha,
            "status": "accepted",
            "source": sub.source,
            "content_type": sub.content_type,
            "received_at": received_at,
            "accepted_at": datetime.now(UTC),
            "accepted": canon.accepted,
            "rejected": len(rejections),
            "rejections": rejections[:MAX_STORED_REJECTIONS],
            "events": len(canon.events),
            "points": len(canon.points),
            "raw_key": raw_key,
            "submitted_by": sub.submitted_by,
            "document": sub.document,
            "exchange": exchange,
        }
        if len(ts):
            values["ts_from"] = datetime.fromtimestamp(float(ts.min()), UTC)
            values["ts_to"] = datetime.fromtimestamp(float(ts.max()), UTC)
        rows: list[tuple[Any, ...]] = []
        if len(ts):
            obligations = await self.obligations.of(sub.subject_bin)
            points = await self.points.of_subject(sub.subject_bin)
            dl = deadlines(obligations, points, self.settings.default_deadline_min)
            codes = [p.code for p in canon.points]
            rows = arrival_rows(
                codes,
                [p.interval_min * 60 for p in canon.points],
                np.asarray(canon.point_idx, dtype=np.int64),
                ts,
                received_at.timestamp(),
                np.asarray([dl[c] for c in codes], dtype=np.float64),
                sub.subject_bin,
            )
        async with self.db.transaction() as s:
            inserted = (
                (
                    await s.execute(
                        pg_insert(m.receipt)
                        .values(**values)
                        .on_conflict_do_nothing()
                        .returning(m.receipt)
                    )
                )
                .mappings()
                .first()
            )
            if inserted is None:
                existing = (
                    (
                        await s.execute(
                            select(m.receipt).where(
                                m.receipt.c.subject_bin == sub.subject_bin,
                                m.receipt.c.idempotency_key == key,
                            )
                        )
                    )
                    .mappings()
                    .one()
                )
                return dict(existing)
            if rows:
                conn = await s.connection()
                raw = (await conn.get_raw_connection()).driver_connection
                rows.sort(key=lambda r: (r[0], r[1]))  # one lock order for concurrent batches
                await raw.executemany(UPSERT_ARRIVAL, rows)
        return dict(inserted)
