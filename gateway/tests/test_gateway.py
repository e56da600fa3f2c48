"""The gateway: tokens, roles, routing, one OpenAPI, request ids, readiness."""

from __future__ import annotations

import base64
import json
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from egsu.realm.keys import SigningKey
from egsu.testing.stack import Stack

pytestmark = pytest.mark.stack


def _problem(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == code


def forge(stack: Stack, **overrides: object) -> str:
    """A token signed with the realm's own key, with chosen claims (for expiry tests)."""
    key = SigningKey.load_or_create(stack.var / "realm" / "signing-key.pem")
    now = int(time.time())
    claims = {
        "iss": stack.issuer,
        "aud": ["egsu-api"],
        "sub": str(uuid.uuid4()),
        "typ": "Bearer",
        "iat": now,
        "exp": now + 300,
        "preferred_username": "ministry",
        "realm_access": {"roles": ["ministry"]},
    } | overrides
    return jwt.encode(claims, key.private_key, algorithm="RS256", headers={"kid": key.kid})


def test_token_reaches_protected_endpoint(stack: Stack) -> None:
    with stack.sync_client("government") as c:
        r = c.get("/api/v1/me")
    assert r.status_code == 200
    assert r.json()["username"] == "government" and r.json()["roles"] == ["government"]


def test_no_token_is_401_problem(stack: Stack) -> None:
    _problem(httpx.get(f"{stack.url}/api/v1/me"), 401, "missing_token")
    assert "Bearer" in httpx.get(f"{stack.url}/api/v1/me").headers["www-authenticate"]


def test_tampered_token_is_401(stack: Stack) -> None:
    head, payload, sig = stack.token("government").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["realm_access"]["roles"] = ["ministry"]
    evil = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    r = httpx.get(
        f"{stack.url}/api/v1/me", headers={"Authorization": f"Bearer {head}.{evil}.{sig}"}
    )
    _problem(r, 401, "invalid_token")


def test_expired_token_is_401(stack: Stack) -> None:
    old = forge(stack, iat=int(time.time()) - 3600, exp=int(time.time()) - 1800)
    _problem(
        httpx.get(f"{stack.url}/api/v1/me", headers={"Authorization": f"Bearer {old}"}),
        401,
        "token_expired",
    )
    fresh = forge(stack)
    assert (
        httpx.get(
            f"{stack.url}/api/v1/me", headers={"Authorization": f"Bearer {fresh}"}
        ).status_code
        == 200
    )


def test_token_of_another_issuer_or_key_is_401(stack: Stack) -> None:
    other = forge(stack, iss="http://evil.example/realms/egsu")
    _problem(
        httpx.get(f"{stack.url}/api/v1/me", headers={"Authorization": f"Bearer {other}"}),
        401,
        "invalid_token",
    )
    from cryptography.hazmat.primitives.asymmetric import rsa

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = stranger.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    tok = jwt.encode(
        {"iss": stack.issuer, "sub": "x", "exp": int(time.time()) + 60, "iat": int(time.time())},
        pem,
        algorithm="RS256",
        headers={"kid": "unknown-kid"},
    )
    _problem(
        httpx.get(f"{stack.url}/api/v1/me", headers={"Authorization": f"Bearer {tok}"}),
        401,
        "invalid_token",
    )


def test_wrong_role_is_403_before_the_service(stack: Stack) -> None:
    # The gateway knows each route's roles from the services' OpenAPI documents.
    spec = httpx.get(f"{stack.url}/openapi.json").json()
    protected = [
        (p, m, op["x-egsu-roles"])
        for p, item in spec["paths"].items()
        for m, op in item.items()
        if "x-egsu-roles" in op and "{" not in p and m == "get" and p != "/api/v1/me"
    ]
    assert protected, "no protected GET route found"
    path = next(p for p, _, r in protected if "auditor" not in r)
    with stack.sync_client("auditor") as c:
        _problem(c.get(path), 403, "role_required")


def test_public_route_needs_no_token(stack: Stack) -> None:
    r = httpx.get(f"{stack.url}/api/v1/registry/regions")
    assert r.status_code == 200
    assert len(r.json()["items"]) == 20


def test_unknown_area_is_404_problem(stack: Stack) -> None:
    with stack.sync_client("ministry") as c:
        _problem(c.get("/api/v1/nowhere/things"), 404, "unknown_area")


def test_merged_openapi_and_docs(stack: Stack) -> None:
    spec = httpx.get(f"{stack.url}/openapi.json").json()
    assert "/api/v1/me" in spec["paths"] and "/api/v1/registry/regions" in spec["paths"]
    assert spec["components"]["securitySchemes"]["realm"]["type"] == "openIdConnect"
    docs = httpx.get(f"{stack.url}/docs")
    assert docs.status_code == 200 and "/docs-static/swagger-ui-bundle.js" in docs.text
    assert httpx.get(f"{stack.url}/docs-static/swagger-ui-bundle.js").status_code == 200


def test_request_id_is_returned_and_propagated(stack: Stack) -> None:
    r = httpx.get(f"{stack.url}/api/v1/registry/regions", headers={"X-Request-ID": "trace-me-123"})
    assert r.headers["x-request-id"] == "trace-me-123"
    assert len(httpx.get(f"{stack.url}/api/v1/registry/regions").headers["x-request-id"]) == 32


def test_gateway_ready_only_when_every_service_is(stack: Stack) -> None:
    r = httpx.get(f"{stack.url}/readyz")
    assert r.status_code == 200
    checks = r.json()["checks"]
    assert {"registry", "realm", "bus"} <= set(checks)
