"""The forecast service's app factory."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
from fastapi import FastAPI

from egsu.auth.client import service_client
from egsu.core.service import create_service_app
from egsu.core.settings import get_settings
from egsu.forecast.api import router
from egsu.forecast.config import ForecastSettings
from egsu.forecast.insights_api import router as analytics_router
from egsu.forecast.jobs import Jobs, declare_consumers
from egsu.forecast.models import SCHEMA, outbox
from egsu.forecast.service import Forecasting
from egsu.forecast.sources import Alarms, Historian, Registry
from egsu.runtime import Runtime, service_lifespan
from egsu.runtime.outbox import OutboxRelay


def _optional(settings: ForecastSettings, name: str) -> httpx.AsyncClient | None:
    return service_client(settings, name, timeout=30) if name in settings.services else None


def create_app() -> FastAPI:
    """The forecast service's ASGI app."""
    settings = get_settings(ForecastSettings)

    async def on_start(app: FastAPI, rt: Runtime) -> None:
        assert rt.db is not None and rt.bus is not None and rt.store is not None
        clients = {n: service_client(settings, n, timeout=60) for n in ("registry", "measurements")}
        monitoring = _optional(settings, "monitoring")
        historian = Historian(clients["measurements"], settings.forecast_fetch_concurrency)
        registry = Registry(clients["registry"], settings.forecast_directory_ttl)
        forecasting = Forecasting(settings, rt.db, rt.store, historian, registry)
        relay = OutboxRelay(rt.db, rt.bus, outbox)
        relay.start()
        jobs = Jobs(settings, rt.db, relay, forecasting)
        app.state.forecasting, app.state.jobs, app.state.relay = forecasting, jobs, relay
        app.state.alarms = Alarms(monitoring)
        declare_consumers(rt.bus, settings, jobs)
        stop = asyncio.Event()
        tasks = [asyncio.create_task(jobs.updater(stop), name="forecast-updater")]
        if settings.schedule_enabled:
            tasks.append(asyncio.create_task(jobs.scheduler(stop), name="forecast-schedule"))

        async def close() -> None:
            stop.set()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await t
            await relay.stop()
            for c in [*clients.values(), *([monitoring] if monitoring else [])]:
                await c.aclose()

        rt.closers.append(close)

    return create_service_app(
        settings=settings,
        title="EGSU TEK forecast",
        description=(
            "Demand forecasts with P10/P50/P90 for metering points, facilities, subjects, regions "
            "and the nation (electricity and heat; intraday, day-ahead and week-ahead), models "
            "chosen per series by rolling-origin back-tests, regions reconciled to the nation; "
            "weather per region; training and scoring jobs; analytics: failure risk and root "
            "cause, decomposition and correlation, what-if scenarios, efficiency indicators. "
            "Times are UTC instants; days are Kazakhstan's (UTC+05:00)."
        ),
        routers=[router, analytics_router],
        lifespan=service_lifespan(settings, schema=SCHEMA, bus=True, store=True, on_start=on_start),
    )
