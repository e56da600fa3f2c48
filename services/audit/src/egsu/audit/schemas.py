"""The audit API's response models."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


class ActorRead(BaseModel):
    user_id: str | None
    username: str | None
    role: str | None
    roles: list[str]
    subject_bin: str | None
    client_id: str | None


class ObjectRead(BaseModel):
    type: str | None
    id: str | None


class EntryRead(BaseModel):
    """One journal entry: the audit event, its place in the chain and its hashes."""

    seq: int
    id: str
    time: str
    recorded_at: str
    kind: str
    service: str
    action: str
    outcome: str
    actor: ActorRead
    object: ObjectRead
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    details: dict[str, Any]
    request_id: str | None
    source_ip: str | None
    prev_hash: str
    hash: str


class EntryPage(BaseModel):
    items: list[EntryRead]
    next_cursor: str | None


class FailureRead(BaseModel):
    seq: int
    reason: str
    detail: str
    entry_id: str | None
    checkpoint: int | None
    messages: dict[str, str]


class VerifyRead(BaseModel):
    """``ok``, or the first entry that does not match and why."""

    status: str
    first_seq: int | None
    last_seq: int | None
    entries: int
    checkpoints: int
    unchecked_entries: int
    failure: FailureRead | None


class PublicKeyRead(BaseModel):
    algorithm: str
    key_id: str
    public_key: str
