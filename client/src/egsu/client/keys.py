"""A subject's RSA key and NCA RK certificate, and the RFC 7523 client assertion signed with it."""

from __future__ import annotations

import base64
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
Source = bytes | str | os.PathLike[str]


def _read(source: Source) -> bytes:
    """Bytes are the content; a string that starts like PEM is the content; anything else a path."""
    if isinstance(source, bytes):
        return source
    if isinstance(source, str) and source.lstrip().startswith("-----BEGIN"):
        return source.encode()
    return Path(source).read_bytes()


def _password(password: str | bytes | None) -> bytes | None:
    return password.encode() if isinstance(password, str) else password


def _rsa(key: object) -> rsa.RSAPrivateKey:
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(
            f"the key is {type(key).__name__}, not RSA: use the RSA key (RSA256_…) the NCA RK "
            "issued, not the GOST one, for private_key_jwt"
        )
    return key


@dataclass(frozen=True)
class SigningKey:
    """A private RSA key with its certificate (and the issuing chain, if the file carries it)."""

    private_key: rsa.RSAPrivateKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    @classmethod
    def from_pem(
        cls, key: Source, certificate: Source, *, password: str | bytes | None = None
    ) -> SigningKey:
        """From a PEM private key and a PEM (or DER) certificate file; the PEM may hold a chain."""
        private = _rsa(serialization.load_pem_private_key(_read(key), _password(password)))
        data = _read(certificate)
        certs = x509.load_pem_x509_certificates(data) if b"-----BEGIN" in data else []
        certs = certs or [x509.load_der_x509_certificate(data)]
        return cls._matched(private, certs)

    @classmethod
    def from_pkcs12(cls, source: Source, password: str | bytes | None) -> SigningKey:
        """From a PKCS#12 file (``.p12``), the form in which the NCA RK issues keys."""
        key, cert, extra = pkcs12.load_key_and_certificates(_read(source), _password(password))
        certs = ([cert] if cert is not None else []) + list(extra)
        if key is None or not certs:
            raise ValueError("the PKCS#12 file holds no private key with a certificate")
        return cls._matched(_rsa(key), certs)

    @classmethod
    def _matched(cls, key: rsa.RSAPrivateKey, certs: list[x509.Certificate]) -> SigningKey:
        """The certificate of this key first, the others as its chain."""
        public = key.public_key().public_numbers()
        own = [c for c in certs if _public_numbers(c) == public]
        if not own:
            raise ValueError("no certificate in the file belongs to the private key")
        return cls(key, own[0], tuple(c for c in certs if c is not own[0]))

    def x5c(self) -> list[str]:
        """The ``x5c`` header: base64 (not base64url) DER, the signer's certificate first."""
        return [
            base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()
            for c in (self.certificate, *self.chain)
        ]

    def assertion(
        self, client_id: str, audience: str, *, lifetime: int = 60, now: float | None = None
    ) -> str:
        """A signed RFC 7523 client assertion: iss = sub = client id, aud = the token endpoint."""
        issued = int(time.time() if now is None else now)
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": audience,
            "jti": str(uuid.uuid4()),
            "iat": issued,
            "nbf": issued,
            "exp": issued + lifetime,
        }
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"x5c": self.x5c()})


def _public_numbers(cert: x509.Certificate) -> rsa.RSAPublicNumbers | None:
    key = cert.public_key()
    return key.public_numbers() if isinstance(key, rsa.RSAPublicKey) else None
