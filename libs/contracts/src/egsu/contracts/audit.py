"""The audit event every service emits (``egsu.audit.<kind>``) and the journal stores."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

AuditKind = Literal["access", "auth", "change", "control", "security", "abnormal"]
AUDIT_KINDS: tuple[str, ...] = ("access", "auth", "change", "control", "security", "abnormal")
Outcome = Literal["success", "failure", "denied"]


class Actor(BaseModel):
    user_id: str | None = None
    username: str | None = None
    role: str | None = None
    roles: list[str] = []
    subject_bin: str | None = None
    client_id: str | None = None


class AuditObject(BaseModel):
    type: str | None = None
    id: str | None = None


class AuditEvent(BaseModel):
    """One auditable event; never carries a request body or a secret."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    time: datetime
    kind: AuditKind
    service: str
    action: str
    outcome: Outcome = "success"
    actor: Actor = Actor()
    object: AuditObject = AuditObject()
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    request_id: str | None = None
    source_ip: str | None = None
    details: dict[str, Any] = {}
