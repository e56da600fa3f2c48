"""Request and response models of the validation API (the verify result lives in libs/contracts)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from egsu.contracts.signatures import CertificateInfo

MAX_TEXT = 24 * 1024 * 1024  # characters of base64/PEM in one field


class CertificateSubmit(BaseModel):
    certificate: str = Field(
        max_length=MAX_TEXT, description="A certificate: PEM, or base64 of its DER"
    )


class CrlSubmit(BaseModel):
    crl: str = Field(max_length=MAX_TEXT, description="A CRL: PEM, or base64 of its DER")


class TrustCertificateRead(BaseModel):
    sha256: str
    source: Literal["folder", "store"]
    added_at: datetime | None
    self_signed: bool
    certificate: CertificateInfo


class TrustCrlRead(BaseModel):
    sha256: str
    source: Literal["folder", "store", "url"]
    url: str | None
    issuer: str
    issuer_trusted: bool = Field(description="Whether a trusted anchor has this CRL's issuer name")
    this_update: datetime
    next_update: datetime | None
    number: int | None
    revoked_count: int
    fetched_at: datetime | None


class CrlRefreshRead(BaseModel):
    urls: dict[str, str]
