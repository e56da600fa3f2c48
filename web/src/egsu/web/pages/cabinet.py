"""The subject's cabinet: its facilities and points, file upload (CSV, 80020), receipts, data, compliance."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile
from fastapi.responses import RedirectResponse, Response

from egsu.web.console import Ctx, PageNotFound, check_csrf, screen
from egsu.web.gateway import ApiError
from egsu.web.vocab import term

router = APIRouter(include_in_schema=False)
R = "/api/v1/registry"
MAX_CSV = 20 * 1024 * 1024


async def _cabinet(
    ctx: Ctx, upload_error: str | None = None, status: int = 200, doc_error: str | None = None
) -> Response:
    assert ctx.session is not None
    bin_ = ctx.session.bin or "-"
    month = (datetime.now(UTC) + timedelta(hours=5)).strftime("%Y-%m")
    res = await ctx.api.many(
        subject=ctx.api.get(f"{R}/subjects/{bin_}"),
        facilities=ctx.api.get(f"{R}/facilities", limit=200),
        points=ctx.api.get(f"{R}/metering-points", limit=500),
        receipts=ctx.api.get("/api/v1/ingest/receipts", limit=20),
        compliance=ctx.api.get("/api/v1/ingest/compliance"),
        compliance_month=ctx.api.get("/api/v1/ingest/compliance", period=month),
        obligations=ctx.api.get(f"{R}/obligations", limit=100),
        proposals=ctx.api.get(f"{R}/proposals", limit=20, sort="-created_at"),
        due=ctx.api.get(f"{R}/devices/verification-due", within_days=60),
        alarms=ctx.api.get("/api/v1/monitoring/alarms", state="active", limit=10),
        corrections=ctx.api.get("/api/v1/measurements/corrections", limit=10),
        reports=ctx.api.get("/api/v1/reports", limit=10),
        documents=ctx.api.get("/api/v1/ingest/receipts", source="document", limit=10),
    )
    return ctx.render(
        "cabinet.html",
        status,
        title=ctx._("My cabinet"),
        res=res,
        more=res,
        upload_error=upload_error,
        doc_error=doc_error,
        today=date.today(),
    )


@router.get("/cabinet")
async def cabinet(ctx: Annotated[Ctx, screen("cabinet")]) -> Response:
    return await _cabinet(ctx)


@router.post("/cabinet/upload")
async def upload(
    ctx: Annotated[Ctx, screen("cabinet")],
    file: Annotated[UploadFile, File()],
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Send a file of readings (CSV or an 80020 exchange file) to ingest; show its receipt."""
    check_csrf(ctx, csrf)
    body = await file.read(MAX_CSV + 1)
    if not body:
        return await _cabinet(ctx, ctx._("Choose a CSV or 80020 file with readings."), 422)
    if len(body) > MAX_CSV:
        return await _cabinet(ctx, ctx._("The file is larger than 20 MB; split it."), 413)
    xml = (file.filename or "").lower().endswith(".xml") or body.lstrip(b"\xef\xbb\xbf \t\r\n")[
        :1
    ] == b"<"
    try:
        receipt = await ctx.api.call(
            "POST",
            "/api/v1/ingest/readings",
            content=body,
            headers={
                "Content-Type": "application/xml" if xml else "text/csv",
                "Idempotency-Key": f"console-{uuid.uuid4()}",
            },
        )
    except ApiError as exc:
        if exc.state == "unavailable":
            msg = ctx._("The data collection service is not answering. Try again in a minute.")
        elif exc.code == "no_valid_readings":
            reasons = sorted({term(ctx.lang, e.get("code")) for e in exc.problem.get("errors", [])})
            msg = ctx._(
                "None of the readings in the file could be accepted: %(reasons)s",
                reasons="; ".join(reasons[:5]),
            )
        elif exc.code == "malformed_batch":
            msg = ctx._("The file is not a CSV with columns point, quantity, ts, value, unit.")
        elif exc.code == "malformed_80020":
            msg = ctx._(
                "The 80020 file is malformed: element %(element)s, line %(line)s.",
                element=exc.problem.get("element") or "?",
                line=exc.problem.get("line") or "?",
            )
        else:
            msg = ctx._("The file was not accepted. Check its contents and try again.")
        return await _cabinet(ctx, msg, 422 if exc.state == "invalid" else 503)
    return RedirectResponse(f"/receipts/{receipt['receipt_id']}?new=1", status_code=303)


@router.post("/cabinet/documents")
async def upload_document(
    ctx: Annotated[Ctx, screen("cabinet")],
    signature: Annotated[UploadFile, File()],
    document: Annotated[UploadFile | None, File()] = None,
    csrf: Annotated[str, Form()] = "",
) -> Response:
    """Send a document signed with an EDS (attached CMS, or a batch with its detached CMS)."""
    check_csrf(ctx, csrf)
    cms = await signature.read(MAX_CSV + 1)
    data = await document.read(MAX_CSV + 1) if document is not None and document.filename else b""
    if not cms:
        return await _cabinet(ctx, doc_error=ctx._("Choose the signature file (CMS)."), status=422)
    files: dict[str, tuple[str, bytes, str]] = {
        "signature": (signature.filename or "signature.p7s", cms, "application/pkcs7-signature")
    }
    if data:
        files["document"] = (document.filename or "document.json", data, "application/octet-stream")  # type: ignore[union-attr]
    try:
        receipt = await ctx.api.call(
            "POST",
            "/api/v1/ingest/documents",
            files=files,
            headers={"Idempotency-Key": f"console-{uuid.uuid4()}"},
        )
    except ApiError as exc:
        if exc.state == "unavailable":
            msg = ctx._("Submission of signed documents is not available yet.")
        elif ctx.lang.code == "en" and exc.detail:
            msg = ctx._("The signed document was not accepted: %(detail)s", detail=exc.detail)
        else:
            msg = ctx._(
                "The signed document was not accepted: the signature could not be verified, "
                "or the signer may not sign for your company."
            )
        return await _cabinet(ctx, doc_error=msg, status=422 if exc.state == "invalid" else 503)
    return RedirectResponse(f"/receipts/{receipt['receipt_id']}?new=1", status_code=303)


@router.get("/receipts/{rid}")
async def receipt(rid: str, ctx: Annotated[Ctx, screen("receipt")], new: int = 0) -> Response:
    res = await ctx.api.many(
        receipt=ctx.api.get(f"/api/v1/ingest/receipts/{rid}"),
        stored=ctx.api.get(f"/api/v1/measurements/batches/{rid}"),
    )
    if res["receipt"].state == "not_found":
        raise PageNotFound()
    return ctx.render(
        "receipt.html",
        title=ctx._("Receipt"),
        res=res,
        rid=rid,
        new=bool(new),
        section="cabinet" if ctx.may("cabinet") else "overview",
    )
