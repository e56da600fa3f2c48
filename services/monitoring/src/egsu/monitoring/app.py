"""Monitoring's app factory."""

from __future__ import annotations

import asyncio
import contextlib

from fastapi import FastAPI

from egsu.auth.client import service_client
from egsu.contracts.streams import ALARMS, INGEST_BATCHES, INGEST_EVENTS
from egsu.core.service import create_service_app
from egsu.core.settings import get_settings
from egsu.monitoring.api import router
from egsu.monitoring.clock import Clock
from egsu.monitoring.config import MonitoringSettings
from egsu.monitoring.directory import Directory
from egsu.monitoring.events import (
    batch_handler,
    compliance_handler,
    first_load,
    flush_loop,
    refresh_loop,
    registry_handler,
    sweep_loop,
)
from egsu.monitoring.models import SCHEMA, outbox
from egsu.monitoring.service import Monitor
from egsu.monitoring.webhooks import Webhooks
from egsu.runtime import Runtime, service_lifespan
from egsu.runtime.outbox import OutboxRelay


def create_app() -> FastAPI:
    """Monitoring's ASGI app."""
    settings = get_settings(MonitoringSettings)
    if (
        settings.environment in ("dev", "test")
        and "allow_time_travel" not in settings.model_fields_set
    ):
        settings.allow_time_travel = True

    async def on_start(app: FastAPI, rt: Runtime) -> None:
        assert rt.db is not None and rt.bus is not None
        registry = service_client(settings, "registry", timeout=30)
        directory = Directory(registry)
        clock = Clock()
        relay = OutboxRelay(rt.db, rt.bus, outbox, interval=0.1)
        relay.start()
        monitor = Monitor(settings, rt.db, directory, clock, rt.audit, relay)
        await monitor.start()
        app.state.monitor = monitor
        webhooks = Webhooks(settings, rt.db, clock)
        app.state.webhooks = webhooks
        rt.bus.consumer(
            stream="INGEST",
            durable="monitoring",
            filter_subject=f"{INGEST_BATCHES}.>",
            handler=batch_handler(monitor),
            batch=settings.consumer_batch,
            ack_wait=120,
            max_ack_pending=256,
            fetch_timeout=0.5,
        )
        rt.bus.consumer(
            stream="REGISTRY",
            durable="monitoring-registry",
            filter_subject="egsu.registry.>",
            handler=registry_handler(monitor),
            batch=64,
        )
        rt.bus.consumer(
            stream="INGEST_EVENTS",
            durable="monitoring-compliance",
            filter_subject=f"{INGEST_EVENTS}.>",
            handler=compliance_handler(monitor),
            batch=64,
        )
        rt.bus.consumer(
            stream="ALARMS",
            durable="monitoring-webhooks",
            filter_subject=f"{ALARMS}.>",
            handler=webhooks.handler(),
            batch=128,
        )
        tasks = [
            asyncio.create_task(first_load(monitor)),
            asyncio.create_task(sweep_loop(monitor, rt.bus, settings.sweep_seconds)),
            asyncio.create_task(refresh_loop(monitor, settings.registry_refresh_seconds)),
            asyncio.create_task(flush_loop(monitor, settings.flush_seconds)),
            asyncio.create_task(webhooks.loop()),
        ]

        async def stop() -> None:
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            with contextlib.suppress(Exception):
                await monitor.flush()
            with contextlib.suppress(Exception):
                await monitor.save_checkpoint()
            await relay.stop()
            await webhooks.aclose()
            await registry.aclose()

        rt.closers.append(stop)

    return create_service_app(
        settings=settings,
        title="EGSU TEK monitoring",
        description=(
            "Live state of every metering point, device, facility and system (active or inactive against "
            "the point's own interval and its facility's criticality), channel quality, alarm rules, "
            "the alarm life cycle (raised, acknowledged, cleared, closed) with escalation, shelving and "
            "history, and notifications: NATS egsu.alarms.<severity>, server-sent events and webhooks. "
            "A subject sees only its own objects and alarms."
        ),
        routers=[router],
        lifespan=service_lifespan(settings, schema=SCHEMA, bus=True, on_start=on_start),
    )
