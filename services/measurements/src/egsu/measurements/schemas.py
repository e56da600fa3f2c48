"""Request and response models of corrections."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Reason codes of a correction, from the AEMO MDFF v2.6 Appendix E subset used nationally
# (number in brackets), with names for people.
REASONS: dict[str, tuple[int, str, str, str]] = {
    "other": (0, "Иная причина (см. комментарий)", "Басқа себеп (түсініктемені қараңыз)", "Other (see the comment)"),
    "meter_replaced": (1, "Замена прибора учёта", "Есепке алу аспабын ауыстыру", "Meter or equipment replaced"),
    "under_investigation": (9, "Проводится проверка", "Тексеру жүргізілуде", "Under investigation"),
    "register_decreased": (18, "Показание меньше предыдущего", "Көрсеткіш алдыңғысынан аз", "Read less than the previous one"),
    "data_correction": (24, "Исправление данных", "Деректерді түзету", "Data correction"),
    "ct_vt_fault": (28, "Неисправность ТТ/ТН", "ТТ/КТ ақаулығы", "CT/VT fault"),
    "reverse_energy": (39, "Обратный поток энергии", "Энергияның кері ағыны", "Reverse energy observed"),
    "power_outage": (43, "Отключение питания", "Қоректің ажыратылуы", "Power outage"),
    "failed_validation": (45, "Не прошло проверку достоверности", "Дұрыстығын тексеруден өтпеді", "Readings failed to validate"),
    "tampering": (61, "Вмешательство в работу прибора", "Аспаптың жұмысына араласу", "Equipment tampered with"),
    "zero_consumption": (68, "Нулевое потребление", "Нөлдік тұтыну", "Zero consumption"),
    "recalculated": (72, "Пересчёт по фактическим данным", "Нақты деректер бойынша қайта есептеу", "Recalculated from actual data"),
    "low_consumption": (73, "Заниженное потребление", "Төмендетілген тұтыну", "Low consumption"),
    "high_consumption": (74, "Завышенное потребление", "Жоғарылатылған тұтыну", "High consumption"),
    "communication_fault": (76, "Сбой связи", "Байланыс ақаулығы", "Communications fault"),
    "clock_reset": (89, "Коррекция времени прибора", "Аспап уақытын түзету", "Time reset occurred"),
    "wrong_multiplier": (100, "Неверный коэффициент трансформации", "Трансформация коэффициенті қате", "Incorrect meter multiplier"),
}  # fmt: skip
ReasonCode = Literal[
    "other",
    "meter_replaced",
    "under_investigation",
    "register_decreased",
    "data_correction",
    "ct_vt_fault",
    "reverse_energy",
    "power_outage",
    "failed_validation",
    "tampering",
    "zero_consumption",
    "recalculated",
    "low_consumption",
    "high_consumption",
    "communication_fault",
    "clock_reset",
    "wrong_multiplier",
]
assert set(REASONS) == set(ReasonCode.__args__)  # type: ignore[attr-defined]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, populate_by_name=True)


class CorrectionValue(_In):
    ts: datetime = Field(description="the reading's time (end of its interval), with its offset")
    value: float

    @field_validator("ts")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("give the time with its UTC offset, e.g. 2026-01-15T00:15:00+05:00")
        return v

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float) -> float:
        if not math.isfinite(v):
            raise ValueError("must be a finite number")
        return v


class CorrectionCreate(_In):
    point: str = Field(min_length=1, max_length=64, description="metering point code")
    quantity: str = Field(
        min_length=1, max_length=48, description="quantity code, e.g. active_import"
    )
    start: datetime = Field(alias="from", description="exclusive; ISO 8601 with offset")
    end: datetime = Field(alias="to", description="inclusive; ISO 8601 with offset")
    values: list[CorrectionValue] | None = Field(None, max_length=10_000)
    re_estimate: bool = False
    reason_code: ReasonCode
    comment: str = Field(min_length=3, max_length=2000)

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("give the time with its UTC offset, e.g. 2026-01-15T00:00:00+05:00")
        return v

    @model_validator(mode="after")
    def _one_mode(self) -> CorrectionCreate:
        if self.end <= self.start:
            raise ValueError("to: must be after from")
        if self.re_estimate and self.values:
            raise ValueError("values: give either values or re_estimate, not both")
        if not self.re_estimate and not self.values:
            raise ValueError("values: give the new values, or re_estimate: true")
        return self


class Decision(_In):
    comment: str | None = Field(None, max_length=2000)


class Rejection(_In):
    comment: str = Field(
        min_length=3, max_length=2000, description="why the correction is rejected"
    )


def reasons_list() -> list[dict[str, Any]]:
    return [
        {"code": k, "mdff": v[0], "title": {"ru": v[1], "kk": v[2], "en": v[3]}}
        for k, v in REASONS.items()
    ]
