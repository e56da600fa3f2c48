"""The trust store: anchors (CA certificates trusted as given) and CRLs, as immutable snapshots.

A snapshot is replaced whole when anchors or CRLs change, so a verification that runs in a
worker thread always sees one consistent set. Where the entries come from (the configured
folder, the object store, CRL URLs) is the business of :mod:`egsu.validation.service`.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from asn1crypto import crl as asn1_crl
from cryptography import x509 as cx509

from egsu.validation.certificate import (
    PARSE_ERRORS,
    Certificate,
    dn_string,
    name_attributes,
    name_key,
    parse_certificate,
)
from egsu.validation.der import Malformed, check_ber, encoded

_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.S)


def decode_pem_or_der(data: bytes | str, field_name: str, labels: tuple[str, ...]) -> bytes:
    """DER bytes from PEM text, base64 text or DER; ``Malformed`` naming the field otherwise."""
    raw = data.encode() if isinstance(data, str) else data
    m = _PEM.search(raw)
    if m:
        if m.group(1).decode() not in labels:
            raise Malformed(
                f"expected PEM {' or '.join(labels)}, got {m.group(1).decode()}", field_name
            )
        raw = m.group(2)
    if raw[:1] == b"\x30":
        return bytes(raw)  # DER as it is: never strip, its last bytes may look like whitespace
    try:
        return base64.b64decode(b"".join(raw.split()), validate=True)
    except (binascii.Error, ValueError):
        raise Malformed("neither PEM, base64 nor DER", field_name) from None


@dataclass(frozen=True)
class Crl:
    """A parsed CRL with its revoked serials indexed for O(1) look-up."""

    der: bytes
    sha256: str
    issuer_key: str
    issuer: str
    this_update: datetime
    next_update: datetime | None
    number: int | None
    signature_oid: str
    tbs: bytes
    signature: bytes
    revoked: dict[int, tuple[datetime, str | None]]
    is_delta: bool = False

    def summary(self) -> dict[str, object]:
        return {
            "sha256": self.sha256,
            "issuer": self.issuer,
            "this_update": self.this_update,
            "next_update": self.next_update,
            "number": self.number,
            "revoked_count": len(self.revoked),
        }


_REASONS = {
    cx509.ReasonFlags.key_compromise: "key_compromise",
    cx509.ReasonFlags.ca_compromise: "ca_compromise",
    cx509.ReasonFlags.affiliation_changed: "affiliation_changed",
    cx509.ReasonFlags.superseded: "superseded",
    cx509.ReasonFlags.cessation_of_operation: "cessation_of_operation",
    cx509.ReasonFlags.certificate_hold: "certificate_hold",
    cx509.ReasonFlags.privilege_withdrawn: "privilege_withdrawn",
    cx509.ReasonFlags.aa_compromise: "aa_compromise",
    cx509.ReasonFlags.remove_from_crl: "remove_from_crl",
    cx509.ReasonFlags.unspecified: "unspecified",
}


def parse_crl(der: bytes, field_name: str = "crl") -> Crl:
    """A CRL from DER; ``Malformed`` if it is not one."""
    check_ber(der, field=field_name)
    try:
        a = asn1_crl.CertificateList.load(der, strict=True)
        tbs = a["tbs_cert_list"]
        c = cx509.load_der_x509_crl(der)
        revoked: dict[int, tuple[datetime, str | None]] = {}
        for entry in c:
            reason = None
            with contextlib.suppress(cx509.ExtensionNotFound):
                ext = entry.extensions.get_extension_for_class(cx509.CRLReason)
                reason = _REASONS.get(ext.value.reason)
            revoked[entry.serial_number] = (entry.revocation_date_utc, reason)
        number = None
        is_delta = False
        for ext in tbs["crl_extensions"] or []:
            if ext["extn_id"].dotted == "2.5.29.20":
                number = ext["extn_value"].parsed.native
            elif ext["extn_id"].dotted == "2.5.29.27":
                is_delta = True
        next_update = tbs["next_update"].native
        issuer = tbs["issuer"]
        return Crl(
            der=der,
            sha256=hashlib.sha256(der).hexdigest(),
            issuer_key=name_key(issuer),
            issuer=dn_string(name_attributes(issuer)),
            this_update=_utc(tbs["this_update"].native),
            next_update=_utc(next_update) if next_update else None,
            number=number,
            signature_oid=a["signature_algorithm"]["algorithm"].dotted,
            tbs=encoded(tbs),
            signature=a["signature"].native,
            revoked=revoked,
            is_delta=is_delta,
        )
    except PARSE_ERRORS as exc:
        raise Malformed(f"not a CRL: {exc}", field_name) from None


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Anchor:
    cert: Certificate
    source: str  # folder | store
    added_at: datetime | None = None


@dataclass(frozen=True)
class CrlEntry:
    crl: Crl
    source: str  # folder | store | url
    url: str | None = None
    fetched_at: datetime | None = None


@dataclass(frozen=True)
class TrustSnapshot:
    anchors: dict[str, Anchor] = field(default_factory=dict)
    crls: dict[str, CrlEntry] = field(default_factory=dict)
    by_subject: dict[str, list[Certificate]] = field(default_factory=dict)
    crls_by_issuer: dict[str, list[Crl]] = field(default_factory=dict)

    @classmethod
    def build(cls, anchors: Iterable[Anchor], crls: Iterable[CrlEntry]) -> TrustSnapshot:
        a = {x.cert.sha256: x for x in anchors}
        c = {x.crl.sha256: x for x in crls}
        by_subject: dict[str, list[Certificate]] = {}
        for x in a.values():
            by_subject.setdefault(x.cert.subject_key, []).append(x.cert)
        by_issuer: dict[str, list[Crl]] = {}
        for y in c.values():
            if not y.crl.is_delta:
                by_issuer.setdefault(y.crl.issuer_key, []).append(y.crl)
        for lst in by_issuer.values():
            lst.sort(key=lambda crl: crl.this_update, reverse=True)
        return cls(a, c, by_subject, by_issuer)


class TrustStore:
    """Holds the current snapshot; writers replace it under a lock, readers just read it."""

    def __init__(self) -> None:
        self._snapshot = TrustSnapshot()
        self._lock = threading.Lock()

    @property
    def snapshot(self) -> TrustSnapshot:
        return self._snapshot

    def replace(self, anchors: Iterable[Anchor], crls: Iterable[CrlEntry]) -> None:
        with self._lock:
            self._snapshot = TrustSnapshot.build(anchors, crls)

    def update(
        self,
        *,
        add_anchors: Iterable[Anchor] = (),
        remove_anchors: Iterable[str] = (),
        add_crls: Iterable[CrlEntry] = (),
        remove_crls: Iterable[str] = (),
    ) -> None:
        with self._lock:
            snap = self._snapshot
            anchors = dict(snap.anchors)
            crls = dict(snap.crls)
            for sha in remove_anchors:
                anchors.pop(sha, None)
            for sha in remove_crls:
                crls.pop(sha, None)
            for a in add_anchors:
                anchors.setdefault(a.cert.sha256, a)
            for c in add_crls:
                crls[c.crl.sha256] = c
            self._snapshot = TrustSnapshot.build(anchors.values(), crls.values())


def anchor_from_bytes(der: bytes, source: str, added_at: datetime | None = None) -> Anchor:
    """An anchor from a CA certificate's DER; ``Malformed`` if it is not a usable CA certificate."""
    cert = parse_certificate(der, "certificate")
    if not cert.is_ca:
        raise Malformed(
            "this is not a CA certificate (basicConstraints cA is not set)", "certificate"
        )
    return Anchor(cert, source, added_at)
