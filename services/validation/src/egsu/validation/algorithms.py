"""Public keys, digests and signature checks for the algorithms NCA RK uses.

RSA (PKCS#1 v1.5 with SHA-2) runs in ``cryptography``; GOST 34.10-2015 / R 34.10-2012 (256 and
512 bit) with Streebog in :mod:`egsu.validation.gost`. Anything else is ``Unsupported``, which the
verifier reports as ``unsupported_algorithm`` rather than as a bad signature.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from asn1crypto import core
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import load_der_public_key

from egsu.validation import gost, oids
from egsu.validation.der import children, contents_of

RSA_MIN_BITS = 2048
RSA_MAX_BITS = 8192


class Unsupported(Exception):
    """An algorithm the verifier does not implement (or refuses as too weak)."""


DIGEST_NAMES = {
    oids.SHA256: "sha256",
    oids.SHA384: "sha384",
    oids.SHA512: "sha512",
    oids.SHA1: "sha1",
    oids.KZ_STREEBOG_512: "streebog512",
    oids.TC26_STREEBOG_512: "streebog512",
    oids.KZ_STREEBOG_256: "streebog256",
    oids.TC26_STREEBOG_256: "streebog256",
}
SIGNATURE_NAMES = {
    oids.SHA256_WITH_RSA: "sha256WithRSA",
    oids.SHA384_WITH_RSA: "sha384WithRSA",
    oids.SHA512_WITH_RSA: "sha512WithRSA",
    oids.SHA1_WITH_RSA: "sha1WithRSA",
    oids.RSA_ENCRYPTION: "rsaEncryption",
    oids.RSASSA_PSS: "rsassaPss",
    oids.KZ_GOST2015_512_SIG: "gost3410-2015-512",
    oids.KZ_GOST2015_256_SIG: "gost3410-2015-256",
    oids.KZ_GOST2004_SIG: "gost34310-2004",
}
_RSA_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    oids.SHA256: hashes.SHA256,
    oids.SHA384: hashes.SHA384,
    oids.SHA512: hashes.SHA512,
}
_RSA_SIG_DIGEST = {
    oids.SHA256_WITH_RSA: oids.SHA256,
    oids.SHA384_WITH_RSA: oids.SHA384,
    oids.SHA512_WITH_RSA: oids.SHA512,
}
_GOST_SIG_SIZE = {oids.KZ_GOST2015_512_SIG: 64, oids.KZ_GOST2015_256_SIG: 32}
_GOST_KEYS = {oids.KZ_GOST2015_KEY, oids.TC26_GOST2012_256_KEY, oids.TC26_GOST2012_512_KEY}


def name_of(oid: str) -> str:
    return SIGNATURE_NAMES.get(oid) or DIGEST_NAMES.get(oid) or oid


def digest(oid: str, data: bytes) -> bytes:
    """The digest of ``data`` by ``oid``; ``Unsupported`` for SHA-1 and unknown ones."""
    name = DIGEST_NAMES.get(oid)
    if name is None or name == "sha1":
        raise Unsupported(f"digest algorithm {name or oid} is not accepted")
    if name.startswith("streebog"):
        return gost.streebog(data, 64 if name == "streebog512" else 32)
    return hashlib.new(name, data).digest()


@dataclass(frozen=True, slots=True)
class PublicKey:
    """A parsed subject public key."""

    kind: str  # rsa | gost
    bits: int
    algorithm: str  # display name, e.g. "rsa-2048", "gost3410-2015-512"
    rsa_key: rsa.RSAPublicKey | None = None
    gost_curve: gost.GostCurve | None = None
    gost_point: Any = None


def load_public_key(spki_der: bytes) -> PublicKey:
    """Parse a SubjectPublicKeyInfo; ``Unsupported`` for other algorithms, ValueError if broken."""
    alg_der, bits_der = children(spki_der, 0x30)
    alg = children(alg_der, 0x30)
    alg_oid = core.ObjectIdentifier.load(alg[0]).dotted
    raw = contents_of(bits_der)[1:]  # after the unused-bits octet
    if alg_oid == oids.RSA_ENCRYPTION:
        try:
            key = load_der_public_key(spki_der)
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise ValueError(f"the RSA public key cannot be read: {exc}") from None
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("the RSA public key cannot be read")
        if not RSA_MIN_BITS <= key.key_size <= RSA_MAX_BITS:
            raise Unsupported(f"RSA keys of {key.key_size} bits are not accepted")
        return PublicKey("rsa", key.key_size, f"rsa-{key.key_size}", rsa_key=key)
    if alg_oid in _GOST_KEYS:
        if len(alg) < 2:
            raise Unsupported("a GOST public key without its parameter set")
        params = children(alg[1], 0x30)
        paramset = core.ObjectIdentifier.load(params[0]).dotted
        curve_name = oids.CURVE_BY_PARAMSET.get(paramset)
        if curve_name is None:
            raise Unsupported(f"GOST parameter set {paramset} is not supported")
        c = gost.curve(curve_name)
        point = gost.public_point(c, core.OctetString.load(raw).native)
        return PublicKey(
            "gost", c.size * 8, f"gost3410-2015-{c.size * 8}", gost_curve=c, gost_point=point
        )
    if alg_oid == oids.KZ_GOST2004_KEY:
        raise Unsupported("GOST 34.310-2004 keys (NCA RK's legacy algorithm) are not verified")
    raise Unsupported(f"public key algorithm {alg_oid} is not supported")


def verify(
    key: PublicKey, sig_oid: str, data: bytes, signature: bytes, *, digest_oid: str | None = None
) -> bool:
    """Check ``signature`` over ``data``. ``digest_oid`` is the CMS digest for ``rsaEncryption``."""
    if key.kind == "rsa":
        if sig_oid == oids.RSA_ENCRYPTION:
            h = _RSA_HASHES.get(digest_oid or "")
        else:
            h = _RSA_HASHES.get(_RSA_SIG_DIGEST.get(sig_oid, ""))
            if digest_oid is not None and _RSA_SIG_DIGEST.get(sig_oid) != digest_oid:
                h = None
        if h is None:
            raise Unsupported(
                f"signature algorithm {name_of(sig_oid)} with an RSA key is not supported"
            )
        assert key.rsa_key is not None
        try:
            key.rsa_key.verify(signature, data, padding.PKCS1v15(), h())
        except InvalidSignature:
            return False
        return True
    size = _GOST_SIG_SIZE.get(sig_oid)
    assert key.gost_curve is not None
    if size is None:
        raise Unsupported(
            f"signature algorithm {name_of(sig_oid)} with a GOST key is not supported"
        )
    if size != key.gost_curve.size:
        raise Unsupported(f"{name_of(sig_oid)} does not fit a {key.bits}-bit GOST key")
    if digest_oid is not None and DIGEST_NAMES.get(digest_oid) != f"streebog{size * 8}":
        raise Unsupported(f"{name_of(sig_oid)} with digest {name_of(digest_oid)} is not supported")
    return gost.verify(key.gost_curve, key.gost_point, gost.streebog(data, size), signature)
