"""The journal's tables (created by the migrations; ``entry`` is partitioned by month)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, LargeBinary, SmallInteger, Table, Text
from sqlalchemy.dialects.postgresql import TIMESTAMP

from egsu.db import make_metadata

metadata = make_metadata("audit")
TZ = TIMESTAMP(timezone=True)

entry = Table(
    "entry",
    metadata,
    Column("seq", BigInteger, nullable=False),
    Column("recorded_at", TZ, nullable=False),
    Column("event_id", Text, nullable=False),
    Column("occurred_at", TZ, nullable=False),
    Column("kind", Text, nullable=False),
    Column("service", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("actor_user_id", Text),
    Column("actor_username", Text),
    Column("actor_role", Text),
    Column("actor_roles", Text),
    Column("subject_bin", Text),
    Column("client_id", Text),
    Column("object_type", Text),
    Column("object_id", Text),
    Column("request_id", Text),
    Column("source_ip", Text),
    Column("before", Text),
    Column("after", Text),
    Column("details", Text),
    Column("prev_hash", LargeBinary, nullable=False),
    Column("hash", LargeBinary, nullable=False),
)

chain_head = Table(
    "chain_head",
    metadata,
    Column("id", SmallInteger, primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("hash", LargeBinary, nullable=False),
    Column("recorded_at", TZ),
)

checkpoint = Table(
    "checkpoint",
    metadata,
    Column("no", BigInteger, primary_key=True),
    Column("first_seq", BigInteger, nullable=False),
    Column("last_seq", BigInteger, nullable=False),
    Column("month", Date, nullable=False),
    Column("root", LargeBinary, nullable=False),
    Column("last_hash", LargeBinary, nullable=False),
    Column("created_at", TZ, nullable=False),
    Column("object_key", Text, nullable=False),
    Column("document", Text, nullable=False),
)

archive = Table(
    "archive",
    metadata,
    Column("month", Date, primary_key=True),
    Column("first_seq", BigInteger),
    Column("last_seq", BigInteger),
    Column("entries", BigInteger, nullable=False),
    Column("last_hash", LargeBinary),
    Column("manifest_key", Text, nullable=False),
    Column("archived_at", TZ, nullable=False),
)
