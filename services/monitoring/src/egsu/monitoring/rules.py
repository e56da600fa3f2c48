"""Alarm rules as data: kinds, their parameters, scopes, the built-in set, and which rules apply
to which object.

A rule's ``family`` lets a narrower rule replace a wider one: among the enabled rules of one family
that apply to a point, only the most specific scope counts (point > facility > subject > facility
type > region > everything). Rules without a family all apply.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from egsu.contracts.vocabulary import QUANTITIES
from egsu.monitoring.directory import PointInfo

Kind = Literal[
    "threshold",
    "band",
    "rate_of_change",
    "above_norm",
    "anomaly",
    "event",
    "comm_loss",
    "system_comm_loss",
    "verification_overdue",
    "submission_overdue",
]
KINDS: tuple[str, ...] = Kind.__args__  # type: ignore[attr-defined]
VALUE_KINDS = frozenset({"threshold", "band", "rate_of_change", "above_norm", "anomaly"})
ScopeType = Literal["all", "region", "facility_type", "subject", "facility", "point"]
SPECIFICITY = {"all": 0, "region": 1, "facility_type": 2, "subject": 3, "facility": 4, "point": 5}
Category = Literal["process", "equipment", "security", "communication", "metrology", "compliance"]
Severity = Literal["critical", "major", "minor", "warning"]
OBJECT_OF_KIND = {
    "system_comm_loss": "system",
    "verification_overdue": "device",
    "submission_overdue": "subject",
}
VOLTAGES = ["voltage_l1", "voltage_l2", "voltage_l3"]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ThresholdParams(_Params):
    above: float | None = Field(None, description="alarm when the value is above this")
    below: float | None = Field(None, description="alarm when the value is below this")
    for_intervals: int = Field(1, ge=1, le=96, description="only after N consecutive intervals")

    @model_validator(mode="after")
    def _one(self) -> ThresholdParams:
        if self.above is None and self.below is None:
            raise ValueError("above: give above, below or both")
        if self.above is not None and self.below is not None and self.below >= self.above:
            raise ValueError("below: must be less than above")
        return self


class BandParams(_Params):
    reference: Literal["nominal_voltage", "frequency_nominal"] | float = Field(
        "nominal_voltage", description="the nominal value, or where to find it"
    )
    tolerance_pct: float | None = Field(
        None, gt=0, le=50, description="allowed deviation; default: the point's norms"
    )
    side: Literal["low", "high", "both"] = "both"
    interruption_pct: float = Field(
        5.0, ge=0, lt=50, description="below this share of nominal it is an interruption, not a sag"
    )
    for_intervals: int = Field(1, ge=1, le=96)


class RateParams(_Params):
    max_delta: float | None = Field(None, gt=0, description="largest change per interval")
    max_delta_pct: float | None = Field(None, gt=0, description="largest change, % of previous")

    @model_validator(mode="after")
    def _one(self) -> RateParams:
        if self.max_delta is None and self.max_delta_pct is None:
            raise ValueError("max_delta: give max_delta or max_delta_pct")
        return self


class NormParams(_Params):
    period: Literal["interval", "day"] = "day"
    norm: float | None = Field(None, gt=0, description="default: the point's norms")
    margin_pct: float = Field(0.0, ge=0, le=500)


class AnomalyParams(_Params):
    k: float = Field(4.0, gt=0, le=50, description="band in robust standard deviations")
    min_rel: float = Field(0.15, ge=0, le=10, description="smallest band, share of expected")
    for_intervals: int = Field(3, ge=1, le=96)
    direction: Literal["low", "high", "both"] = "both"


class EventParams(_Params):
    codes: list[str] = Field(default_factory=list, max_length=100)
    clear_codes: list[str] = Field(default_factory=list, max_length=100)
    sender_severities: list[str] = Field(
        default_factory=list, max_length=10, description="also pass through events so marked"
    )
    momentary: bool = Field(False, description="the alarm clears at once (needs acknowledgement)")

    @model_validator(mode="after")
    def _some(self) -> EventParams:
        if not self.codes and not self.sender_severities:
            raise ValueError("codes: give event codes or sender_severities")
        return self


class SystemParams(_Params):
    min_share: float = Field(1.0, gt=0, le=1, description="share of the system's points silent")


class NoParams(_Params):
    pass


PARAMS: dict[str, type[_Params]] = {
    "threshold": ThresholdParams,
    "band": BandParams,
    "rate_of_change": RateParams,
    "above_norm": NormParams,
    "anomaly": AnomalyParams,
    "event": EventParams,
    "comm_loss": NoParams,
    "system_comm_loss": SystemParams,
    "verification_overdue": NoParams,
    "submission_overdue": NoParams,
}


class RuleBody(BaseModel):
    """What defines a rule (create; every field of an update is optional)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300)
    kind: Kind
    family: str | None = Field(None, max_length=64, pattern=r"^[a-z0-9_.-]+$")
    category: Category
    severity: Severity
    scope_type: ScopeType = "all"
    scope_value: str | None = Field(None, max_length=64)
    quantities: list[str] = Field(default_factory=list, max_length=40)
    params: dict[str, Any] = Field(default_factory=dict)
    hold_s: float | None = Field(None, ge=0, le=86400 * 7)
    enabled: bool = True

    @model_validator(mode="after")
    def _check(self) -> RuleBody:
        if self.scope_type == "all":
            if self.scope_value is not None:
                raise ValueError("scope_value: must be empty for scope_type all")
        elif not self.scope_value:
            raise ValueError(f"scope_value: required for scope_type {self.scope_type}")
        for i, q in enumerate(self.quantities):
            if q not in QUANTITIES:
                raise ValueError(f"quantities[{i}]: unknown quantity {q!r}")
        if self.kind in VALUE_KINDS and not self.quantities and self.kind != "above_norm":
            raise ValueError(f"quantities: a {self.kind} rule needs at least one quantity")
        try:
            parsed = PARAMS[self.kind].model_validate(self.params)
        except ValueError as exc:
            errs = getattr(exc, "errors", lambda: [])()
            if errs:
                e = errs[0]
                loc = ".".join(str(x) for x in e.get("loc", ()))
                msg = str(e.get("msg", "invalid")).removeprefix("Value error, ")
                if ": " in msg and not loc:
                    raise ValueError(f"params.{msg}") from None
                raise ValueError(f"params{'.' + loc if loc else ''}: {msg}") from None
            raise
        self.params = parsed.model_dump(exclude_none=False)
        return self


@dataclass
class Rule:
    id: str
    name: str
    kind: str
    family: str | None
    category: str
    severity: str
    scope_type: str
    scope_value: str | None
    quantities: list[str]
    params: dict[str, Any]
    hold_s: float | None
    enabled: bool
    version: int
    builtin: bool = False
    parsed: Any = field(default=None, repr=False)

    @classmethod
    def of(cls, row: dict[str, Any]) -> Rule:
        r = cls(
            id=str(row["id"]),
            name=row["name"],
            kind=row["kind"],
            family=row["family"],
            category=row["category"],
            severity=row["severity"],
            scope_type=row["scope_type"],
            scope_value=row["scope_value"],
            quantities=list(row["quantities"] or []),
            params=dict(row["params"] or {}),
            hold_s=row["hold_s"],
            enabled=row["enabled"],
            version=row["version"],
            builtin=row.get("builtin", False),
        )
        r.parsed = PARAMS[r.kind].model_validate(r.params)
        return r

    def matches_scope(self, p: PointInfo) -> bool:
        v = self.scope_value
        return {
            "all": True,
            "region": p.region_kato == v,
            "facility_type": p.facility_type == v,
            "subject": p.subject_bin == v,
            "facility": p.facility_id == v,
            "point": p.code == v,
        }[self.scope_type]

    def matches_subject(self, subject_bin: str, region_kato: str | None) -> bool:
        """Scope test for objects above points (systems, subjects): the narrow scopes don't apply."""
        if self.scope_type == "all":
            return True
        if self.scope_type == "subject":
            return self.scope_value == subject_bin
        if self.scope_type == "region":
            return region_kato is not None and self.scope_value == region_kato
        return False


class RuleSet:
    """The enabled rules, with a cache of which ones apply to each point."""

    def __init__(self, rules: list[Rule]) -> None:
        self.rules = [r for r in rules if r.enabled]
        self.by_id = {r.id: r for r in rules}
        self.by_kind: dict[str, list[Rule]] = {}
        for r in self.rules:
            self.by_kind.setdefault(r.kind, []).append(r)
        self._cache: dict[tuple[str, int], list[Rule]] = {}

    def for_point(self, p: PointInfo, directory_version: int) -> list[Rule]:
        key = (p.code, directory_version)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        best: dict[str, Rule] = {}
        out: list[Rule] = []
        for r in self.rules:
            if r.kind in OBJECT_OF_KIND or not r.matches_scope(p):
                continue
            if r.family is None:
                out.append(r)
                continue
            cur = best.get(r.family)
            if cur is None or SPECIFICITY[r.scope_type] > SPECIFICITY[cur.scope_type]:
                best[r.family] = r
        out.extend(best.values())
        if len(self._cache) > 500_000:
            self._cache.clear()
        self._cache[key] = out
        return out

    def of_kind(self, kind: str) -> list[Rule]:
        return self.by_kind.get(kind, [])


def builtin_id(family: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"egsu:monitoring:rule:{family}"))


def _b(
    family: str,
    name: str,
    kind: str,
    category: str,
    severity: str,
    quantities: list[str] | None = None,
    **params: Any,
) -> dict[str, Any]:
    body = RuleBody(
        name=name,
        kind=kind,  # type: ignore[arg-type]
        family=family,
        category=category,  # type: ignore[arg-type]
        severity=severity,  # type: ignore[arg-type]
        quantities=quantities or [],
        params=params,
    )
    return {"id": builtin_id(family), "builtin": True, **body.model_dump()}


BUILTIN: list[dict[str, Any]] = [
    _b("voltage_sag", "Voltage sag (below nominal − tolerance)", "band", "process", "critical",
       VOLTAGES, side="low"),
    _b("voltage_swell", "Voltage swell (above nominal + tolerance)", "band", "process", "major",
       VOLTAGES, side="high"),
    _b("frequency", "Frequency outside 50 Hz ± 0.4 %", "band", "process", "major", ["frequency"],
       reference="frequency_nominal", tolerance_pct=0.4),
    _b("above_norm_day", "Consumption above the daily norm", "above_norm", "process", "major",
       ["active_import", "heat_energy"], period="day"),
    # heat demand follows the weather, which the seasonal baseline does not know: a cold spell
    # would make every heat point "anomalous"; add a rule for heat where a flat load is expected
    _b("anomaly", "Deviation from the point's seasonal baseline", "anomaly", "equipment", "minor",
       ["active_import", "active_export"]),
    _b("cover_opened", "Meter cover opened", "event", "security", "major", codes=["cover_opened"],
       clear_codes=["cover_closed"]),
    _b("magnetic_field", "Magnetic field on the meter", "event", "security", "major",
       codes=["magnetic_field"], clear_codes=["magnetic_field_end"]),
    _b("power_loss", "Meter power loss", "event", "equipment", "major", codes=["power_loss"],
       clear_codes=["power_restored"]),
    _b("clock_set", "Meter clock set", "event", "security", "warning", codes=["clock_set"],
       momentary=True),
    _b("scada_emergency", "SCADA emergency event", "event", "equipment", "critical",
       codes=["equipment_trip", "protection_trip", "emergency_shutdown"],
       sender_severities=["emergency", "critical"], momentary=True),
    _b("comm_loss", "Point not reporting", "comm_loss", "communication", "major"),
    _b("system_comm_loss", "Whole system not reporting", "system_comm_loss", "communication",
       "critical"),
    _b("verification_overdue", "Metrological verification overdue", "verification_overdue",
       "metrology", "minor"),
    _b("submission_overdue", "Subject's data overdue", "submission_overdue", "compliance", "minor"),
]  # fmt: skip
