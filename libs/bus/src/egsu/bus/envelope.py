"""The typed envelope every message travels in, carried as NATS headers (CloudEvents binary mode).

The body is the event's own typed payload (or a compact batch); the envelope's attributes travel in
headers, so a consumer can route on them without decoding the body:

    ce-id           the event id, also the JetStream de-duplication id (Nats-Msg-Id)
    ce-type         what happened, e.g. egsu.registry.changed
    ce-source       the service that published it
    ce-time         when it happened (RFC 3339, UTC)
    ce-subject      the BIN of the subject the event is about, when there is one
    traceparent     the W3C trace context of the publishing request
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from opentelemetry import propagate
from pydantic import BaseModel, Field

from egsu.core.time import utcnow

MSG_ID = "Nats-Msg-Id"


class Envelope(BaseModel):
    """id, type, time, source, subject BIN and trace context of one message."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    type: str
    source: str
    time: datetime = Field(default_factory=utcnow)
    subject_bin: str | None = None
    traceparent: str | None = None

    def headers(self) -> dict[str, str]:
        out = {
            MSG_ID: self.id,
            "ce-specversion": "1.0",
            "ce-id": self.id,
            "ce-type": self.type,
            "ce-source": self.source,
            "ce-time": self.time.isoformat(),
        }
        if self.subject_bin:
            out["ce-subject"] = self.subject_bin
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        out.update(carrier)
        return out

    @classmethod
    def from_headers(cls, headers: Mapping[str, str], *, subject: str = "") -> Envelope:
        """The envelope of a received message (tolerant of messages published without one)."""
        return cls(
            id=headers.get("ce-id") or headers.get(MSG_ID) or uuid.uuid4().hex,
            type=headers.get("ce-type") or subject.rsplit(".", 1)[0],
            source=headers.get("ce-source") or "unknown",
            time=datetime.fromisoformat(headers["ce-time"]) if headers.get("ce-time") else utcnow(),
            subject_bin=headers.get("ce-subject"),
            traceparent=headers.get("traceparent"),
        )


def event_type(subject: str) -> str:
    """The event type of a subject: its name without the last token when that token is a qualifier."""
    parts = subject.split(".")
    return ".".join(parts[:3]) if len(parts) > 3 else subject
