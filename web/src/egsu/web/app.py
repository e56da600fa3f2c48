"""The console's app factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from urllib.parse import urlencode

import httpx
import plotly
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.gzip import GZipMiddleware

from egsu.auth.client import ServiceToken
from egsu.bus import Bus
from egsu.bus.audit import AuditLog
from egsu.core.errors import EgsuError
from egsu.core.service import add_ready_check, create_service_app
from egsu.core.settings import get_settings
from egsu.web import auth, pages
from egsu.web.cache import SharedCache
from egsu.web.config import WebSettings
from egsu.web.console import Denied, PageNotFound, context
from egsu.web.gateway import LoginRequired, ServiceApi
from egsu.web.i18n import CODES, LANG_COOKIE
from egsu.web.oidc import OidcClient
from egsu.web.pages.overview import warm
from egsu.web.sessions import KvStore, MemoryStore, Sessions

log = logging.getLogger("egsu.web")
STATIC = Path(__file__).with_name("static")
PLOTLY_JS = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def create_app() -> FastAPI:
    """The console's ASGI app."""
    settings = get_settings(WebSettings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        # one client serves every user: it must keep no cookie an answer might set
        app.state.http = httpx.AsyncClient(
            base_url=settings.gateway_url.rstrip("/"),
            timeout=settings.api_timeout,
            limits=limits,
            cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
        )
        app.state.http_idp = httpx.AsyncClient(
            timeout=10.0, cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[]))
        )
        app.state.oidc = OidcClient(settings, app.state.http_idp)
        bus = None
        app.state.shared = SharedCache()
        if settings.nats_url:
            bus = Bus(settings)
            await bus.connect()
            app.state.audit = AuditLog(bus, "web")
            app.state.audit.start()
            kv = KvStore(bus, settings.session_max_seconds, settings.stream_replicas)
            add_ready_check(app, "sessions", kv.ping)
            store: KvStore | MemoryStore = kv
        else:
            store = MemoryStore(settings.session_max_seconds)
        app.state.sessions = Sessions(
            store, settings.session_idle_seconds, settings.session_max_seconds
        )
        warmer = None
        if settings.client_id and settings.client_secret and settings.oidc_base_url:
            token = ServiceToken(
                f"{settings.oidc_base_url}/protocol/openid-connect/token",
                settings.client_id,
                settings.client_secret.get_secret_value(),
                app.state.http_idp,
            )
            warmer = asyncio.create_task(keep_warm(app, ServiceApi(app.state.http, token)))
        try:
            yield
        finally:
            if warmer is not None:
                warmer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await warmer
            if bus is not None:
                await app.state.audit.close()
                await bus.close()
            await app.state.http.aclose()
            await app.state.http_idp.aclose()

    app = create_service_app(
        settings=settings,
        title="EGSU TEK console",
        description="The web console: dashboards, the subject's cabinet, the open-data portal.",
        routers=[auth.router, *pages.routers],
        lifespan=lifespan,
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
    )
    app.add_middleware(GZipMiddleware, minimum_size=1024)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):  # type: ignore[no-untyped-def]
        started = time.perf_counter()
        resp: Response = await call_next(request)
        # the page's own time, readable in the browser's developer tools and by bench/web_overview.py
        resp.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        if request.url.path.startswith("/static/"):
            resp.headers["Cache-Control"] = "public, max-age=86400"
        return resp

    @app.get("/static/vendor/plotly.min.js", include_in_schema=False)
    async def plotly_js() -> Response:
        from fastapi.responses import FileResponse

        return FileResponse(PLOTLY_JS, media_type="text/javascript")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    install_page_errors(app)
    return app


async def keep_warm(app: FastAPI, api: ServiceApi) -> None:
    """Keep the overview's shared data fresh while someone looks at it (and once at start), so
    that no user waits for the forty roll-up queries behind it."""
    shared: SharedCache = app.state.shared
    app.state.overview_seen = time.monotonic()
    await asyncio.sleep(2)
    while True:
        if time.monotonic() - app.state.overview_seen < 600:
            try:
                await warm(api, shared)
            except (EgsuError, LoginRequired) as exc:
                log.info("overview warm-up skipped: %s", exc)
        await asyncio.sleep(shared.fresh * 0.75)


def install_page_errors(app: FastAPI) -> None:
    """Errors of a page are pages too, in the user's language; never a stack trace."""

    @app.exception_handler(LoginRequired)
    async def _login(request: Request, exc: LoginRequired) -> Response:
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        nxt = target if request.method == "GET" else "/"
        query = {"next": nxt}
        lang = request.query_params.get("lang")
        if lang in CODES:
            query["lang"] = lang  # the login page and what follows speak the asked language
        resp = RedirectResponse("/login?" + urlencode(query), status_code=303)
        resp.delete_cookie(request.app.state.settings.session_cookie, path="/")
        if lang in CODES:
            resp.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
        return resp

    @app.exception_handler(Denied)
    async def _denied(request: Request, exc: Denied) -> Response:
        ctx = await context(request)
        return ctx.render("error.html", 403, code=403, screen=exc.screen)

    @app.exception_handler(PageNotFound)
    async def _not_found(request: Request, exc: PageNotFound) -> Response:
        ctx = await context(request)
        return ctx.render("error.html", 404, code=404, what=exc.what)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        ctx = await context(request)
        code = exc.status_code if exc.status_code in (404, 405) else 400
        return ctx.render("error.html", code, code=code)

    @app.exception_handler(EgsuError)
    async def _egsu(request: Request, exc: EgsuError) -> Response:
        ctx = await context(request)
        if exc.status == 503:
            return ctx.render("error.html", 503, code=503)
        return ctx.render("error.html", exc.status, code=exc.status)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("page %s %s failed", request.method, request.url.path)
        try:
            ctx = await context(request)
            return ctx.render("error.html", 500, code=500)
        except Exception:  # the error page itself failed: say so plainly, still no trace
            log.exception("the error page failed too")
            return Response("Internal error", status_code=500, media_type="text/plain")
