"""Dependency aliases of the registry's routes."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import Depends, Query, Request

from egsu.auth import Principal, public, require_roles
from egsu.bus.audit import AuditLog
from egsu.db.deps import Session
from egsu.registry.clients import IntegrationClients
from egsu.registry.service import Registry

Reader = Annotated[
    Principal, Depends(require_roles("ministry", "operator", "government", "service", "subject"))
]
Writer = Annotated[Principal, Depends(require_roles("ministry", "subject"))]
Ministry = Annotated[Principal, Depends(require_roles("ministry"))]
# Integration clients: the ministry manages them; a subject lists and rotates its own.
ClientOwners = Annotated[Principal, Depends(require_roles("ministry", "subject"))]
Anyone = Annotated[Principal | None, Depends(public)]


class ListParams:
    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=1000, description="page size")] = 100,
        cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
        sort: Annotated[
            str | None, Query(description="sort key; prefix with - for descending")
        ] = None,
        q: Annotated[
            str | None, Query(max_length=200, description="full-text search on names and codes")
        ] = None,
        format: Annotated[
            Literal["json", "csv", "xlsx"], Query(description="json page, or export all")
        ] = "json",
    ) -> None:
        self.limit, self.cursor, self.sort, self.q, self.format = limit, cursor, sort, q, format


Listing = Annotated[ListParams, Depends()]


def registry(session: Session, request: Request, principal: Reader) -> Registry:
    audit: AuditLog = request.app.state.audit
    return Registry(session, principal, audit)


def writer_registry(session: Session, request: Request, principal: Writer) -> Registry:
    return Registry(session, principal, request.app.state.audit)


def ministry_registry(session: Session, request: Request, principal: Ministry) -> Registry:
    return Registry(session, principal, request.app.state.audit)


ReadOps = Annotated[Registry, Depends(registry)]
WriteOps = Annotated[Registry, Depends(writer_registry)]
MinistryOps = Annotated[Registry, Depends(ministry_registry)]


def _clients(session: Session, request: Request, principal: Principal) -> IntegrationClients:
    state = request.app.state
    return IntegrationClients(session, principal, state.audit, state.identity, state.validation)


def owner_clients(
    session: Session, request: Request, principal: ClientOwners
) -> IntegrationClients:
    return _clients(session, request, principal)


def ministry_clients(session: Session, request: Request, principal: Ministry) -> IntegrationClients:
    return _clients(session, request, principal)


ClientOps = Annotated[IntegrationClients, Depends(owner_clients)]
MinistryClientOps = Annotated[IntegrationClients, Depends(ministry_clients)]
