"""The audit API: read, search, export, verify and prove. Nothing here writes or deletes."""

from __future__ import annotations

import base64
import binascii
import csv
import io
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime

from egsu.audit import repository
from egsu.audit.deps import Raw, Readers
from egsu.audit.proofs import make_proof
from egsu.audit.records import record_of, view_of
from egsu.audit.schemas import EntryPage, EntryRead, PublicKeyRead, VerifyRead
from egsu.audit.signing import ALGORITHM, Keyring, SigningKey
from egsu.audit.verify import verify as verify_journal
from egsu.bus.audit import AuditLog
from egsu.contracts.audit import AuditKind, Outcome
from egsu.core.errors import FieldError, NotFound, Unprocessable
from egsu.db.deps import Session

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])

CSV_COLUMNS = (
    "seq",
    "id",
    "time",
    "recorded_at",
    "kind",
    "service",
    "action",
    "outcome",
    "actor_user_id",
    "actor_username",
    "actor_role",
    "subject_bin",
    "client_id",
    "object_type",
    "object_id",
    "request_id",
    "source_ip",
    "before",
    "after",
    "details",
    "hash",
)


def _entry(row: Any) -> EntryRead:
    return EntryRead.model_validate(view_of(record_of(row)))


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        kind, _, value = (
            base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().partition(":")
        )
        if kind != "seq":
            raise ValueError(kind)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Unprocessable(
            "the cursor is not one this API returned",
            errors=[FieldError("cursor", "invalid_cursor", "use next_cursor of the previous page")],
        ) from None


def entry_filter(
    time_from: Annotated[
        AwareDatetime | None,
        Query(alias="from", description="Events at or after (ISO 8601 with offset)."),
    ] = None,
    time_to: Annotated[
        AwareDatetime | None, Query(alias="to", description="Events before (ISO 8601 with offset).")
    ] = None,
    actor: Annotated[str | None, Query(max_length=1000, description="Username.")] = None,
    actor_id: Annotated[
        str | None, Query(max_length=200, description="User id (token subject).")
    ] = None,
    role: Annotated[str | None, Query(max_length=50)] = None,
    client: Annotated[
        str | None, Query(max_length=200, description="The OAuth client (an integration client).")
    ] = None,
    bin: Annotated[
        str | None, Query(pattern=r"^\d{12}$", description="The actor's subject BIN/IIN.")
    ] = None,
    action: Annotated[str | None, Query(max_length=500)] = None,
    kind: AuditKind | None = None,
    object: Annotated[
        str | None, Query(max_length=1000, description="The object's id (a path, a BIN, …).")
    ] = None,
    object_type: Annotated[str | None, Query(max_length=100)] = None,
    outcome: Outcome | None = None,
    service: Annotated[str | None, Query(max_length=100)] = None,
    request_id: Annotated[str | None, Query(max_length=100)] = None,
) -> repository.EntryFilter:
    if time_from and time_to and time_to <= time_from:
        raise Unprocessable(
            "the time range is empty",
            errors=[FieldError("to", "range_empty", "'to' must be after 'from'")],
        )
    return repository.EntryFilter(
        time_from=time_from,
        time_to=time_to,
        actor=actor,
        actor_id=actor_id,
        role=role,
        client_id=client,
        subject_bin=bin,
        action=action,
        kind=kind,
        object_id=object,
        object_type=object_type,
        outcome=outcome,
        service=service,
        request_id=request_id,
    )


Filter = Annotated[repository.EntryFilter, Depends(entry_filter)]


@router.get(
    "/entries",
    summary="Search the journal (newest first); format=csv exports every match",
    response_model=EntryPage,
)
async def list_entries(
    _: Readers,
    request: Request,
    session: Session,
    f: Filter,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    format: Literal["json", "csv"] = "json",
) -> Any:
    if format == "csv":
        return StreamingResponse(
            _csv(request, f),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="audit-entries.csv"'},
        )
    rows = await repository.page(
        session, f, limit=limit, before_seq=decode_cursor(cursor) if cursor else None
    )
    nxt = encode_cursor(rows[-1]["seq"]) if len(rows) == limit else None
    return EntryPage(items=[_entry(r) for r in rows], next_cursor=nxt)


async def _csv(request: Request, f: repository.EntryFilter) -> AsyncIterator[bytes]:
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow(CSV_COLUMNS)
    n = 0
    async for row in repository.stream(request.app.state.db.engine, f):
        rec = record_of(row)
        out.writerow(
            [
                rec["seq"],
                rec["event_id"],
                rec["occurred_at"],
                *[
                    rec[c]
                    for c in (
                        "recorded_at",
                        "kind",
                        "service",
                        "action",
                        "outcome",
                        "actor_user_id",
                        "actor_username",
                        "actor_role",
                        "subject_bin",
                        "client_id",
                        "object_type",
                        "object_id",
                        "request_id",
                        "source_ip",
                        "before",
                        "after",
                        "details",
                        "hash",
                    )
                ],
            ]
        )
        n += 1
        if n % 500 == 0:
            yield buf.getvalue().encode()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue().encode()


@router.get(
    "/entries/{entry_id}", summary="One journal entry by its event id", response_model=EntryRead
)
async def get_entry(_: Readers, session: Session, entry_id: str) -> EntryRead:
    row = await repository.by_event_id(session, entry_id)
    if row is None:
        raise NotFound(
            f"there is no audit entry {entry_id!r} in the online journal", code="entry_not_found"
        )
    return _entry(row)


@router.get(
    "/entries/{entry_id}/proof",
    summary="The Merkle inclusion proof of an entry against its signed checkpoint "
    "(check it offline: egsu audit verify-proof)",
)
async def get_proof(_: Readers, request: Request, conn: Raw, entry_id: str) -> dict[str, Any]:
    return await make_proof(conn, request.app.state.store, entry_id)


@router.get(
    "/verify",
    summary="Re-compute the chain and the signed checkpoints; ok or the first entry that "
    "does not match",
    response_model=VerifyRead,
)
async def verify(
    principal: Readers,
    request: Request,
    session: Session,
    conn: Raw,
    time_from: Annotated[
        AwareDatetime | None, Query(alias="from", description="Entries recorded at or after.")
    ] = None,
    time_to: Annotated[
        AwareDatetime | None, Query(alias="to", description="Entries recorded at or before.")
    ] = None,
) -> VerifyRead:
    if time_from and time_to and time_to < time_from:
        raise Unprocessable(
            "the time range is empty",
            errors=[FieldError("to", "range_empty", "'to' must not be before 'from'")],
        )
    first = last = None
    if time_from or time_to:
        first, last = await repository.seq_range(session, time_from, time_to)
        if first is None:
            return VerifyRead(
                status="ok",
                first_seq=None,
                last_seq=None,
                entries=0,
                checkpoints=0,
                unchecked_entries=0,
                failure=None,
            )
    keyring: Keyring = request.app.state.keyring
    report = await verify_journal(
        conn, request.app.state.store, keyring, first_seq=first, last_seq=last
    )
    if report.failure is not None:
        audit: AuditLog = request.app.state.audit
        audit.record_nowait(
            "security",
            "audit_tampering_detected",
            principal=principal,
            outcome="failure",
            object_type="audit_entry",
            object_id=str(report.failure.seq),
            reason=report.failure.reason,
            detail=report.failure.detail,
        )
    return VerifyRead.model_validate(report.as_dict())


@router.get(
    "/public-key",
    summary="The public key that verifies checkpoints, proofs and archive manifests",
    response_model=PublicKeyRead,
)
async def public_key(_: Readers, request: Request) -> PublicKeyRead:
    key: SigningKey = request.app.state.signing_key
    return PublicKeyRead(algorithm=ALGORITHM, key_id=key.key_id, public_key=key.public_pem)
