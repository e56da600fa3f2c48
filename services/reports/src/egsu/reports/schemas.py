"""Requests and answers of the reports API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

KindName = Literal[
    "daily_electricity_balance",
    "daily_heat_supply",
    "monthly_consumption_generation",
    "data_quality",
    "emergency",
]
Level = Literal["local", "regional", "national"]
Format = Literal["xlsx", "pdf", "csv", "json"]
Language = Literal["ru", "kk", "en"]


class PeriodIn(BaseModel):
    model_config = {"extra": "forbid", "populate_by_name": True}
    start: date = Field(alias="from", description="first local day, YYYY-MM-DD")
    end: date = Field(alias="to", description="last local day, YYYY-MM-DD (inclusive)")


class ReportCreate(BaseModel):
    model_config = {"extra": "forbid"}
    kind: KindName
    level: Level
    scope: str | None = Field(
        None,
        max_length=64,
        description="BIN or facility id (local), KATO (regional); omitted for national",
    )
    period: PeriodIn
    format: Format = "xlsx"
    language: Language = "ru"


class ReportReissue(BaseModel):
    model_config = {"extra": "forbid"}
    format: Format | None = None
    language: Language | None = None


class ReportAccepted(BaseModel):
    id: str
    status: str


class ReportRead(BaseModel):
    id: str
    kind: str
    level: str
    scope: str | None
    period: dict[str, date]
    format: str
    language: str
    status: str
    origin: str
    title: str | None
    requested_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    size: int | None
    sha256: str | None
    inputs_sha256: str | None
    source_report_id: str | None
    trigger: dict[str, Any] | None
    summary: dict[str, Any] | None
    error: str | None
    download: str | None

    @classmethod
    def of(cls, r: dict[str, Any]) -> ReportRead:
        return cls(
            **{
                k: r[k]
                for k in (
                    "id",
                    "kind",
                    "level",
                    "scope",
                    "format",
                    "language",
                    "status",
                    "origin",
                    "title",
                    "requested_by",
                    "created_at",
                    "started_at",
                    "finished_at",
                    "size",
                    "sha256",
                    "inputs_sha256",
                    "source_report_id",
                    "trigger",
                    "summary",
                    "error",
                )
            },
            period={"from": r["period_from"], "to": r["period_to"]},
            download=f"/api/v1/reports/{r['id']}/download" if r["status"] == "done" else None,
        )


class RecommendationUpdate(BaseModel):
    model_config = {"extra": "forbid"}
    status: Literal["accepted", "rejected", "done"]
    reason: str | None = Field(None, max_length=2000, description="required when rejecting")


class RecommendationRead(BaseModel):
    id: str
    kind: str
    level: str
    scope: str | None
    target_type: str
    target_id: str
    target_name: str | None
    period: dict[str, date]
    status: str
    reason: str | None
    text: dict[str, str]
    numbers: dict[str, Any]
    report_id: str | None
    created_at: datetime
    updated_at: datetime
    updated_by: str | None

    @classmethod
    def of(cls, r: dict[str, Any]) -> RecommendationRead:
        return cls(
            **{
                k: r[k]
                for k in (
                    "id",
                    "kind",
                    "level",
                    "scope",
                    "target_type",
                    "target_id",
                    "target_name",
                    "status",
                    "reason",
                    "text",
                    "numbers",
                    "report_id",
                    "created_at",
                    "updated_at",
                    "updated_by",
                )
            },
            period={"from": r["period_from"], "to": r["period_to"]},
        )


class ScheduleRun(BaseModel):
    model_config = {"extra": "forbid"}
    period: PeriodIn | None = None


class OpenDataRegenerate(BaseModel):
    model_config = {"extra": "forbid", "populate_by_name": True}
    start: date = Field(alias="from")
    end: date = Field(alias="to")
