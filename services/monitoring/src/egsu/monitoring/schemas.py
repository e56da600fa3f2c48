"""Request and response shapes of monitoring's API."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, model_validator

from egsu.contracts.alarms import SEVERITIES


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Comment(_In):
    comment: str | None = Field(None, max_length=2000)


class CommentRequired(_In):
    comment: str = Field(min_length=1, max_length=2000)


class Shelve(_In):
    until: datetime | None = Field(None, description="when the shelf ends (ISO 8601 with offset)")
    minutes: int | None = Field(None, ge=1, le=43200, description="or: for how long")
    comment: str | None = Field(None, max_length=2000)

    @model_validator(mode="after")
    def _one(self) -> Shelve:
        if (self.until is None) == (self.minutes is None):
            raise ValueError("until: give until or minutes")
        if self.until is not None and self.until.tzinfo is None:
            raise ValueError("until: give the time with its UTC offset")
        return self


class Sweep(_In):
    at: datetime | None = Field(None, description="evaluate as of this time (default: now)")
    subject_bin: str | None = Field(None, pattern=r"^\d{12}$")

    @model_validator(mode="after")
    def _tz(self) -> Sweep:
        if self.at is not None and self.at.tzinfo is None:
            raise ValueError("at: give the time with its UTC offset")
        return self


class ClockSet(_In):
    at: datetime | None = Field(None, description="the moment to run at; null: wall time")

    @model_validator(mode="after")
    def _tz(self) -> ClockSet:
        if self.at is not None and self.at.tzinfo is None:
            raise ValueError("at: give the time with its UTC offset")
        return self


class RuleUpdate(_In):
    name: str | None = Field(None, min_length=1, max_length=300)
    family: str | None = Field(None, max_length=64, pattern=r"^[a-z0-9_.-]+$")
    category: (
        Literal["process", "equipment", "security", "communication", "metrology", "compliance"]
        | None
    ) = None
    severity: Literal["critical", "major", "minor", "warning"] | None = None
    scope_type: Literal["all", "region", "facility_type", "subject", "facility", "point"] | None = (
        None
    )
    scope_value: str | None = Field(None, max_length=64)
    quantities: list[str] | None = None
    params: dict[str, Any] | None = None
    hold_s: float | None = Field(None, ge=0, le=86400 * 7)
    enabled: bool | None = None
    version: int | None = Field(None, description="the version you changed (optimistic lock)")
    comment: str | None = Field(None, max_length=2000)


class WebhookFilter(_In):
    severities: list[Literal["critical", "major", "minor", "warning"]] = []
    event_types: list[str] = Field(default_factory=list, max_length=20)
    kinds: list[str] = Field(default_factory=list, max_length=20)
    categories: list[str] = Field(default_factory=list, max_length=10)
    subject_bins: list[str] = Field(default_factory=list, max_length=1000)
    region_katos: list[str] = Field(default_factory=list, max_length=30)


class WebhookCreate(_In):
    name: str = Field(min_length=1, max_length=200)
    url: AnyHttpUrl
    secret: str | None = Field(
        None, min_length=16, max_length=200, description="default: generated and shown once"
    )
    filter: WebhookFilter = WebhookFilter()
    enabled: bool = True


class WebhookUpdate(_In):
    name: str | None = Field(None, min_length=1, max_length=200)
    url: AnyHttpUrl | None = None
    secret: str | None = Field(None, min_length=16, max_length=200)
    filter: WebhookFilter | None = None
    enabled: bool | None = None


SEVERITY_ORDER = {s: i for i, s in enumerate(SEVERITIES)}
