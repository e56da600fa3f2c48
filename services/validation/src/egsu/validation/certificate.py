"""X.509 certificates read the way NCA RK profiles them: IIN, BIN, key purpose, holder type, roles.

Fields are read by numeric OID (never by parsing a DN string). The public key is read on demand
so that a certificate of an algorithm we do not verify can still be described.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from asn1crypto import core, x509

from egsu.validation import oids
from egsu.validation.algorithms import PublicKey, Unsupported, load_public_key, name_of
from egsu.validation.der import Malformed, check_ber, children, encoded

_SHORT = {
    oids.CN: "CN",
    oids.SURNAME: "SURNAME",
    oids.SERIAL_NUMBER: "SERIALNUMBER",
    oids.COUNTRY: "C",
    oids.LOCALITY: "L",
    oids.STATE: "ST",
    oids.ORGANIZATION: "O",
    oids.ORGANIZATIONAL_UNIT: "OU",
    oids.GIVEN_NAME: "G",
    oids.EMAIL: "E",
}
PARSE_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError)


def _text(value: Any) -> str:
    native = value.native if hasattr(value, "native") else value
    if isinstance(native, bytes):
        return native.decode("utf-8", "replace")
    return str(native)


def name_attributes(name: x509.Name) -> list[tuple[str, str]]:
    """(OID, text) of every attribute of a name, in order."""
    out = []
    for rdn in name.chosen:
        for attr in rdn:
            out.append((attr["type"].dotted, _text(attr["value"])))
    return out


@functools.lru_cache(maxsize=16384)
def _name_key(der: bytes) -> str:
    return str(x509.Name.load(der).hashable)


def name_key(name: x509.Name) -> str:
    """A name normalised for comparison (RFC 5280 string preparation), memoised by its bytes."""
    return _name_key(encoded(name))


def dn_string(attrs: list[tuple[str, str]]) -> str:
    return ", ".join(f"{_SHORT.get(oid, oid)}={value}" for oid, value in attrs)


def _digits12(value: str | None) -> str | None:
    return value if value and len(value) == 12 and value.isdigit() else None


@dataclass
class Certificate:
    """One parsed certificate with NCA RK's profile read out."""

    der: bytes
    sha256: str
    tbs: bytes
    signature_oid: str
    signature: bytes
    serial: int
    subject_attrs: list[tuple[str, str]]
    issuer_attrs: list[tuple[str, str]]
    subject_key: str  # normalised names, for matching issuer to subject
    issuer_key: str
    issuer_der: bytes
    not_before: datetime
    not_after: datetime
    is_ca: bool
    path_len: int | None
    key_usage: frozenset[str]
    eku: tuple[str, ...]
    policies: tuple[str, ...]
    ski: bytes | None
    aki: bytes | None
    crl_urls: tuple[str, ...]
    ocsp_urls: tuple[str, ...]
    spki: bytes
    _key: PublicKey | None = field(default=None, repr=False)
    _key_error: Exception | None = field(default=None, repr=False)

    # --- the public key -------------------------------------------------------------------------
    @property
    def public_key(self) -> PublicKey:
        """The subject's key; ``Unsupported`` or ``Malformed`` if it cannot be used."""
        if self._key is None and self._key_error is None:
            try:
                self._key = load_public_key(self.spki)
            except Unsupported as exc:
                self._key_error = exc
            except PARSE_ERRORS as exc:
                self._key_error = Malformed(
                    f"the certificate's public key cannot be read: {exc}", "certificate"
                )
        if self._key_error is not None:
            raise self._key_error
        assert self._key is not None
        return self._key

    @property
    def key_algorithm(self) -> str:
        try:
            return self.public_key.algorithm
        except (Unsupported, Malformed):
            return _spki_oid(self.spki)

    @property
    def self_signed(self) -> bool:
        return self.subject_key == self.issuer_key

    # --- NCA RK profile -------------------------------------------------------------------------
    def attr(self, oid: str) -> str | None:
        return next((v for o, v in self.subject_attrs if o == oid), None)

    @property
    def iin(self) -> str | None:
        sn = self.attr(oids.SERIAL_NUMBER) or ""
        return _digits12(sn[3:]) if sn.upper().startswith("IIN") else None

    @property
    def bin(self) -> str | None:
        sn = self.attr(oids.SERIAL_NUMBER) or ""
        if sn.upper().startswith("BIN"):
            return _digits12(sn[3:])
        for o, v in self.subject_attrs:
            if o == oids.ORGANIZATIONAL_UNIT and v.upper().startswith("BIN"):
                return _digits12(v[3:])
        return None

    @property
    def roles(self) -> list[str]:
        return [oids.ROLES[o] for o in self.eku if o in oids.ROLES]

    @property
    def key_purpose(self) -> str:
        """``signing`` or ``authentication`` (keyUsage bits, then the EKU), else ``unknown``."""
        ku, eku = self.key_usage, set(self.eku)
        if "digital_signature" not in ku and "non_repudiation" not in ku:
            return "unknown"
        if oids.EKU_CLIENT_AUTH in eku and oids.EKU_EMAIL_PROTECTION not in eku:
            return "authentication"
        if "non_repudiation" in ku or oids.EKU_EMAIL_PROTECTION in eku:
            return "signing"
        if "key_encipherment" in ku:
            return "authentication"
        return "unknown"

    @property
    def holder_type(self) -> str:
        """``individual``, ``legal_entity_head``, ``legal_entity_employee`` (CAs: ``unknown``)."""
        if self.is_ca:
            return "unknown"
        roles = set(self.roles)
        pol = set(self.policies)
        if "ceo" in roles:
            return "legal_entity_head"
        legal = (
            bool(roles & {"organization", "can_sign", "can_sign_financial", "hr", "employee"})
            or bool(pol & {oids.POLICY_LEGAL_SIGN, oids.POLICY_LEGAL_AUTH})
            or self.bin is not None
        )
        if legal:
            return "legal_entity_employee"
        if (
            self.iin
            or "individual" in roles
            or pol & {oids.POLICY_INDIVIDUAL_SIGN, oids.POLICY_INDIVIDUAL_AUTH}
        ):
            return "individual"
        return "unknown"

    def info(self) -> dict[str, Any]:
        """The certificate in the API's vocabulary (``contracts.signatures.CertificateInfo``)."""
        return {
            "serial": format(self.serial, "x"),
            "subject": dn_string(self.subject_attrs),
            "issuer": dn_string(self.issuer_attrs),
            "common_name": self.attr(oids.CN),
            "surname": self.attr(oids.SURNAME),
            "patronymic": self.attr(oids.GIVEN_NAME),
            "iin": self.iin,
            "bin": self.bin,
            "organization": self.attr(oids.ORGANIZATION),
            "country": self.attr(oids.COUNTRY),
            "locality": self.attr(oids.LOCALITY),
            "state": self.attr(oids.STATE),
            "email": self.attr(oids.EMAIL),
            "not_before": self.not_before,
            "not_after": self.not_after,
            "signature_algorithm": name_of(self.signature_oid),
            "public_key_algorithm": self.key_algorithm,
            "key_usage": sorted(self.key_usage),
            "extended_key_usage": list(self.eku),
            "policies": list(self.policies),
            "key_purpose": self.key_purpose,
            "holder_type": self.holder_type,
            "roles": self.roles,
            "is_ca": self.is_ca,
            "crl_urls": list(self.crl_urls),
            "ocsp_urls": list(self.ocsp_urls),
            "sha256": self.sha256,
        }


def _spki_oid(spki: bytes) -> str:
    try:
        return core.ObjectIdentifier.load(children(children(spki, 0x30)[0], 0x30)[0]).dotted
    except (*PARSE_ERRORS, Malformed):
        return "unknown"


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


def _ext_value(ext: x509.Extension) -> Any:
    return ext["extn_value"].parsed


def _parse(der: bytes) -> Certificate:
    cert = x509.Certificate.load(der, strict=True)
    tbs = cert["tbs_certificate"]
    subject, issuer = tbs["subject"], tbs["issuer"]
    validity = tbs["validity"]
    is_ca, path_len = False, None
    key_usage: frozenset[str] = frozenset()
    eku: tuple[str, ...] = ()
    policies: tuple[str, ...] = ()
    ski = aki = None
    crl_urls: list[str] = []
    ocsp_urls: list[str] = []
    seen: set[str] = set()
    for ext in tbs["extensions"] or []:
        oid = ext["extn_id"].dotted
        if oid in seen:
            raise ValueError(f"extension {oid} appears twice")
        seen.add(oid)
        if oid == "2.5.29.19":
            bc = _ext_value(ext)
            is_ca = bool(bc["ca"].native)
            path_len = bc["path_len_constraint"].native
        elif oid == "2.5.29.15":
            key_usage = frozenset(_ext_value(ext).native)
        elif oid == "2.5.29.37":
            eku = tuple(p.dotted for p in _ext_value(ext))
        elif oid == "2.5.29.32":
            policies = tuple(p["policy_identifier"].dotted for p in _ext_value(ext))
        elif oid == "2.5.29.14":
            ski = _ext_value(ext).native
        elif oid == "2.5.29.35":
            aki = _ext_value(ext)["key_identifier"].native
        elif oid == "2.5.29.31":
            for dp in _ext_value(ext):
                name = dp["distribution_point"]
                if name.name == "full_name":
                    crl_urls += [
                        g.native for g in name.chosen if g.name == "uniform_resource_identifier"
                    ]
        elif oid == "1.3.6.1.5.5.7.1.1":
            for ad in _ext_value(ext):
                if ad["access_method"].dotted == "1.3.6.1.5.5.7.48.1" and ad[
                    "access_location"
                ].name == ("uniform_resource_identifier"):
                    ocsp_urls.append(ad["access_location"].native)
        elif ext["critical"].native and oid not in _KNOWN_CRITICAL:
            raise Unsupported(f"unknown critical extension {oid}")
    sig_alg = cert["signature_algorithm"]["algorithm"].dotted
    if tbs["signature"]["algorithm"].dotted != sig_alg:
        raise ValueError("the certificate's two signature algorithm fields differ")
    return Certificate(
        der=der,
        sha256=hashlib.sha256(der).hexdigest(),
        tbs=encoded(tbs),
        signature_oid=sig_alg,
        signature=cert["signature_value"].native,
        serial=tbs["serial_number"].native,
        subject_attrs=name_attributes(subject),
        issuer_attrs=name_attributes(issuer),
        subject_key=name_key(subject),
        issuer_key=name_key(issuer),
        issuer_der=encoded(issuer),
        not_before=_utc(validity["not_before"].native),
        not_after=_utc(validity["not_after"].native),
        is_ca=is_ca,
        path_len=path_len,
        key_usage=key_usage,
        eku=eku,
        policies=policies,
        ski=ski,
        aki=aki,
        crl_urls=tuple(crl_urls),
        ocsp_urls=tuple(ocsp_urls),
        spki=encoded(tbs["subject_public_key_info"]),
    )


# Critical extensions we read; 1.2.398.3.3.5 is seen (non-critical) on NCA RK GOST 2022 leaves.
_KNOWN_CRITICAL = {
    "2.5.29.19",
    "2.5.29.15",
    "2.5.29.37",
    "2.5.29.32",
    "2.5.29.14",
    "2.5.29.35",
    "2.5.29.31",
    "2.5.29.17",
    "2.5.29.18",
    "2.5.29.30",
    "2.5.29.36",
    "2.5.29.54",
}


@functools.lru_cache(maxsize=4096)
def _parse_cached(der: bytes) -> Certificate:
    check_ber(der, field="certificate")
    try:
        return _parse(der)
    except Unsupported as exc:
        raise Malformed(str(exc), "certificate") from None
    except PARSE_ERRORS as exc:
        raise Malformed(f"not an X.509 certificate: {exc}", "certificate") from None


def parse_certificate(der: bytes, field_name: str = "certificate") -> Certificate:
    """A certificate from DER (memoised); ``Malformed`` naming ``field_name`` if it is not one."""
    try:
        return _parse_cached(der)
    except Malformed as exc:
        raise Malformed(exc.detail, field_name) from None
