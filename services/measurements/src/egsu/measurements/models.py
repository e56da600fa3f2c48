"""The historian's tables (schema ``measurements``).

``reading`` is partitioned by month of ``ts`` (UTC, the END of the interval). Every version of a
reading is kept; exactly one per (point, quantity, ts) is ``current``. Quality codes are in
``quality.py``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Double,
    Index,
    Integer,
    SmallInteger,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, REAL

from egsu.db import make_metadata
from egsu.runtime.outbox import outbox_table

SCHEMA = "measurements"
metadata = make_metadata(SCHEMA)

point = Table(
    "point",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("subject_bin", String(12), nullable=False),
    Column("facility_id", String(36), nullable=False),
    Column("region_kato", String(9), nullable=False),
    Column("commodity", String(16), nullable=False),
    Column("interval_min", Integer, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index(None, "subject_bin"),
    Index(None, "facility_id"),
    Index(None, "region_kato"),
)

quantity = Table(
    "quantity",
    metadata,
    Column("id", SmallInteger, primary_key=True, autoincrement=True),
    Column("code", String(48), nullable=False, unique=True),
)

batch = Table(
    "batch",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("msg_id", String(200), nullable=False, unique=True),
    Column("receipt_id", String(36), nullable=False),
    Column("subject_bin", String(12), nullable=False),
    Column("source", String(16), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("stored_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("count", Integer, nullable=False),
    Column("inserted", Integer, nullable=False),
    Column("superseded", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Index(None, "receipt_id"),
)

reading = Table(
    "reading",
    metadata,
    Column("point_id", Integer, primary_key=True),
    Column("quantity_id", SmallInteger, primary_key=True),
    Column("ts", DateTime(timezone=True), primary_key=True),
    Column("version", SmallInteger, primary_key=True),
    Column("value", Double, nullable=False),
    Column("quality", SmallInteger, nullable=False, server_default="0"),
    Column("rules", Integer, nullable=False, server_default="0"),
    Column("origin", SmallInteger, nullable=False, server_default="0"),
    Column("current", Boolean, nullable=False),
    Column("skew_s", REAL),
    Column("batch_id", BigInteger),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("superseded_at", DateTime(timezone=True)),
    Column("correction_id", String(36)),
    postgresql_partition_by="RANGE (ts)",
)

meter_event = Table(
    "meter_event",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("point_id", Integer, nullable=False),
    Column("ts", DateTime(timezone=True), nullable=False),
    Column("code", String(64), nullable=False),
    Column("text", Text),
    Column("severity", String(16)),
    Column("batch_id", BigInteger),
    Index(None, "point_id", "ts", "code", unique=True),
)

# Roll-ups, kept current on write. Hours are labelled by their start (UTC); a reading stamped at
# the end of its interval belongs to the hour in which its interval lies.
point_hour = Table(
    "point_hour",
    metadata,
    Column("point_id", Integer, primary_key=True),
    Column("quantity_id", SmallInteger, primary_key=True),
    Column("hour", DateTime(timezone=True), primary_key=True),
    Column("sum", Double, nullable=False),
    Column("count", Integer, nullable=False),
    Column("valid_count", Integer, nullable=False),
    Column("min", Double),
    Column("max", Double),
    Column("suspect_count", Integer, nullable=False, server_default="0"),
    Column("estimated_count", Integer, nullable=False, server_default="0"),
    Column("edited_count", Integer, nullable=False, server_default="0"),
)

# Totals of facilities (level 1), subjects (2), regions (3) and the country (4) per hour: energy
# summed, power as the sum of the points' hourly means.
group_hour = Table(
    "group_hour",
    metadata,
    Column("level", SmallInteger, primary_key=True),
    Column("key", String(36), primary_key=True),
    Column("quantity_id", SmallInteger, primary_key=True),
    Column("hour", DateTime(timezone=True), primary_key=True),
    Column("sum", Double, nullable=False),
    Column("count", Integer, nullable=False),
    Column("valid_count", Integer, nullable=False),
)

# Changes to group totals written with each batch and folded into group_hour by one flusher, so
# batches never wait on the country's row.
group_delta = Table(
    "group_delta",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("level", SmallInteger, nullable=False),
    Column("key", String(36), nullable=False),
    Column("quantity_id", SmallInteger, nullable=False),
    Column("hour", DateTime(timezone=True), nullable=False),
    Column("sum", Double, nullable=False),
    Column("count", Integer, nullable=False),
    Column("valid_count", Integer, nullable=False),
)

# The numbers behind the rule hits of one version of a reading (explain), and the method of an
# estimate. Only flagged and estimated versions have a row.
vee_finding = Table(
    "vee_finding",
    metadata,
    Column("point_id", Integer, primary_key=True),
    Column("quantity_id", SmallInteger, primary_key=True),
    Column("ts", DateTime(timezone=True), primary_key=True),
    Column("version", SmallInteger, primary_key=True),
    Column("rules", Integer, nullable=False),
    Column("detail", JSONB, nullable=False),
)

# Gaps a batch revealed, estimated by the estimator once no batch is likely to fill them any more.
vee_gap = Table(
    "vee_gap",
    metadata,
    Column("point_id", Integer, primary_key=True),
    Column("quantity_id", SmallInteger, primary_key=True),
    Column("after_ts", DateTime(timezone=True), primary_key=True),
    Column("before_ts", DateTime(timezone=True), nullable=False),
    Column("detected_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index(None, "detected_at"),
)

# Robust statistics of a series' own recent history, for batches too small to carry their own.
vee_series = Table(
    "vee_series",
    metadata,
    Column("point_id", Integer, primary_key=True),
    Column("quantity_id", SmallInteger, primary_key=True),
    Column("computed_at", DateTime(timezone=True), nullable=False),
    Column("n", Integer, nullable=False),
    Column("q05", Double),
    Column("q25", Double),
    Column("q50", Double),
    Column("q75", Double),
    Column("q95", Double),
    Column("nonzero", Double),
    Column("equal", Double),
)

# Corrections (§48): proposed by one user, confirmed or rejected by another.
correction = Table(
    "correction",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("point_id", Integer, nullable=False),
    Column("quantity_id", SmallInteger, nullable=False),
    Column("subject_bin", String(12), nullable=False),
    Column("ts_from", DateTime(timezone=True), nullable=False),
    Column("ts_to", DateTime(timezone=True), nullable=False),
    Column("mode", String(16), nullable=False),  # values | re_estimate
    Column("proposed", JSONB, nullable=False),  # [{ts, value, method?}]
    Column("reason_code", String(48), nullable=False),
    Column("comment", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | confirmed | rejected
    Column("requested_by", JSONB, nullable=False),
    Column("requested_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("decided_by", JSONB),
    Column("decided_at", DateTime(timezone=True)),
    Column("decision_comment", Text),
    Column("applied", Integer),
    Index(None, "status", "requested_at"),
    Index(None, "subject_bin", "requested_at"),
    Index(None, "point_id", "quantity_id"),
)

outbox = outbox_table(metadata)
