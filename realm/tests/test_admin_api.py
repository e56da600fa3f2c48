"""The development realm's admin API speaks Keycloak's protocol: python-keycloak's KeycloakAdmin works.

The registry manages integration clients with exactly these calls, against Keycloak in production.
"""

from __future__ import annotations

import json
import uuid

import httpx
import jwt
import pytest
from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakGetError, KeycloakPostError, KeycloakPutError

from egsu.realm.clients import ClientDirectory
from egsu.realm.export import keycloak_realm
from egsu.realm.model import RealmDefinition
from egsu.testing.stack import Stack

pytestmark = pytest.mark.stack


def admin(stack: Stack, client_id: str = "egsu-registry") -> KeycloakAdmin:
    return KeycloakAdmin(
        server_url=stack.service_url("realm") + "/",
        realm_name="egsu",
        user_realm_name="egsu",
        client_id=client_id,
        client_secret_key=f"{client_id}-dev-secret",
    )


def token(stack: Stack, client_id: str, secret: str) -> httpx.Response:
    return httpx.post(
        stack.token_url, data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )


def test_keycloak_admin_manages_a_client_with_service_account_role_and_claim(
    stack: Stack,
) -> None:
    kc = admin(stack)
    name = f"ic-test-{uuid.uuid4().hex[:6]}"
    idp_id = kc.create_client(
        {
            "clientId": name,
            "serviceAccountsEnabled": True,
            "publicClient": False,
            "clientAuthenticatorType": "client-secret",
            "secret": "first-secret-value",
            "attributes": {"access.token.lifespan": "120"},
        }
    )
    assert kc.get_client_id(name) == idp_id
    with pytest.raises(KeycloakPostError) as exists:
        kc.create_client({"clientId": name})
    assert exists.value.response_code == 409
    kc.add_mapper_to_client(
        idp_id,
        {
            "name": "bin",
            "protocol": "openid-connect",
            "protocolMapper": "oidc-hardcoded-claim-mapper",
            "config": {
                "claim.name": "bin",
                "claim.value": "123456789021",
                "access.token.claim": "true",
            },
        },
    )
    assert [m["name"] for m in kc.get_mappers_from_client(idp_id)] == ["bin"]
    user = kc.get_client_service_account_user(idp_id)
    assert user["username"] == f"service-account-{name}"
    kc.assign_realm_roles(user["id"], [kc.get_realm_role("subject")])
    assert [r["name"] for r in kc.get_realm_roles_of_user(user["id"])] == ["subject"]

    r = token(stack, name, "first-secret-value")
    assert r.status_code == 200, r.text
    claims = jwt.decode(r.json()["access_token"], options={"verify_signature": False})
    assert claims["realm_access"]["roles"] == ["subject"] and claims["bin"] == "123456789021"
    assert claims["exp"] - claims["iat"] == 120 and claims["client_id"] == name

    new = kc.generate_client_secrets(idp_id)["value"]
    assert "value" not in kc.get_client_secrets(idp_id)  # generated secrets are kept as hashes
    assert token(stack, name, "first-secret-value").status_code == 401
    assert token(stack, name, new).status_code == 200
    kc.update_client(idp_id, {"enabled": False})
    assert kc.get_client(idp_id)["enabled"] is False
    assert token(stack, name, new).status_code == 401

    events = kc.get_events({"type": ["CLIENT_LOGIN", "CLIENT_LOGIN_ERROR"], "client": name})
    assert [e["type"] for e in events][:3] == [
        "CLIENT_LOGIN_ERROR",
        "CLIENT_LOGIN",
        "CLIENT_LOGIN_ERROR",
    ]
    assert events[0]["error"] == "client_disabled" and events[1]["clientId"] == name

    # what was created survives in the realm's var folder and is exported for Keycloak
    saved = ClientDirectory(RealmDefinition.load(), stack.var / "realm" / "clients.json")
    c = saved.get(name)
    assert c is not None and c.secret_hash and new not in json.dumps(c.attributes)
    exported = keycloak_realm(RealmDefinition.load(), clients=[c])
    rep = next(x for x in exported["clients"] if x["clientId"] == name)
    assert rep["protocolMappers"][0]["protocolMapper"] == "oidc-hardcoded-claim-mapper"
    assert rep["secret"].startswith("${EGSU_CLIENT_SECRET_") and new not in json.dumps(exported)
    sa = next(u for u in exported["users"] if u.get("serviceAccountClientId") == name)
    assert sa["realmRoles"] == ["subject"]

    kc.delete_client(idp_id)
    assert kc.get_client_id(name) is None
    with pytest.raises(KeycloakGetError):
        kc.get_client(idp_id)


def test_clients_of_the_realm_file_cannot_be_changed_and_others_have_no_admin_rights(
    stack: Stack,
) -> None:
    kc = admin(stack)
    gateway = kc.get_client_id("egsu-gateway")
    assert gateway is not None
    with pytest.raises(KeycloakPutError) as refused:
        kc.update_client(gateway, {"enabled": False})
    assert refused.value.response_code == 403
    plain = admin(stack, "egsu-ingest")  # a service account without realm-management roles
    with pytest.raises(KeycloakGetError) as denied:
        plain.get_clients()
    assert denied.value.response_code == 403
    assert httpx.get(f"{stack.service_url('realm')}/admin/realms/egsu/clients").status_code == 401
