"""Dependency aliases of monitoring's routes."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from egsu.auth import Principal, require_roles
from egsu.monitoring.service import Monitor

Reader = Annotated[
    Principal, Depends(require_roles("ministry", "operator", "government", "subject", "service"))
]
# acknowledge and comment: the subject's own dispatchers too
Responder = Annotated[Principal, Depends(require_roles("ministry", "operator", "subject"))]
# clear, close, shelve, rules, evaluation on demand
Controller = Annotated[Principal, Depends(require_roles("ministry", "operator"))]
Subscriber = Annotated[Principal, Depends(require_roles("ministry", "operator", "subject"))]


def monitor(request: Request) -> Monitor:
    return request.app.state.monitor  # type: ignore[no-any-return]


MonitorDep = Annotated[Monitor, Depends(monitor)]
