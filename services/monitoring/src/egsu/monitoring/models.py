"""Monitoring's tables (schema ``monitoring``)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Double,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from egsu.db import make_metadata
from egsu.runtime.outbox import outbox_table

SCHEMA = "monitoring"
metadata = make_metadata(SCHEMA)


def _ts(name: str, nullable: bool = False) -> Column:  # type: ignore[type-arg]
    return Column(
        name,
        DateTime(timezone=True),
        nullable=nullable,
        server_default=None if nullable else func.now(),
    )


# The live state of every metering point; registry attributes are copied for queries by region,
# subject, facility type and status. ``last_ts`` is the newest measurement time seen (never moved
# back by late data); the status changes to inactive only by the passing of time (the sweep) and
# back to active only by the arrival of recent data.
point_state = Table(
    "point_state",
    metadata,
    Column("code", String(64), primary_key=True),
    Column("subject_bin", String(12), nullable=False),
    Column("facility_id", String(36), nullable=False),
    Column("facility_type", String(32), nullable=False),
    Column("region_kato", String(9), nullable=False),
    Column("system_ids", ARRAY(String(36)), nullable=False, server_default="{}"),
    Column("interval_min", Integer, nullable=False),
    Column("criticality", SmallInteger, nullable=False),
    Column("monitored", Boolean, nullable=False, server_default="true"),
    Column("status", String(16), nullable=False, server_default="pending"),
    _ts("status_since"),
    _ts("known_since"),
    _ts("last_ts", nullable=True),
    _ts("last_received_at", nullable=True),
    Column("values", JSONB, nullable=False, server_default="{}"),
    Column("channel", String(8)),
    _ts("channel_since", nullable=True),
    _ts("updated_at"),
    Index(None, "subject_bin"),
    Index(None, "region_kato", "status"),
    Index(None, "facility_id"),
)

# First receipt of each interval of each point, for channel quality (kept ``arrival_keep_hours``).
arrival = Table(
    "arrival",
    metadata,
    Column("point_code", String(64), primary_key=True),
    Column("ts", DateTime(timezone=True), primary_key=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("delay_s", Double, nullable=False),
    Column("channel", String(8)),
    Index(None, "received_at"),
)

rule = Table(
    "rule",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("family", String(64)),
    Column("category", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("scope_type", String(16), nullable=False),
    Column("scope_value", String(64)),
    Column("quantities", ARRAY(String(48)), nullable=False, server_default="{}"),
    Column("params", JSONB, nullable=False, server_default="{}"),
    Column("hold_s", Double),
    Column("enabled", Boolean, nullable=False, server_default="true"),
    Column("builtin", Boolean, nullable=False, server_default="false"),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("updated_by", Text),
    _ts("created_at"),
    _ts("updated_at"),
)

rule_version = Table(
    "rule_version",
    metadata,
    Column("rule_id", UUID(as_uuid=False), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("body", JSONB, nullable=False),
    Column("changed_by", Text),
    Column("comment", Text),
    _ts("changed_at"),
)

alarm = Table(
    "alarm",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("rule_id", UUID(as_uuid=False)),
    Column("rule_version", Integer),
    Column("kind", String(32), nullable=False),
    Column("category", String(16), nullable=False),
    Column("severity", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("object_type", String(16), nullable=False),
    Column("object_id", String(64), nullable=False),
    Column("subject_bin", String(12)),
    Column("facility_id", String(36)),
    Column("facility_type", String(32)),
    Column("region_kato", String(9)),
    Column("point_code", String(64)),
    Column("quantity", String(48)),
    Column("message", JSONB, nullable=False),
    Column("value", Double),
    Column("limit", Double),
    Column("details", JSONB, nullable=False, server_default="{}"),
    _ts("first_ts", nullable=True),
    _ts("last_ts", nullable=True),
    _ts("raised_at"),
    _ts("last_at"),
    Column("count", Integer, nullable=False, server_default="1"),
    Column("late", Boolean, nullable=False, server_default="false"),
    _ts("ok_since", nullable=True),  # the condition has been gone since (wall time)
    Column("hold_s", Double, nullable=False, server_default="0"),
    Column("flap_times", ARRAY(DateTime(timezone=True)), nullable=False, server_default="{}"),
    Column("flapping", Boolean, nullable=False, server_default="false"),
    _ts("acknowledged_at", nullable=True),
    Column("acknowledged_by", Text),
    _ts("cleared_at", nullable=True),
    Column("cleared_by", Text),
    _ts("closed_at", nullable=True),
    Column("closed_by", Text),
    _ts("shelved_until", nullable=True),
    Column("shelved_by", Text),
    Column("escalation_level", SmallInteger, nullable=False, server_default="0"),
    _ts("next_escalation_at", nullable=True),
    _ts("next_reminder_at", nullable=True),
    Column("reminders", Integer, nullable=False, server_default="0"),
    Column("seq", Integer, nullable=False, server_default="0"),
    # one active (raised or acknowledged) alarm per rule and object
    Index(
        "uq_alarm_active",
        "rule_id",
        "object_type",
        "object_id",
        unique=True,
        postgresql_where=text("state IN ('raised', 'acknowledged')"),
    ),
    Index(None, "subject_bin", "state"),
    Index(None, "state", "severity"),
    Index(None, "raised_at"),
    Index(None, "rule_id", "object_type", "object_id", "cleared_at"),
)

alarm_event = Table(
    "alarm_event",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("alarm_id", UUID(as_uuid=False), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("type", String(16), nullable=False),
    _ts("at"),
    Column("actor", Text),
    Column("comment", Text),
    Column("details", JSONB, nullable=False, server_default="{}"),
    Index(None, "alarm_id", "seq", unique=True),
)

webhook = Table(
    "webhook",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("name", Text, nullable=False),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),
    Column("owner_bin", String(12)),  # a subject's own subscription: only its alarms
    Column("filter", JSONB, nullable=False, server_default="{}"),
    Column("enabled", Boolean, nullable=False, server_default="true"),
    Column("created_by", Text),
    Column("version", Integer, nullable=False, server_default="1"),
    _ts("created_at"),
    _ts("updated_at"),
)

webhook_delivery = Table(
    "webhook_delivery",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("webhook_id", UUID(as_uuid=False), nullable=False),
    Column("event_id", String(80), nullable=False),
    Column("event_type", String(16), nullable=False),
    Column("alarm_id", UUID(as_uuid=False)),
    Column("subject_bin", String(12)),
    Column("payload", LargeBinary, nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    _ts("next_attempt_at"),
    _ts("last_attempt_at", nullable=True),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("last_duration_ms", Double),
    _ts("delivered_at", nullable=True),
    _ts("created_at"),
    Index(None, "webhook_id", "event_id", unique=True),
    Index(None, "status", "next_attempt_at"),
)

processed_batch = Table(
    "processed_batch",
    metadata,
    Column("receipt_id", String(64), primary_key=True),
    _ts("processed_at"),
)

# The in-memory windows and baselines, saved now and then and at shutdown.
checkpoint = Table(
    "checkpoint",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("data", LargeBinary, nullable=False),
    _ts("saved_at"),
)

outbox = outbox_table(metadata)
