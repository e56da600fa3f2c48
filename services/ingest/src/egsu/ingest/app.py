"""Ingest's app factory."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import FastAPI

from egsu.auth.client import service_client
from egsu.core.service import create_service_app
from egsu.core.settings import get_settings
from egsu.ingest.api import router
from egsu.ingest.compliance import ObligationDirectory
from egsu.ingest.config import IngestSettings
from egsu.ingest.events import (
    TELEMETRY_FILTER,
    overdue_loop,
    subscribe_registry_changes,
    telemetry_handler,
)
from egsu.ingest.models import SCHEMA, outbox
from egsu.ingest.points import PointDirectory
from egsu.ingest.service import Ingest
from egsu.runtime import Runtime, service_lifespan
from egsu.runtime.outbox import OutboxRelay


def create_app() -> FastAPI:
    """Ingest's ASGI app."""
    settings = get_settings(IngestSettings)

    async def on_start(app: FastAPI, rt: Runtime) -> None:
        assert rt.db is not None and rt.bus is not None and rt.store is not None
        registry = service_client(settings, "registry", timeout=30)
        app.state.registry = registry
        validation = service_client(settings, "validation", timeout=60)
        app.state.validation = validation
        ingest = Ingest(
            settings,
            rt.db,
            rt.bus,
            rt.store,
            PointDirectory(registry, settings.point_cache_seconds),
            ObligationDirectory(registry, settings.point_cache_seconds),
        )
        app.state.ingest = ingest
        relay = OutboxRelay(rt.db, rt.bus, outbox)
        relay.start()
        sub = await subscribe_registry_changes(rt.bus, ingest)
        rt.bus.consumer(
            stream="TELEMETRY",
            durable="ingest-telemetry",
            filter_subject=TELEMETRY_FILTER,
            handler=telemetry_handler(ingest),
            batch=settings.telemetry_batch,
            ack_wait=15,
        )
        checker = asyncio.create_task(
            overdue_loop(ingest, relay, settings.compliance_check_seconds)
        )

        async def stop() -> None:
            checker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await checker
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
            await relay.stop()
            await registry.aclose()
            await validation.aclose()

        rt.closers.append(stop)

    return create_service_app(
        settings=settings,
        title="EGSU TEK ingest",
        description=(
            "Accepts subjects' readings and events as JSON or CSV batches and NATS telemetry, answers with a "
            "receipt once the batch is safely on the bus, archives every payload, and tracks who submitted "
            "what and who is late. Interval readings are stamped at the END of their interval."
        ),
        routers=[router],
        lifespan=service_lifespan(settings, schema=SCHEMA, bus=True, store=True, on_start=on_start),
    )
