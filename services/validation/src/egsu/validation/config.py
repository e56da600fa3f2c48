"""Validation service settings (environment, prefix ``EGSU_VALIDATION_``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from egsu.core.settings import Settings


class ValidationSettings(Settings):
    service_name: str = "validation"

    # Trust anchors and CRLs read from a folder (*.cer/*.crt/*.pem certificates, *.crl CRLs).
    # Anchors added through the API live in the object store (bucket ``docs``, prefix below).
    validation_trust_dir: Path | None = None
    validation_store_prefix: str = "validation/trust/"
    validation_trust_reload_seconds: float = 30.0
    # CRLs fetched over HTTP and refreshed; NCA RK: http://crl.pki.gov.kz/nca_rsa_2022.crl, …
    validation_crl_urls: list[str] = Field(default_factory=list)
    validation_crl_fetch_cdp: bool = (
        False  # also fetch the CRL distribution points of anchors and signers
    )
    validation_crl_refresh_seconds: float = 3600.0
    validation_crl_max_bytes: int = 256 * 1024 * 1024
    # OCSP, asked when no current CRL answers: a fixed responder and/or the certificate's AIA
    validation_ocsp_url: str | None = None
    validation_ocsp_use_aia: bool = False
    validation_ocsp_timeout: float = 5.0
    validation_ocsp_cache_seconds: float = 300.0
    # When neither a CRL nor OCSP answers: refuse (True) or accept with a warning (False)
    validation_revocation_unknown_fatal: bool = True
    # Threads that verify (CPU-bound, the GIL is shared: about the cores of the pod)
    validation_workers: int = 2
    # Limits against hostile input
    validation_max_cms_bytes: int = 16 * 1024 * 1024
    validation_max_signers: int = 16
    validation_max_certificates: int = 64
