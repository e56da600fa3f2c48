"""Ingest routes under /api/v1/ingest."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import select

from egsu.auth import Principal, require_roles
from egsu.core.errors import (
    FieldError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unprocessable,
    UnsupportedMediaType,
)
from egsu.db.deps import Session
from egsu.db.pagination import keyset, page
from egsu.ingest import exchange80020
from egsu.ingest import models as m
from egsu.ingest.compliance import report
from egsu.ingest.documents import accept_document, b64, verify
from egsu.ingest.parsing import RawBatch, parse_csv, parse_json
from egsu.ingest.service import Ingest, Submission, receipt_view

router = APIRouter(prefix="/api/v1/ingest", tags=["ingest"])
Submitter = Annotated[
    Principal, Depends(require_roles("subject", "operator", "ministry", "service"))
]
Reader = Annotated[
    Principal, Depends(require_roles("subject", "operator", "ministry", "government", "service"))
]
_BIN = re.compile(r"^\d{12}$")
_KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


class Rejected(BaseModel):
    index: int
    field: str
    code: str
    message: str


class ExchangeChannel(BaseModel):
    """What became of one measuring channel of an 80020 file."""

    measuring_point: str = Field(description="the measuring point's 80020 code")
    measuring_point_name: str | None = None
    channel: str = Field(description="the channel's code, e.g. 01")
    desc: str | None = None
    point: str | None = Field(None, description="the metering point it maps to, if any")
    quantity: str | None = Field(None, description="the quantity the channel carries, if known")
    utc_offset: str | None = Field(None, description="the standard offset the times were read in")
    periods: int
    accepted: int
    non_commercial: int = Field(description="accepted, stored with the not_commercial flag")
    rejected: int
    reasons: dict[str, int] = Field(description="refused periods by reason code")


class ExchangeArea(BaseModel):
    inn: str | None
    name: str | None
    timezone: str | None = Field(description="the area's timezone attribute as written")
    utc_offset: str = Field(description="+HH:MM, or local: each point's regional civil time")


class ExchangeSender(BaseModel):
    inn: str | None
    name: str | None


class ExchangeReceipt(BaseModel):
    """The 80020 file of a receipt: its header and each channel's outcome."""

    format: Literal["80020"]
    number: str | None
    created: str | None
    day: date
    daylight_saving: int
    sender: ExchangeSender
    areas: list[ExchangeArea]
    channels: list[ExchangeChannel]


class Receipt(BaseModel):
    receipt_id: str
    subject_bin: str
    status: Literal["pending", "accepted"]
    source: str
    received_at: datetime
    accepted_at: datetime | None
    sha256: str
    idempotency_key: str
    accepted: int
    rejected_count: int
    rejected: list[Rejected]
    events: int
    points: int
    ts_from: datetime | None
    ts_to: datetime | None
    document: dict[str, Any] | None = None
    exchange: ExchangeReceipt | None = None


def _check_length(request: Request, limit: int) -> None:
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit:
        raise PayloadTooLarge(
            f"the body is larger than {limit // 2**20} MB; split the batch", code="body_too_large"
        )


async def read_body(request: Request, limit: int) -> bytes:
    _check_length(request, limit)
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(
                f"the body is larger than {limit // 2**20} MB; split the batch",
                code="body_too_large",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def subject_for(principal: Principal, given: str | None) -> str:
    """The subject a submission is for: a subject user submits only for its own BIN."""
    if "subject" in principal.roles and not principal.has_any("operator", "ministry", "service"):
        if given and given != principal.bin:
            raise Forbidden(
                f"you submit for {principal.bin}, not for {given}", code="not_your_subject"
            )
        if not principal.bin:
            raise Forbidden(
                "your account has no BIN; ask the operator to fix it", code="no_subject"
            )
        return principal.bin
    if not given or not _BIN.match(given):
        raise Unprocessable(
            "subject_bin: give the 12-digit BIN the data is for",
            errors=[FieldError("subject_bin", "missing", "required for this role")],
        )
    return given


def key_of(header: str | None) -> str | None:
    if header is None:
        return None
    if not _KEY.match(header):
        raise Unprocessable(
            "Idempotency-Key: up to 200 printable characters",
            errors=[FieldError("Idempotency-Key", "invalid", "up to 200 printable characters")],
        )
    return header


XML_TYPES = frozenset({"application/xml", "text/xml"})
CSV_TYPES = frozenset({"text/csv", "application/csv"})
JSON_TYPES = frozenset({"application/json", "application/x-ndjson", ""})
EXAMPLE_80020 = """<?xml version="1.0" encoding="windows-1251"?>
<message class="80020" version="2" number="117">
  <datetime>
    <timestamp>20260302013000</timestamp>
    <daylightsavingtime>0</daylightsavingtime>
    <day>20260301</day>
  </datetime>
  <sender><inn>970740000838</inn><name>ТОО «Энергия»</name></sender>
  <area timezone="+05:00">
    <inn>970740000838</inn>
    <name>ТОО «Энергия»</name>
    <measuringpoint code="551010012345101" name="ПС 110 кВ «Северная», ввод Т-1">
      <measuringchannel code="01" desc="активная энергия, приём">
        <period start="0000" end="0030"><value>1520</value></period>
        <period start="0030" end="0100"><value status="1">1498</value></period>
      </measuringchannel>
    </measuringpoint>
  </area>
</message>
"""


def _file_subject(msg: exchange80020.Message) -> str | None:
    """The subject an 80020 file names: its areas' one BIN, else its sender's."""
    inns = {a.inn for a in msg.areas if a.inn}
    if len(inns) == 1 and _BIN.match(next(iter(inns))):
        return next(iter(inns))
    return msg.sender_inn if msg.sender_inn and _BIN.match(msg.sender_inn) else None


async def read_upload(request: Request, limit: int) -> tuple[bytes, str]:
    """The file of a multipart upload, with the type its name, its part or its first bytes say."""
    _check_length(request, limit + 65536)
    form = await request.form(max_files=1, max_fields=4, max_part_size=limit)
    upload = form.get("file")
    if not hasattr(upload, "read"):
        raise Unprocessable(
            "file: attach the readings file (JSON, CSV or 80020 XML)",
            errors=[FieldError("file", "missing", "attach the readings file")],
        )
    body: bytes = await upload.read()  # type: ignore[union-attr]
    name = (getattr(upload, "filename", None) or "").lower()
    ctype = (getattr(upload, "content_type", None) or "").split(";")[0].strip().lower()
    if name.endswith(".xml") or ctype in XML_TYPES:
        return body, "application/xml"
    if name.endswith(".csv") or ctype in CSV_TYPES:
        return body, "text/csv"
    if name.endswith(".json") or ctype == "application/json":
        return body, "application/json"
    if exchange80020.looks_like_80020(body):
        return body, "application/xml"
    return body, "application/json" if body.lstrip()[:1] == b"{" else "text/csv"


@router.post(
    "/readings",
    status_code=202,
    response_model=Receipt,
    summary="Submit readings (JSON, CSV or an 80020 file, as the body or an upload); "
    "the receipt comes after the bus has it",
    description=(
        "The body is a JSON batch, a CSV file (`point,quantity,ts,value,unit`) or an 80020 exchange "
        "file (XML, message class 80020 version 2, UTF-8 or windows-1251), chosen by Content-Type. "
        "The same files can be uploaded as `multipart/form-data` in the part `file`. Each reading is "
        "judged by itself: the receipt lists the refused ones with their reasons, and for an 80020 "
        "file what became of each measuring channel (`exchange.channels`). A file that is not an "
        "80020 file at all is a 422 naming the element and the line (docs/exchange-80020.md)."
    ),
    responses={
        202: {"description": "Accepted: the receipt"},
        409: {"description": "Key reused"},
        413: {"description": "Too large"},
        415: {"description": "Not JSON, CSV or 80020 XML"},
        422: {"description": "Malformed, or no reading could be accepted"},
        503: {"description": "Try again later"},
    },
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["readings"],
                        "properties": {
                            "subject_bin": {"type": "string"},
                            "batch_id": {"type": "string"},
                            "readings": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["point", "quantity", "ts", "value"],
                                    "properties": {
                                        "point": {"type": "string"},
                                        "quantity": {"type": "string"},
                                        "ts": {
                                            "type": "string",
                                            "format": "date-time",
                                            "description": "end of the interval, with offset",
                                        },
                                        "value": {"type": "number"},
                                        "unit": {"type": "string"},
                                    },
                                },
                            },
                            "events": {"type": "array", "items": {"type": "object"}},
                        },
                    }
                },
                "text/csv": {
                    "schema": {
                        "type": "string",
                        "description": "columns point,quantity,ts,value,unit",
                    }
                },
                "application/xml": {
                    "schema": {
                        "type": "string",
                        "description": "an 80020 exchange file (message class 80020, version 2); "
                        "measuring points by their 80020 code, channels 01–04 = active import, "
                        "active export, reactive import, reactive export unless the point's "
                        "channel map says otherwise; values in kWh / kvarh; `status` other than "
                        "0 marks a value not commercial",
                    },
                    "example": EXAMPLE_80020,
                },
                "text/xml": {
                    "schema": {"type": "string", "description": "the same as application/xml"},
                },
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "description": "a JSON batch, a CSV file or an 80020 file "
                                "(by its name, its type or its first bytes)",
                            }
                        },
                    }
                },
            }
        }
    },
)
async def post_readings(
    request: Request,
    principal: Submitter,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    subject_bin: Annotated[
        str | None,
        Query(description="for CSV and 80020 files: the subject the data is for"),
    ] = None,
) -> JSONResponse:
    ingest: Ingest = request.app.state.ingest
    ctype = request.headers.get("content-type", "application/json").split(";")[0].strip().lower()
    limit = ingest.settings.max_body_bytes
    if ctype == "multipart/form-data":
        body, ctype = await read_upload(request, limit)
    else:
        body = await read_body(request, limit)
    exchange = None
    if ctype in JSON_TYPES:
        raw, ext, source = parse_json(body), "json", "rest"
        given = raw.subject_bin or subject_bin
    elif ctype in CSV_TYPES:
        raw, ext, source = parse_csv(body), "csv", "csv"
        given = subject_bin
    elif ctype in XML_TYPES:
        exchange = exchange80020.parse(body)
        raw, ext, source = RawBatch(None, None, [], []), "xml", exchange80020.FORMAT
        wide = principal.has_any("operator", "ministry", "service")
        # a subject's file is the subject's whatever INN it names (an intermediary may send it)
        given = subject_bin or (_file_subject(exchange) if wide else None)
    else:
        raise UnsupportedMediaType(
            f"send application/json, text/csv or application/xml (an 80020 file), not {ctype}"
        )
    bin_ = subject_for(principal, given)
    status, receipt = await ingest.accept(
        Submission(
            subject_bin=bin_,
            body=body,
            raw=raw,
            content_type=ctype,
            source=source,
            idempotency_key=key_of(idempotency_key),
            submitted_by=principal.username,
            extension=ext,
            exchange=exchange,
        )
    )
    return JSONResponse(Receipt.model_validate(receipt).model_dump(mode="json"), status_code=status)


@router.get("/receipts/{receipt_id}", response_model=Receipt, summary="One receipt")
async def get_receipt(receipt_id: str, principal: Reader, session: Session) -> dict[str, Any]:
    stmt = (
        select(m.receipt).where(m.receipt.c.id == receipt_id)
        if re.match(r"^[0-9a-f-]{36}$", receipt_id)
        else None
    )
    row = (await session.execute(stmt)).mappings().first() if stmt is not None else None
    if row is None or not principal.can_see_subject(row["subject_bin"]):
        raise NotFound(f"no receipt {receipt_id}", code="receipt_not_found")
    return receipt_view(dict(row))


class ReceiptSummary(BaseModel):
    receipt_id: str
    subject_bin: str
    status: str
    source: str
    received_at: datetime
    accepted: int
    rejected_count: int
    events: int
    ts_from: datetime | None
    ts_to: datetime | None


@router.get("/receipts", summary="Receipts, newest first (a subject sees its own)")
async def list_receipts(
    principal: Reader,
    session: Session,
    subject_bin: str | None = None,
    status: Literal["pending", "accepted"] | None = None,
    source: str | None = None,
    received_from: datetime | None = Query(None, alias="from"),
    received_to: datetime | None = Query(None, alias="to"),
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    t = m.receipt
    stmt = select(
        t.c.id,
        t.c.subject_bin,
        t.c.status,
        t.c.source,
        t.c.received_at,
        t.c.accepted,
        t.c.rejected,
        t.c.events,
        t.c.ts_from,
        t.c.ts_to,
    )
    scope = principal.scope_bin
    if scope is not None:
        stmt = stmt.where(t.c.subject_bin == scope)
    if subject_bin:
        stmt = stmt.where(t.c.subject_bin == subject_bin)
    if status:
        stmt = stmt.where(t.c.status == status)
    if source:
        stmt = stmt.where(t.c.source == source)
    if received_from:
        stmt = stmt.where(t.c.received_at >= received_from)
    if received_to:
        stmt = stmt.where(t.c.received_at < received_to)
    stmt = keyset(
        stmt,
        sort_col=t.c.received_at,
        id_col=t.c.id,
        descending=True,
        cursor=cursor,
        parse=datetime.fromisoformat,
    )
    rows = (await session.execute(stmt.limit(limit + 1))).mappings().all()
    items, nxt = page(rows, limit, sort_key="received_at", id_key="id")
    return {
        "items": [
            ReceiptSummary(
                receipt_id=r["id"],
                rejected_count=r["rejected"],
                **{
                    k: r[k]
                    for k in (
                        "subject_bin",
                        "status",
                        "source",
                        "received_at",
                        "accepted",
                        "events",
                        "ts_from",
                        "ts_to",
                    )
                },
            )
            for r in items
        ],
        "next_cursor": nxt,
    }


@router.get("/compliance", summary="Completeness and timeliness of submissions per subject (R5)")
async def compliance(
    request: Request,
    principal: Reader,
    session: Session,
    period: Annotated[str | None, Query(description="a day YYYY-MM-DD or a month YYYY-MM")] = None,
    day_from: Annotated[date | None, Query(alias="from")] = None,
    day_to: Annotated[date | None, Query(alias="to")] = None,
    subject_bin: str | None = None,
) -> dict[str, Any]:
    today = (datetime.now(UTC) + timedelta(hours=5)).date()
    if period:
        if re.match(r"^\d{4}-\d{2}-\d{2}$", period):
            day_from = day_to = date.fromisoformat(period)
        elif re.match(r"^\d{4}-\d{2}$", period):
            day_from = date.fromisoformat(period + "-01")
            nxt = (day_from.replace(day=28) + timedelta(days=4)).replace(day=1)
            day_to = nxt - timedelta(days=1)
        else:
            raise Unprocessable(
                "period: use YYYY-MM-DD or YYYY-MM",
                errors=[FieldError("period", "invalid", "use YYYY-MM-DD or YYYY-MM")],
            )
    day_from = day_from or today
    day_to = day_to or day_from
    if day_to < day_from or (day_to - day_from).days > 366:
        raise Unprocessable(
            "to: must be on or after from, within a year",
            errors=[FieldError("to", "invalid_range", "on or after from, within a year")],
        )
    scope = principal.scope_bin
    ingest: Ingest = request.app.state.ingest
    obligations = await ingest.obligations.of(scope or subject_bin)
    conn = await session.connection()
    raw = (await conn.get_raw_connection()).driver_connection
    items = await report(raw, ingest.points, obligations, day_from, day_to, datetime.now(UTC))
    return {
        "from": day_from.isoformat(),
        "to": day_to.isoformat(),
        "items": items,
        "late_or_incomplete": [i["subject_bin"] for i in items if i["status"] != "ok"],
    }


class SignedDocument(BaseModel):
    cms: str = Field(
        description="CMS (PKCS#7) SignedData, base64; attached, or detached with `data`"
    )
    data: str | None = Field(
        None, description="for a detached signature: the signed readings batch (JSON), base64"
    )


def _b64(value: str, field: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise Unprocessable(
            f"{field}: not base64", errors=[FieldError(field, "invalid_base64", "not base64")]
        ) from None


@router.post(
    "/documents",
    status_code=202,
    response_model=Receipt,
    summary="Submit a signed document: a CMS with the readings batch, or the batch with a detached CMS",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": SignedDocument.model_json_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "signature": {
                                "type": "string",
                                "format": "binary",
                                "description": "the CMS (DER or base64)",
                            },
                            "document": {
                                "type": "string",
                                "format": "binary",
                                "description": "the signed batch, for a detached signature",
                            },
                        },
                    }
                },
            }
        }
    },
)
async def post_document(
    request: Request,
    principal: Submitter,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    subject_bin: Annotated[
        str | None, Query(description="the subject, if the batch does not name it")
    ] = None,
) -> JSONResponse:
    ingest: Ingest = request.app.state.ingest
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype == "multipart/form-data":
        form = await request.form(
            max_files=2, max_fields=4, max_part_size=ingest.settings.max_body_bytes
        )
        sig = form.get("signature")
        if not hasattr(sig, "read"):
            raise Unprocessable(
                "signature: attach the CMS file",
                errors=[FieldError("signature", "missing", "attach the CMS file")],
            )
        cms = await sig.read()  # type: ignore[union-attr]
        doc = form.get("document")
        data = await doc.read() if hasattr(doc, "read") else None  # type: ignore[union-attr]
        if cms[:1] not in (b"\x30",):  # base64 text rather than DER
            cms = _b64(cms.decode("ascii", "replace").strip(), "signature")
    else:
        body = await read_body(request, ingest.settings.max_body_bytes)
        try:
            doc_in = SignedDocument.model_validate_json(body)
        except ValidationError as exc:
            raise Unprocessable(
                'send {"cms": base64, "data": base64 | null}',
                errors=[
                    FieldError(".".join(str(p) for p in e["loc"]) or "body", e["type"], e["msg"])
                    for e in exc.errors()
                ],
            ) from None
        cms = _b64(doc_in.cms, "cms")
        data = _b64(doc_in.data, "data") if doc_in.data is not None else None
    wide = principal.has_any("operator", "ministry", "service")
    scope = None if wide else (principal.bin or "-")
    try:
        status, receipt = await accept_document(
            ingest,
            request.app.state.validation,
            request.app.state.registry,
            cms=cms,
            data=data,
            subject_hint=subject_bin,
            submitted_by=principal.username,
            idempotency_key=key_of(idempotency_key),
            scope_bin=scope,
        )
    except Unprocessable as exc:
        await request.app.state.audit.record(
            "security",
            "document.signature_refused",
            principal=principal,
            outcome="denied",
            object_type="document",
            object_id=hashlib.sha256(cms).hexdigest(),
            reason=exc.code,
            validation_codes=exc.extra.get("validation_codes", []),
        )
        raise
    return JSONResponse(Receipt.model_validate(receipt).model_dump(mode="json"), status_code=status)


@router.get(
    "/documents/{receipt_id}", summary="A signed document as it was submitted, with its signer"
)
async def get_document(
    receipt_id: str,
    request: Request,
    principal: Reader,
    session: Session,
    reverify: Annotated[bool, Query(description="check the signature again now")] = False,
) -> dict[str, Any]:
    stmt = (
        select(m.receipt).where(m.receipt.c.id == receipt_id, m.receipt.c.source == "document")
        if re.match(r"^[0-9a-f-]{36}$", receipt_id)
        else None
    )
    row = (await session.execute(stmt)).mappings().first() if stmt is not None else None
    if row is None or not principal.can_see_subject(row["subject_bin"]):
        raise NotFound(f"no signed document {receipt_id}", code="document_not_found")
    doc = row["document"]
    store = request.app.state.ingest.store
    cms = await store.get("docs", doc["cms_key"])
    data = await store.get("docs", doc["data_key"]) if doc.get("data_key") else None
    out: dict[str, Any] = {
        "receipt": receipt_view(dict(row)),
        "document": doc,
        "cms": b64(cms),
        "data": b64(data),
    }
    if reverify:
        result = await verify(request.app.state.validation, cms, data)
        out["verification"] = result.model_dump(mode="json")
    return out
