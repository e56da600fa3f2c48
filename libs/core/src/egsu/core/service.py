"""The skeleton of every EGSU TEK HTTP process: errors, health, readiness, metrics, access rules.

Every route under ``/api/`` must declare who may call it (a ``require_roles(...)`` or ``public``
dependency from ``egsu.auth``); the declaration is copied into the OpenAPI document as
``x-egsu-roles`` / ``x-egsu-public`` so the gateway enforces the same rule before proxying.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Iterator
from contextlib import AbstractAsyncContextManager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from egsu.core.errors import install_error_handlers, problem
from egsu.core.logging import setup_logging
from egsu.core.settings import Settings
from egsu.core.telemetry import instrument_app, setup_tracing

ReadyCheck = Callable[[], Awaitable[Any]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"description": "A problem (RFC 9457)", "content": {"application/problem+json": {}}},
}


def create_service_app(
    *,
    settings: Settings,
    title: str,
    description: str,
    routers: Iterable[APIRouter],
    lifespan: Lifespan | None = None,
    version: str = "0.1.0",
    **fastapi_kwargs: Any,
) -> FastAPI:
    """Build a FastAPI app with the System's conventions around the given routers."""
    setup_logging(settings.service_name, settings.log_level, settings.log_json)
    setup_tracing(settings.service_name, settings.otlp_endpoint)
    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        responses=PROBLEM_RESPONSES,
        **fastapi_kwargs,
    )
    app.state.settings = settings
    app.state.ready_checks = {}
    install_error_handlers(app)
    app.include_router(health_router())
    for router in routers:
        app.include_router(router)
    declare_access(app)
    instrument_app(app, settings.service_name)
    return app


def add_ready_check(app: FastAPI, name: str, check: ReadyCheck) -> None:
    """Register something ``/readyz`` must reach (database, bus, store, another service)."""
    app.state.ready_checks[name] = check


def health_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        checks: dict[str, ReadyCheck] = request.app.state.ready_checks
        results = await asyncio.gather(
            *(_run_check(c) for c in checks.values()), return_exceptions=False
        )
        report = dict(zip(checks, results, strict=True))
        if all(v == "ok" for v in report.values()):
            return JSONResponse({"status": "ready", "checks": report})
        return problem(
            503,
            "not_ready",
            "Not ready",
            "Some dependencies are not reachable.",
            checks=report,
            headers={"Retry-After": "2"},
        )

    return router


async def _run_check(check: ReadyCheck) -> str:
    try:
        await asyncio.wait_for(check(), timeout=3)
    except Exception as exc:  # a readiness probe reports every failure, whatever it is
        return f"failed: {type(exc).__name__}: {exc}"[:300]
    return "ok"


def access_of(dependant: Dependant) -> dict[str, Any] | None:
    """The access declaration found among a route's dependencies, if any."""
    for dep in dependant.dependencies:
        declared = getattr(dep.call, "__egsu_access__", None)
        if declared is not None:
            return dict(declared)
        nested = access_of(dep)
        if nested is not None:
            return nested
    return None


def _api_routes(app: FastAPI) -> Iterator[tuple[str, APIRoute, Dependant]]:
    """(path template, the route object, its effective dependant) of every API route of the app."""
    try:
        from fastapi.routing import (
            iter_route_contexts,
        )  # FastAPI >= 0.160: routers are included lazily
    except ImportError:  # pragma: no cover - older FastAPI
        for route in app.routes:
            if isinstance(route, APIRoute):
                yield route.path_format, route, route.dependant
        return
    for ctx in iter_route_contexts(app.routes):
        original = ctx.original_route
        if isinstance(original, APIRoute) and ctx.path_format:
            yield ctx.path_format, original, ctx.dependant


def declare_access(app: FastAPI) -> None:
    """Put each API route's access rule into its OpenAPI operation; refuse undeclared routes."""
    declared: dict[tuple[str, str], dict[str, Any]] = {}
    undeclared = []
    for path, route, dependant in _api_routes(app):
        if not path.startswith("/api/"):
            continue
        access = access_of(dependant)
        if access is None:
            undeclared.append(f"{sorted(route.methods or ())} {path}")
            continue
        extra = (
            {"x-egsu-public": True}
            if access.get("public")
            else {"x-egsu-roles": sorted(access["roles"])}
        )
        for method in route.methods or ():
            declared[(path, method.lower())] = extra
    if undeclared:
        raise RuntimeError(
            "these routes do not declare who may call them (add require_roles(...) or public): "
            + ", ".join(undeclared)
        )
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for (path, method), extra in declared.items():
                op = schema.get("paths", {}).get(path, {}).get(method)
                if op is not None:
                    op.update(extra)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
