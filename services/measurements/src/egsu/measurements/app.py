"""The historian's app factory."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
from fastapi import FastAPI

from egsu.auth.client import service_client
from egsu.contracts.streams import INGEST_BATCHES
from egsu.core.service import add_ready_check, create_service_app
from egsu.core.settings import get_settings
from egsu.measurements.api import router
from egsu.measurements.api_vee import router as vee_router
from egsu.measurements.catalog import Catalog
from egsu.measurements.config import MeasurementsSettings
from egsu.measurements.corrections import Corrections
from egsu.measurements.events import Historian, subscribe_registry_changes
from egsu.measurements.models import SCHEMA, outbox
from egsu.measurements.points import PointDirectory
from egsu.measurements.vee.config import RuleBook
from egsu.runtime import Runtime, service_lifespan
from egsu.runtime.outbox import OutboxRelay


def asyncpg_dsn(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


def create_app() -> FastAPI:
    """The historian's ASGI app."""
    settings = get_settings(MeasurementsSettings)

    async def on_start(app: FastAPI, rt: Runtime) -> None:
        assert rt.db is not None and rt.bus is not None and settings.database_url
        pool = await asyncpg.create_pool(
            asyncpg_dsn(settings.database_url),
            min_size=2,
            max_size=settings.workers + 6,
            command_timeout=120,
            server_settings={"application_name": "egsu-measurements"},
        )
        app.state.pool = pool
        catalog = Catalog()
        async with pool.acquire() as conn:
            await catalog.load(conn)
        app.state.catalog = catalog
        relay = OutboxRelay(rt.db, rt.bus, outbox)
        relay.start()
        app.state.relay = relay
        registry = service_client(settings, "registry", timeout=30)
        directory = PointDirectory(registry, settings.point_cache_seconds)
        app.state.directory = directory
        rulebook = RuleBook(settings.vee_rules_off, settings.vee_thresholds)
        app.state.rulebook = rulebook
        sub = await subscribe_registry_changes(rt.bus, directory)
        historian = Historian(
            pool,
            catalog,
            relay,
            settings.workers,
            directory,
            rulebook,
            settings.vee_stats_refresh_hours * 3600,
            settings.vee_stats_window_hours * 3600,
        )
        app.state.historian = historian
        assert rt.audit is not None
        app.state.corrections = Corrections(pool, catalog, rt.audit, rulebook, relay)
        warm = asyncio.create_task(directory.warm())
        rt.bus.consumer(
            stream="INGEST",
            durable="measurements",
            filter_subject=f"{INGEST_BATCHES}.>",
            handler=historian.handler(),
            batch=settings.consumer_batch,
            ack_wait=15,
            max_ack_pending=64,
        )
        flusher = asyncio.create_task(historian.flusher(settings.rollup_flush_seconds))
        estimator = asyncio.create_task(
            historian.estimator(
                settings.vee_estimate_every_seconds, settings.vee_estimate_delay_seconds
            )
        )

        async def ping_pool() -> None:
            async with pool.acquire() as conn:
                await conn.fetchval("SELECT 1")

        add_ready_check(app, "pool", ping_pool)

        async def stop() -> None:
            warm.cancel()
            flusher.cancel()
            estimator.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flusher
            with contextlib.suppress(asyncio.CancelledError):
                await estimator
            with contextlib.suppress(Exception):
                await sub.unsubscribe()
            await relay.stop()
            await registry.aclose()
            await pool.close()

        rt.closers.append(stop)

    return create_service_app(
        settings=settings,
        title="EGSU TEK measurements",
        description=(
            "The historian: every reading with its versions and quality, roll-ups for metering points, facilities, "
            "subjects, regions and the country, and time-series queries. Times are UTC; interval readings are "
            "stamped at the end of their interval; hour buckets are labelled by their start; days and months "
            "are Kazakhstan's (UTC+05:00)."
        ),
        routers=[router, vee_router],
        lifespan=service_lifespan(settings, schema=SCHEMA, bus=True, on_start=on_start),
    )
