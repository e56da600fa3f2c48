"""Ingest's tables (schema ``ingest``)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Date, DateTime, Index, Integer, String, Table, Text, func
from sqlalchemy.dialects.postgresql import BIT, JSONB, UUID

from egsu.db import make_metadata
from egsu.runtime.outbox import outbox_table

SCHEMA = "ingest"
metadata = make_metadata(SCHEMA)

receipt = Table(
    "receipt",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("subject_bin", String(12), nullable=False),
    Column("idempotency_key", String(200), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("status", String(16), nullable=False),  # pending | accepted
    Column("source", String(16), nullable=False),  # rest | csv | 80020 | telemetry | document
    Column("content_type", String(100)),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("accepted_at", DateTime(timezone=True)),
    Column("accepted", Integer, nullable=False, server_default="0"),
    Column("rejected", Integer, nullable=False, server_default="0"),
    Column("rejections", JSONB, nullable=False, server_default="[]"),
    Column("events", Integer, nullable=False, server_default="0"),
    Column("ts_from", DateTime(timezone=True)),
    Column("ts_to", DateTime(timezone=True)),
    Column("points", Integer, nullable=False, server_default="0"),
    Column("raw_key", Text),
    Column("submitted_by", Text),
    Column("document", JSONB),
    Column("exchange", JSONB),  # an 80020 file: its header and what became of each channel
    Index(None, "subject_bin", "idempotency_key", unique=True),
    Index(None, "subject_bin", "received_at"),
)

# Which intervals of each point arrived, and which of them arrived after the deadline: one bit per
# interval of the local (UTC+05:00) day, OR-ed on every batch.
arrival = Table(
    "arrival",
    metadata,
    Column("point_code", String(64), primary_key=True),
    Column("day", Date, primary_key=True),
    Column("subject_bin", String(12), nullable=False),
    Column("received", BIT(varying=True), nullable=False),
    Column("late", BIT(varying=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index(None, "subject_bin", "day"),
)

compliance_state = Table(
    "compliance_state",
    metadata,
    Column("subject_bin", String(12), primary_key=True),
    Column("overdue", Boolean, nullable=False, server_default="false"),
    Column("since", DateTime(timezone=True)),
    Column("missing_points", Integer, nullable=False, server_default="0"),
    Column("checked_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

outbox = outbox_table(metadata)

__all__ = ["SCHEMA", "arrival", "compliance_state", "metadata", "outbox", "receipt"]
