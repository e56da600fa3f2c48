"""The realm definition as a Keycloak realm-import JSON (``egsu realm export``).

Secrets are never exported: each confidential client's secret is a placeholder
``${EGSU_CLIENT_SECRET_<CLIENT>}`` that Keycloak replaces from its environment on import.
Development users are left out unless asked for.
"""

from __future__ import annotations

import json
import re
from typing import Any

from egsu.realm.clients import representation
from egsu.realm.model import Client, RealmDefinition, User

BIN_CLAIM_SCOPE = "egsu-bin"
AUDIENCE_SCOPE = "egsu-api-audience"
DEFAULT_SCOPES = [
    "profile",
    "email",
    "roles",
    "web-origins",
    "acr",
    AUDIENCE_SCOPE,
    BIN_CLAIM_SCOPE,
]


def secret_placeholder(client_id: str) -> str:
    return "${EGSU_CLIENT_SECRET_" + re.sub(r"[^A-Z0-9]", "_", client_id.upper()) + "}"


def _user_profile() -> str:
    def attr(
        name: str, display: str, validations: dict[str, Any], required: bool = False
    ) -> dict[str, Any]:
        a: dict[str, Any] = {
            "name": name,
            "displayName": display,
            "validations": validations,
            "permissions": {
                "view": ["admin", "user"],
                "edit": ["admin"] if name == "bin" else ["admin", "user"],
            },
            "multivalued": False,
        }
        if required:
            a["required"] = {"roles": ["user"]}
        return a

    profile = {
        "attributes": [
            attr(
                "username",
                "${username}",
                {"length": {"min": 3, "max": 255}, "username-prohibited-characters": {}},
            ),
            attr("email", "${email}", {"email": {}, "length": {"max": 255}}),
            attr("firstName", "${firstName}", {"length": {"max": 255}}),
            attr("lastName", "${lastName}", {"length": {"max": 255}}),
            attr(
                "bin",
                "BIN / IIN",
                {"pattern": {"pattern": r"^\d{12}$", "error-message": "12 digits"}},
            ),
        ],
        "groups": [],
    }
    return json.dumps(profile, ensure_ascii=False)


def _user(u: User) -> dict[str, Any]:
    out: dict[str, Any] = {
        "username": u.username,
        "enabled": u.enabled,
        "firstName": u.first_name,
        "lastName": u.last_name,
        "email": u.email or None,
        "emailVerified": bool(u.email),
        "realmRoles": list(u.roles),
        "attributes": {k: [v] for k, v in u.attributes.items()},
        "credentials": [{"type": "password", "value": u.password, "temporary": True}],
    }
    return {k: v for k, v in out.items() if v is not None}


# Login events the registry copies into the audit journal (GET /admin/realms/egsu/events).
EVENT_TYPES = ["CLIENT_LOGIN", "CLIENT_LOGIN_ERROR", "LOGIN", "LOGIN_ERROR", "LOGOUT"]


def _service_user(c: Client) -> dict[str, Any]:
    user: dict[str, Any] = {
        "username": c.service_account_username,
        "enabled": True,
        "serviceAccountClientId": c.client_id,
        "realmRoles": list(c.service_account_roles),
    }
    if c.service_account_client_roles:
        user["clientRoles"] = {k: list(v) for k, v in c.service_account_client_roles.items()}
    return user


def integration_client(c: Client) -> dict[str, Any]:
    """A client created through the admin API, as Keycloak imports it (secret as a placeholder)."""
    rep = representation(c)
    rep.pop("id", None)
    rep["defaultClientScopes"] = DEFAULT_SCOPES
    if c.authenticator == "client-secret":
        # only a hash is kept: after the import, rotate the secret through the registry's API
        rep["secret"] = secret_placeholder(c.client_id)
    return rep


def keycloak_realm(
    definition: RealmDefinition,
    *,
    users: list[User] | None = None,
    clients: list[Client] | None = None,
) -> dict[str, Any]:
    """A realm representation Keycloak imports with ``--import-realm`` or the Keycloak operator.

    ``clients`` are those created through the admin API (integration clients), if wanted.
    """
    out_clients = []
    service_users = []
    for c in definition.clients.values():
        rep: dict[str, Any] = {
            "clientId": c.client_id,
            "name": c.name or c.client_id,
            "enabled": True,
            "protocol": "openid-connect",
            "publicClient": c.public,
            "standardFlowEnabled": c.standard_flow,
            "directAccessGrantsEnabled": c.direct_access_grants,
            "serviceAccountsEnabled": c.service_account,
            "implicitFlowEnabled": False,
            "fullScopeAllowed": True,
            "defaultClientScopes": DEFAULT_SCOPES,
            "optionalClientScopes": ["offline_access"],
            "attributes": {},
        }
        if not c.public:
            rep["clientAuthenticatorType"] = "client-secret"
            rep["secret"] = secret_placeholder(c.client_id)
        if c.standard_flow:
            rep["redirectUris"] = [
                u.replace("localhost:*", "localhost:8000/*") for u in c.redirect_uris
            ]
            rep["attributes"]["pkce.code.challenge.method"] = "S256"
            rep["attributes"]["post.logout.redirect.uris"] = "##".join(c.post_logout_redirect_uris)
        out_clients.append(rep)
        if c.service_account:
            service_users.append(_service_user(c))
    for c in clients or []:
        out_clients.append(integration_client(c))
        if c.service_account:
            service_users.append(_service_user(c))
    return {
        "realm": definition.realm,
        "displayName": definition.display_name,
        "enabled": True,
        "sslRequired": "external",
        "registrationAllowed": False,
        "bruteForceProtected": True,
        "permanentLockout": False,
        "failureFactor": 10,
        "accessTokenLifespan": definition.access_token_lifespan,
        "eventsEnabled": True,
        "eventsExpiration": 30 * 86_400,
        "enabledEventTypes": EVENT_TYPES,
        "eventsListeners": ["jboss-logging"],
        "ssoSessionIdleTimeout": definition.sso_session_idle_timeout,
        "ssoSessionMaxLifespan": definition.sso_session_max_lifespan,
        "internationalizationEnabled": True,
        "supportedLocales": definition.locales,
        "defaultLocale": definition.default_locale,
        "roles": {
            "realm": [
                {"name": r["name"], "description": r.get("description", "")}
                for r in definition.roles
            ]
        },
        "clientScopes": [
            {
                "name": AUDIENCE_SCOPE,
                "protocol": "openid-connect",
                "description": f"Puts {definition.audience} in the access token's audience",
                "attributes": {
                    "include.in.token.scope": "false",
                    "display.on.consent.screen": "false",
                },
                "protocolMappers": [
                    {
                        "name": f"{definition.audience} audience",
                        "protocol": "openid-connect",
                        "protocolMapper": "oidc-audience-mapper",
                        "consentRequired": False,
                        "config": {
                            "included.custom.audience": definition.audience,
                            "access.token.claim": "true",
                            "id.token.claim": "false",
                            "introspection.token.claim": "true",
                        },
                    }
                ],
            },
            {
                "name": BIN_CLAIM_SCOPE,
                "protocol": "openid-connect",
                "description": "The subject's BIN/IIN as the `bin` claim",
                "attributes": {
                    "include.in.token.scope": "false",
                    "display.on.consent.screen": "false",
                },
                "protocolMappers": [
                    {
                        "name": "bin",
                        "protocol": "openid-connect",
                        "protocolMapper": "oidc-usermodel-attribute-mapper",
                        "consentRequired": False,
                        "config": {
                            "user.attribute": "bin",
                            "claim.name": "bin",
                            "jsonType.label": "String",
                            "access.token.claim": "true",
                            "id.token.claim": "true",
                            "userinfo.token.claim": "true",
                            "introspection.token.claim": "true",
                            "multivalued": "false",
                        },
                    }
                ],
            },
        ],
        "defaultDefaultClientScopes": DEFAULT_SCOPES,
        "defaultOptionalClientScopes": ["offline_access"],
        "components": {
            "org.keycloak.userprofile.UserProfileProvider": [
                {
                    "providerId": "declarative-user-profile",
                    "subComponents": {},
                    "config": {"kc.user.profile.config": [_user_profile()]},
                }
            ],
        },
        "clients": out_clients,
        "users": service_users + [_user(u) for u in (users or [])],
    }
