"""The gateway: verifies tokens, enforces each route's roles, rate-limits, proxies, journals access."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Annotated, Any

import httpx
import jwt
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from egsu.auth import Principal, TokenVerifier, require_roles
from egsu.bus import Bus
from egsu.bus.audit import AuditLog, actor_of
from egsu.bus.revocations import follow_client_revocations
from egsu.contracts.audit import Actor
from egsu.core.errors import Forbidden, NotFound, TooManyRequests, Unauthorized, problem
from egsu.core.service import add_ready_check, create_service_app
from egsu.core.settings import get_settings
from egsu.gateway.config import GatewaySettings
from egsu.gateway.proxy import forward
from egsu.gateway.routes import RouteTable

log = logging.getLogger("egsu.gateway")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
QUIET_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})

AnyUser = Annotated[
    Principal,
    Depends(require_roles("ministry", "operator", "government", "subject", "auditor", "service")),
]


class AccessJournal:
    """ASGI middleware: a request id for every request and one ``access`` audit event per request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            k.decode().lower(): v.decode(errors="replace") for k, v in scope.get("headers", [])
        }
        rid = headers.get("x-request-id", "")
        rid = rid if _REQUEST_ID.match(rid) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = 500

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            path = scope.get("path", "")
            if path not in QUIET_PATHS and not path.startswith("/docs-static/"):
                self._journal(scope, rid, status, time.perf_counter() - started)

    def _journal(self, scope: Scope, rid: str, status: int, seconds: float) -> None:
        app = scope.get("app")
        audit: AuditLog | None = getattr(getattr(app, "state", None), "audit", None)
        if audit is None:
            return
        state = scope.get("state", {})
        principal = state.get("principal")
        outcome = (
            "success" if status < 400 else ("denied" if status in (401, 403, 429) else "failure")
        )
        method, path = scope.get("method", ""), scope.get("path", "")
        audit.record_nowait(
            "access",
            f"{method} {state.get('route', path)}",
            actor=actor_of(principal),
            outcome=outcome,
            object_type="http",
            object_id=path,
            request_id=rid,
            source_ip=state.get("client_ip"),
            method=method,
            path=path,
            status=status,
            duration_ms=round(seconds * 1000, 2),
            service=state.get("service"),
        )


def claimed_actor(token: str) -> Actor:
    """Who a refused token claims to be (unverified, so marked as claimed): its client above all."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return Actor(username="anonymous", role="anonymous")
    return Actor(
        username=f"claimed:{claims.get('preferred_username') or claims.get('sub') or ''}",
        role="anonymous",
        client_id=str(claims.get("azp") or claims.get("client_id") or "") or None,
    )


def client_ip(request: Request, trusted_proxies: int) -> str:
    direct = request.client.host if request.client else "unknown"
    if trusted_proxies <= 0:
        return direct
    chain = [p.strip() for p in request.headers.get("x-forwarded-for", "").split(",") if p.strip()]
    return chain[-trusted_proxies] if len(chain) >= trusted_proxies else direct


def own_router() -> APIRouter:
    r = APIRouter()

    @r.get("/api/v1/me", summary="Who the caller is: username, roles and BIN", tags=["gateway"])
    async def me(principal: AnyUser) -> dict[str, Any]:
        return {
            "user_id": principal.user_id,
            "username": principal.username,
            "roles": sorted(principal.roles),
            "bin": principal.bin,
            "client_id": principal.client_id,
        }

    return r


def create_app() -> FastAPI:
    """The gateway's ASGI app."""
    settings = get_settings(GatewaySettings)
    limiter = SlidingWindowCounterRateLimiter(MemoryStorage())
    limit_user, limit_anon = parse(settings.rate_limit), parse(settings.rate_limit_anonymous)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        http = httpx.AsyncClient(
            # idle connections are dropped well before the services' servers close them (uvicorn:
            # 5 s), so a POST is never sent on a connection the server is closing (it cannot be
            # retried blindly and would be a 503)
            limits=httpx.Limits(
                max_connections=500, max_keepalive_connections=100, keepalive_expiry=2.0
            ),
            cookies=no_cookies(),
        )
        app.state.http = http
        app.state.verifier = TokenVerifier(
            settings.oidc_issuer or "",
            audience=settings.oidc_audience,
            base_url=settings.oidc_base_url,
        )
        bus = Bus(settings)
        await bus.connect()
        app.state.bus = bus
        verifier: TokenVerifier = app.state.verifier

        async def follow() -> None:
            # in the background: the gateway starts (and answers /readyz) without waiting for NATS
            replays = await follow_client_revocations(bus, verifier.revoke_client)
            await replays

        revocations = asyncio.create_task(follow())
        audit = AuditLog(bus, "gateway")
        audit.start()
        app.state.audit = audit
        table = RouteTable(settings.services, http)
        app.state.routes = table
        await table.refresh()

        async def refresher() -> None:
            while True:
                await asyncio.sleep(settings.spec_refresh_seconds)
                await table.refresh()

        task = asyncio.create_task(refresher())
        for name, url in settings.services.items():
            add_ready_check(app, name, _http_check(http, f"{url}/readyz"))
        if settings.realm_url:
            add_ready_check(app, "realm", _http_check(http, f"{settings.realm_url}/healthz"))
        if settings.web_url:
            add_ready_check(app, "web", _http_check(http, f"{settings.web_url}/healthz"))
        add_ready_check(app, "bus", bus.ping)
        try:
            yield
        finally:
            task.cancel()
            revocations.cancel()
            await audit.close()
            await bus.close()
            await app.state.verifier.aclose()
            await http.aclose()

    app = create_service_app(
        settings=settings,
        title="EGSU TEK API",
        description=(
            "The public API of EGSU TEK, the unified state system for managing Kazakhstan's "
            "fuel-and-energy complex. Send an access token of realm `egsu` as `Authorization: Bearer`."
        ),
        routers=[own_router()],
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(AccessJournal)
    import fastapi_offline

    static = Path(fastapi_offline.__file__).with_name("static")
    app.mount("/docs-static", StaticFiles(directory=static), name="docs-static")

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(request: Request) -> JSONResponse:
        table: RouteTable = request.app.state.routes
        if any(s.spec is None for s in table.specs.values()):
            await table.refresh()
        own = request.app.openapi()
        info = {"title": app.title, "version": app.version, "description": app.description}
        return JSONResponse(table.merged_openapi(info, settings.oidc_issuer, own))

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="EGSU TEK API",
            swagger_js_url="/docs-static/swagger-ui-bundle.js",
            swagger_css_url="/docs-static/swagger-ui.css",
            swagger_favicon_url="/docs-static/favicon.png",
        )

    async def rate_limit(request: Request, principal: Principal | None, ip: str) -> None:
        if principal is None:
            key, limit = f"ip:{ip}", limit_anon
        elif principal.is_client:  # a machine: its own budget, whoever else uses its BIN
            key, limit = f"client:{principal.client_id}", limit_user
        else:
            key, limit = f"user:{principal.user_id}", limit_user
        if not await limiter.hit(limit, key):
            request.app.state.audit.record_nowait(
                "security",
                "rate_limit_exceeded",
                principal=principal,
                outcome="denied",
                source_ip=ip,
                object_type="http",
                object_id=request.url.path,
                limit=str(limit),
            )
            raise TooManyRequests(
                f"more than {limit} requests; slow down and retry after a minute",
                headers={"Retry-After": "10"},
            )

    async def authenticate(request: Request) -> Principal | None:
        auth = request.headers.get("authorization", "")
        if not auth:
            return None
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("use Authorization: Bearer <token>", code="invalid_token")
        try:
            principal = Principal.from_claims(
                await request.app.state.verifier.verify(token.strip())
            )
        except Unauthorized as exc:
            request.app.state.audit.record_nowait(
                "auth",
                "token_rejected",
                actor=claimed_actor(token.strip()),
                outcome="denied",
                source_ip=request.state.client_ip,
                object_type="http",
                object_id=request.url.path,
                reason=exc.code,
            )
            raise
        request.state.principal = principal
        return principal

    @app.api_route(
        "/{path:path}",
        methods=["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"],
        include_in_schema=False,
    )
    async def route(request: Request, path: str) -> Any:
        ip = client_ip(request, settings.trusted_proxies)
        request.state.client_ip = ip
        p = request.url.path
        http: httpx.AsyncClient = request.app.state.http
        rid = request.state.request_id
        if p.startswith("/api/"):
            parts = p.split("/")
            area = parts[3] if len(parts) > 3 and parts[2] == "v1" else ""
            service = settings.areas.get(area)
            base = settings.services.get(service or "")
            if not service or not base:
                raise NotFound(
                    f"there is no API area {area!r}; see /docs for the API", code="unknown_area"
                )
            request.state.service = service
            principal = await authenticate(request)
            table: RouteTable = request.app.state.routes
            spec = table.spec_of(service)
            if spec is not None and spec.spec is None:
                await table.refresh()
            op, _ = spec.match(request.method, p) if spec else (None, False)
            if op is not None:
                request.state.route = op.template
            if op is None or not op.public:
                if principal is None:
                    raise Unauthorized(
                        "send an access token: Authorization: Bearer <token>", code="missing_token"
                    )
                if op is not None and not principal.roles & op.roles:  # type: ignore[operator]
                    request.app.state.audit.record_nowait(
                        "security",
                        "access_denied",
                        principal=principal,
                        outcome="denied",
                        source_ip=ip,
                        object_type="http",
                        object_id=p,
                        method=request.method,
                    )
                    raise Forbidden(
                        f"this needs one of the roles {', '.join(sorted(op.roles or ()))}",  # type: ignore[arg-type]
                        code="role_required",
                    )
            await rate_limit(request, principal, ip)
            return await forward(
                http,
                request,
                base,
                request_id=rid,
                client_ip=ip,
                timeout=settings.upstream_timeout,
                service=service,
            )
        if p.startswith("/realms/") and settings.realm_url:
            request.state.service = "realm"
            await rate_limit(request, None, ip)
            return await forward(
                http,
                request,
                settings.realm_url,
                request_id=rid,
                client_ip=ip,
                timeout=settings.upstream_timeout,
                service="realm",
            )
        if settings.web_url:
            request.state.service = "web"
            return await forward(
                http,
                request,
                settings.web_url,
                request_id=rid,
                client_ip=ip,
                timeout=settings.upstream_timeout,
                service="web",
            )
        return problem(
            404,
            "not_found",
            "Not found",
            "Nothing is served here; the API is under /api/v1 (see /docs).",
        )

    return app


def no_cookies() -> CookieJar:
    """A cookie jar that keeps nothing: the proxy's one client serves every caller, so a cookie
    an upstream sets (the realm's SSO session) must pass to the browser, never into the client."""
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    return jar


def _http_check(http: httpx.AsyncClient, url: str) -> Any:
    async def check() -> None:
        resp = await http.get(url, timeout=2)
        if resp.status_code != 200:
            raise RuntimeError(f"{url} answered {resp.status_code}")

    return check
