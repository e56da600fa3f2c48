"""OCSP (RFC 6960) for certificates no current CRL answers for.

The request names the certificate by SHA-256 hashes of its issuer's name and key (so it works for
GOST issuers too). The answer counts only if its signature verifies with the issuer's key or with
a responder certificate that the issuer signed for OCSP signing, and if it is fresh.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from egsu.validation import oids
from egsu.validation.algorithms import Unsupported
from egsu.validation.certificate import PARSE_ERRORS, Certificate, parse_certificate
from egsu.validation.der import Malformed, children, contents_of
from egsu.validation.verify import Revocation

log = logging.getLogger("egsu.validation.ocsp")
SignedBy = Callable[[bytes, str, bytes, Certificate], bool]
SKEW = timedelta(minutes=5)
MAX_RESPONSE = 1024 * 1024


def _key_bits(cert: Certificate) -> bytes:
    return contents_of(children(cert.spki, 0x30)[1])[1:]


def _key_hash(cert: Certificate) -> bytes:
    return hashlib.sha256(_key_bits(cert)).digest()


def build_request(cert: Certificate, issuer: Certificate) -> bytes:
    builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        hashlib.sha256(cert.issuer_der).digest(), _key_hash(issuer), cert.serial, hashes.SHA256()
    )
    return builder.build().public_bytes(serialization.Encoding.DER)


class OcspClient:
    """Asks OCSP responders (a configured one and/or the certificate's AIA); caches answers."""

    def __init__(
        self, *, url: str | None, use_aia: bool, timeout: float, cache_seconds: float
    ) -> None:
        self.url = url
        self.use_aia = use_aia
        self.timeout = timeout
        self.cache_seconds = cache_seconds
        self._cache: dict[tuple[str, int], tuple[float, Revocation]] = {}
        self._lock = threading.Lock()
        self._http = httpx.Client(timeout=timeout, follow_redirects=False)

    def close(self) -> None:
        self._http.close()

    def __call__(
        self,
        cert: Certificate,
        issuer: Certificate,
        at: datetime,
        now: datetime,
        signed_by: SignedBy,
    ) -> Revocation | None:
        urls = ([self.url] if self.url else []) + (list(cert.ocsp_urls) if self.use_aia else [])
        if not urls:
            return None
        key = (issuer.sha256, cert.serial)
        with self._lock:
            hit = self._cache.get(key)
        if hit and time.monotonic() - hit[0] < self.cache_seconds:
            return _at(hit[1], at)
        for url in urls:
            answer = self._ask(url, cert, issuer, now, signed_by)
            if answer is not None:
                with self._lock:
                    if len(self._cache) > 100_000:
                        self._cache.clear()
                    self._cache[key] = (time.monotonic(), answer)
                return _at(answer, at)
        return None

    def _ask(
        self, url: str, cert: Certificate, issuer: Certificate, now: datetime, signed_by: SignedBy
    ) -> Revocation | None:
        try:
            resp = self._http.post(
                url,
                content=build_request(cert, issuer),
                headers={"Content-Type": "application/ocsp-request"},
            )
            if resp.status_code != 200 or len(resp.content) > MAX_RESPONSE:
                log.warning("OCSP %s answered HTTP %s", url, resp.status_code)
                return None
            return parse_response(resp.content, cert, issuer, now, signed_by)
        except httpx.HTTPError as exc:
            log.warning("OCSP %s cannot be reached: %s", url, exc)
            return None


def parse_response(
    body: bytes, cert: Certificate, issuer: Certificate, now: datetime, signed_by: SignedBy
) -> Revocation | None:
    """The certificate's status from an OCSP response, or None if the response does not count."""
    try:
        resp = ocsp.load_der_ocsp_response(body)
        if resp.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            log.warning("OCSP response status %s", resp.response_status.name)
            return None
        tbs, sig, sig_oid = (
            resp.tbs_response_bytes,
            resp.signature,
            resp.signature_algorithm_oid.dotted_string,
        )
        responder_ok = _signed(signed_by, tbs, sig_oid, sig, issuer)
        if not responder_ok:
            for c in resp.certificates:
                delegate = parse_certificate(c.public_bytes(serialization.Encoding.DER), "ocsp")
                if (
                    oids.EKU_OCSP_SIGNING in delegate.eku
                    and delegate.issuer_key == issuer.subject_key
                    and delegate.not_before - SKEW <= now <= delegate.not_after + SKEW
                    and _signed(
                        signed_by, delegate.tbs, delegate.signature_oid, delegate.signature, issuer
                    )
                    and _signed(signed_by, tbs, sig_oid, sig, delegate)
                ):
                    responder_ok = True
                    break
        if not responder_ok:
            log.warning("OCSP response not signed by the issuer or its delegated responder")
            return None
        for single in resp.responses:
            if single.serial_number != cert.serial or single.issuer_key_hash not in (
                _key_hash(issuer),
                _sha1_key_hash(issuer),
            ):
                continue
            this_update = single.this_update_utc
            next_update = single.next_update_utc
            if this_update > now + SKEW or (next_update is not None and next_update < now - SKEW):
                log.warning("OCSP answer is not fresh")
                return None
            status = single.certificate_status
            if status == ocsp.OCSPCertStatus.GOOD:
                return Revocation(
                    "good", "ocsp", "OCSP: good", crl_this_update=None, checked_at=now
                )
            if status == ocsp.OCSPCertStatus.REVOKED:
                reason = single.revocation_reason.name if single.revocation_reason else None
                return Revocation(
                    "revoked",
                    "ocsp",
                    "OCSP: revoked",
                    single.revocation_time_utc,
                    reason,
                    checked_at=now,
                )
            return None
        return None
    except (Malformed, *PARSE_ERRORS) as exc:
        log.warning("OCSP response cannot be read: %s", exc)
        return None


def _sha1_key_hash(cert: Certificate) -> bytes:
    return hashlib.sha1(_key_bits(cert)).digest()  # noqa: S324 - responders may answer with SHA-1 CertIDs


def _signed(signed_by: SignedBy, tbs: bytes, sig_oid: str, sig: bytes, issuer: Certificate) -> bool:
    try:
        return signed_by(tbs, sig_oid, sig, issuer)
    except (Unsupported, Malformed):
        return False


def _at(answer: Revocation, at: datetime) -> Revocation:
    """Judge a cached answer for a given signing time."""
    if (
        answer.status == "revoked"
        and answer.revoked_at is not None
        and answer.revoked_at > at
        and (answer.reason not in ("key_compromise", "ca_compromise"))
    ):
        return Revocation(
            "revoked_after_signing",
            "ocsp",
            "OCSP: revoked after the signing time",
            answer.revoked_at,
            answer.reason,
            checked_at=answer.checked_at,
        )
    return answer
