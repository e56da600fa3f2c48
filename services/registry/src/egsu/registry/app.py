"""The registry's app factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import FastAPI, Request, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from egsu.auth.client import service_client
from egsu.core.service import create_service_app
from egsu.core.settings import get_settings
from egsu.registry.api import router
from egsu.registry.config import RegistrySettings
from egsu.registry.events import login_event_importer, verification_scanner
from egsu.registry.identity import IdentityProvider
from egsu.registry.models import SCHEMA, outbox
from egsu.runtime import Runtime, service_lifespan
from egsu.runtime.outbox import OutboxRelay

log = logging.getLogger("egsu.registry")


def create_app() -> FastAPI:
    """The registry's ASGI app."""
    settings = get_settings(RegistrySettings)

    async def on_start(app: FastAPI, rt: Runtime) -> None:
        assert rt.db is not None and rt.bus is not None
        relay = OutboxRelay(rt.db, rt.bus, outbox)
        relay.start()
        app.state.relay = relay
        scanner = asyncio.create_task(
            verification_scanner(
                rt.db, relay, settings.verification_scan_seconds, settings.verification_notice_days
            )
        )
        identity = IdentityProvider(settings)
        app.state.identity = identity
        try:
            app.state.validation = service_client(settings, "validation")
        except RuntimeError as exc:  # certificates cannot be checked; everything else works
            log.warning("no validation service: %s", exc)
            app.state.validation = None
        assert rt.audit is not None
        importer = asyncio.create_task(
            login_event_importer(
                rt.db, identity, rt.audit, relay, settings.login_events_poll_seconds
            )
        )

        async def stop() -> None:
            for task in (scanner, importer):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await relay.stop()
            await identity.aclose()
            if app.state.validation is not None:
                await app.state.validation.aclose()

        rt.closers.append(stop)

    app = create_service_app(
        settings=settings,
        title="EGSU TEK registry",
        description="Subjects, facilities, metering points, devices, systems, documents and obligations.",
        routers=[router],
        lifespan=service_lifespan(settings, schema=SCHEMA, bus=True, store=True, on_start=on_start),
    )

    class PokeRelay(BaseHTTPMiddleware):
        """After a successful write, publish its events without waiting for the next poll."""

        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            response = await call_next(request)
            if request.method in ("POST", "PATCH", "PUT", "DELETE") and response.status_code < 400:
                relay = getattr(request.app.state, "relay", None)
                if relay is not None:
                    relay.poke()
            return response

    app.add_middleware(PokeRelay)
    return app
