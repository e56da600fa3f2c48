"""Registry request and response models, with the validation a user would expect."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from egsu.contracts.regions import REGIONS_BY_KATO
from egsu.contracts.vocabulary import UNITS, resolve_quantity
from egsu.core.time import utcnow
from egsu.registry.identifiers import bin_problem
from egsu.registry.vocab import (
    INTERVALS_MIN,
    ChecklistStatus,
    Commodity,
    DeviceStatus,
    DeviceType,
    FacilityType,
    LegalForm,
    Position,
    Status,
    SubjectKind,
    SystemKind,
)


def _bin(v: str) -> str:
    problem = bin_problem(v)
    if problem:
        raise ValueError(problem)
    return v


def _kato(v: str) -> str:
    if v not in REGIONS_BY_KATO:
        raise ValueError(
            f"unknown KATO code {v!r}; use a region's code such as 710000000 (Astana), see /api/v1/registry/regions"
        )
    return v


def _quantity(v: str) -> str:
    q = resolve_quantity(v)
    if q is None:
        raise ValueError(f"unknown quantity {v!r}; see the shared vocabulary of quantity codes")
    return q.code


Bin = Annotated[str, AfterValidator(_bin)]
Kato = Annotated[str, AfterValidator(_kato)]
QuantityCode = Annotated[str, AfterValidator(_quantity)]
PointCode = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$")]
Code80020 = Annotated[
    str,
    Field(
        pattern=r"^\d{15}$",
        description="the point's code in 80020 exchange files (15 digits, as issued in the market)",
        examples=["551010012345101"],
    ),
]
Channels80020 = Annotated[
    dict[Annotated[str, Field(pattern=r"^\d{2}$")], QuantityCode],
    Field(
        description="80020 channels that differ from the usual 01 active_import, 02 active_export, "
        "03 reactive_import, 04 reactive_export",
        examples=[{"01": "active_export", "02": "active_import"}],
    ),
]
Name = Annotated[str, Field(min_length=1, max_length=500)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Contacts(_In):
    phone: str | None = Field(None, max_length=64)
    email: str | None = Field(None, max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    person: str | None = Field(None, max_length=200)
    website: str | None = Field(None, max_length=200)


# --- subjects ---------------------------------------------------------------------------------


class SubjectCreate(_In):
    bin: Bin = Field(
        description="BIN of a legal entity or IIN of an individual entrepreneur (12 digits)"
    )
    name_ru: Name
    name_kk: Name
    name_en: str | None = Field(None, max_length=500)
    legal_form: LegalForm
    kind: SubjectKind
    region_kato: Kato
    address: str | None = Field(None, max_length=500)
    contacts: Contacts = Contacts()
    authorized_iins: list[Bin] = Field(
        [], description="IINs of people entitled to sign for the subject"
    )
    status: Status = Status.active


class SubjectUpdate(_In):
    name_ru: Name | None = None
    name_kk: Name | None = None
    name_en: str | None = Field(None, max_length=500)
    legal_form: LegalForm | None = None
    kind: SubjectKind | None = None
    region_kato: Kato | None = None
    address: str | None = Field(None, max_length=500)
    contacts: Contacts | None = None
    authorized_iins: list[Bin] | None = None
    status: Status | None = None


class SubjectRead(BaseModel):
    bin: str
    name_ru: str
    name_kk: str
    name_en: str | None
    legal_form: str
    kind: str
    region_kato: str
    address: str | None
    contacts: dict[str, Any]
    authorized_iins: list[str]
    status: str
    version: int
    created_at: datetime
    updated_at: datetime


# --- facilities -------------------------------------------------------------------------------


class FacilityCreate(_In):
    subject_bin: Bin
    name_ru: Name
    name_kk: Name
    type: FacilityType
    region_kato: Kato | None = Field(None, description="defaults to the owner's region")
    installed_electric_mw: float | None = Field(None, ge=0, le=10_000)
    installed_heat_gcal_h: float | None = Field(None, ge=0, le=20_000)
    voltage_kv: float | None = Field(None, gt=0, le=1150)
    latitude: float | None = Field(
        None, ge=40.5, le=55.5, description="Kazakhstan lies within 40.5–55.5° N"
    )
    longitude: float | None = Field(
        None, ge=46.4, le=87.4, description="Kazakhstan lies within 46.4–87.4° E"
    )
    criticality: int = Field(
        2, ge=1, le=3, description="1 high, 2 medium, 3 low (§31: reporting interval)"
    )
    feeder: str | None = Field(None, max_length=64)
    status: Status = Status.active
    commissioned_on: date | None = None


class FacilityUpdate(_In):
    name_ru: Name | None = None
    name_kk: Name | None = None
    type: FacilityType | None = None
    region_kato: Kato | None = None
    installed_electric_mw: float | None = Field(None, ge=0, le=10_000)
    installed_heat_gcal_h: float | None = Field(None, ge=0, le=20_000)
    voltage_kv: float | None = Field(None, gt=0, le=1150)
    latitude: float | None = Field(None, ge=40.5, le=55.5)
    longitude: float | None = Field(None, ge=46.4, le=87.4)
    criticality: int | None = Field(None, ge=1, le=3)
    feeder: str | None = Field(None, max_length=64)
    status: Status | None = None
    commissioned_on: date | None = None


class FacilityRead(BaseModel):
    id: str
    subject_bin: str
    name_ru: str
    name_kk: str
    type: str
    region_kato: str
    installed_electric_mw: float | None
    installed_heat_gcal_h: float | None
    voltage_kv: float | None
    latitude: float | None
    longitude: float | None
    criticality: int
    feeder: str | None
    status: str
    commissioned_on: date | None
    version: int
    created_at: datetime
    updated_at: datetime


# --- metering points --------------------------------------------------------------------------


class Norms(_In):
    """Limits that validation and alarms use; all optional."""

    daily_energy_kwh: float | None = Field(
        None, gt=0, description="consumption norm per day (§34.3)"
    )
    interval_energy_kwh: float | None = Field(
        None, gt=0, description="consumption norm per interval"
    )
    heat_daily_gcal: float | None = Field(None, gt=0)
    voltage_tolerance_pct: float = Field(
        10.0, gt=0, le=50, description="allowed deviation from nominal"
    )
    heat_balance_tolerance_pct: float = Field(3.0, gt=0, le=50)
    frequency_nominal_hz: float = Field(50.0, gt=0)


def _check_channels(quantities: list[str], channels: dict[str, str]) -> None:
    for channel, code in channels.items():
        if code not in quantities:
            raise ValueError(
                f"channels_80020.{channel}: {code} is not one of the point's quantities"
            )


def _check_units(quantities: list[str], units: dict[str, str]) -> None:
    for code, unit in units.items():
        q = resolve_quantity(code)
        if q is None or q.code not in quantities:
            raise ValueError(f"units.{code}: not one of the point's quantities")
        if unit not in UNITS[q.dimension]:
            known = ", ".join(UNITS[q.dimension])
            raise ValueError(
                f"units.{code}: unknown unit {unit!r} for {q.code}; use one of {known}"
            )


class MeteringPointCreate(_In):
    code: PointCode
    name: str | None = Field(None, max_length=300)
    facility_id: str
    subject_bin: Bin | None = Field(
        None, description="must match the facility's owner; defaults to it"
    )
    commodity: Commodity
    position: Position
    quantities: list[QuantityCode] = Field(min_length=1)
    units: dict[str, str] = Field(
        {}, description="unit the meter reports each quantity in, e.g. {'active_import': 'Wh'}"
    )
    interval_min: int = 15
    nominal_voltage: float | None = Field(None, gt=0, le=1_150_000, description="volts")
    rated_current: float | None = Field(None, gt=0, le=100_000, description="amperes")
    max_power_kw: float | None = Field(None, gt=0, le=10_000_000)
    register_digits: int | None = Field(
        None, ge=4, le=12, description="digits of the energy register (rollover)"
    )
    import_only: bool = False
    tariff_zones: int = Field(1, ge=1, le=4)
    norms: Norms = Norms()
    status: Status = Status.active
    code_80020: Code80020 | None = None
    channels_80020: Channels80020 = {}

    @model_validator(mode="after")
    def _consistent(self) -> MeteringPointCreate:
        if self.interval_min not in INTERVALS_MIN:
            raise ValueError(f"interval_min: must be one of {INTERVALS_MIN}")
        for code in self.quantities:
            q = resolve_quantity(code)
            assert q is not None
            if q.commodity != self.commodity:
                raise ValueError(
                    f"quantities: {code} is a {q.commodity} quantity, not {self.commodity}"
                )
        self.quantities = list(dict.fromkeys(self.quantities))
        _check_units(self.quantities, self.units)
        _check_channels(self.quantities, self.channels_80020)
        return self


class MeteringPointUpdate(_In):
    name: str | None = Field(None, max_length=300)
    position: Position | None = None
    quantities: list[QuantityCode] | None = None
    units: dict[str, str] | None = None
    interval_min: int | None = None
    nominal_voltage: float | None = Field(None, gt=0, le=1_150_000)
    rated_current: float | None = Field(None, gt=0, le=100_000)
    max_power_kw: float | None = Field(None, gt=0, le=10_000_000)
    register_digits: int | None = Field(None, ge=4, le=12)
    import_only: bool | None = None
    tariff_zones: int | None = Field(None, ge=1, le=4)
    norms: Norms | None = None
    status: Status | None = None
    code_80020: Code80020 | None = Field(None, description="null removes the point's 80020 code")
    channels_80020: Channels80020 | None = None

    @model_validator(mode="after")
    def _interval(self) -> MeteringPointUpdate:
        if self.interval_min is not None and self.interval_min not in INTERVALS_MIN:
            raise ValueError(f"interval_min: must be one of {INTERVALS_MIN}")
        return self


class MeteringPointRead(BaseModel):
    id: str
    code: str
    name: str | None
    facility_id: str
    subject_bin: str
    region_kato: str
    commodity: str
    position: str
    quantities: list[str]
    units: dict[str, str]
    interval_min: int
    nominal_voltage: float | None
    rated_current: float | None
    max_power_kw: float | None
    register_digits: int | None
    import_only: bool
    tariff_zones: int
    norms: dict[str, Any]
    status: str
    code_80020: str | None = None
    channels_80020: dict[str, str] = {}
    version: int
    created_at: datetime
    updated_at: datetime


# --- devices ----------------------------------------------------------------------------------


def _not_future(v: date | None) -> date | None:
    if v is not None and v > utcnow().date():
        raise ValueError("is in the future; give the date the last verification was actually done")
    return v


class DeviceCreate(_In):
    subject_bin: Bin | None = Field(None, description="defaults to the point's owner")
    point_id: str | None = Field(
        None, description="install at this metering point (replaces the current meter)"
    )
    type: DeviceType
    manufacturer: str | None = Field(None, max_length=200)
    model: Name
    serial_number: str = Field(min_length=1, max_length=64)
    state_register_no: str | None = Field(
        None, max_length=32, description="number in the State Register of measuring instruments"
    )
    verification_date: Annotated[date | None, AfterValidator(_not_future)] = None
    verification_interval_months: int | None = Field(None, ge=1, le=240)
    firmware_version: str | None = Field(None, max_length=64)
    status: DeviceStatus = DeviceStatus.active
    installed_at: datetime | None = None


class DeviceUpdate(_In):
    point_id: str | None = None
    manufacturer: str | None = Field(None, max_length=200)
    model: Name | None = None
    state_register_no: str | None = Field(None, max_length=32)
    verification_date: Annotated[date | None, AfterValidator(_not_future)] = None
    verification_interval_months: int | None = Field(None, ge=1, le=240)
    firmware_version: str | None = Field(None, max_length=64)
    status: DeviceStatus | None = None


class DeviceRead(BaseModel):
    id: str
    subject_bin: str
    point_id: str | None
    type: str
    manufacturer: str | None
    model: str
    serial_number: str
    state_register_no: str | None
    verification_date: date | None
    verification_interval_months: int | None
    next_verification_due: date | None
    firmware_version: str | None
    status: str
    installed_at: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime


class InstallationRead(BaseModel):
    device_id: str
    point_id: str
    installed_at: datetime
    removed_at: datetime | None


# --- systems ----------------------------------------------------------------------------------


class Channel(_In):
    role: Literal["main", "reserve"]
    medium: str = Field(max_length=64, description="fiber, gsm, vsat, radio, …")
    address: str | None = Field(None, max_length=200)


class ChecklistItem(_In):
    code: str = Field(max_length=16)
    title: str | None = Field(None, max_length=300)
    status: ChecklistStatus = ChecklistStatus.unknown
    note: str | None = Field(None, max_length=1000)


class SystemCreate(_In):
    subject_bin: Bin
    kind: SystemKind
    name: Name
    vendor: str | None = Field(None, max_length=200)
    protocol: str | None = Field(None, max_length=200)
    channels: list[Channel] = []
    checklist: list[ChecklistItem] | None = Field(
        None, description="defaults to the Rules' requirements, unknown"
    )
    facility_ids: list[str] = []
    status: Status = Status.active


class SystemUpdate(_In):
    name: Name | None = None
    vendor: str | None = Field(None, max_length=200)
    protocol: str | None = Field(None, max_length=200)
    channels: list[Channel] | None = None
    checklist: list[ChecklistItem] | None = None
    facility_ids: list[str] | None = None
    status: Status | None = None


class SystemRead(BaseModel):
    id: str
    subject_bin: str
    kind: str
    name: str
    vendor: str | None
    protocol: str | None
    channels: list[dict[str, Any]]
    checklist: list[dict[str, Any]]
    facility_ids: list[str]
    status: str
    version: int
    created_at: datetime
    updated_at: datetime


# --- documents --------------------------------------------------------------------------------

OwnerType = Literal["device", "system", "facility", "subject", "metering_point"]
DocType = Literal[
    "passport", "verification_certificate", "scheme", "manual", "act", "certificate", "other"
]


class DocumentRead(BaseModel):
    id: str
    subject_bin: str
    owner_type: str
    owner_id: str
    doc_type: str
    title: str
    filename: str
    content_type: str
    size: int
    sha256: str
    doc_version: int
    uploaded_by: str | None
    created_at: datetime


# --- obligations ------------------------------------------------------------------------------


class ObligationCreate(_In):
    subject_bin: Bin
    data_kind: Literal["readings", "events", "documents"] = "readings"
    facility_id: str | None = None
    point_codes: list[PointCode] = Field(
        [], description="empty: every point of the facility or subject"
    )
    quantities: list[QuantityCode] = Field([], description="empty: every quantity of the points")
    interval_min: int = 15
    deadline_min: int = Field(60, ge=0, le=7 * 1440, description="minutes after the interval ends")
    valid_from: date
    valid_to: date | None = None
    note: str | None = Field(None, max_length=1000)

    @model_validator(mode="after")
    def _check(self) -> ObligationCreate:
        if self.interval_min not in INTERVALS_MIN:
            raise ValueError(f"interval_min: must be one of {INTERVALS_MIN}")
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError("valid_to: is before valid_from")
        return self


class ObligationUpdate(_In):
    point_codes: list[PointCode] | None = None
    quantities: list[QuantityCode] | None = None
    interval_min: int | None = None
    deadline_min: int | None = Field(None, ge=0, le=7 * 1440)
    valid_to: date | None = None
    note: str | None = Field(None, max_length=1000)


class ObligationRead(BaseModel):
    id: str
    subject_bin: str
    data_kind: str
    facility_id: str | None
    point_codes: list[str]
    quantities: list[str]
    interval_min: int
    deadline_min: int
    valid_from: date
    valid_to: date | None
    note: str | None
    version: int
    created_at: datetime
    updated_at: datetime


# --- proposals --------------------------------------------------------------------------------


class ProposalRead(BaseModel):
    id: str
    subject_bin: str
    entity: str
    entity_id: str | None
    action: str
    payload: dict[str, Any]
    status: str
    proposed_by: str
    decided_by: str | None
    decided_at: datetime | None
    comment: str | None
    result_id: str | None
    created_at: datetime


class Decision(_In):
    comment: str | None = Field(None, max_length=1000)


class RegionRead(BaseModel):
    kato: str
    name_ru: str
    name_kk: str
    name_en: str
    kind: str


class Page(BaseModel):
    items: list[Any]
    next_cursor: str | None = None


def code_ok(code: str) -> bool:
    return re.match(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$", code) is not None


# --- integration clients ------------------------------------------------------------------------

ClientKind = Literal["subject", "government"]
AuthMethod = Literal["client_secret", "private_key_jwt"]
Certificate = Annotated[
    str,
    Field(
        min_length=100,
        max_length=64 * 1024,
        description="The NCA RK RSA certificate: PEM, or base64 of its DER",
    ),
]


class IntegrationClientCreate(_In):
    kind: ClientKind = Field(
        description="`subject`: an energy company's system; `government`: a state body's system"
    )
    name: str = Field(
        min_length=3, max_length=200, description="The system, e.g. «АСКУЭ Пирамида, ТЭЦ-3»"
    )
    subject_bin: Bin | None = Field(None, description="The subject (kind `subject`)")
    state_body: str | None = Field(
        None, min_length=3, max_length=300, description="The state body (kind `government`)"
    )
    legal_basis: str | None = Field(
        None,
        min_length=5,
        max_length=500,
        description="The law or order that entitles the body to the data (kind `government`)",
    )
    auth_method: AuthMethod = Field(
        "client_secret",
        description="`client_secret` (a secret shown once) or `private_key_jwt` (the subject's "
        "NCA RK RSA certificate signs an assertion, RFC 7523)",
    )
    certificate: Certificate | None = None

    @model_validator(mode="after")
    def _owner(self) -> IntegrationClientCreate:
        if self.kind == "subject":
            if not self.subject_bin:
                raise ValueError("subject_bin: a subject's client needs the subject's BIN")
            if self.state_body or self.legal_basis:
                raise ValueError("state_body: only a state body's client has one")
        else:
            if not self.state_body:
                raise ValueError("state_body: a state body's client needs the body's name")
            if not self.legal_basis:
                raise ValueError("legal_basis: a state body's client needs its legal basis")
            if self.subject_bin:
                raise ValueError("subject_bin: a state body's client has no subject")
            if self.auth_method == "private_key_jwt":
                raise ValueError(
                    "auth_method: private_key_jwt is for subjects' clients (the certificate's BIN)"
                )
        if self.auth_method == "private_key_jwt" and not self.certificate:
            raise ValueError("certificate: private_key_jwt needs the certificate")
        if self.auth_method == "client_secret" and self.certificate:
            raise ValueError("certificate: only with auth_method private_key_jwt")
        return self


class ClientCertificateSubmit(_In):
    certificate: Certificate


class ClientRevoke(_In):
    reason: str = Field(min_length=3, max_length=500, description="Why the client is revoked")


class ClientCertificateRead(BaseModel):
    serial: str
    subject: str
    issuer: str
    bin: str | None
    not_after: datetime
    sha256: str


class IntegrationClientRead(BaseModel):
    client_id: str
    kind: str
    name: str
    subject_bin: str | None
    state_body: str | None
    legal_basis: str | None
    auth_method: str
    certificate: ClientCertificateRead | None
    status: str
    created_by: str
    created_at: datetime
    rotated_at: datetime | None
    rotated_by: str | None
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None


class IntegrationClientIssued(IntegrationClientRead):
    client_secret: str | None = Field(
        None,
        description="The secret, shown this once (only its hash is kept); none for private_key_jwt",
    )
    token_endpoint: str = Field(description="Where the client gets its tokens")
    token_lifetime_seconds: int
