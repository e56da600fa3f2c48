"""The typed envelope every event travels in."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Generic, TypeVar

from opentelemetry import propagate
from pydantic import BaseModel, Field

from egsu.core.time import utcnow

T = TypeVar("T")


class Envelope(BaseModel, Generic[T]):
    """id, type, time, source, subject BIN and trace context around a payload."""

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    type: str
    time: datetime = Field(default_factory=utcnow)
    source: str
    subject_bin: str | None = None
    traceparent: str | None = None
    data: T

    @classmethod
    def wrap(
        cls,
        type: str,
        source: str,
        data: Any,
        *,
        subject_bin: str | None = None,
        id: str | None = None,
    ) -> Envelope[Any]:
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        kw: dict[str, Any] = {
            "type": type,
            "source": source,
            "data": data,
            "subject_bin": subject_bin,
        }
        if id:
            kw["id"] = id
        return Envelope[Any](traceparent=carrier.get("traceparent"), **kw)
