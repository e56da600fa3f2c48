"""Fixtures of the audit journal's tests: a fresh database per test, a bucket prefix, a key."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from egsu.audit.checkpoints import Checkpointer
from egsu.audit.config import AuditSettings
from egsu.audit.journal import Journal
from egsu.audit.signing import Keyring, SigningKey
from egsu.contracts.audit import Actor, AuditEvent, AuditObject
from egsu.core.time import utcnow
from egsu.db.migrations import upgrade
from egsu.infra import InfraUrls
from egsu.storage import ObjectStore

# The System started by the `stack` fixture checkpoints every second, so proofs are there at once.
# (Conftests are read at collection, before any session fixture starts the System.)
os.environ.setdefault("EGSU_AUDIT_CHECKPOINT_SECONDS", "1")

MIGRATIONS = Path(__file__).parents[1] / "src" / "egsu" / "audit" / "migrations"


class Clock:
    """A settable clock for retention tests (defaults to the real time)."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def __call__(self) -> datetime:
        return self.at or utcnow()


@dataclass
class Setup:
    url: str
    conn: asyncpg.Connection
    store: ObjectStore
    key: SigningKey
    settings: AuditSettings
    clock: Clock = field(default_factory=Clock)

    @property
    def keyring(self) -> Keyring:
        return Keyring.of(self.key.public)

    @property
    def journal(self) -> Journal:
        return Journal(self.conn, clock=self.clock)

    def checkpointer(self, **kw: Any) -> Checkpointer:
        kw.setdefault("min_age", timedelta(0))
        return Checkpointer(self.conn, self.store, self.key, clock=self.clock, **kw)


def event(**kw: Any) -> AuditEvent:
    """An audit event as a service would emit it."""
    actor = kw.pop("actor", None) or Actor(
        user_id="u-1", username="operator", role="operator", roles=["operator"]
    )
    obj = AuditObject(
        type=kw.pop("object_type", "http"), id=kw.pop("object_id", "/api/v1/registry/regions")
    )
    base: dict[str, Any] = {
        "time": utcnow(),
        "kind": "access",
        "service": "gateway",
        "action": "GET /api/v1/registry/regions",
        "actor": actor,
        "object": obj,
        "request_id": uuid.uuid4().hex,
        "source_ip": "127.0.0.1",
        "details": {"status": 200, "duration_ms": 1.5},
    }
    return AuditEvent(**(base | kw))


@pytest.fixture
def make_event() -> Callable[..., AuditEvent]:
    return event


@pytest.fixture
async def setup(infra: InfraUrls, tmp_path: Path) -> AsyncIterator[Setup]:
    """A fresh, migrated database for one journal, its own buckets and its own key."""
    name = f"audit_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(infra.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(infra.database_url).set(database=name).render_as_string(hide_password=False)
    await upgrade(url, MIGRATIONS, "audit")
    settings = AuditSettings(s3_bucket_prefix=f"{name.replace('_', '-')}-", var_dir=tmp_path)
    store = ObjectStore(settings)
    await store.ensure_buckets(["audit"])
    conn = await asyncpg.connect(url)
    try:
        yield Setup(url, conn, store, SigningKey.load_or_create(tmp_path / "key.pem"), settings)
    finally:
        await conn.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
