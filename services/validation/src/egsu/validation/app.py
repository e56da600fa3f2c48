"""The validation service's app factory."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import FastAPI

from egsu.core.errors import PayloadTooLarge, problem
from egsu.core.service import create_service_app
from egsu.core.settings import get_settings
from egsu.runtime import Runtime, service_lifespan
from egsu.validation.api import router
from egsu.validation.config import ValidationSettings
from egsu.validation.service import TrustService

Scope = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]
]


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes before they are read into memory (413)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(
        self,
        scope: Scope,
        receive: Callable[[], Awaitable[Any]],
        send: Callable[[Any], Awaitable[None]],
    ) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await problem(
                413,
                "payload_too_large",
                "Payload too large",
                f"the request body is larger than {self.limit} bytes",
            )(scope, receive, send)
            return
        seen = 0

        async def limited() -> Any:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise PayloadTooLarge(f"the request body is larger than {self.limit} bytes")
            return message

        await self.app(scope, limited, send)


def create_app() -> FastAPI:
    """The validation service's ASGI app."""
    settings = get_settings(ValidationSettings)

    async def on_start(app: FastAPI, rt: Runtime) -> None:
        trust = TrustService(settings, rt.store)
        await trust.start()
        app.state.trust = trust

    async def on_stop(app: FastAPI, rt: Runtime) -> None:
        trust = getattr(app.state, "trust", None)
        if trust is not None:
            await trust.stop()

    app = create_service_app(
        settings=settings,
        title="EGSU TEK EDS validation",
        description="Electronic digital signatures of NCA RK: CMS verification "
        "(RSA, GOST 34.10-2015), "
        "certificate details, the trust store of CA certificates and CRLs.",
        routers=[router],
        lifespan=service_lifespan(
            settings, bus=True, store=True, on_start=on_start, on_stop=on_stop
        ),
    )
    # two base64 fields of at most max_cms_bytes each, plus JSON
    app.add_middleware(BodyLimit, limit=settings.validation_max_cms_bytes * 3 + 64 * 1024)  # type: ignore[arg-type]
    return app
