"""The part of Keycloak's Admin REST API that the registry uses to manage integration clients.

Paths, representations and status codes are Keycloak's (``/admin/realms/{realm}/...``), so
``python-keycloak``'s ``KeycloakAdmin`` works unchanged against this realm and against Keycloak.
The caller authenticates with a bearer token of this realm whose ``resource_access`` grants the
``realm-management`` roles the operation needs (Keycloak's fine-grained admin roles).
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Annotated, Any

import jwt
from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from egsu.realm.clients import ClientError, representation
from egsu.realm.model import Client, user_id

if TYPE_CHECKING:
    from egsu.realm.app import Realm

MANAGEMENT = "realm-management"
ANY_ADMIN = frozenset(
    {"view-realm", "manage-realm", "view-clients", "manage-clients", "view-users", "manage-users"}
)


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message, "errorMessage": message}, status_code=status)


class AdminDenied(Exception):
    def __init__(self, status: int, message: str) -> None:
        self.status, self.message = status, message


def _realm(request: Request) -> Realm:
    return request.app.state.realm  # type: ignore[no-any-return]


def _admin_roles(request: Request, authorization: str | None) -> frozenset[str]:
    realm = _realm(request)
    token = (authorization or "")[7:] if (authorization or "").lower().startswith("bearer ") else ""
    try:
        claims = realm.tokens.decode(token, typ="Bearer")
    except jwt.PyJWTError:
        raise AdminDenied(401, "HTTP 401 Unauthorized") from None
    roles = claims.get("resource_access", {}).get(MANAGEMENT, {}).get("roles", [])
    return frozenset(str(r) for r in roles)


def needs(*roles: str) -> Any:
    """A route dependency: the caller's token must carry one of these realm-management roles."""
    wanted = frozenset(roles)

    def check(request: Request, authorization: Annotated[str | None, Header()] = None) -> Any:
        if not _admin_roles(request, authorization) & wanted:
            raise AdminDenied(403, "HTTP 403 Forbidden")
        return _realm(request)

    return check


ViewClients = Annotated[Any, Depends(needs("view-clients", "manage-clients"))]
ManageClients = Annotated[Any, Depends(needs("manage-clients"))]
ViewUsers = Annotated[Any, Depends(needs("view-users", "manage-users"))]
ManageUsers = Annotated[Any, Depends(needs("manage-users"))]
ViewRoles = Annotated[Any, Depends(needs(*ANY_ADMIN))]
ViewEvents = Annotated[Any, Depends(needs("view-events", "manage-events"))]


def _role(realm: Realm, name: str) -> dict[str, Any]:
    for r in realm.definition.roles:
        if r["name"] == name:
            return {
                "id": user_id(f"role:{name}"),
                "name": name,
                "description": r.get("description", ""),
                "composite": False,
                "clientRole": False,
                "containerId": realm.definition.realm,
            }
    raise ClientError(404, "Could not find role")


def _service_account_user(c: Client) -> dict[str, Any]:
    return {
        "id": user_id(c.service_account_username),
        "username": c.service_account_username,
        "enabled": True,
        "emailVerified": False,
        "serviceAccountClientId": c.client_id,
        "createdTimestamp": c.created_at,
        "attributes": {},
    }


def _service_client(realm: Realm, uid: str) -> Client:
    c = realm.clients.by_service_account(uid)
    if c is None:
        raise ClientError(404, "User not found")
    return c


def _role_names(realm: Realm, body: Any) -> tuple[str, ...]:
    if not isinstance(body, list):
        raise ClientError(400, "a list of role representations is expected")
    names = []
    for item in body:
        name = item.get("name") if isinstance(item, dict) else None
        if not name:
            raise ClientError(400, "each role needs its name")
        _role(realm, str(name))
        names.append(str(name))
    return tuple(names)


def admin_router(realm_name: str) -> APIRouter:
    base = f"/admin/realms/{realm_name}"
    r = APIRouter(prefix=base, tags=["admin"])

    @r.get("/clients", summary="Clients of the realm (filter by clientId)")
    async def list_clients(
        realm: ViewClients,
        client_id: Annotated[str | None, Query(alias="clientId")] = None,
        search: bool = False,
        first: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(alias="max", ge=1)] = 100,
    ) -> list[dict[str, Any]]:
        out = []
        for c in realm.clients.all():
            if client_id and (
                client_id.lower() not in c.client_id.lower() if search else c.client_id != client_id
            ):
                continue
            out.append(representation(c))
        return out[first : first + limit]

    @r.post("/clients", status_code=201, summary="Create a client")
    async def create_client(request: Request, realm: ManageClients) -> Response:
        c = realm.clients.create(await request.json())
        return Response(status_code=201, headers={"Location": f"{request.url}/{c.uuid}"})

    @r.get("/clients/{id}", summary="One client")
    async def get_client(id: str, realm: ViewClients) -> dict[str, Any]:
        return representation(realm.clients.by_uuid(id))

    @r.put(
        "/clients/{id}", status_code=204, summary="Update a client (enable, disable, attributes)"
    )
    async def update_client(id: str, request: Request, realm: ManageClients) -> Response:
        realm.clients.update(id, await request.json())
        return Response(status_code=204)

    @r.delete("/clients/{id}", status_code=204, summary="Delete a client")
    async def delete_client(id: str, realm: ManageClients) -> Response:
        realm.clients.delete(id)
        return Response(status_code=204)

    @r.get("/clients/{id}/client-secret", summary="The client's secret (kept as a hash here)")
    async def get_secret(id: str, realm: ViewClients) -> dict[str, Any]:
        c = realm.clients.by_uuid(id)
        # Generated secrets are stored as hashes, so only the realm file's own can be shown.
        return {"type": "secret", **({"value": c.secret} if c.secret else {})}

    @r.post("/clients/{id}/client-secret", summary="Generate a new secret for the client")
    async def regenerate_secret(id: str, realm: ManageClients) -> dict[str, Any]:
        value = secrets.token_urlsafe(32)
        realm.clients.set_secret(id, value)
        return {"type": "secret", "value": value}

    @r.get("/clients/{id}/service-account-user", summary="The client's service-account user")
    async def service_account_user(id: str, realm: ViewClients) -> dict[str, Any]:
        c = realm.clients.by_uuid(id)
        if not c.service_account:
            raise ClientError(400, "Service account not enabled for the client")
        return _service_account_user(c)

    @r.get("/clients/{id}/protocol-mappers/models", summary="The client's protocol mappers")
    async def list_mappers(id: str, realm: ViewClients) -> list[dict[str, Any]]:
        return [dict(m) for m in realm.clients.by_uuid(id).protocol_mappers]

    @r.post(
        "/clients/{id}/protocol-mappers/models", status_code=201, summary="Add a protocol mapper"
    )
    async def add_mapper(id: str, request: Request, realm: ManageClients) -> Response:
        m = realm.clients.add_mapper(id, await request.json())
        return Response(status_code=201, headers={"Location": f"{request.url}/{m['id']}"})

    @r.delete(
        "/clients/{id}/protocol-mappers/models/{mapper_id}",
        status_code=204,
        summary="Remove a protocol mapper",
    )
    async def delete_mapper(id: str, mapper_id: str, realm: ManageClients) -> Response:
        realm.clients.delete_mapper(id, mapper_id)
        return Response(status_code=204)

    @r.get("/roles", summary="Realm roles")
    async def list_roles(realm: ViewRoles) -> list[dict[str, Any]]:
        return [_role(realm, x["name"]) for x in realm.definition.roles]

    @r.get("/roles/{name}", summary="One realm role")
    async def get_role(name: str, realm: ViewRoles) -> dict[str, Any]:
        return _role(realm, name)

    @r.get("/users/{uid}/role-mappings/realm", summary="Realm roles of a service-account user")
    async def user_roles(uid: str, realm: ViewUsers) -> list[dict[str, Any]]:
        c = _service_client(realm, uid)
        return [_role(realm, n) for n in c.service_account_roles]

    @r.post(
        "/users/{uid}/role-mappings/realm",
        status_code=204,
        summary="Grant realm roles to a service-account user",
    )
    async def add_user_roles(uid: str, request: Request, realm: ManageUsers) -> Response:
        c = _service_client(realm, uid)
        names = _role_names(realm, await request.json())
        realm.clients.set_roles(c, tuple(dict.fromkeys([*c.service_account_roles, *names])))
        return Response(status_code=204)

    @r.delete(
        "/users/{uid}/role-mappings/realm",
        status_code=204,
        summary="Take realm roles from a service-account user",
    )
    async def remove_user_roles(uid: str, request: Request, realm: ManageUsers) -> Response:
        c = _service_client(realm, uid)
        names = set(_role_names(realm, await request.json()))
        realm.clients.set_roles(c, tuple(n for n in c.service_account_roles if n not in names))
        return Response(status_code=204)

    @r.get("/events", summary="Login events, newest first (client logins and their failures)")
    async def events(
        realm: ViewEvents,
        type: Annotated[list[str] | None, Query()] = None,
        client: str | None = None,
        user: str | None = None,
        date_from: Annotated[str | None, Query(alias="dateFrom")] = None,
        date_to: Annotated[str | None, Query(alias="dateTo")] = None,
        ip_address: Annotated[str | None, Query(alias="ipAddress")] = None,
        first: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(alias="max", ge=1, le=10_000)] = 100,
    ) -> list[dict[str, Any]]:
        try:
            return realm.events.query(
                types=type or [],
                client=client,
                user=user,
                date_from=date_from,
                date_to=date_to,
                ip=ip_address,
                first=first,
                max_=limit,
            )
        except ValueError:
            raise ClientError(400, "dateFrom and dateTo are dates: yyyy-MM-dd") from None

    return r


def install_handlers(app: Any) -> None:
    """Answer refused admin calls the way Keycloak does (JSON bodies, no problem+json)."""

    @app.exception_handler(ClientError)
    async def client_error(_: Request, exc: ClientError) -> JSONResponse:
        return _error(exc.status, exc.message)

    @app.exception_handler(AdminDenied)
    async def denied(_: Request, exc: AdminDenied) -> JSONResponse:
        return _error(exc.status, exc.message)
