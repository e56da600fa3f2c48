"""The registry's domain logic: who may change what, consistency between entities, events and audit."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, date, datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from egsu.auth import Principal
from egsu.bus.audit import AuditLog
from egsu.contracts.registry import RegistryChanged
from egsu.contracts.streams import REGISTRY_CHANGED
from egsu.core.errors import Conflict, FieldError, Forbidden, NotFound, Unprocessable
from egsu.core.time import utcnow
from egsu.registry import models as m
from egsu.registry import repository as repo
from egsu.registry.entities import (
    BY_NAME,
    DEVICE,
    FACILITY,
    METERING_POINT,
    PROPOSABLE,
    PROPOSAL,
    SUBJECT,
    SYSTEM,
    EntitySpec,
)
from egsu.registry.vocab import CRITICALITY, REQUIREMENTS
from egsu.runtime.outbox import enqueue


def _field(name: str, message: str, code: str = "invalid") -> Unprocessable:
    return Unprocessable(f"{name}: {message}", errors=[FieldError(name, code, message)])


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in row.items():
        if k == "search":
            continue
        out[k] = v.isoformat() if isinstance(v, (datetime, date)) else v
    return out


class Registry:
    """Operations on the registry for one request (or one message)."""

    def __init__(self, session: AsyncSession, principal: Principal, audit: AuditLog) -> None:
        self.session = session
        self.principal = principal
        self.audit = audit

    # -- reading ---------------------------------------------------------------------------------

    @property
    def scope(self) -> str | None:
        return self.principal.scope_bin

    async def get(self, spec: EntitySpec, id_: str) -> dict[str, Any]:
        row = await repo.get(self.session, spec, id_, scope_bin=self.scope)
        if row is None:
            raise NotFound(f"no {spec.name.replace('_', ' ')} {id_}", code=f"{spec.name}_not_found")
        return row

    # -- events ----------------------------------------------------------------------------------

    async def _announce(
        self, spec: EntitySpec, action: str, before: dict[str, Any] | None, after: dict[str, Any]
    ) -> None:
        id_ = str(after[spec.id_col])
        subject_bin = after.get(spec.subject_col)
        changed = sorted(
            k
            for k in after
            if before is None or before.get(k) != after.get(k)
            if k not in ("updated_at", "version", "search")
        )
        event = RegistryChanged(
            entity=spec.name,
            id=id_,
            action=action,
            subject_bin=subject_bin,  # type: ignore[arg-type]
            version=after.get("version"),
            changed_fields=changed,
        )
        await enqueue(
            self.session,
            m.outbox,
            f"{REGISTRY_CHANGED}.{spec.name}",
            event,
            f"registry-{spec.name}-{id_}-{after.get('version', 0)}-{uuid.uuid4().hex[:8]}",
        )
        ev = self.audit.event(
            "change",
            f"registry.{spec.name}.{action}",
            principal=self.principal,
            object_type=spec.name,
            object_id=id_,
            before=_jsonable(before) if before else None,
            after=_jsonable(after),
        )
        await enqueue(self.session, m.outbox, AuditLog.subject(ev), ev, f"audit-{ev.id}")

    # -- creating and updating -------------------------------------------------------------------

    async def create(
        self, spec: EntitySpec, payload: BaseModel, *, proposer: str | None = None
    ) -> dict[str, Any]:
        values = payload.model_dump(mode="python")
        if self.principal.scope_bin is not None:
            raise Forbidden(
                "subjects propose changes; use the proposals endpoint", code="proposal_required"
            )
        prepare = getattr(self, f"_prepare_{spec.name}")
        values = await prepare(values, None)
        if spec.id_col == "id":
            values["id"] = str(uuid.uuid4())
        installation = values.pop("_install", None)
        try:
            async with self.session.begin_nested():
                row = await repo.insert_row(self.session, spec, values)
        except IntegrityError as exc:
            raise Conflict(
                f"a {spec.name.replace('_', ' ')} with these identifiers already exists",
                code=f"{spec.name}_exists",
            ) from exc
        if installation is not None:
            await self._install(row["id"], *installation)
        await self._announce(spec, "created", None, row)
        return row

    async def update(self, spec: EntitySpec, id_: str, patch: BaseModel) -> dict[str, Any]:
        if self.principal.scope_bin is not None:
            raise Forbidden(
                "subjects propose changes; use the proposals endpoint", code="proposal_required"
            )
        before = await repo.get(self.session, spec, id_, scope_bin=None, for_update=True)
        if before is None:
            raise NotFound(f"no {spec.name.replace('_', ' ')} {id_}", code=f"{spec.name}_not_found")
        values = patch.model_dump(mode="python", exclude_unset=True)
        prepare = getattr(self, f"_prepare_{spec.name}")
        values = await prepare(values, before)
        installation = values.pop("_install", None)
        if not values and installation is None:
            return before
        after = await repo.update_row(self.session, spec, id_, values) if values else before
        if installation is not None:
            await self._install(id_, *installation)
        await self._announce(spec, "updated", before, after)
        return after

    # -- per-entity checks -----------------------------------------------------------------------

    async def _subject_exists(self, bin_: str, field: str = "subject_bin") -> dict[str, Any]:
        subj = await repo.get(self.session, SUBJECT, bin_, scope_bin=None)
        if subj is None:
            raise _field(field, f"no subject with BIN {bin_} in the registry", "unknown_subject")
        return subj

    async def _prepare_subject(
        self, values: dict[str, Any], before: dict[str, Any] | None
    ) -> dict[str, Any]:
        if before is None and await repo.exists(self.session, SUBJECT, values["bin"]):
            raise Conflict(f"subject {values['bin']} is already registered", code="subject_exists")
        return values

    async def _prepare_facility(
        self, values: dict[str, Any], before: dict[str, Any] | None
    ) -> dict[str, Any]:
        if before is None:
            subj = await self._subject_exists(values["subject_bin"])
            values["region_kato"] = values.get("region_kato") or subj["region_kato"]
        elif "region_kato" in values and values["region_kato"] is None:
            del values["region_kato"]
        return values

    async def _prepare_metering_point(
        self, values: dict[str, Any], before: dict[str, Any] | None
    ) -> dict[str, Any]:
        if before is None:
            fac = (
                await repo.get(self.session, FACILITY, values["facility_id"], scope_bin=None)
                if _is_uuid(values["facility_id"])
                else None
            )
            if fac is None:
                raise _field(
                    "facility_id",
                    f"no facility {values['facility_id']} in the registry",
                    "unknown_facility",
                )
            if values.get("subject_bin") and values["subject_bin"] != fac["subject_bin"]:
                raise _field(
                    "subject_bin",
                    f"the facility belongs to {fac['subject_bin']}",
                    "subject_mismatch",
                )
            values["subject_bin"] = fac["subject_bin"]
            values["region_kato"] = fac["region_kato"]
            limit = CRITICALITY[fac["criticality"]]["max_interval_min"]
            if values["interval_min"] > limit:
                raise _field(
                    "interval_min",
                    f"a facility of criticality {fac['criticality']} reports at least "
                    f"every {limit} minutes (§31)",
                    "interval_too_long",
                )
        else:
            quantities = values.get("quantities", before["quantities"])
            if "quantities" in values or "units" in values or "channels_80020" in values:
                from egsu.registry.schemas import _check_channels, _check_units

                units = values.get("units") if values.get("units") is not None else before["units"]
                channels = values.get("channels_80020")
                try:
                    _check_units(quantities, units)
                    _check_channels(
                        quantities, channels if channels is not None else before["channels_80020"]
                    )
                except ValueError as exc:
                    name, _, msg = str(exc).partition(": ")
                    raise _field(name, msg) from None
        code_80020 = values.get("code_80020")
        if code_80020 is not None:
            holder = await repo.point_by_code_80020(self.session, code_80020)
            if holder is not None and (before is None or holder["id"] != before["id"]):
                raise Conflict(
                    f"80020 code {code_80020} already belongs to metering point {holder['code']}",
                    code="code_80020_taken",
                    errors=[FieldError("code_80020", "taken", "already used by another point")],
                )
        if "norms" in values and values["norms"] is not None:
            values["norms"] = {k: v for k, v in values["norms"].items() if v is not None}
        return {k: v for k, v in values.items() if v is not None or k in ("name", "code_80020")}

    async def _prepare_device(
        self, values: dict[str, Any], before: dict[str, Any] | None
    ) -> dict[str, Any]:
        point_id = values.get("point_id")
        if before is None:
            if point_id:
                point = await self._point(point_id)
                if values.get("subject_bin") and values["subject_bin"] != point["subject_bin"]:
                    raise _field(
                        "subject_bin",
                        f"the point belongs to {point['subject_bin']}",
                        "subject_mismatch",
                    )
                values["subject_bin"] = point["subject_bin"]
            elif not values.get("subject_bin"):
                raise _field(
                    "subject_bin",
                    "give the owner's BIN or the metering point the device is installed at",
                    "missing",
                )
            else:
                await self._subject_exists(values["subject_bin"])
        merged = {**(before or {}), **values}
        if merged.get("verification_date") and merged.get("verification_interval_months"):
            values["next_verification_due"] = merged["verification_date"] + relativedelta(
                months=merged["verification_interval_months"]
            )
            values["verification_notified_for"] = None
        if point_id and (before is None or before.get("point_id") != point_id):
            point = await self._point(point_id)
            if before is not None and point["subject_bin"] != before["subject_bin"]:
                raise _field("point_id", "the point belongs to another subject", "subject_mismatch")
            at = values.get("installed_at") or utcnow()
            values["installed_at"] = at
            values["_install"] = (point_id, at)
        return values

    async def _point(self, point_id: str) -> dict[str, Any]:
        point = (
            await repo.get(self.session, METERING_POINT, point_id, scope_bin=None)
            if _is_uuid(point_id)
            else None
        )
        if point is None:
            raise _field(
                "point_id", f"no metering point {point_id} in the registry", "unknown_point"
            )
        return point

    async def _install(self, device_id: str, point_id: str, at: datetime) -> None:
        """Install a device at a point; the device there before is removed at the same instant (§92)."""
        current = await repo.open_installation(self.session, point_id)
        if current is not None and current["device_id"] != device_id:
            await repo.close_installation(self.session, current["id"], at)
            before = await repo.get(self.session, DEVICE, current["device_id"], scope_bin=None)
            after = await repo.update_row(
                self.session, DEVICE, current["device_id"], {"point_id": None, "status": "inactive"}
            )
            await self._announce(DEVICE, "updated", before, after)
        for inst in await repo.device_installations(self.session, device_id):
            if inst["removed_at"] is None and inst["point_id"] != point_id:
                await repo.close_installation(self.session, inst["id"], at)
        if current is None or current["device_id"] != device_id:
            await repo.add_installation(self.session, device_id, point_id, at)

    async def _prepare_system(
        self, values: dict[str, Any], before: dict[str, Any] | None
    ) -> dict[str, Any]:
        if before is None:
            await self._subject_exists(values["subject_bin"])
            if values.get("checklist") is None:
                values["checklist"] = [
                    {"code": code, "title": title, "status": "unknown", "note": None}
                    for code, kinds, title in REQUIREMENTS
                    if values["kind"] in kinds.split(",")
                ]
        owner = values.get("subject_bin") or (before or {}).get("subject_bin")
        for i, fid in enumerate(values.get("facility_ids") or []):
            fac = (
                await repo.get(self.session, FACILITY, fid, scope_bin=None)
                if _is_uuid(fid)
                else None
            )
            if fac is None or fac["subject_bin"] != owner:
                raise _field(
                    f"facility_ids[{i}]",
                    f"no facility {fid} of subject {owner}",
                    "unknown_facility",
                )
        return {k: v for k, v in values.items() if v is not None}

    async def _prepare_obligation(
        self, values: dict[str, Any], before: dict[str, Any] | None
    ) -> dict[str, Any]:
        owner = values.get("subject_bin") or (before or {}).get("subject_bin")
        if before is None:
            await self._subject_exists(values["subject_bin"])
            fid = values.get("facility_id")
            if fid:
                fac = (
                    await repo.get(self.session, FACILITY, fid, scope_bin=None)
                    if _is_uuid(fid)
                    else None
                )
                if fac is None or fac["subject_bin"] != owner:
                    raise _field(
                        "facility_id", f"no facility {fid} of subject {owner}", "unknown_facility"
                    )
        codes = values.get("point_codes") or []
        if codes:
            known = await repo.codes_of_subject(self.session, owner, codes)
            for i, c in enumerate(codes):
                if c not in known:
                    raise _field(
                        f"point_codes[{i}]",
                        f"no metering point {c} of subject {owner}",
                        "unknown_point",
                    )
        return {k: v for k, v in values.items() if v is not None or k == "valid_to"}

    # -- proposals -------------------------------------------------------------------------------

    async def propose(
        self, spec: EntitySpec, action: str, payload: BaseModel, entity_id: str | None
    ) -> dict[str, Any]:
        """A subject asks for a change of its own records; it waits for the ministry's decision."""
        own = self.principal.bin
        if spec.name not in PROPOSABLE or own is None:
            raise Forbidden(
                f"a subject cannot propose changes to {spec.name.replace('_', ' ')}s",
                code="not_proposable",
            )
        data = payload.model_dump(mode="json", exclude_unset=action == "update")
        if action == "create":
            if spec.name == "subject":
                raise Forbidden("subjects are registered by the ministry", code="not_proposable")
            owner = data.get("subject_bin")
            if spec.name == "metering_point":
                fac = (
                    await repo.get(self.session, FACILITY, data["facility_id"], scope_bin=own)
                    if _is_uuid(data["facility_id"])
                    else None
                )
                if fac is None:
                    raise _field("facility_id", "no such facility of yours", "unknown_facility")
                owner = fac["subject_bin"]
            elif spec.name == "device" and data.get("point_id"):
                point = (
                    await repo.get(self.session, METERING_POINT, data["point_id"], scope_bin=own)
                    if _is_uuid(data["point_id"])
                    else None
                )
                if point is None:
                    raise _field("point_id", "no such metering point of yours", "unknown_point")
                owner = point["subject_bin"]
            if owner and owner != own:
                raise _field(
                    "subject_bin", "you can propose records of your own subject only", "not_own"
                )
            data["subject_bin"] = own
        else:
            assert entity_id is not None
            if await repo.get(self.session, spec, entity_id, scope_bin=own) is None:
                raise NotFound(
                    f"no {spec.name.replace('_', ' ')} {entity_id}", code=f"{spec.name}_not_found"
                )
        row = await repo.insert_row(
            self.session,
            PROPOSAL,
            {
                "id": str(uuid.uuid4()),
                "subject_bin": own,
                "entity": spec.name,
                "entity_id": entity_id,
                "action": action,
                "payload": data,
                "proposed_by": self.principal.username,
            },
        )
        ev = self.audit.event(
            "change",
            f"registry.proposal.{action}",
            principal=self.principal,
            object_type=spec.name,
            object_id=entity_id,
            after=_jsonable(row),
        )
        await enqueue(self.session, m.outbox, AuditLog.subject(ev), ev, f"audit-{ev.id}")
        return row

    async def decide(self, proposal_id: str, approve: bool, comment: str | None) -> dict[str, Any]:
        prop = await repo.get(self.session, PROPOSAL, proposal_id, scope_bin=None, for_update=True)
        if prop is None:
            raise NotFound(f"no proposal {proposal_id}", code="proposal_not_found")
        if prop["status"] != "pending":
            raise Conflict(f"the proposal is already {prop['status']}", code="proposal_decided")
        result_id = None
        if approve:
            spec = BY_NAME[prop["entity"]]
            model = spec.create if prop["action"] == "create" else spec.update
            assert model is not None
            try:
                payload = model.model_validate(prop["payload"])
            except ValidationError as exc:
                raise Conflict(
                    f"the proposal no longer applies: {exc.errors()[0]['msg']}",
                    code="proposal_invalid",
                ) from None
            if prop["action"] == "create":
                row = await self.create(spec, payload, proposer=prop["proposed_by"])
            else:
                row = await self.update(spec, prop["entity_id"], payload)
            result_id = str(row[spec.id_col])
        t = m.proposal
        from sqlalchemy import update as sa_update

        row = (
            (
                await self.session.execute(
                    sa_update(t)
                    .where(t.c.id == proposal_id)
                    .values(
                        status="approved" if approve else "rejected",
                        decided_by=self.principal.username,
                        decided_at=datetime.now(UTC),
                        comment=comment,
                        result_id=result_id,
                    )
                    .returning(t)
                )
            )
            .mappings()
            .one()
        )
        ev = self.audit.event(
            "change",
            f"registry.proposal.{'approve' if approve else 'reject'}",
            principal=self.principal,
            object_type="proposal",
            object_id=proposal_id,
            before=_jsonable(prop),
            after=_jsonable(dict(row)),
        )
        await enqueue(self.session, m.outbox, AuditLog.subject(ev), ev, f"audit-{ev.id}")
        return dict(row)

    # -- documents -------------------------------------------------------------------------------

    async def owner_of(self, owner_type: str, owner_id: str) -> str:
        spec = {
            "device": DEVICE,
            "system": SYSTEM,
            "facility": FACILITY,
            "subject": SUBJECT,
            "metering_point": METERING_POINT,
        }[owner_type]
        if spec.id_col == "id" and not _is_uuid(owner_id):
            raise _field("owner_id", f"no {owner_type} {owner_id}", "unknown_owner")
        row = await repo.get(self.session, spec, owner_id, scope_bin=self.scope)
        if row is None:
            raise _field("owner_id", f"no {owner_type} {owner_id}", "unknown_owner")
        return str(row[spec.subject_col])

    async def record_document(self, values: dict[str, Any]) -> dict[str, Any]:
        from egsu.registry.entities import DOCUMENT

        values["doc_version"] = await repo.next_doc_version(
            self.session, values["owner_type"], values["owner_id"], values["title"]
        )
        row = await repo.insert_row(self.session, DOCUMENT, values)
        await self._announce(DOCUMENT, "created", None, row)
        return row


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
