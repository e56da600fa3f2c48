"""Route dependencies that declare and enforce who may call an endpoint.

    Operators = Annotated[Principal, Depends(require_roles("operator", "ministry"))]

The declaration is also read by ``egsu.core.service.declare_access`` into the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from egsu.auth.principal import ROLES, Principal
from egsu.auth.verifier import TokenVerifier
from egsu.core.errors import Forbidden, Unauthorized

_bearer = HTTPBearer(auto_error=False, description="An access token of realm `egsu` (Keycloak).")


async def _principal(
    request: Request, credentials: HTTPAuthorizationCredentials | None
) -> Principal | None:
    if credentials is None or credentials.scheme.lower() != "bearer":
        return None
    verifier: TokenVerifier = request.app.state.verifier
    principal = Principal.from_claims(await verifier.verify(credentials.credentials))
    request.state.principal = principal
    return principal


class RoleRequirement:
    """A dependency that admits a verified caller holding any of the roles."""

    def __init__(self, roles: tuple[str, ...]) -> None:
        unknown = set(roles) - set(ROLES)
        if unknown or not roles:
            raise ValueError(f"unknown roles {sorted(unknown)}; known: {ROLES}")
        self.roles = frozenset(roles)
        self.__egsu_access__: dict[str, Any] = {"roles": sorted(self.roles)}

    async def __call__(self, request: Request, credentials: Any = Depends(_bearer)) -> Principal:
        principal = await _principal(request, credentials)
        if principal is None:
            raise Unauthorized(
                "send an access token: Authorization: Bearer <token>", code="missing_token"
            )
        if not principal.has_any(*self.roles):
            raise Forbidden(
                f"this needs one of the roles {', '.join(sorted(self.roles))}; "
                f"the token has {', '.join(sorted(principal.roles)) or 'none'}",
                code="role_required",
            )
        return principal


class PublicAccess:
    """A dependency for public endpoints: the caller may be anonymous (or send a valid token)."""

    __egsu_access__ = {"public": True}

    async def __call__(
        self, request: Request, credentials: Any = Depends(_bearer)
    ) -> Principal | None:
        return await _principal(request, credentials)


def require_roles(*roles: str) -> RoleRequirement:
    """A dependency admitting callers with any of ``roles``; 401 without a token, 403 without a role."""
    return RoleRequirement(tuple(roles))


public = PublicAccess()
