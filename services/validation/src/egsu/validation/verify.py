"""CMS (PKCS#7 SignedData) verification: signatures, digests, chains, validity, revocation.

``Verifier.verify_cms`` returns a dict shaped like ``egsu.contracts.signatures.CmsVerifyResult``.
It is synchronous and CPU-bound; the API runs it in a worker thread. Parsing is done eagerly and
in one place (``parse_cms``), so every structural fault becomes ``Malformed`` before any check runs.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from asn1crypto import cms, core

from egsu.contracts.signatures import FAILURE_MESSAGES, FailureCode
from egsu.validation import oids
from egsu.validation.algorithms import Unsupported, digest, name_of
from egsu.validation.algorithms import verify as verify_signature
from egsu.validation.certificate import PARSE_ERRORS, Certificate, name_key, parse_certificate
from egsu.validation.der import Malformed, check_ber, encoded
from egsu.validation.trust import Crl, TrustSnapshot, TrustStore

MAX_CHAIN = 8
MAX_CANDIDATES = 64  # issuer signatures tried while building one chain
CLOCK_SKEW = timedelta(minutes=5)


@dataclass
class Limits:
    max_signers: int = 16
    max_certificates: int = 64
    max_attributes: int = 64


@dataclass
class ParsedSigner:
    sid_issuer: str | None
    sid_serial: int | None
    sid_ski: bytes | None
    digest_oid: str
    signature_oid: str
    signature: bytes
    signed_attrs: bytes | None  # DER with the SET tag, as signed
    content_type: str | None
    message_digest: bytes | None
    signing_time: datetime | None
    has_timestamp: bool


@dataclass
class ParsedCms:
    content_type: str
    content: bytes | None
    certificates: list[bytes]
    signers: list[ParsedSigner]


def _single(attr: Any, what: str) -> Any:
    values = attr["values"]
    if len(values) != 1:
        raise Malformed(f"the {what} attribute must have exactly one value")
    return values[0]


def parse_cms(data: bytes, limits: Limits) -> ParsedCms:
    """Read a ContentInfo with SignedData; ``Malformed`` for anything else or anything broken."""
    check_ber(data, field="cms")
    try:
        info = cms.ContentInfo.load(data)
        if info["content_type"].dotted != oids.SIGNED_DATA:
            raise Malformed("the CMS is not SignedData")
        sd = info["content"]
        eci = sd["encap_content_info"]
        content_type = eci["content_type"].dotted
        content_obj = eci["content"]
        content: bytes | None = None
        if not isinstance(content_obj, core.Void) and content_obj.contents is not None:
            native = content_obj.native
            content = native if isinstance(native, bytes) else bytes(content_obj.contents)
        certs: list[bytes] = []
        cert_set = sd["certificates"]
        if not isinstance(cert_set, core.Void):
            if len(cert_set) > limits.max_certificates:
                raise Malformed(f"more than {limits.max_certificates} certificates in the CMS")
            for choice in cert_set:
                if choice.name == "certificate":
                    certs.append(encoded(choice.chosen))
        infos = sd["signer_infos"]
        if len(infos) > limits.max_signers:
            raise Malformed(f"more than {limits.max_signers} signers in the CMS")
        signers = [_parse_signer(si, limits) for si in infos]
        return ParsedCms(content_type, content, certs, signers)
    except Malformed:
        raise
    except PARSE_ERRORS as exc:
        raise Malformed(f"the CMS cannot be read: {exc}") from None


def _parse_signer(si: Any, limits: Limits) -> ParsedSigner:
    sid = si["sid"]
    issuer = serial = ski = None
    if sid.name == "issuer_and_serial_number":
        issuer = name_key(sid.chosen["issuer"])
        serial = sid.chosen["serial_number"].native
    else:
        ski = sid.chosen.native
    attrs = si["signed_attrs"]
    signed_der = None
    ctype = mdigest = stime = None
    if not isinstance(attrs, core.Void) and attrs.contents is not None:
        if len(attrs) > limits.max_attributes:
            raise Malformed(f"more than {limits.max_attributes} signed attributes")
        raw = encoded(attrs)
        signed_der = b"\x31" + raw[1:]  # signed as a SET OF, not as the [0] IMPLICIT field
        seen: set[str] = set()
        for attr in attrs:
            t = attr["type"].dotted
            if t in seen:
                raise Malformed(f"signed attribute {t} appears twice")
            seen.add(t)
            if t == oids.ATTR_CONTENT_TYPE:
                ctype = _single(attr, "content-type").dotted
            elif t == oids.ATTR_MESSAGE_DIGEST:
                mdigest = _single(attr, "message-digest").native
            elif t == oids.ATTR_SIGNING_TIME:
                value = _single(attr, "signing-time").native
                if not isinstance(value, datetime):
                    raise Malformed("the signing-time attribute is not a time")
                stime = value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    unsigned = si["unsigned_attrs"]
    has_ts = False
    if not isinstance(unsigned, core.Void) and unsigned.contents is not None:
        if len(unsigned) > limits.max_attributes:
            raise Malformed(f"more than {limits.max_attributes} unsigned attributes")
        has_ts = any(a["type"].dotted == oids.ATTR_TIMESTAMP_TOKEN for a in unsigned)
    return ParsedSigner(
        sid_issuer=issuer,
        sid_serial=serial,
        sid_ski=ski,
        digest_oid=si["digest_algorithm"]["algorithm"].dotted,
        signature_oid=si["signature_algorithm"]["algorithm"].dotted,
        signature=si["signature"].native,
        signed_attrs=signed_der,
        content_type=ctype,
        message_digest=mdigest,
        signing_time=stime,
        has_timestamp=has_ts,
    )


class DetachedDataRequired(Exception):
    """A detached CMS came without the signed data."""


@dataclass
class Revocation:
    status: str  # good | revoked | revoked_after_signing | unknown | not_checked
    method: str  # crl | ocsp | none
    detail: str
    revoked_at: datetime | None = None
    reason: str | None = None
    crl_this_update: datetime | None = None
    crl_next_update: datetime | None = None
    checked_at: datetime | None = None

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class OcspChecker(Protocol):
    def __call__(
        self,
        cert: Certificate,
        issuer: Certificate,
        at: datetime,
        now: datetime,
        signed_by: Callable[[bytes, str, bytes, Certificate], bool],
    ) -> Revocation | None: ...


@dataclass
class _Check:
    failed: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    def fail(self, code: FailureCode, detail: str, **extra: Any) -> None:
        self.failed.append(
            {"code": code, "detail": detail, "message": FAILURE_MESSAGES[code], **extra}
        )

    def warn(self, code: FailureCode, detail: str, **extra: Any) -> None:
        self.warnings.append(
            {"code": code, "detail": detail, "message": FAILURE_MESSAGES[code], **extra}
        )


class _Lru:
    def __init__(self, size: int) -> None:
        self.size = size
        self.data: OrderedDict[Any, Any] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self.lock:
            value = self.data.get(key)
            if value is not None:
                self.data.move_to_end(key)
            return value

    def put(self, key: Any, value: Any) -> None:
        with self.lock:
            self.data[key] = value
            self.data.move_to_end(key)
            while len(self.data) > self.size:
                self.data.popitem(last=False)


class Verifier:
    """Verifies CMS signatures against a trust store."""

    def __init__(
        self,
        trust: TrustStore,
        *,
        revocation_unknown_fatal: bool = True,
        ocsp: OcspChecker | None = None,
        limits: Limits | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_missing_crl: Callable[[Certificate], None] | None = None,
    ) -> None:
        self.trust = trust
        self.revocation_unknown_fatal = revocation_unknown_fatal
        self.ocsp = ocsp
        self.limits = limits or Limits()
        self.clock = clock
        self.on_missing_crl = on_missing_crl
        # signature checks of certificates and CRLs are pure functions of their bytes: memoise them
        self._sig_cache = _Lru(100_000)

    # --- public API -----------------------------------------------------------------------------
    def verify_cms(self, data: bytes, detached: bytes | None = None) -> dict[str, Any]:
        parsed = parse_cms(data, self.limits)
        now = self.clock()
        snap = self.trust.snapshot
        top = _Check()
        content = parsed.content
        if content is None:
            if detached is None:
                raise DetachedDataRequired()
            content = detached
        elif detached is not None and detached != content:
            top.fail(
                "digest_mismatch", "the CMS carries content that differs from the data sent with it"
            )
        certs: list[Certificate] = []
        for i, der in enumerate(parsed.certificates):
            certs.append(parse_certificate(der, f"cms.certificates[{i}]"))
        digests: dict[str, bytes] = {}
        signers = [
            self._verify_signer(s, i, parsed, content, certs, digests, snap, now)
            for i, s in enumerate(parsed.signers)
        ]
        if not signers:
            top.fail("signature_invalid", "the CMS has no signers")
        return {
            "valid": not top.failed and bool(signers) and all(s["valid"] for s in signers),
            "detached": parsed.content is None,
            "content_type": parsed.content_type,
            "content_size": len(content),
            "content_sha256": hashlib.sha256(content).hexdigest(),
            "signers": signers,
            "failed_checks": top.failed,
            "verified_at": now,
        }

    def certificate_report(self, der: bytes) -> dict[str, Any]:
        """A certificate's fields and whether it chains to the trust store and is unrevoked now."""
        cert = parse_certificate(der, "certificate")
        now = self.clock()
        check = _Check()
        chain, revocation = self._check_chain(
            cert, [], now, now, self.trust.snapshot, check, is_leaf=True
        )
        return {
            "certificate": cert.info(),
            "trusted": not check.failed,
            "chain": [_chain_item(c) for c in chain],
            "revocation": revocation.as_dict(),
            "failed_checks": check.failed,
            "warnings": check.warnings,
            "checked_at": now,
        }

    def client_certificate_check(self, der: bytes, bin_: str) -> dict[str, Any]:
        """``certificate_report`` plus what client authentication needs: RSA, signatures, the BIN."""
        report = self.certificate_report(der)
        cert = parse_certificate(der, "certificate")
        check = _Check()
        if not cert.key_algorithm.startswith("rsa"):
            check.fail(
                "unsupported_algorithm",
                f"client assertions are RS256: the key must be RSA, not {cert.key_algorithm}",
            )
        if "digital_signature" not in cert.key_usage:
            check.fail("wrong_key_usage", "the key usage does not include digitalSignature")
        if cert.bin != bin_:
            check.fail(
                "bin_mismatch", f"the certificate's BIN is {cert.bin or 'absent'}, not {bin_}"
            )
        report["failed_checks"] = [*report["failed_checks"], *check.failed]
        report["usable"] = report["trusted"] and not check.failed
        return report

    # --- one signer ------------------------------------------------------------------------------
    def _verify_signer(
        self,
        s: ParsedSigner,
        index: int,
        parsed: ParsedCms,
        content: bytes,
        certs: list[Certificate],
        digests: dict[str, bytes],
        snap: TrustSnapshot,
        now: datetime,
    ) -> dict[str, Any]:
        check = _Check()
        cert = _find_signer_cert(s, certs)
        signing_time = s.signing_time
        at = min(signing_time, now) if signing_time else now
        if signing_time and signing_time > now + CLOCK_SKEW:
            check.warn(
                "signing_time_in_future",
                f"the signing time {signing_time.isoformat()} is in the future; "
                "validity was checked at the time of verification",
            )
        result: dict[str, Any] = {
            "index": index,
            "digest_algorithm": name_of(s.digest_oid),
            "signature_algorithm": name_of(s.signature_oid),
            "signing_time": signing_time,
            "has_timestamp": s.has_timestamp,
        }
        revocation = Revocation("not_checked", "none", "the chain was not checked")
        chain: list[Certificate] = []
        if cert is None:
            check.fail("untrusted_chain", "the signer's certificate is not in the CMS")
        else:
            self._check_signature(s, parsed, content, cert, digests, check)
            chain, revocation = self._check_chain(cert, certs, at, now, snap, check, is_leaf=True)
            if cert.key_purpose != "signing":
                check.fail(
                    "wrong_key_usage", f"the certificate is for {cert.key_purpose}, not for signing"
                )
        info = cert.info() if cert else None
        result.update(
            {
                "valid": not check.failed,
                "certificate": info,
                "iin": info and info["iin"],
                "bin": info and info["bin"],
                "common_name": info and info["common_name"],
                "organization": info and info["organization"],
                "serial": info and info["serial"],
                "issuer": info and info["issuer"],
                "not_before": info and info["not_before"],
                "not_after": info and info["not_after"],
                "key_purpose": info["key_purpose"] if info else "unknown",
                "holder_type": info["holder_type"] if info else "unknown",
                "roles": info["roles"] if info else [],
                "chain": [_chain_item(c) for c in chain],
                "revocation": revocation.as_dict(),
                "failed_checks": check.failed,
                "warnings": check.warnings,
            }
        )
        return result

    def _check_signature(
        self,
        s: ParsedSigner,
        parsed: ParsedCms,
        content: bytes,
        cert: Certificate,
        digests: dict[str, bytes],
        check: _Check,
    ) -> None:
        try:
            key = cert.public_key
            if s.digest_oid not in digests:
                digests[s.digest_oid] = digest(s.digest_oid, content)
            content_digest = digests[s.digest_oid]
        except Unsupported as exc:
            check.fail("unsupported_algorithm", str(exc))
            return
        except Malformed as exc:
            check.fail("malformed", exc.detail)
            return
        if s.signed_attrs is not None:
            if s.message_digest is None or s.content_type is None:
                check.fail("malformed", "signed attributes without content-type and message-digest")
                return
            if s.content_type != parsed.content_type:
                check.fail(
                    "malformed",
                    "the content-type attribute differs from the encapsulated content type",
                )
                return
            if s.message_digest != content_digest:
                check.fail("digest_mismatch", "the message digest does not match the signed data")
                return
            signed = s.signed_attrs
            digest_for_sig: str | None = s.digest_oid
        else:
            signed = content
            digest_for_sig = s.digest_oid
        try:
            ok = verify_signature(
                key, s.signature_oid, signed, s.signature, digest_oid=digest_for_sig
            )
        except Unsupported as exc:
            check.fail("unsupported_algorithm", str(exc))
            return
        if not ok:
            check.fail("signature_invalid", "the signature does not match the signer's public key")

    # --- chain ----------------------------------------------------------------------------------
    def _signed_by(self, tbs: bytes, sig_oid: str, signature: bytes, issuer: Certificate) -> bool:
        """Whether ``issuer``'s key made this signature; memoised. ``Unsupported`` propagates."""
        key = (hashlib.sha256(tbs + signature).digest(), issuer.sha256, sig_oid)
        cached = self._sig_cache.get(key)
        if cached is not None:
            return bool(cached)
        ok = verify_signature(issuer.public_key, sig_oid, tbs, signature)
        self._sig_cache.put(key, ok)
        return ok

    def _build(
        self,
        cert: Certificate,
        pool: list[Certificate],
        snap: TrustSnapshot,
        path: list[Certificate],
        problems: list[tuple[str, str]],
        budget: list[int],
    ) -> list[Certificate] | None:
        if len(path) > MAX_CHAIN:
            problems.append(("untrusted_chain", "the chain is too long"))
            return None
        anchors = snap.by_subject.get(cert.issuer_key, [])
        others = [
            c
            for c in pool
            if c.subject_key == cert.issuer_key
            and c.is_ca
            and c.sha256 not in {p.sha256 for p in path}
            and c.sha256 not in snap.anchors
        ]
        for candidate in [*anchors, *others]:
            if cert.aki and candidate.ski and cert.aki != candidate.ski:
                continue
            if candidate.sha256 == cert.sha256:
                continue
            budget[0] -= 1
            if budget[0] < 0:  # cross-signed look-alikes could make the search exponential
                problems.append(("untrusted_chain", "too many candidate issuers in the CMS"))
                return None
            try:
                ok = self._signed_by(cert.tbs, cert.signature_oid, cert.signature, candidate)
            except Unsupported as exc:
                problems.append(("unsupported_algorithm", f"{_short(cert)}: {exc}"))
                continue
            except Malformed as exc:
                problems.append(("untrusted_chain", f"{_short(candidate)}: {exc.detail}"))
                continue
            if not ok:
                problems.append(
                    (
                        "untrusted_chain",
                        f"the signature of {_short(cert)} does not verify with the "
                        f"key of {_short(candidate)}",
                    )
                )
                continue
            if candidate.sha256 in snap.anchors:
                return [*path, candidate]
            found = self._build(candidate, pool, snap, [*path, candidate], problems, budget)
            if found:
                return found
        return None

    def _check_chain(
        self,
        cert: Certificate,
        pool: list[Certificate],
        at: datetime,
        now: datetime,
        snap: TrustSnapshot,
        check: _Check,
        *,
        is_leaf: bool,
    ) -> tuple[list[Certificate], Revocation]:
        problems: list[tuple[str, str]] = []
        chain = (
            self._build(cert, pool, snap, [cert], problems, [MAX_CANDIDATES])
            if cert.sha256 not in snap.anchors
            else [cert]
        )
        if not chain:
            if problems:
                code, detail = problems[0]
                if code == "unsupported_algorithm":
                    check.fail("unsupported_algorithm", detail)
                else:
                    check.fail("untrusted_chain", detail)
            else:
                check.fail(
                    "untrusted_chain", f"no trusted issuer for {_short(cert)} in the trust store"
                )
            self._check_validity([cert], at, check)
            return [cert], Revocation("not_checked", "none", "there is no trusted chain")
        for i, ca in enumerate(chain[1:], start=1):
            if not ca.is_ca or (ca.key_usage and "key_cert_sign" not in ca.key_usage):
                check.fail(
                    "untrusted_chain", f"{_short(ca)} is not a CA allowed to issue certificates"
                )
            if ca.path_len is not None and i - 1 > ca.path_len:
                check.fail(
                    "untrusted_chain", f"the path length constraint of {_short(ca)} is exceeded"
                )
        self._check_validity(chain, at, check)
        revocation = Revocation("good", "none", "the certificate is itself a trust anchor")
        for i in range(len(chain) - 1):
            r = self._revocation(chain[i], chain[i + 1], at, now, snap)
            if i == 0:
                revocation = r
            if r.status == "revoked":
                check.fail(
                    "cert_revoked",
                    f"{_short(chain[i])} was revoked on {r.revoked_at:%Y-%m-%d %H:%M:%S} UTC"
                    + (f" ({r.reason})" if r.reason else ""),
                    certificate=chain[i].sha256,
                )
            elif r.status == "unknown":
                if self.revocation_unknown_fatal:
                    check.fail(
                        "revocation_unknown",
                        f"{_short(chain[i])}: {r.detail}",
                        certificate=chain[i].sha256,
                    )
                else:
                    check.warn(
                        "revocation_unknown",
                        f"{_short(chain[i])}: {r.detail}",
                        certificate=chain[i].sha256,
                    )
        return chain, revocation

    @staticmethod
    def _check_validity(chain: list[Certificate], at: datetime, check: _Check) -> None:
        for i, c in enumerate(chain):
            who = "the signer's certificate" if i == 0 else f"the CA certificate {_short(c)}"
            if at > c.not_after:
                check.fail(
                    "cert_expired_at_signing",
                    f"{who} expired on {c.not_after:%Y-%m-%d %H:%M:%S} UTC, "
                    f"before the signing time {at:%Y-%m-%d %H:%M:%S} UTC",
                    certificate=c.sha256,
                )
            elif at < c.not_before:
                check.fail(
                    "cert_not_yet_valid",
                    f"{who} is valid only from {c.not_before:%Y-%m-%d %H:%M:%S} UTC, "
                    f"after the signing time {at:%Y-%m-%d %H:%M:%S} UTC",
                    certificate=c.sha256,
                )

    # --- revocation -----------------------------------------------------------------------------
    def _crl_ok(self, crl: Crl, issuer: Certificate) -> bool:
        try:
            return self._signed_by(crl.tbs, crl.signature_oid, crl.signature, issuer)
        except (Unsupported, Malformed):
            return False

    def _revocation(
        self,
        cert: Certificate,
        issuer: Certificate,
        at: datetime,
        now: datetime,
        snap: TrustSnapshot,
    ) -> Revocation:
        stale: Crl | None = None
        for crl in snap.crls_by_issuer.get(cert.issuer_key, []):
            if not self._crl_ok(crl, issuer):
                continue
            current = crl.next_update is None or now <= crl.next_update
            # a CRL issued after the signing time also answers for that time
            if not (current or crl.this_update >= at):
                stale = stale or crl
                continue
            entry = crl.revoked.get(cert.serial)
            base = {
                "crl_this_update": crl.this_update,
                "crl_next_update": crl.next_update,
                "checked_at": now,
            }
            if entry is None:
                return Revocation(
                    "good", "crl", f"not on the CRL of {crl.this_update:%Y-%m-%d %H:%M} UTC", **base
                )
            revoked_at, reason = entry
            if revoked_at <= at or reason in ("key_compromise", "ca_compromise"):
                return Revocation("revoked", "crl", "listed on the CRL", revoked_at, reason, **base)
            return Revocation(
                "revoked_after_signing",
                "crl",
                "revoked after the signing time",
                revoked_at,
                reason,
                **base,
            )
        if self.on_missing_crl is not None:
            self.on_missing_crl(cert)
        if self.ocsp is not None:
            answer = self.ocsp(cert, issuer, at, now, self._signed_by)
            if answer is not None:
                return answer
        if stale is not None:
            return Revocation(
                "unknown",
                "none",
                f"the newest CRL of the issuer expired on "
                f"{stale.next_update:%Y-%m-%d %H:%M} UTC and OCSP gave no answer",
                crl_this_update=stale.this_update,
                crl_next_update=stale.next_update,
                checked_at=now,
            )
        return Revocation(
            "unknown",
            "none",
            "no CRL of the issuer is loaded and OCSP gave no answer",
            checked_at=now,
        )


def _find_signer_cert(s: ParsedSigner, certs: list[Certificate]) -> Certificate | None:
    for c in certs:
        if s.sid_serial is not None and c.serial == s.sid_serial and c.issuer_key == s.sid_issuer:
            return c
        if s.sid_ski is not None and c.ski == s.sid_ski:
            return c
    return None


def _short(c: Certificate) -> str:
    cn = c.attr(oids.CN) or c.attr(oids.ORGANIZATION) or "?"
    return f"«{cn}» (serial {c.serial:x})"


def _chain_item(c: Certificate) -> dict[str, Any]:
    return {
        "subject": ", ".join(f"{v}" for o, v in c.subject_attrs if o == oids.CN) or None,
        "serial": format(c.serial, "x"),
        "sha256": c.sha256,
        "not_before": c.not_before,
        "not_after": c.not_after,
    }
