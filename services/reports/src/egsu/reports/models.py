"""The reports service's tables (schema ``reports``)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from egsu.db import make_metadata
from egsu.runtime.outbox import outbox_table

SCHEMA = "reports"
metadata = make_metadata(SCHEMA)

# One issued (or queued) report: what was asked, by whom, and where its file and inputs are.
report = Table(
    "report",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(48), nullable=False),
    Column("level", String(16), nullable=False),  # local | regional | national
    Column("scope", String(64)),  # BIN, facility id or KATO; None for national
    Column("scope_bin", String(12)),  # the subject a local report is about
    Column("scope_kato", String(9)),  # the region a regional report is about
    Column("period_from", Date, nullable=False),
    Column("period_to", Date, nullable=False),
    Column("format", String(8), nullable=False),
    Column("language", String(2), nullable=False),
    Column("status", String(16), nullable=False),  # queued | running | done | failed
    Column("origin", String(16), nullable=False),  # request | schedule | alarm | reissue
    Column("requested_by", String(200)),
    Column("requested_role", String(32)),
    Column("title", Text),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("error", Text),
    Column("object_key", Text),
    Column("content_type", String(100)),
    Column("size", BigInteger),
    Column("sha256", String(64)),
    Column("inputs_key", Text),
    Column("inputs_sha256", String(64)),
    Column("source_report_id", String(36)),  # a reissue: the report whose inputs it reuses
    Column("trigger", JSONB),  # what raised an emergency report
    Column("summary", JSONB),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Index(None, "created_at"),
    Index(None, "kind", "level", "period_from"),
    Index(None, "scope_bin"),
)

# Recommendations (§47) with the numbers that justify them and their life cycle.
recommendation = Table(
    "recommendation",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("fingerprint", String(200), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),  # peak_shift | equipment
    Column("level", String(16), nullable=False),
    Column("scope", String(64)),
    Column("target_type", String(16), nullable=False),  # region | subject | facility
    Column("target_id", String(64), nullable=False),
    Column("target_name", Text),
    Column("period_from", Date, nullable=False),
    Column("period_to", Date, nullable=False),
    Column("status", String(16), nullable=False, server_default="new"),
    Column("reason", Text),
    Column("text", JSONB, nullable=False),  # {"ru": …, "kk": …, "en": …}
    Column("numbers", JSONB, nullable=False),
    Column("report_id", String(36)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_by", String(200)),
    Index(None, "status", "created_at"),
)

# Emergencies: each triggering event (alarm or SCADA event) once; events of one facility close
# together share the report of the first.
emergency = Table(
    "emergency",
    metadata,
    Column("source_key", String(200), primary_key=True),
    Column("source", String(16), nullable=False),  # alarm | scada
    Column("facility_id", String(36)),
    Column("subject_bin", String(12)),
    Column("point_code", String(64)),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("report_id", String(36), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index(None, "facility_id", "occurred_at"),
)

# Queries of state bodies (§22): purpose, legal basis, what was asked and how much was answered.
query = Table(
    "query",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("requested_by", String(200), nullable=False),
    Column("requested_role", String(32), nullable=False),
    Column("purpose", Text, nullable=False),
    Column("legal_basis", Text, nullable=False),
    Column("body", JSONB, nullable=False),
    Column("status", String(16), nullable=False),
    Column("rows", Integer),
    Column("bytes", BigInteger),
    Column("result_key", Text),
    Column("error", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
    Index(None, "requested_by", "created_at"),
)

# Open data (§20): the published rows of each dataset, replaced on regeneration.
open_dataset = Table(
    "open_dataset",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("refreshed_at", DateTime(timezone=True), nullable=False),
    Column("rows", Integer, nullable=False),
    Column("suppressed", Integer, nullable=False),
    Column("coverage_from", Date),
    Column("coverage_to", Date),
)

open_row = Table(
    "open_row",
    metadata,
    Column("dataset", String(64), primary_key=True),
    Column("key", String(200), primary_key=True),
    Column("day", Date),
    Column("data", JSONB, nullable=False),
    Index(None, "dataset", "day"),
)

# Regular runs already issued (one row per schedule and period, so replicas never double a run).
schedule_run = Table(
    "schedule_run",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("period", String(32), primary_key=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

outbox = outbox_table(metadata)
