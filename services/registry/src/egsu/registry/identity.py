"""Integration clients in the realm, through Keycloak's Admin REST API (python-keycloak).

The same calls reach Keycloak in production and the development realm, which implements this
subset of the admin API. Everything the realm holds about a client is set here: service
account, realm role, the hard-coded ``bin`` claim, the token lifetime, the secret or the
certificate for ``private_key_jwt``, enabled or not.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from keycloak import KeycloakAdmin
from keycloak.exceptions import KeycloakError

from egsu.core.errors import ServiceUnavailable
from egsu.registry.config import RegistrySettings

log = logging.getLogger("egsu.registry.identity")
T = TypeVar("T")
LOGIN_EVENTS = ["CLIENT_LOGIN", "CLIENT_LOGIN_ERROR"]


class IdentityUnavailable(ServiceUnavailable):
    code = "identity_unavailable"
    title = "The identity provider cannot manage clients right now"


def hardcoded_claim(name: str, value: str) -> dict[str, Any]:
    """A Keycloak protocol mapper that puts a fixed claim into the client's access tokens."""
    return {
        "name": name,
        "protocol": "openid-connect",
        "protocolMapper": "oidc-hardcoded-claim-mapper",
        "consentRequired": False,
        "config": {
            "claim.name": name,
            "claim.value": value,
            "jsonType.label": "String",
            "access.token.claim": "true",
            "id.token.claim": "false",
            "userinfo.token.claim": "false",
            "introspection.token.claim": "true",
        },
    }


def jwt_attributes(certificate_b64: str) -> dict[str, str]:
    """The client attributes of Keycloak's ``client-jwt`` authenticator with a fixed certificate."""
    return {
        "jwt.credential.certificate": certificate_b64,
        "use.jwks.url": "false",
        "token.endpoint.auth.signing.alg": "RS256",
    }


class IdentityProvider:
    """The admin API of the realm, with one lazily made python-keycloak connection."""

    def __init__(self, settings: RegistrySettings) -> None:
        self.settings = settings
        self._admin: KeycloakAdmin | None = None
        self._lock = asyncio.Lock()

    async def _connection(self) -> KeycloakAdmin:
        async with self._lock:
            if self._admin is None:
                server, realm = self.settings.admin_target()
                client_id, secret = self.settings.admin_credentials()
                self._admin = KeycloakAdmin(
                    server_url=server,
                    realm_name=realm,
                    user_realm_name=realm,
                    client_id=client_id,
                    client_secret_key=secret,
                    timeout=10,
                )
            return self._admin

    async def _call(self, what: str, fn: Callable[[KeycloakAdmin], Awaitable[T]]) -> T:
        admin = await self._connection()
        try:
            return await fn(admin)
        except KeycloakError as exc:
            log.warning("identity provider: %s failed: %s", what, exc)
            if getattr(exc, "response_code", None) in (401, 403):
                self._admin = None  # a fresh token next time (rotated admin secret, lost rights)
            raise IdentityUnavailable(
                f"the identity provider refused to {what}; try again shortly",
            ) from exc

    async def create_client(
        self,
        *,
        client_id: str,
        name: str,
        description: str,
        role: str,
        claims: dict[str, str],
        secret: str | None,
        certificate_b64: str | None,
    ) -> str:
        """Create the client with its service account and role; its id in the realm."""
        attributes = {"access.token.lifespan": str(self.settings.client_token_lifespan)}
        payload: dict[str, Any] = {
            "clientId": client_id,
            "name": name,
            "description": description,
            "enabled": True,
            "protocol": "openid-connect",
            "publicClient": False,
            "serviceAccountsEnabled": True,
            "standardFlowEnabled": False,
            "implicitFlowEnabled": False,
            "directAccessGrantsEnabled": False,
            "protocolMappers": [hardcoded_claim(k, v) for k, v in claims.items()],
        }
        if certificate_b64 is not None:
            payload["clientAuthenticatorType"] = "client-jwt"
            attributes.update(jwt_attributes(certificate_b64))
        else:
            payload["clientAuthenticatorType"] = "client-secret"
            payload["secret"] = secret
        payload["attributes"] = attributes

        async def create(admin: KeycloakAdmin) -> str:
            idp_id = str(await admin.a_create_client(payload))
            try:
                user = await admin.a_get_client_service_account_user(idp_id)
                realm_role = await admin.a_get_realm_role(role)
                await admin.a_assign_realm_roles(user["id"], [realm_role])
            except KeycloakError:
                await admin.a_delete_client(idp_id)  # no half-made client stays behind
                raise
            return idp_id

        return await self._call("create the client", create)

    async def new_secret(self, idp_id: str) -> str:
        async def regenerate(admin: KeycloakAdmin) -> str:
            return str((await admin.a_generate_client_secrets(idp_id))["value"])

        return await self._call("generate a new secret", regenerate)

    async def set_certificate(self, idp_id: str, certificate_b64: str) -> None:
        payload = {
            "clientAuthenticatorType": "client-jwt",
            "attributes": jwt_attributes(certificate_b64),
        }
        await self._call("register the certificate", lambda a: a.a_update_client(idp_id, payload))

    async def disable(self, idp_id: str) -> None:
        await self._call(
            "disable the client", lambda a: a.a_update_client(idp_id, {"enabled": False})
        )

    async def delete(self, idp_id: str) -> None:
        await self._call("delete the client", lambda a: a.a_delete_client(idp_id))

    async def login_events(self, date_from: str, first: int, max_: int) -> list[dict[str, Any]]:
        """Client logins and their failures since a day (yyyy-MM-dd), newest first."""
        query = {"type": LOGIN_EVENTS, "dateFrom": date_from, "first": first, "max": max_}
        return await self._call("list login events", lambda a: a.a_get_events(query))

    async def aclose(self) -> None:
        if self._admin is not None:
            await self._admin.connection.aclose()
