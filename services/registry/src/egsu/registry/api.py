"""Registry routes under /api/v1/registry."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel

from egsu.contracts.regions import REGIONS
from egsu.contracts.vocabulary import QUANTITIES
from egsu.core.errors import FieldError, NotFound, PayloadTooLarge, Unprocessable
from egsu.core.time import utcnow
from egsu.registry import repository as repo
from egsu.registry import schemas as s
from egsu.registry.deps import (
    Anyone,
    ClientOps,
    Listing,
    ListParams,
    MinistryClientOps,
    MinistryOps,
    ReadOps,
    WriteOps,
)
from egsu.registry.entities import (
    DEVICE,
    DOCUMENT,
    FACILITY,
    INTEGRATION_CLIENT,
    METERING_POINT,
    OBLIGATION,
    PROPOSAL,
    SUBJECT,
    SYSTEM,
    EntitySpec,
)
from egsu.registry.export import export
from egsu.registry.service import Registry, sha256_hex

router = APIRouter(prefix="/api/v1/registry", tags=["registry"])
T = TypeVar("T")
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


async def _list(
    ops: Registry,
    request: Request,
    spec: EntitySpec,
    params: ListParams,
    filters: dict[str, Any],
    extra: Any = None,
) -> Any:
    sort = params.sort or spec.default_sort
    if sort.lstrip("-") not in spec.sorts:
        raise Unprocessable(
            f"sort: use one of {', '.join(spec.sorts)}",
            errors=[FieldError("sort", "unknown_sort", f"use one of {', '.join(spec.sorts)}")],
        )
    if params.format == "json":
        items, nxt = await repo.list_page(
            ops.session,
            spec,
            scope_bin=ops.scope,
            filters=filters,
            q=params.q,
            sort=sort,
            cursor=params.cursor,
            limit=params.limit,
            extra=extra,
        )
        return {"items": [spec.read.model_validate(r) for r in items], "next_cursor": nxt}
    db = request.app.state.db
    scope = ops.scope

    async def rows() -> AsyncIterator[dict[str, Any]]:
        async with db.transaction() as session:
            async for row in repo.stream_all(
                session, spec, scope_bin=scope, filters=filters, q=params.q, sort=sort, extra=extra
            ):
                yield row

    return await export(rows, spec.columns(), params.format, spec.path)


def _created(row: dict[str, Any], model: type[BaseModel]) -> JSONResponse:
    return JSONResponse(model.model_validate(row).model_dump(mode="json"), status_code=201)


def _proposed(row: dict[str, Any]) -> JSONResponse:
    return JSONResponse(s.ProposalRead.model_validate(row).model_dump(mode="json"), status_code=202)


# --- reference ---------------------------------------------------------------------------------


@router.get("/regions", summary="Kazakhstan's regions and cities of republican significance (KATO)")
async def list_regions(_: Anyone) -> Page[s.RegionRead]:
    return Page(items=[s.RegionRead.model_validate(r, from_attributes=True) for r in REGIONS])


@router.get(
    "/quantities", summary="The vocabulary of quantity codes with canonical units and OBIS aliases"
)
async def list_quantities(_: Anyone) -> dict[str, list[dict[str, Any]]]:
    return {
        "items": [
            {
                "code": q.code,
                "unit": q.unit,
                "commodity": q.commodity,
                "kind": q.kind,
                "description": q.description,
                "obis": list(q.obis),
            }
            for q in QUANTITIES.values()
        ]
    }


# --- subjects ----------------------------------------------------------------------------------


@router.get("/subjects", summary="Subjects (energy companies); a subject sees only itself")
async def list_subjects(
    ops: ReadOps,
    request: Request,
    params: Listing,
    region_kato: str | None = None,
    kind: str | None = None,
    legal_form: str | None = None,
    status: str | None = None,
) -> Page[s.SubjectRead]:
    return await _list(
        ops,
        request,
        SUBJECT,
        params,
        {"region_kato": region_kato, "kind": kind, "legal_form": legal_form, "status": status},
    )


@router.post(
    "/subjects",
    status_code=201,
    summary="Register a subject (ministry)",
    responses={201: {"model": s.SubjectRead}},
)
async def create_subject(body: s.SubjectCreate, ops: MinistryOps) -> JSONResponse:
    return _created(await ops.create(SUBJECT, body), s.SubjectRead)


@router.get("/subjects/{bin}", summary="One subject by BIN")
async def get_subject(bin: str, ops: ReadOps) -> s.SubjectRead:
    return s.SubjectRead.model_validate(await ops.get(SUBJECT, bin))


@router.patch(
    "/subjects/{bin}",
    summary="Change a subject (ministry), or propose a change (the subject itself)",
    responses={200: {"model": s.SubjectRead}, 202: {"model": s.ProposalRead}},
)
async def update_subject(bin: str, body: s.SubjectUpdate, ops: WriteOps) -> JSONResponse:
    if ops.scope is not None:
        return _proposed(await ops.propose(SUBJECT, "update", body, bin))
    return JSONResponse(
        s.SubjectRead.model_validate(await ops.update(SUBJECT, bin, body)).model_dump(mode="json")
    )


# --- facilities --------------------------------------------------------------------------------


@router.get(
    "/facilities", summary="Facilities: plants, boiler houses, substations, lines, networks"
)
async def list_facilities(
    ops: ReadOps,
    request: Request,
    params: Listing,
    subject_bin: str | None = None,
    region_kato: str | None = None,
    type: str | None = None,
    status: str | None = None,
    criticality: int | None = None,
) -> Page[s.FacilityRead]:
    return await _list(
        ops,
        request,
        FACILITY,
        params,
        {
            "subject_bin": subject_bin,
            "region_kato": region_kato,
            "type": type,
            "status": status,
            "criticality": criticality,
        },
    )


@router.post(
    "/facilities",
    status_code=201,
    summary="Add a facility (ministry) or propose one (subject)",
    responses={201: {"model": s.FacilityRead}, 202: {"model": s.ProposalRead}},
)
async def create_facility(body: s.FacilityCreate, ops: WriteOps) -> JSONResponse:
    if ops.scope is not None:
        return _proposed(await ops.propose(FACILITY, "create", body, None))
    return _created(await ops.create(FACILITY, body), s.FacilityRead)


@router.get("/facilities/{id}", summary="One facility")
async def get_facility(id: uuid.UUID, ops: ReadOps) -> s.FacilityRead:
    return s.FacilityRead.model_validate(await ops.get(FACILITY, str(id)))


@router.patch(
    "/facilities/{id}",
    summary="Change a facility (ministry) or propose a change (subject)",
    responses={200: {"model": s.FacilityRead}, 202: {"model": s.ProposalRead}},
)
async def update_facility(id: uuid.UUID, body: s.FacilityUpdate, ops: WriteOps) -> JSONResponse:
    if ops.scope is not None:
        return _proposed(await ops.propose(FACILITY, "update", body, str(id)))
    return JSONResponse(
        s.FacilityRead.model_validate(await ops.update(FACILITY, str(id), body)).model_dump(
            mode="json"
        )
    )


# --- metering points ---------------------------------------------------------------------------


@router.get("/metering-points", summary="Metering points")
async def list_points(
    ops: ReadOps,
    request: Request,
    params: Listing,
    subject_bin: str | None = None,
    facility_id: str | None = None,
    region_kato: str | None = None,
    commodity: str | None = None,
    position: str | None = None,
    status: str | None = None,
    code: Annotated[list[str] | None, Query()] = None,
    code_80020: Annotated[
        list[str] | None, Query(description="the points' codes in 80020 exchange files")
    ] = None,
) -> Page[s.MeteringPointRead]:
    return await _list(
        ops,
        request,
        METERING_POINT,
        params,
        {
            "subject_bin": subject_bin,
            "facility_id": facility_id,
            "region_kato": region_kato,
            "commodity": commodity,
            "position": position,
            "status": status,
            "code": code,
            "code_80020": code_80020,
        },
    )


@router.get(
    "/metering-points/index", summary="Compact index of metering points (for services and bulk use)"
)
async def point_index(
    ops: ReadOps,
    request: Request,
    subject_bin: str | None = None,
    facility_id: str | None = None,
    region_kato: str | None = None,
) -> StreamingResponse:
    scope = ops.scope
    if scope is not None:
        subject_bin = scope
    db = request.app.state.db

    async def gen() -> AsyncIterator[bytes]:
        yield b'{"items":['
        first = True
        async with db.transaction() as session:
            async for row in repo.point_index(
                session, subject_bin=subject_bin, facility_id=facility_id, region_kato=region_kato
            ):
                yield (b"" if first else b",") + json.dumps(
                    row, default=str, ensure_ascii=False
                ).encode()
                first = False
        yield b"]}"

    return StreamingResponse(gen(), media_type="application/json")


@router.get("/metering-points/by-code/{code}", summary="One metering point by its code")
async def get_point_by_code(code: str, ops: ReadOps) -> s.MeteringPointRead:
    row = await repo.point_by_code(ops.session, code)
    if row is None or (ops.scope is not None and row["subject_bin"] != ops.scope):
        raise NotFound(f"no metering point {code}", code="metering_point_not_found")
    return s.MeteringPointRead.model_validate(row)


@router.post(
    "/metering-points",
    status_code=201,
    summary="Add a metering point (ministry) or propose one (subject)",
    responses={201: {"model": s.MeteringPointRead}, 202: {"model": s.ProposalRead}},
)
async def create_point(body: s.MeteringPointCreate, ops: WriteOps) -> JSONResponse:
    if ops.scope is not None:
        return _proposed(await ops.propose(METERING_POINT, "create", body, None))
    return _created(await ops.create(METERING_POINT, body), s.MeteringPointRead)


@router.get("/metering-points/{id}", summary="One metering point")
async def get_point(id: uuid.UUID, ops: ReadOps) -> s.MeteringPointRead:
    return s.MeteringPointRead.model_validate(await ops.get(METERING_POINT, str(id)))


@router.patch(
    "/metering-points/{id}",
    summary="Change a metering point (ministry) or propose a change (subject)",
    responses={200: {"model": s.MeteringPointRead}, 202: {"model": s.ProposalRead}},
)
async def update_point(id: uuid.UUID, body: s.MeteringPointUpdate, ops: WriteOps) -> JSONResponse:
    if ops.scope is not None:
        return _proposed(await ops.propose(METERING_POINT, "update", body, str(id)))
    row = await ops.update(METERING_POINT, str(id), body)
    return JSONResponse(s.MeteringPointRead.model_validate(row).model_dump(mode="json"))


@router.get(
    "/metering-points/{id}/installations", summary="Which devices measured this point, and when"
)
async def point_installations(id: uuid.UUID, ops: ReadOps) -> Page[s.InstallationRead]:
    await ops.get(METERING_POINT, str(id))
    return Page(
        items=[
            s.InstallationRead.model_validate(r)
            for r in await repo.installations(ops.session, str(id))
        ]
    )


# --- devices -----------------------------------------------------------------------------------


@router.get("/devices", summary="Measuring instruments")
async def list_devices(
    ops: ReadOps,
    request: Request,
    params: Listing,
    subject_bin: str | None = None,
    point_id: str | None = None,
    type: str | None = None,
    status: str | None = None,
    serial_number: str | None = None,
) -> Page[s.DeviceRead]:
    return await _list(
        ops,
        request,
        DEVICE,
        params,
        {
            "subject_bin": subject_bin,
            "point_id": point_id,
            "type": type,
            "status": status,
            "serial_number": serial_number,
        },
    )


@router.get(
    "/devices/verification-due",
    summary="Devices whose verification is overdue or due within N days",
)
async def verification_due(
    ops: ReadOps, within_days: Annotated[int, Query(ge=0, le=3650)] = 30
) -> dict[str, Any]:
    today = utcnow().date()
    rows = await repo.verification_due(
        ops.session, before=today + timedelta(days=within_days), scope_bin=ops.scope
    )
    items = [
        {
            **s.DeviceRead.model_validate(r).model_dump(mode="json"),
            "point_code": r.get("point_code"),
            "overdue": r["next_verification_due"] < today,
            "days_left": (r["next_verification_due"] - today).days,
        }
        for r in rows
    ]
    return {"items": items, "next_cursor": None}


@router.post(
    "/devices",
    status_code=201,
    summary="Add a device, optionally installed at a point (replaces the meter there)",
    responses={201: {"model": s.DeviceRead}, 202: {"model": s.ProposalRead}},
)
async def create_device(body: s.DeviceCreate, ops: WriteOps) -> JSONResponse:
    if ops.scope is not None:
        return _proposed(await ops.propose(DEVICE, "create", body, None))
    return _created(await ops.create(DEVICE, body), s.DeviceRead)


@router.get("/devices/{id}", summary="One device")
async def get_device(id: uuid.UUID, ops: ReadOps) -> s.DeviceRead:
    return s.DeviceRead.model_validate(await ops.get(DEVICE, str(id)))


@router.patch(
    "/devices/{id}",
    summary="Change a device (ministry) or propose a change (subject)",
    responses={200: {"model": s.DeviceRead}, 202: {"model": s.ProposalRead}},
)
async def update_device(id: uuid.UUID, body: s.DeviceUpdate, ops: WriteOps) -> JSONResponse:
    if ops.scope is not None:
        return _proposed(await ops.propose(DEVICE, "update", body, str(id)))
    return JSONResponse(
        s.DeviceRead.model_validate(await ops.update(DEVICE, str(id), body)).model_dump(mode="json")
    )


# --- systems -----------------------------------------------------------------------------------


@router.get("/systems", summary="Subjects' ASKUE and SCADA systems")
async def list_systems(
    ops: ReadOps,
    request: Request,
    params: Listing,
    subject_bin: str | None = None,
    kind: str | None = None,
    status: str | None = None,
) -> Page[s.SystemRead]:
    return await _list(
        ops, request, SYSTEM, params, {"subject_bin": subject_bin, "kind": kind, "status": status}
    )


@router.post(
    "/systems",
    status_code=201,
    summary="Add a system (ministry) or propose one (subject)",
    responses={201: {"model": s.SystemRead}, 202: {"model": s.ProposalRead}},
)
async def create_system(body: s.SystemCreate, ops: WriteOps) -> JSONResponse:
    if ops.scope is not None:
        return _proposed(await ops.propose(SYSTEM, "create", body, None))
    return _created(await ops.create(SYSTEM, body), s.SystemRead)


@router.get("/systems/{id}", summary="One system with its requirements checklist")
async def get_system(id: uuid.UUID, ops: ReadOps) -> s.SystemRead:
    return s.SystemRead.model_validate(await ops.get(SYSTEM, str(id)))


@router.patch(
    "/systems/{id}",
    summary="Change a system (ministry) or propose a change (subject)",
    responses={200: {"model": s.SystemRead}, 202: {"model": s.ProposalRead}},
)
async def update_system(id: uuid.UUID, body: s.SystemUpdate, ops: WriteOps) -> JSONResponse:
    if ops.scope is not None:
        return _proposed(await ops.propose(SYSTEM, "update", body, str(id)))
    return JSONResponse(
        s.SystemRead.model_validate(await ops.update(SYSTEM, str(id), body)).model_dump(mode="json")
    )


# --- documents ---------------------------------------------------------------------------------


@router.get("/documents", summary="Technical and metrological documents (§93)")
async def list_documents(
    ops: ReadOps,
    request: Request,
    params: Listing,
    subject_bin: str | None = None,
    owner_type: str | None = None,
    owner_id: str | None = None,
    doc_type: str | None = None,
) -> Page[s.DocumentRead]:
    return await _list(
        ops,
        request,
        DOCUMENT,
        params,
        {
            "subject_bin": subject_bin,
            "owner_type": owner_type,
            "owner_id": owner_id,
            "doc_type": doc_type,
        },
    )


@router.post(
    "/documents",
    status_code=201,
    summary="Upload a document for a device, system, facility or point",
)
async def upload_document(
    request: Request,
    ops: WriteOps,
    file: Annotated[UploadFile, File(description="the document")],
    owner_type: Annotated[s.OwnerType, Form()],
    owner_id: Annotated[str, Form(max_length=64)],
    doc_type: Annotated[s.DocType, Form()],
    title: Annotated[str, Form(min_length=1, max_length=300)],
) -> s.DocumentRead:
    data = await file.read(MAX_DOCUMENT_BYTES + 1)
    if len(data) > MAX_DOCUMENT_BYTES:
        raise PayloadTooLarge(f"documents up to {MAX_DOCUMENT_BYTES // 2**20} MB")
    if not data:
        raise Unprocessable(
            "file: is empty", errors=[FieldError("file", "empty", "the file is empty")]
        )
    subject_bin = await ops.owner_of(owner_type, owner_id)
    doc_id = str(uuid.uuid4())
    filename = re.sub(r"[^\w.() -]", "_", file.filename or "document")[:200]
    key = f"{subject_bin}/{owner_type}/{owner_id}/{doc_id}/{filename}"
    digest = sha256_hex(data)
    content_type = file.content_type or "application/octet-stream"
    await request.app.state.store.put(
        "docs", key, data, content_type=content_type, metadata={"sha256": digest}
    )
    row = await ops.record_document(
        {
            "id": doc_id,
            "subject_bin": subject_bin,
            "owner_type": owner_type,
            "owner_id": owner_id,
            "doc_type": doc_type,
            "title": title,
            "filename": filename,
            "content_type": content_type,
            "size": len(data),
            "sha256": digest,
            "object_key": key,
            "uploaded_by": ops.principal.username,
        }
    )
    return s.DocumentRead.model_validate(row)


@router.get("/documents/{id}", summary="One document's metadata")
async def get_document(id: uuid.UUID, ops: ReadOps) -> s.DocumentRead:
    return s.DocumentRead.model_validate(await ops.get(DOCUMENT, str(id)))


@router.get("/documents/{id}/content", summary="Download a document")
async def download_document(id: uuid.UUID, ops: ReadOps, request: Request) -> Response:
    row = await ops.get(DOCUMENT, str(id))
    data = await request.app.state.store.get("docs", row["object_key"])
    return Response(
        data,
        media_type=row["content_type"],
        headers={
            "Content-Disposition": f'attachment; filename="{row["filename"]}"',
            "X-Content-SHA256": row["sha256"],
        },
    )


# --- obligations -------------------------------------------------------------------------------


@router.get(
    "/obligations", summary="Submission obligations: who must submit what, how often, by when"
)
async def list_obligations(
    ops: ReadOps,
    request: Request,
    params: Listing,
    subject_bin: str | None = None,
    facility_id: str | None = None,
    data_kind: str | None = None,
) -> Page[s.ObligationRead]:
    return await _list(
        ops,
        request,
        OBLIGATION,
        params,
        {"subject_bin": subject_bin, "facility_id": facility_id, "data_kind": data_kind},
    )


@router.post("/obligations", status_code=201, summary="Set a submission obligation (ministry)")
async def create_obligation(body: s.ObligationCreate, ops: MinistryOps) -> s.ObligationRead:
    return s.ObligationRead.model_validate(await ops.create(OBLIGATION, body))


@router.get("/obligations/{id}", summary="One obligation")
async def get_obligation(id: uuid.UUID, ops: ReadOps) -> s.ObligationRead:
    return s.ObligationRead.model_validate(await ops.get(OBLIGATION, str(id)))


@router.patch("/obligations/{id}", summary="Change an obligation (ministry)")
async def update_obligation(
    id: uuid.UUID, body: s.ObligationUpdate, ops: MinistryOps
) -> s.ObligationRead:
    return s.ObligationRead.model_validate(await ops.update(OBLIGATION, str(id), body))


# --- proposals ---------------------------------------------------------------------------------


@router.get(
    "/proposals",
    summary="Changes proposed by subjects, waiting for the ministry (a subject sees its own)",
)
async def list_proposals(
    ops: WriteOps,
    request: Request,
    params: Listing,
    status: str | None = None,
    subject_bin: str | None = None,
    entity: str | None = None,
) -> Page[s.ProposalRead]:
    return await _list(
        ops,
        request,
        PROPOSAL,
        params,
        {"status": status, "subject_bin": subject_bin, "entity": entity},
    )


@router.get("/proposals/{id}", summary="One proposal")
async def get_proposal(id: uuid.UUID, ops: WriteOps) -> s.ProposalRead:
    return s.ProposalRead.model_validate(await ops.get(PROPOSAL, str(id)))


@router.post(
    "/proposals/{id}/approve", summary="Approve a proposal: the change is applied (ministry)"
)
async def approve_proposal(
    id: uuid.UUID, ops: MinistryOps, body: s.Decision | None = None
) -> s.ProposalRead:
    return s.ProposalRead.model_validate(
        await ops.decide(str(id), True, body.comment if body else None)
    )


@router.post("/proposals/{id}/reject", summary="Reject a proposal with a comment (ministry)")
async def reject_proposal(
    id: uuid.UUID, ops: MinistryOps, body: s.Decision | None = None
) -> s.ProposalRead:
    return s.ProposalRead.model_validate(
        await ops.decide(str(id), False, body.comment if body else None)
    )


# --- integration clients -----------------------------------------------------------------------


def _issued(request: Request, row: dict[str, Any], secret: str | None) -> s.IntegrationClientIssued:
    settings = request.app.state.settings
    return s.IntegrationClientIssued.model_validate(
        {
            **row,
            "client_secret": secret,
            "token_endpoint": f"{settings.oidc_issuer}/protocol/openid-connect/token",
            "token_lifetime_seconds": settings.client_token_lifespan,
        }
    )


@router.post(
    "/clients",
    status_code=201,
    summary="Create an integration client for a subject or a state body (ministry); the secret is shown once",
    tags=["integration clients"],
)
async def create_client(
    body: s.IntegrationClientCreate, ops: MinistryClientOps, request: Request
) -> s.IntegrationClientIssued:
    row, secret = await ops.create(body)
    return _issued(request, row, secret)


@router.get(
    "/clients",
    summary="Integration clients; a subject sees only its own",
    tags=["integration clients"],
)
async def list_clients(
    ops: ClientOps,
    request: Request,
    params: Listing,
    subject_bin: str | None = None,
    kind: s.ClientKind | None = None,
    status: str | None = None,
) -> Page[s.IntegrationClientRead]:
    return await _list(
        ops,  # type: ignore[arg-type]
        request,
        INTEGRATION_CLIENT,
        params,
        {"subject_bin": subject_bin, "kind": kind, "status": status},
    )


@router.get("/clients/{client_id}", summary="One integration client", tags=["integration clients"])
async def get_client(client_id: str, ops: ClientOps) -> s.IntegrationClientRead:
    return s.IntegrationClientRead.model_validate(await ops.get(client_id))


@router.post(
    "/clients/{client_id}/rotate",
    summary="A new secret for the client (shown once); the old one stops working at once",
    tags=["integration clients"],
)
async def rotate_client(
    client_id: str, ops: ClientOps, request: Request
) -> s.IntegrationClientIssued:
    row, secret = await ops.rotate(client_id)
    return _issued(request, row, secret)


@router.put(
    "/clients/{client_id}/certificate",
    summary="Authenticate the client with the subject's NCA RK RSA certificate (private_key_jwt)",
    tags=["integration clients"],
)
async def set_client_certificate(
    client_id: str, body: s.ClientCertificateSubmit, ops: ClientOps
) -> s.IntegrationClientRead:
    return s.IntegrationClientRead.model_validate(
        await ops.set_certificate(client_id, body.certificate)
    )


@router.post(
    "/clients/{client_id}/revoke",
    summary="Revoke the client (ministry): no new tokens, and its tokens are refused at once",
    tags=["integration clients"],
)
async def revoke_client(
    client_id: str, body: s.ClientRevoke, ops: MinistryClientOps
) -> s.IntegrationClientRead:
    return s.IntegrationClientRead.model_validate(await ops.revoke(client_id, body.reason))
