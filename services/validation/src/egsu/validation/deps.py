"""Who may call what: route dependencies of the validation API."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from egsu.auth import Principal, require_roles
from egsu.validation.service import TrustService

# Every authenticated role may verify a signature; ingest calls with its service account.
Verifiers = Annotated[
    Principal,
    Depends(require_roles("ministry", "operator", "government", "subject", "auditor", "service")),
]
Ministry = Annotated[Principal, Depends(require_roles("ministry"))]


def get_trust(request: Request) -> TrustService:
    return request.app.state.trust  # type: ignore[no-any-return]


Trust = Annotated[TrustService, Depends(get_trust)]
