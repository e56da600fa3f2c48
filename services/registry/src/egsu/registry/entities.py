"""How each registry entity is listed, searched, sorted, scoped and exported."""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel
from sqlalchemy import Table

from egsu.registry import models as m
from egsu.registry import schemas as s


@dataclass(frozen=True)
class EntitySpec:
    name: str  # as in events and audit: subject, facility, metering_point, …
    path: str  # URL collection name
    table: Table
    id_col: str
    read: type[BaseModel]
    create: type[BaseModel] | None
    update: type[BaseModel] | None
    filters: tuple[str, ...]
    sorts: dict[str, str] = field(default_factory=dict)
    default_sort: str = "created_at"
    subject_col: str = "subject_bin"

    def columns(self) -> list[str]:
        return list(self.read.model_fields)


SUBJECT = EntitySpec(
    "subject",
    "subjects",
    m.subject,
    "bin",
    s.SubjectRead,
    s.SubjectCreate,
    s.SubjectUpdate,
    filters=("region_kato", "kind", "legal_form", "status"),
    sorts={"name": "name_ru", "bin": "bin", "created_at": "created_at", "updated_at": "updated_at"},
    default_sort="name",
    subject_col="bin",
)
FACILITY = EntitySpec(
    "facility",
    "facilities",
    m.facility,
    "id",
    s.FacilityRead,
    s.FacilityCreate,
    s.FacilityUpdate,
    filters=("subject_bin", "region_kato", "type", "status", "criticality"),
    sorts={"name": "name_ru", "created_at": "created_at", "updated_at": "updated_at"},
    default_sort="name",
)
METERING_POINT = EntitySpec(
    "metering_point",
    "metering-points",
    m.metering_point,
    "id",
    s.MeteringPointRead,
    s.MeteringPointCreate,
    s.MeteringPointUpdate,
    filters=(
        "subject_bin",
        "facility_id",
        "region_kato",
        "commodity",
        "position",
        "status",
        "code",
        "code_80020",
    ),
    sorts={"code": "code", "created_at": "created_at", "updated_at": "updated_at"},
    default_sort="code",
)
DEVICE = EntitySpec(
    "device",
    "devices",
    m.device,
    "id",
    s.DeviceRead,
    s.DeviceCreate,
    s.DeviceUpdate,
    filters=("subject_bin", "point_id", "type", "status", "serial_number"),
    sorts={
        "serial_number": "serial_number",
        "created_at": "created_at",
        "updated_at": "updated_at",
    },
    default_sort="serial_number",
)
SYSTEM = EntitySpec(
    "system",
    "systems",
    m.system,
    "id",
    s.SystemRead,
    s.SystemCreate,
    s.SystemUpdate,
    filters=("subject_bin", "kind", "status"),
    sorts={"name": "name", "created_at": "created_at"},
    default_sort="name",
)
DOCUMENT = EntitySpec(
    "document",
    "documents",
    m.document,
    "id",
    s.DocumentRead,
    None,
    None,
    filters=("subject_bin", "owner_type", "owner_id", "doc_type"),
    sorts={"created_at": "created_at", "title": "title"},
    default_sort="created_at",
)
OBLIGATION = EntitySpec(
    "obligation",
    "obligations",
    m.obligation,
    "id",
    s.ObligationRead,
    s.ObligationCreate,
    s.ObligationUpdate,
    filters=("subject_bin", "facility_id", "data_kind"),
    sorts={"created_at": "created_at", "valid_from": "valid_from"},
    default_sort="created_at",
)
PROPOSAL = EntitySpec(
    "proposal",
    "proposals",
    m.proposal,
    "id",
    s.ProposalRead,
    None,
    None,
    filters=("subject_bin", "status", "entity"),
    sorts={"created_at": "created_at"},
    default_sort="created_at",
)

INTEGRATION_CLIENT = EntitySpec(
    "integration_client",
    "clients",
    m.integration_client,
    "client_id",
    s.IntegrationClientRead,
    None,
    None,
    filters=("subject_bin", "kind", "status"),
    sorts={"created_at": "created_at", "client_id": "client_id"},
    default_sort="-created_at",
)

BY_NAME = {
    e.name: e for e in (SUBJECT, FACILITY, METERING_POINT, DEVICE, SYSTEM, DOCUMENT, OBLIGATION)
}
# What a subject may propose: these entities, of its own.
PROPOSABLE = frozenset({"subject", "facility", "metering_point", "device", "system"})
