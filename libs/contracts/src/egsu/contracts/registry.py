"""What the registry tells other services: change events and the compact metering-point index."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

Entity = Literal[
    "subject", "facility", "metering_point", "device", "system", "document", "obligation"
]


class RegistryChanged(BaseModel):
    """Published on ``egsu.registry.changed.<entity>`` after every committed change."""

    entity: Entity
    id: str
    action: Literal["created", "updated", "deleted"]
    subject_bin: str | None = None
    version: int | None = None
    changed_fields: list[str] = []


class VerificationDue(BaseModel):
    """Published on ``egsu.registry.events.verification_due`` when a device's verification is due soon or overdue."""

    device_id: str
    subject_bin: str
    point_code: str | None
    serial_number: str
    next_verification_due: str
    overdue: bool


class ClientRevoked(BaseModel):
    """Published on ``egsu.registry.events.client_revoked``: refuse this client's tokens at once.

    Tokens issued before ``revoked_at`` (Unix seconds) are refused; a new one cannot be had,
    since the realm (Keycloak) refuses the disabled client.
    """

    client_id: str
    revoked_at: float
    subject_bin: str | None = None


class PointIndexItem(BaseModel):
    """What ingest, measurements and monitoring need to know about a metering point."""

    id: str
    code: str
    subject_bin: str
    facility_id: str
    facility_type: str
    region_kato: str
    commodity: str
    position: str
    quantities: list[str]
    units: dict[str, str] = {}
    interval_min: int
    nominal_voltage: float | None = None
    rated_current: float | None = None
    max_power_kw: float | None = None
    register_digits: int | None = None
    import_only: bool = False
    criticality: int = 2
    norms: dict[str, Any] = {}
    status: str = "active"
    code_80020: str | None = None  # the point's code in 80020 exchange files
    channels_80020: dict[str, str] = {}  # its own 80020 channel map (channel code -> quantity)
