"""The registry's tables (schema ``registry``)."""

from __future__ import annotations

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Computed,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR, UUID

from egsu.db import make_metadata
from egsu.runtime.outbox import outbox_table

SCHEMA = "registry"
metadata = make_metadata(SCHEMA)


def _ts(name: str) -> Column:  # type: ignore[type-arg]
    return Column(name, DateTime(timezone=True), nullable=False, server_default=func.now())


def _search(*cols: str) -> Column:  # type: ignore[type-arg]
    expr = " || ' ' || ".join(f"coalesce({c}, '')" for c in cols)
    return Column("search", TSVECTOR, Computed(f"to_tsvector('simple', {expr})", persisted=True))


subject = Table(
    "subject",
    metadata,
    Column("bin", String(12), primary_key=True),
    Column("name_ru", Text, nullable=False),
    Column("name_kk", Text, nullable=False),
    Column("name_en", Text),
    Column("legal_form", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("region_kato", String(9), nullable=False),
    Column("address", Text),
    Column("contacts", JSONB, nullable=False, server_default="{}"),
    Column("authorized_iins", ARRAY(String(12)), nullable=False, server_default="{}"),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("version", Integer, nullable=False, server_default="1"),
    _ts("created_at"),
    _ts("updated_at"),
    _search("bin", "name_ru", "name_kk", "name_en"),
    Index(None, "search", postgresql_using="gin"),
    Index(None, "region_kato"),
)

facility = Table(
    "facility",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("subject_bin", String(12), ForeignKey("subject.bin"), nullable=False),
    Column("name_ru", Text, nullable=False),
    Column("name_kk", Text, nullable=False),
    Column("type", String(32), nullable=False),
    Column("region_kato", String(9), nullable=False),
    Column("installed_electric_mw", Double),
    Column("installed_heat_gcal_h", Double),
    Column("voltage_kv", Double),
    Column("latitude", Double),
    Column("longitude", Double),
    Column("criticality", Integer, nullable=False, server_default="2"),
    Column("feeder", String(64)),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("commissioned_on", Date),
    Column("version", Integer, nullable=False, server_default="1"),
    _ts("created_at"),
    _ts("updated_at"),
    _search("name_ru", "name_kk"),
    CheckConstraint("criticality BETWEEN 1 AND 3", name="criticality"),
    Index(None, "subject_bin"),
    Index(None, "region_kato"),
    Index(None, "search", postgresql_using="gin"),
)

metering_point = Table(
    "metering_point",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("code", String(64), nullable=False, unique=True),
    Column("name", Text),
    Column("facility_id", UUID(as_uuid=False), ForeignKey("facility.id"), nullable=False),
    Column("subject_bin", String(12), ForeignKey("subject.bin"), nullable=False),
    Column("region_kato", String(9), nullable=False),
    Column("commodity", String(16), nullable=False),
    Column("position", String(16), nullable=False),
    Column("quantities", ARRAY(String(48)), nullable=False),
    Column("units", JSONB, nullable=False, server_default="{}"),
    Column("interval_min", Integer, nullable=False, server_default="15"),
    Column("nominal_voltage", Double),
    Column("rated_current", Double),
    Column("max_power_kw", Double),
    Column("register_digits", Integer),
    Column("import_only", Boolean, nullable=False, server_default="false"),
    Column("tariff_zones", Integer, nullable=False, server_default="1"),
    Column("norms", JSONB, nullable=False, server_default="{}"),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("version", Integer, nullable=False, server_default="1"),
    # the point in 80020 exchange files: its market code and its own channel map
    Column("code_80020", String(15)),
    Column("channels_80020", JSONB, nullable=False, server_default="{}"),
    _ts("created_at"),
    _ts("updated_at"),
    _search("code", "name"),
    Index(None, "facility_id"),
    Index(None, "subject_bin"),
    Index(None, "search", postgresql_using="gin"),
    Index(None, "code_80020", unique=True),
)

device = Table(
    "device",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("subject_bin", String(12), ForeignKey("subject.bin"), nullable=False),
    Column("point_id", UUID(as_uuid=False), ForeignKey("metering_point.id")),
    Column("type", String(32), nullable=False),
    Column("manufacturer", Text),
    Column("model", Text, nullable=False),
    Column("serial_number", String(64), nullable=False),
    Column("state_register_no", String(32)),
    Column("verification_date", Date),
    Column("verification_interval_months", Integer),
    Column("next_verification_due", Date),
    Column("verification_notified_for", Date),
    Column("firmware_version", String(64)),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("installed_at", DateTime(timezone=True)),
    Column("version", Integer, nullable=False, server_default="1"),
    _ts("created_at"),
    _ts("updated_at"),
    _search("model", "manufacturer", "serial_number"),
    Index(None, "point_id"),
    Index(None, "subject_bin"),
    Index(None, "next_verification_due"),
    Index(None, "search", postgresql_using="gin"),
)

device_installation = Table(
    "device_installation",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("device_id", UUID(as_uuid=False), ForeignKey("device.id"), nullable=False),
    Column("point_id", UUID(as_uuid=False), ForeignKey("metering_point.id"), nullable=False),
    Column("installed_at", DateTime(timezone=True), nullable=False),
    Column("removed_at", DateTime(timezone=True)),
    Index(None, "point_id", "installed_at"),
)

system = Table(
    "system",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("subject_bin", String(12), ForeignKey("subject.bin"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("name", Text, nullable=False),
    Column("vendor", Text),
    Column("protocol", Text),
    Column("channels", JSONB, nullable=False, server_default="[]"),
    Column("checklist", JSONB, nullable=False, server_default="[]"),
    Column("facility_ids", ARRAY(UUID(as_uuid=False)), nullable=False, server_default="{}"),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("version", Integer, nullable=False, server_default="1"),
    _ts("created_at"),
    _ts("updated_at"),
    _search("name", "vendor"),
    Index(None, "subject_bin"),
)

document = Table(
    "document",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("subject_bin", String(12), ForeignKey("subject.bin"), nullable=False),
    Column("owner_type", String(16), nullable=False),
    Column("owner_id", String(64), nullable=False),
    Column("doc_type", String(32), nullable=False),
    Column("title", Text, nullable=False),
    Column("filename", Text, nullable=False),
    Column("content_type", Text, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("doc_version", Integer, nullable=False),
    Column("object_key", Text, nullable=False),
    Column("uploaded_by", Text),
    _ts("created_at"),
    _search("title", "filename"),
    Index(None, "owner_type", "owner_id"),
    Index(None, "subject_bin"),
)

obligation = Table(
    "obligation",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("subject_bin", String(12), ForeignKey("subject.bin"), nullable=False),
    Column("data_kind", String(16), nullable=False),
    Column("facility_id", UUID(as_uuid=False), ForeignKey("facility.id")),
    Column("point_codes", ARRAY(String(64)), nullable=False, server_default="{}"),
    Column("quantities", ARRAY(String(48)), nullable=False, server_default="{}"),
    Column("interval_min", Integer, nullable=False, server_default="15"),
    Column("deadline_min", Integer, nullable=False, server_default="60"),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date),
    Column("note", Text),
    Column("version", Integer, nullable=False, server_default="1"),
    _ts("created_at"),
    _ts("updated_at"),
    Column(
        "search", TSVECTOR, Computed("to_tsvector('simple', coalesce(note, ''))", persisted=True)
    ),
    Index(None, "subject_bin"),
)

proposal = Table(
    "proposal",
    metadata,
    Column("id", UUID(as_uuid=False), primary_key=True),
    Column("subject_bin", String(12), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("entity_id", String(64)),
    Column("action", String(16), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),
    Column("proposed_by", Text, nullable=False),
    Column("decided_by", Text),
    Column("decided_at", DateTime(timezone=True)),
    Column("comment", Text),
    Column("result_id", String(64)),
    _ts("created_at"),
    Index(None, "status"),
    Index(None, "subject_bin"),
)

# Integration clients (machine access for a subject's systems or a state body's information system).
# The client itself (credentials, roles, claims) lives in the realm (Keycloak); this is what the
# realm does not hold: whose it is, on what basis, who made it, and its life cycle.
integration_client = Table(
    "integration_client",
    metadata,
    Column("client_id", String(64), primary_key=True),
    Column("idp_id", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("subject_bin", String(12), ForeignKey("subject.bin")),
    Column("state_body", Text),
    Column("legal_basis", Text),
    Column("name", Text, nullable=False),
    Column("auth_method", String(32), nullable=False),
    Column("secret_sha256", String(64)),
    Column("certificate", JSONB),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("created_by", Text, nullable=False),
    Column("rotated_at", DateTime(timezone=True)),
    Column("rotated_by", Text),
    Column("revoked_at", DateTime(timezone=True)),
    Column("revoked_by", Text),
    Column("revoke_reason", Text),
    Column("version", Integer, nullable=False, server_default="1"),
    _ts("created_at"),
    _ts("updated_at"),
    _search("client_id", "name", "state_body"),
    CheckConstraint("kind IN ('subject', 'government')", name="kind"),
    CheckConstraint(
        "(kind = 'subject' AND subject_bin IS NOT NULL AND state_body IS NULL)"
        " OR (kind = 'government' AND subject_bin IS NULL AND state_body IS NOT NULL"
        " AND legal_basis IS NOT NULL)",
        name="owner",
    ),
    Index(None, "subject_bin"),
    Index(None, "search", postgresql_using="gin"),
)

# Where the import of the realm's login events into the audit journal has got to (one row).
idp_event_cursor = Table(
    "idp_event_cursor",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("time_ms", BigInteger, nullable=False),
    Column("ids_at_time", ARRAY(Text), nullable=False, server_default="{}"),
)

outbox = outbox_table(metadata)
