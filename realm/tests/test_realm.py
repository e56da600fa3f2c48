"""The development realm speaks Keycloak's protocol: python-keycloak and a browser's PKCE flow work."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
from urllib.parse import parse_qs, urlparse

import httpx
import jwt
import pytest
from keycloak import KeycloakOpenID
from keycloak.exceptions import KeycloakAuthenticationError, KeycloakPostError

from egsu.realm.export import keycloak_realm
from egsu.realm.model import RealmDefinition
from egsu.testing.stack import Stack

pytestmark = pytest.mark.stack


def kc(stack: Stack, client_id: str = "egsu-cli", secret: str | None = None) -> KeycloakOpenID:
    return KeycloakOpenID(
        server_url=stack.url + "/", realm_name="egsu", client_id=client_id, client_secret_key=secret
    )


def test_python_keycloak_obtains_refreshes_and_introspects_tokens(stack: Stack) -> None:
    cli = kc(stack)
    token = cli.token("operator", "demo")
    claims = cli.decode_token(token["access_token"])
    assert claims["preferred_username"] == "operator"
    assert claims["realm_access"]["roles"] == ["operator"]
    assert claims["iss"] == stack.issuer
    assert "egsu-api" in claims["aud"]

    refreshed = cli.refresh_token(token["refresh_token"])
    assert refreshed["access_token"] != token["access_token"]
    assert cli.userinfo(refreshed["access_token"])["preferred_username"] == "operator"

    console = kc(stack, "egsu-console", "egsu-console-dev-secret")
    info = console.introspect(refreshed["access_token"])
    assert info["active"] is True and info["username"] == "operator"

    cli.logout(refreshed["refresh_token"])
    assert console.introspect(refreshed["access_token"])["active"] is False
    with pytest.raises(KeycloakPostError):
        cli.refresh_token(refreshed["refresh_token"])


def test_wrong_password_is_refused(stack: Stack) -> None:
    with pytest.raises(KeycloakAuthenticationError):
        kc(stack).token("operator", "wrong")


def test_public_key_and_certs_match(stack: Stack) -> None:
    cli = kc(stack)
    assert cli.public_key()
    keys = cli.certs()["keys"]
    assert keys and keys[0]["alg"] == "RS256"
    assert cli.well_known()["issuer"] == stack.issuer


def test_subject_user_token_carries_bin(stack: Stack) -> None:
    stack.add_user("subject-990340000014", ["subject"], bin="990340000014")
    claims = jwt.decode(stack.token("subject-990340000014"), options={"verify_signature": False})
    assert claims["bin"] == "990340000014"
    assert claims["realm_access"]["roles"] == ["subject"]


def test_client_credentials_for_services(stack: Stack) -> None:
    r = httpx.post(
        stack.token_url,
        data={"grant_type": "client_credentials"},
        auth=("egsu-registry", "egsu-registry-dev-secret"),
    )
    assert r.status_code == 200
    claims = jwt.decode(r.json()["access_token"], options={"verify_signature": False})
    assert claims["realm_access"]["roles"] == ["service"]
    bad = httpx.post(
        stack.token_url, data={"grant_type": "client_credentials"}, auth=("egsu-registry", "nope")
    )
    assert bad.status_code == 401


def test_authorization_code_flow_with_pkce(stack: Stack) -> None:
    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    )
    redirect = "http://localhost:8000/auth/callback"
    params = {
        "client_id": "egsu-console",
        "response_type": "code",
        "redirect_uri": redirect,
        "scope": "openid",
        "state": "st4te",
        "nonce": "n0nce",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "ui_locales": "kk",
    }
    with httpx.Client(base_url=stack.url, follow_redirects=False) as browser:
        page = browser.get("/realms/egsu/protocol/openid-connect/auth", params=params)
        assert page.status_code == 200 and "Құпиясөз" in page.text  # the login page speaks Kazakh
        q = re.search(r'name="q" value="([^"]*)"', page.text).group(1).replace("&amp;", "&")
        bad = browser.post(
            "/realms/egsu/login-actions/authenticate",
            data={"q": q, "username": "ministry", "password": "x"},
        )
        assert bad.status_code == 401
        done = browser.post(
            "/realms/egsu/login-actions/authenticate",
            data={"q": q, "username": "ministry", "password": "demo"},
        )
        assert done.status_code == 302
        back = urlparse(done.headers["location"])
        got = parse_qs(back.query)
        assert got["state"] == ["st4te"]
        code = got["code"][0]
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect}
        wrong = httpx.post(
            stack.token_url,
            data={**form, "code_verifier": "not-it"},
            auth=("egsu-console", "egsu-console-dev-secret"),
        )
        assert wrong.status_code == 400  # PKCE mismatch also spends the code, as it should
        page = browser.get("/realms/egsu/protocol/openid-connect/auth", params=params)
        assert page.status_code == 302  # the SSO session logs in without the form
        code = parse_qs(urlparse(page.headers["location"]).query)["code"][0]
        tokens = httpx.post(
            stack.token_url,
            data={**form, "code": code, "code_verifier": verifier},
            auth=("egsu-console", "egsu-console-dev-secret"),
        ).json()
        idt = jwt.decode(tokens["id_token"], options={"verify_signature": False})
        assert idt["nonce"] == "n0nce" and idt["preferred_username"] == "ministry"
        out = browser.get(
            "/realms/egsu/protocol/openid-connect/logout",
            params={
                "id_token_hint": tokens["id_token"],
                "client_id": "egsu-console",
                "post_logout_redirect_uri": "http://localhost:8000/",
            },
        )
        assert out.status_code == 302
        again = browser.get("/realms/egsu/protocol/openid-connect/auth", params=params)
        assert again.status_code == 200  # logged out: the form again


def test_redirect_uri_not_registered_is_refused(stack: Stack) -> None:
    r = httpx.get(
        f"{stack.url}/realms/egsu/protocol/openid-connect/auth",
        params={
            "client_id": "egsu-console",
            "response_type": "code",
            "redirect_uri": "https://evil.example/",
        },
    )
    assert r.status_code == 400


def test_realm_export_has_roles_clients_and_bin_mapper() -> None:
    exported = keycloak_realm(RealmDefinition.load())
    text = json.dumps(exported)
    assert {r["name"] for r in exported["roles"]["realm"]} >= {
        "ministry",
        "operator",
        "government",
        "subject",
        "auditor",
    }
    mappers = [m for s in exported["clientScopes"] for m in s["protocolMappers"]]
    bin_mapper = next(
        m for m in mappers if m["protocolMapper"] == "oidc-usermodel-attribute-mapper"
    )
    assert (
        bin_mapper["config"]["claim.name"] == "bin"
        and bin_mapper["config"]["access.token.claim"] == "true"
    )
    audience = next(m for m in mappers if m["protocolMapper"] == "oidc-audience-mapper")
    assert audience["config"]["included.custom.audience"] == "egsu-api"
    console = next(c for c in exported["clients"] if c["clientId"] == "egsu-console")
    assert console["attributes"]["pkce.code.challenge.method"] == "S256"
    assert (
        "dev-secret" not in text and "demo" not in text
    )  # no development secret leaves the building
