"""Validation routes: verify CMS, describe certificates, manage the trust store."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from fastapi import APIRouter, Request, Response

from egsu.contracts.signatures import (
    CertificateCheckRequest,
    CertificateCheckResult,
    CertificateReport,
    CmsVerifyRequest,
    CmsVerifyResult,
)
from egsu.core.errors import FieldError, PayloadTooLarge, Unprocessable
from egsu.validation.deps import Ministry, Trust, Verifiers
from egsu.validation.der import Malformed
from egsu.validation.schemas import (
    CertificateSubmit,
    CrlRefreshRead,
    CrlSubmit,
    TrustCertificateRead,
    TrustCrlRead,
)
from egsu.validation.trust import Anchor, CrlEntry, decode_pem_or_der
from egsu.validation.verify import DetachedDataRequired

router = APIRouter(prefix="/api/v1/validation", tags=["validation"])


def malformed(exc: Malformed) -> Unprocessable:
    return Unprocessable(
        exc.detail,
        code="malformed",
        title="Malformed signature data",
        errors=[FieldError(exc.field, "malformed", exc.detail)],
    )


def _b64(value: str, field: str, limit: int) -> bytes:
    if len(value) > limit * 4 // 3 + 16:
        raise PayloadTooLarge(
            f"{field} is larger than {limit} bytes", errors=[FieldError(field, "too_large", "")]
        )
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise Unprocessable(
            f"{field} is not base64",
            code="malformed",
            errors=[FieldError(field, "malformed", "not base64")],
        ) from None


@router.post(
    "/cms/verify", summary="Verify a CMS (PKCS#7) signature: signers, chain, validity, revocation"
)
async def verify_cms(
    body: CmsVerifyRequest, request: Request, trust: Trust, principal: Verifiers
) -> CmsVerifyResult:
    limit = trust.settings.validation_max_cms_bytes
    text = body.cms.strip()
    if text.startswith("-----"):
        try:
            cms = decode_pem_or_der(text, "cms", ("CMS", "PKCS7"))
        except Malformed as exc:
            raise malformed(exc) from None
    else:
        cms = _b64(text, "cms", limit)
    data = _b64(body.data, "data", limit) if body.data is not None else None
    try:
        result: dict[str, Any] = await trust.run(trust.verifier.verify_cms, cms, data)
    except Malformed as exc:
        _audit_verdict(request, principal, "failure", codes=["malformed"])
        raise malformed(exc) from None
    except DetachedDataRequired:
        raise Unprocessable(
            "the CMS is detached: send the signed data in `data`",
            code="detached_data_required",
            errors=[FieldError("data", "missing", "required for a detached signature")],
        ) from None
    out = CmsVerifyResult.model_validate(result)
    _audit_verdict(
        request,
        principal,
        "success" if out.valid else "failure",
        codes=out.codes,
        signers=[{"serial": s.serial, "iin": s.iin, "bin": s.bin} for s in out.signers],
        content_sha256=out.content_sha256,
    )
    return out


def _audit_verdict(request: Request, principal: Any, outcome: str, **details: Any) -> None:
    audit = getattr(request.app.state, "audit", None)
    if audit is not None:
        audit.record_nowait(
            "security",
            "validation.cms.verify",
            principal=principal,
            outcome=outcome,
            object_type="signature",
            **details,
        )


@router.post("/x509/info", summary="Describe a certificate and check its chain and revocation now")
async def x509_info(body: CertificateSubmit, trust: Trust, _: Verifiers) -> CertificateReport:
    try:
        der = decode_pem_or_der(body.certificate, "certificate", ("CERTIFICATE",))
        report = await trust.run(trust.verifier.certificate_report, der)
    except Malformed as exc:
        raise malformed(exc) from None
    return CertificateReport.model_validate(report)


@router.post(
    "/x509/check",
    summary="Whether a certificate may authenticate a subject's client: trusted, unrevoked, RSA, its BIN",
)
async def x509_check(
    body: CertificateCheckRequest, trust: Trust, _: Verifiers
) -> CertificateCheckResult:
    try:
        der = decode_pem_or_der(body.certificate, "certificate", ("CERTIFICATE",))
        report = await trust.run(trust.verifier.client_certificate_check, der, body.bin)
    except Malformed as exc:
        raise malformed(exc) from None
    return CertificateCheckResult.model_validate(report)


# --- trust store --------------------------------------------------------------------------------
def _cert_read(a: Anchor) -> TrustCertificateRead:
    return TrustCertificateRead.model_validate(
        {
            "sha256": a.cert.sha256,
            "source": a.source,
            "added_at": a.added_at,
            "self_signed": a.cert.self_signed,
            "certificate": a.cert.info(),
        }
    )


def _crl_read(e: CrlEntry, trust: Trust) -> TrustCrlRead:
    return TrustCrlRead.model_validate(
        {
            **e.crl.summary(),
            "source": e.source,
            "url": e.url if e.source == "url" else None,
            "issuer_trusted": e.crl.issuer_key in trust.trust.snapshot.by_subject,
            "fetched_at": e.fetched_at,
        }
    )


@router.get("/trust/certificates", summary="Trusted CA certificates (anchors)")
async def list_certificates(trust: Trust, _: Ministry) -> dict[str, Any]:
    items = sorted(trust.trust.snapshot.anchors.values(), key=lambda a: (a.source, a.cert.sha256))
    return {"items": [_cert_read(a) for a in items], "next_cursor": None}


@router.post(
    "/trust/certificates",
    status_code=201,
    summary="Trust a CA certificate (a root or an intermediate)",
)
async def add_certificate(
    body: CertificateSubmit, request: Request, response: Response, trust: Trust, principal: Ministry
) -> TrustCertificateRead:
    try:
        der = decode_pem_or_der(body.certificate, "certificate", ("CERTIFICATE",))
        anchor, new = await trust.add_certificate(der, principal.username)
    except Malformed as exc:
        raise malformed(exc) from None
    read = _cert_read(anchor)
    if new:
        await request.app.state.audit.record(
            "change",
            "validation.trust.certificate.add",
            principal=principal,
            object_type="trust_certificate",
            object_id=anchor.cert.sha256,
            after={"subject": read.certificate.subject, "serial": read.certificate.serial},
        )
    else:
        response.status_code = 200
    return read


@router.delete(
    "/trust/certificates/{sha256}", status_code=204, summary="Stop trusting a CA certificate"
)
async def remove_certificate(
    sha256: str, request: Request, trust: Trust, principal: Ministry
) -> Response:
    anchor = await trust.remove_certificate(sha256.lower())
    await request.app.state.audit.record(
        "change",
        "validation.trust.certificate.remove",
        principal=principal,
        object_type="trust_certificate",
        object_id=anchor.cert.sha256,
        before={"subject": anchor.cert.info()["subject"]},
    )
    return Response(status_code=204)


@router.get("/trust/crls", summary="Loaded certificate revocation lists")
async def list_crls(trust: Trust, _: Ministry) -> dict[str, Any]:
    items = sorted(
        trust.trust.snapshot.crls.values(), key=lambda e: (e.crl.issuer, e.crl.this_update)
    )
    return {"items": [_crl_read(e, trust) for e in items], "next_cursor": None}


@router.post("/trust/crls", status_code=201, summary="Load a CRL")
async def add_crl(
    body: CrlSubmit, request: Request, response: Response, trust: Trust, principal: Ministry
) -> TrustCrlRead:
    try:
        der = decode_pem_or_der(body.crl, "crl", ("X509 CRL",))
        entry, new = await trust.add_crl(der, principal.username)
    except Malformed as exc:
        raise malformed(exc) from None
    if new:
        await request.app.state.audit.record(
            "change",
            "validation.trust.crl.add",
            principal=principal,
            object_type="trust_crl",
            object_id=entry.crl.sha256,
            after={"issuer": entry.crl.issuer, "this_update": str(entry.crl.this_update)},
        )
    else:
        response.status_code = 200
    return _crl_read(entry, trust)


@router.delete("/trust/crls/{sha256}", status_code=204, summary="Remove a CRL")
async def remove_crl(sha256: str, request: Request, trust: Trust, principal: Ministry) -> Response:
    entry = await trust.remove_crl(sha256.lower())
    await request.app.state.audit.record(
        "change",
        "validation.trust.crl.remove",
        principal=principal,
        object_type="trust_crl",
        object_id=entry.crl.sha256,
        before={"issuer": entry.crl.issuer},
    )
    return Response(status_code=204)


@router.post("/trust/crls/refresh", summary="Fetch the configured CRL URLs now")
async def refresh_crls(request: Request, trust: Trust, principal: Ministry) -> CrlRefreshRead:
    outcome = await trust.refresh_crls(force=True)
    await request.app.state.audit.record(
        "control",
        "validation.trust.crl.refresh",
        principal=principal,
        object_type="trust_crl",
        after=outcome,
    )
    return CrlRefreshRead(urls=outcome)
