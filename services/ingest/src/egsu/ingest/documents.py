"""Signed submissions (§16): a CMS whose content is a readings batch, or the batch plus a detached CMS.

The validation service checks the signature; ingest decides whether the signer may sign for the
subject: a certificate of the subject's BIN with an organisation signing role (head, or a person with
the right to sign), or an individual whose IIN the registry lists as authorised for the subject. The
document is kept unchanged with its signature in the object store (``docs/``), so its legal value can
be shown later.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from datetime import UTC, datetime
from typing import Any

import httpx
from asn1crypto import cms as asn1_cms

from egsu.contracts.signatures import (
    ORGANISATION_SIGNING_ROLES,
    CmsVerifyResult,
    SignerResult,
    verify_cms,
)
from egsu.core.errors import FieldError, ServiceUnavailable, Unprocessable
from egsu.ingest.parsing import malformed, parse_json
from egsu.ingest.service import Ingest, Submission

log = logging.getLogger("egsu.ingest.documents")


def refused(
    code: str, message: str, result: CmsVerifyResult | None = None, **extra: Any
) -> Unprocessable:
    codes = result.codes if result is not None else []
    return Unprocessable(
        message,
        code=code,
        errors=[FieldError("signature", code, message)],
        validation_codes=codes,
        **extra,
    )


def attached_content(cms: bytes) -> bytes | None:
    """The encapsulated content of an attached CMS, or None when the signature is detached."""
    try:
        info = asn1_cms.ContentInfo.load(cms)
        content = info["content"]["encap_content_info"]["content"]
        return None if content.native is None else bytes(content.native)
    except (ValueError, TypeError, KeyError) as exc:
        raise malformed(f"the signature is not a CMS SignedData: {exc}", "cms") from None


async def verify(validation: httpx.AsyncClient, cms: bytes, data: bytes | None) -> CmsVerifyResult:
    try:
        return await verify_cms(validation, cms, data)
    except httpx.HTTPStatusError as exc:
        if exc.response.status_code == 422:
            body = exc.response.json()
            raise Unprocessable(
                body.get("detail") or "the signed document is malformed",
                code="malformed",
                errors=[FieldError("cms", "malformed", body.get("detail") or "malformed")],
                validation_codes=["malformed"],
            ) from None
        raise ServiceUnavailable(
            "the signature cannot be checked right now; try again shortly",
            code="validation_unavailable",
        ) from exc
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(
            "the signature cannot be checked right now; try again shortly",
            code="validation_unavailable",
        ) from exc


async def authorised_iins(registry: httpx.AsyncClient, subject_bin: str) -> set[str]:
    try:
        r = await registry.get(f"/api/v1/registry/subjects/{subject_bin}")
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(
            "the registry cannot be reached", code="registry_unavailable"
        ) from exc
    if r.status_code == 404:
        return set()
    if r.status_code != 200:
        raise ServiceUnavailable("the registry cannot be reached", code="registry_unavailable")
    return set(r.json().get("authorized_iins", []))


def signer_summary(s: SignerResult) -> dict[str, Any]:
    return {
        "iin": s.iin,
        "bin": s.bin,
        "common_name": s.common_name,
        "organization": s.organization,
        "serial": s.serial,
        "issuer": s.issuer,
        "holder_type": s.holder_type,
        "key_purpose": s.key_purpose,
        "roles": s.roles,
        "signature_algorithm": s.signature_algorithm,
        "digest_algorithm": s.digest_algorithm,
        "signing_time": s.signing_time.isoformat() if s.signing_time else None,
        "not_before": s.not_before.isoformat() if s.not_before else None,
        "not_after": s.not_after.isoformat() if s.not_after else None,
        "revocation": s.revocation.model_dump(mode="json"),
    }


def choose_signer(
    result: CmsVerifyResult, subject_bin: str, allowed_iins: set[str]
) -> SignerResult:
    """The signer that entitles the document, or a refusal that says why none does."""
    for s in result.signers:
        if s.valid and s.key_purpose == "signing":
            if s.bin == subject_bin and ORGANISATION_SIGNING_ROLES.intersection(s.roles):
                return s
            if s.iin and s.iin in allowed_iins:
                return s
    if any(s.bin == subject_bin or (s.iin and s.iin in allowed_iins) for s in result.signers):
        raise refused(
            "signer_not_authorised",
            f"the signer belongs to {subject_bin} but has no right to sign for it "
            "(a head's certificate, or one with the right to sign, is needed)",
            result,
        )
    raise refused(
        "signer_not_subject",
        f"the document is not signed for {subject_bin}: the signer's certificate is for "
        f"{', '.join(sorted({s.bin or s.iin or '?' for s in result.signers}))}",
        result,
    )


async def accept_document(
    ingest: Ingest,
    validation: httpx.AsyncClient,
    registry: httpx.AsyncClient,
    *,
    cms: bytes,
    data: bytes | None,
    subject_hint: str | None,
    submitted_by: str,
    idempotency_key: str | None,
    scope_bin: str | None,
) -> tuple[int, dict[str, Any]]:
    content = data if data is not None else attached_content(cms)
    if content is None:
        raise malformed("the signature is detached: send the signed batch as `data` too", "data")
    raw = parse_json(content)
    subject_bin = raw.subject_bin or subject_hint
    if scope_bin is not None:
        if subject_bin and subject_bin != scope_bin:
            from egsu.core.errors import Forbidden

            raise Forbidden(
                f"you submit for {scope_bin}, not for {subject_bin}", code="not_your_subject"
            )
        subject_bin = scope_bin
    if not subject_bin:
        raise malformed("the signed batch names no subject_bin", "subject_bin")
    result = await verify(validation, cms, data)
    if hashlib.sha256(content).hexdigest() != result.content_sha256:
        raise refused("digest_mismatch", "the signed content is not the batch sent", result)
    if not result.valid:
        raise refused(
            result.codes[0] if result.codes else "signature_invalid",
            "the signature is not valid: " + ", ".join(result.codes),
            result,
        )
    signer = choose_signer(result, subject_bin, await authorised_iins(registry, subject_bin))
    now = datetime.now(UTC)
    doc_key = f"{subject_bin}/{now:%Y/%m/%d}/{hashlib.sha256(cms).hexdigest()}"
    await ingest.store.put(
        "docs",
        f"signed/{doc_key}.p7s",
        cms,
        content_type="application/pkcs7-signature",
        metadata={"subject-bin": subject_bin},
    )
    if data is not None:
        await ingest.store.put(
            "docs",
            f"signed/{doc_key}.json",
            data,
            content_type="application/json",
            metadata={"subject-bin": subject_bin},
        )
    document = {
        "signer": signer_summary(signer),
        "signers": [signer_summary(s) for s in result.signers],
        "detached": data is not None,
        "cms_key": f"signed/{doc_key}.p7s",
        "data_key": f"signed/{doc_key}.json" if data is not None else None,
        "content_sha256": result.content_sha256,
        "verified_at": result.verified_at.isoformat(),
        "valid": result.valid,
    }
    return await ingest.accept(
        Submission(
            subject_bin=subject_bin,
            body=content,
            raw=raw,
            content_type="application/json",
            source="document",
            idempotency_key=idempotency_key,
            submitted_by=submitted_by,
            document=document,
            extension="json",
        )
    )


def b64(data: bytes | None) -> str | None:
    return base64.b64encode(data).decode() if data is not None else None
