"""The RFC 7523 client assertion: signed with the subject's NCA RK-shaped RSA key from a PKCS#12 or
PEM file, verifiable with the certificate's public key, carrying the certificate chain in x5c."""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from egsu.client import EgsuClient, PrivateKeyJwt, SigningKey, Unauthorized
from egsu.client.keys import CLIENT_ASSERTION_TYPE
from egsu.validation.testca import TestPki, build_test_pki

BIN = "990340001234"
TOKEN_URL = "https://egsu.example.kz/realms/egsu/protocol/openid-connect/token"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    pki = build_test_pki(tmp_path_factory.mktemp("pki"), bin=BIN)
    pki.issue_leaf("askue-auth", bin=BIN, purpose="authentication", holder="legal_entity_employee")
    return pki


@pytest.fixture(scope="module")
def p12(pki: TestPki, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The key, its certificate and the issuing CA as one password-protected .p12, as NCA RK issues."""
    key = pki.key("askue-auth").rsa_key
    assert key is not None
    cert = x509.load_der_x509_certificate(pki.cert("askue-auth"))
    ca = x509.load_der_x509_certificate(pki.ca_cert("rsa-legal"))
    path = tmp_path_factory.mktemp("p12") / "AUTH_RSA256_test.p12"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"askue", key, cert, [ca], serialization.BestAvailableEncryption(b"Qwerty12")
        )
    )
    return path


def _verify(token: str, audience: str) -> tuple[dict[str, object], dict[str, object]]:
    """The assertion's header and claims, verified with the public key of the x5c certificate."""
    header = jwt.get_unverified_header(token)
    leaf = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
    claims = jwt.decode(token, leaf.public_key(), algorithms=["RS256"], audience=audience)  # type: ignore[arg-type]
    return header, claims


def test_an_assertion_from_a_p12_verifies_with_the_certificates_public_key(
    pki: TestPki, p12: Path
) -> None:
    key = SigningKey.from_pkcs12(p12, "Qwerty12")
    token = key.assertion("askue-990340001234", TOKEN_URL, lifetime=90)
    header, claims = _verify(token, TOKEN_URL)
    assert header["alg"] == "RS256"
    assert [base64.b64decode(c) for c in header["x5c"]] == [  # type: ignore[attr-defined]
        pki.cert("askue-auth"),
        pki.ca_cert("rsa-legal"),
    ]
    assert claims["iss"] == claims["sub"] == "askue-990340001234"
    assert claims["aud"] == TOKEN_URL
    assert claims["exp"] == claims["iat"] + 90  # type: ignore[operator]
    again = _verify(key.assertion("askue-990340001234", TOKEN_URL), TOKEN_URL)[1]
    assert again["jti"] != claims["jti"]  # a new assertion for every token request
    # another key cannot have made it
    other = pki.key("rsa-head-sign").rsa_key
    assert other is not None
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, other.public_key(), algorithms=["RS256"], audience=TOKEN_URL)


def test_pem_files_give_the_same_signer_and_wrong_inputs_are_named(
    pki: TestPki, p12: Path, tmp_path: Path
) -> None:
    cert_pem = tmp_path / "cert.pem"
    der = pki.cert("askue-auth")
    cert_pem.write_bytes(
        x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
    )
    key_pem = pki.folder / "certs" / "askue-auth.key"
    key = SigningKey.from_pem(key_pem, cert_pem)
    assert _verify(key.assertion("c", TOKEN_URL), TOKEN_URL)[0]["x5c"] == [
        base64.b64encode(der).decode()
    ]
    with pytest.raises(ValueError, match="belongs to the private key"):
        SigningKey.from_pem(key_pem, pki.cert("rsa-head-sign"))
    with pytest.raises(ValueError):
        SigningKey.from_pkcs12(p12, "wrong password")


async def test_the_token_request_carries_a_fresh_assertion_for_the_token_endpoint(
    p12: Path,
) -> None:
    forms: list[dict[str, str]] = []

    def realm(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            form = dict(httpx.QueryParams(request.content.decode()))
            forms.append(form)
            if len(forms) == 1:
                return httpx.Response(200, json={"access_token": "t1", "expires_in": 300})
            return httpx.Response(
                401, json={"error": "invalid_client", "error_description": "Revoked client"}
            )
        if request.headers["Authorization"] == "Bearer t1" and len(forms) == 1:
            return httpx.Response(401, json={"code": "token_expired"})  # revoked meanwhile
        return httpx.Response(200, json={"ok": True})

    auth = PrivateKeyJwt("askue-990340001234", SigningKey.from_pkcs12(p12, b"Qwerty12"))
    async with EgsuClient(
        "https://egsu.example.kz",
        auth,
        http=httpx.AsyncClient(transport=httpx.MockTransport(realm)),
    ) as egsu:
        with pytest.raises(Unauthorized) as refused:
            await egsu.get("/api/v1/registry/subjects")
    assert refused.value.code == "invalid_client" and refused.value.detail == "Revoked client"
    assert len(forms) == 2  # the first token, then one renewal after the 401, refused
    for form in forms:
        assert form["grant_type"] == "client_credentials"
        assert form["client_id"] == "askue-990340001234"
        assert form["client_assertion_type"] == CLIENT_ASSERTION_TYPE
        _verify(form["client_assertion"], TOKEN_URL)
    assert forms[0]["client_assertion"] != forms[1]["client_assertion"]
