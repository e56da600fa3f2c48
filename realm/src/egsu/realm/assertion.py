"""Client authentication by a signed JWT (RFC 7523 ``private_key_jwt``), as Keycloak's ``client-jwt``.

The key is the one in the client's registered certificate (attribute
``jwt.credential.certificate``, base64 DER). Its chain, revocation and BIN were checked by the
validation service when the registry registered it; here the realm checks the signature, the
claims, the certificate's validity period and that each assertion is used once.
"""

from __future__ import annotations

import base64
import threading
import time
from datetime import UTC, datetime

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
MAX_LIFETIME = 600  # seconds an assertion may live (exp - now); longer ones are refused
LEEWAY = 10


class AssertionRefused(Exception):
    """The assertion does not authenticate the client; the text says why (for the event log)."""


class UsedAssertions:
    """The ``jti`` of every accepted assertion until it expires: each is used once."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        self._pruned = time.time()

    def use(self, client_id: str, jti: str, exp: float) -> bool:
        key = f"{client_id}\x00{jti}"
        now = time.time()
        with self._lock:
            if now - self._pruned > 30:
                self._seen = {k: e for k, e in self._seen.items() if e + LEEWAY >= now}
                self._pruned = now
            if key in self._seen:
                return False
            self._seen[key] = exp
            return True


def unverified_client_id(assertion: str) -> str | None:
    """Whom the assertion claims to be (``sub``), before anything is verified."""
    try:
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    sub = claims.get("sub")
    return str(sub) if sub else None


def verify_assertion(
    assertion: str,
    *,
    client_id: str,
    certificate_b64: str,
    audiences: list[str],
    used: UsedAssertions,
) -> None:
    """Raise ``AssertionRefused`` unless the assertion proves the client holds the key."""
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode(certificate_b64))
    except ValueError:
        raise AssertionRefused("the registered certificate cannot be read") from None
    now = datetime.now(UTC)
    if now < cert.not_valid_before_utc or now > cert.not_valid_after_utc:
        raise AssertionRefused("the registered certificate is not valid now")
    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        raise AssertionRefused("only RSA certificates sign assertions (RS256)")
    try:
        claims = jwt.decode(
            assertion,
            key,
            algorithms=ALGORITHMS,
            audience=audiences,
            leeway=LEEWAY,
            options={"require": ["exp", "iss", "sub", "aud", "jti"]},
        )
    except jwt.ExpiredSignatureError:
        raise AssertionRefused("the assertion has expired") from None
    except jwt.InvalidAudienceError:
        raise AssertionRefused(
            f"the assertion's aud must be the token endpoint or the issuer ({audiences[0]})"
        ) from None
    except jwt.PyJWTError as exc:
        raise AssertionRefused(f"the assertion is not valid: {exc}") from None
    if claims["iss"] != client_id or claims["sub"] != client_id:
        raise AssertionRefused("the assertion's iss and sub must both be the client id")
    exp = float(claims["exp"])
    if exp - time.time() > MAX_LIFETIME:
        raise AssertionRefused(f"the assertion lives longer than {MAX_LIFETIME} s")
    if not used.use(client_id, str(claims["jti"]), exp):
        raise AssertionRefused("the assertion was already used (jti)")
