"""The batch that travels from ingest to the historian on ``egsu.ingest.batches.<bin>``, and what
the historian announces after storing it.

The batch is columnar and compressed (zlib over JSON) so that 50,000 readings fit in one message
of a few hundred kilobytes: one batch is one message, published and acknowledged atomically.
Values are already canonical (units converted, quantity aliases resolved, timestamps in UTC
seconds at the end of their interval, snapped to the point's grid; ``ts_raw`` keeps the sender's
time where it differed).
"""

from __future__ import annotations

import zlib
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel

BATCH_CONTENT_TYPE = "application/vnd.egsu.batch+json+zlib"
# Bits of ``IngestBatch.flags``: what the sender said about a reading.
NOT_COMMERCIAL = 1  # the source marked the value not for commercial settlement (80020 status)


class PointRef(BaseModel):
    code: str
    subject_bin: str
    facility_id: str
    region_kato: str
    commodity: str
    interval_min: int


class MeterEvent(BaseModel):
    point: str
    ts: float  # UTC seconds
    code: str
    text: str | None = None
    severity: str | None = None


class IngestBatch(BaseModel):
    receipt_id: str
    subject_bin: str
    received_at: datetime
    source: str  # rest | csv | telemetry | document | replay
    points: list[PointRef]
    # columns, one entry per reading
    point_idx: list[int]
    quantity: list[str]
    ts: list[float]  # UTC seconds, interval end, on the grid
    value: list[float]
    skew_s: list[
        float
    ] = []  # sender's ts minus the grid ts (seconds); empty when all were on the grid
    flags: list[int] = []  # the sender's flags per reading (NOT_COMMERCIAL); empty when none
    events: list[MeterEvent] = []

    def encode(self) -> bytes:
        return zlib.compress(orjson.dumps(self.model_dump(mode="json")), 3)

    @classmethod
    def decode(cls, data: bytes) -> IngestBatch:
        return cls.model_validate(orjson.loads(zlib.decompress(data)))

    @staticmethod
    def decode_raw(data: bytes) -> dict[str, Any]:
        """The batch as plain lists (no per-element validation; the producer is ingest)."""
        return orjson.loads(zlib.decompress(data))  # type: ignore[no-any-return]

    def __len__(self) -> int:
        return len(self.ts)


class ReadingsStored(BaseModel):
    """Published on ``egsu.readings.stored.<bin>`` once a batch is in the historian."""

    batch_id: int
    receipt_id: str
    subject_bin: str
    source: str
    received_at: datetime
    stored_at: datetime
    count: int
    inserted: int
    superseded: int
    unchanged: int
    ts_from: datetime | None
    ts_to: datetime | None
    points: list[str]
    quantities: list[str]
    events: int = 0


class ReadingsCorrected(BaseModel):
    """Published on ``egsu.readings.corrected.<bin>`` once a confirmed correction is in the historian."""

    correction_id: str
    subject_bin: str
    point: str
    quantity: str
    ts_from: datetime  # exclusive
    ts_to: datetime  # inclusive
    count: int  # readings that got a new current version
    reason_code: str
    confirmed_at: datetime
