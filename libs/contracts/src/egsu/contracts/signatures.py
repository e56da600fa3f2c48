"""The EDS validation service's contract: what ``POST /api/v1/validation/cms/verify`` answers.

Ingest (and anyone else) uses these models and ``verify_cms`` to ask the validation service
whether a signed document is valid and who signed it, then decides for itself whether that
signer may sign for the subject (``signer_not_subject`` / ``signer_not_authorised``).

    async with service_client(settings, "validation") as client:
        result = await verify_cms(client, cms_bytes, data=None)
        if result.valid and result.signers[0].bin == subject_bin: ...
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field

if TYPE_CHECKING:
    import httpx

FailureCode = Literal[
    "signature_invalid",
    "digest_mismatch",
    "untrusted_chain",
    "cert_expired_at_signing",
    "cert_not_yet_valid",
    "cert_revoked",
    "revocation_unknown",
    "wrong_key_usage",
    "unsupported_algorithm",
    "malformed",
    "signing_time_in_future",  # a warning only
    "bin_mismatch",
]
KeyPurpose = Literal["signing", "authentication", "unknown"]
HolderType = Literal["individual", "legal_entity_head", "legal_entity_employee", "unknown"]
RevocationStatus = Literal["good", "revoked", "revoked_after_signing", "unknown", "not_checked"]

# NCA RK roles (from the role OIDs in Extended Key Usage) that may sign for an organisation.
ORGANISATION_SIGNING_ROLES = frozenset({"ceo", "can_sign", "can_sign_financial"})

FAILURE_MESSAGES: dict[str, dict[str, str]] = {
    "signature_invalid": {
        "ru": "Подпись недействительна: она не соответствует открытому ключу сертификата.",
        "kk": "Қолтаңба жарамсыз: ол сертификаттың ашық кілтіне сәйкес келмейді.",
        "en": "The signature is invalid: it does not match the certificate's public key.",
    },
    "digest_mismatch": {
        "ru": "Документ был изменён после подписания (хэш не совпадает).",
        "kk": "Құжат қол қойылғаннан кейін өзгертілген (хэш сәйкес емес).",
        "en": "The document was changed after it was signed (the digest does not match).",
    },
    "untrusted_chain": {
        "ru": "Сертификат не выдан доверенным удостоверяющим центром (НУЦ РК).",
        "kk": "Сертификатты сенімді куәландырушы орталық (ҰКО ҚР) бермеген.",
        "en": "The certificate was not issued by a trusted certification authority (NCA RK).",
    },
    "cert_expired_at_signing": {
        "ru": "Срок действия сертификата истёк до момента подписания.",
        "kk": "Сертификаттың қолданылу мерзімі қол қойылғанға дейін аяқталған.",
        "en": "The certificate had expired when the document was signed.",
    },
    "cert_not_yet_valid": {
        "ru": "Сертификат ещё не действовал в момент подписания.",
        "kk": "Қол қойылған сәтте сертификат әлі күшіне енбеген.",
        "en": "The certificate was not yet valid when the document was signed.",
    },
    "cert_revoked": {
        "ru": "Сертификат отозван.",
        "kk": "Сертификат кері қайтарылған.",
        "en": "The certificate has been revoked.",
    },
    "revocation_unknown": {
        "ru": "Не удалось проверить, отозван ли сертификат (нет актуального СОС и ответа OCSP).",
        "kk": "Сертификаттың кері қайтарылғанын тексеру мүмкін болмады "
        "(өзекті КСТ және OCSP жауабы жоқ).",
        "en": "Could not check whether the certificate is revoked "
        "(no current CRL and no OCSP answer).",
    },
    "wrong_key_usage": {
        "ru": "Ключ предназначен для аутентификации, а не для подписи "
        "(используйте ключ для подписи).",
        "kk": "Кілт қол қоюға емес, аутентификацияға арналған "
        "(қол қоюға арналған кілтті пайдаланыңыз).",
        "en": "The key is for authentication, not for signing (use the signing key).",
    },
    "unsupported_algorithm": {
        "ru": "Алгоритм подписи не поддерживается.",
        "kk": "Қолтаңба алгоритміне қолдау көрсетілмейді.",
        "en": "The signature algorithm is not supported.",
    },
    "malformed": {
        "ru": "Подписанный документ повреждён или имеет неверный формат.",
        "kk": "Қол қойылған құжат бүлінген немесе пішімі қате.",
        "en": "The signed document is damaged or not in the expected format.",
    },
    "signing_time_in_future": {
        "ru": "Время подписания указано в будущем.",
        "kk": "Қол қою уақыты болашақта көрсетілген.",
        "en": "The signing time lies in the future.",
    },
    "bin_mismatch": {
        "ru": "Сертификат выдан другой организации (БИН не совпадает).",
        "kk": "Сертификат басқа ұйымға берілген (БСН сәйкес емес).",
        "en": "The certificate was issued to another organisation (the BIN differs).",
    },
}


class FailedCheck(BaseModel):
    code: FailureCode
    detail: str = Field(description="What exactly failed, for operators (English)")
    message: dict[str, str] = Field(
        {}, description="What it means for the signer, in ru, kk and en"
    )
    certificate: str | None = Field(
        None, description="SHA-256 of the certificate concerned, if not the signer's"
    )


class CertificateInfo(BaseModel):
    """A certificate in NCA RK's vocabulary."""

    serial: str = Field(description="Serial number, hexadecimal")
    subject: str
    issuer: str
    common_name: str | None = None
    surname: str | None = None
    patronymic: str | None = None
    iin: str | None = None
    bin: str | None = None
    organization: str | None = None
    country: str | None = None
    locality: str | None = None
    state: str | None = None
    email: str | None = None
    not_before: datetime
    not_after: datetime
    signature_algorithm: str
    public_key_algorithm: str
    key_usage: list[str] = []
    extended_key_usage: list[str] = []
    policies: list[str] = []
    key_purpose: KeyPurpose
    holder_type: HolderType
    roles: list[str] = Field(
        [], description="NCA RK roles from Extended Key Usage: ceo, can_sign, employee, …"
    )
    is_ca: bool = False
    crl_urls: list[str] = []
    ocsp_urls: list[str] = []
    sha256: str


class ChainItem(BaseModel):
    subject: str | None
    serial: str
    sha256: str
    not_before: datetime
    not_after: datetime


class RevocationInfo(BaseModel):
    status: RevocationStatus
    method: Literal["crl", "ocsp", "none"]
    detail: str
    revoked_at: datetime | None = None
    reason: str | None = None
    crl_this_update: datetime | None = None
    crl_next_update: datetime | None = None
    checked_at: datetime | None = None


class SignerResult(BaseModel):
    """One signer of a CMS and everything checked about it."""

    index: int
    valid: bool
    iin: str | None = None
    bin: str | None = None
    common_name: str | None = None
    organization: str | None = None
    serial: str | None = None
    issuer: str | None = None
    not_before: datetime | None = None
    not_after: datetime | None = None
    signature_algorithm: str
    digest_algorithm: str
    key_purpose: KeyPurpose = "unknown"
    holder_type: HolderType = "unknown"
    roles: list[str] = []
    signing_time: datetime | None = None
    has_timestamp: bool = False
    revocation: RevocationInfo
    chain: list[ChainItem] = []
    certificate: CertificateInfo | None = None
    failed_checks: list[FailedCheck] = []
    warnings: list[FailedCheck] = []

    def may_sign_for(self, subject_bin: str) -> bool:
        """Whether this signer's certificate lets it sign for the organisation ``subject_bin``."""
        return (
            self.valid
            and self.bin == subject_bin
            and self.key_purpose == "signing"
            and bool(ORGANISATION_SIGNING_ROLES.intersection(self.roles))
        )


class CmsVerifyRequest(BaseModel):
    cms: str = Field(description="The CMS (PKCS#7) SignedData, base64 (DER or PEM body)")
    data: str | None = Field(None, description="For a detached signature: the signed data, base64")


class CmsVerifyResult(BaseModel):
    valid: bool = Field(description="True only if every signer passed every check")
    detached: bool
    content_type: str
    content_size: int
    content_sha256: str
    signers: list[SignerResult]
    failed_checks: list[FailedCheck] = []
    verified_at: datetime

    @property
    def codes(self) -> list[str]:
        """Every failure code of the document and its signers, without repeats."""
        out: list[str] = [c.code for c in self.failed_checks]
        for s in self.signers:
            out += [c.code for c in s.failed_checks]
        return list(dict.fromkeys(out))


class CertificateReport(BaseModel):
    certificate: CertificateInfo
    trusted: bool
    chain: list[ChainItem]
    revocation: RevocationInfo
    failed_checks: list[FailedCheck] = []
    warnings: list[FailedCheck] = []
    checked_at: datetime


class CertificateCheckRequest(BaseModel):
    certificate: str = Field(
        max_length=64 * 1024, description="The certificate: PEM, or base64 of its DER"
    )
    bin: str = Field(
        pattern=r"^\d{12}$", description="The BIN the certificate must have been issued to"
    )


class CertificateCheckResult(CertificateReport):
    usable: bool = Field(
        description="Trusted and unrevoked now, an RSA key for signatures, issued to the BIN"
    )


VERIFY_PATH = "/api/v1/validation/cms/verify"
CHECK_PATH = "/api/v1/validation/x509/check"


async def check_client_certificate(
    client: httpx.AsyncClient, certificate_b64: str, bin_: str
) -> CertificateCheckResult:
    """Ask the validation service whether a certificate may authenticate a subject's client."""
    resp = await client.post(CHECK_PATH, json={"certificate": certificate_b64, "bin": bin_})
    resp.raise_for_status()
    return CertificateCheckResult.model_validate(resp.json())


async def verify_cms(
    client: httpx.AsyncClient, cms: bytes, data: bytes | None = None
) -> CmsVerifyResult:
    """Ask the validation service about a CMS (422 ``malformed`` raises ``HTTPStatusError``)."""
    body = {
        "cms": base64.b64encode(cms).decode(),
        "data": base64.b64encode(data).decode() if data is not None else None,
    }
    resp = await client.post(VERIFY_PATH, json=body)
    resp.raise_for_status()
    return CmsVerifyResult.model_validate(resp.json())
