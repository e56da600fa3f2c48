"""The reports service's app factory."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import orjson
from fastapi import FastAPI

from egsu.auth.client import service_client
from egsu.contracts.streams import REPORTS_JOBS
from egsu.core.service import create_service_app
from egsu.core.settings import get_settings
from egsu.reports import repository as repo
from egsu.reports.api import open_router, router
from egsu.reports.config import ReportsSettings
from egsu.reports.context import Period, Sources
from egsu.reports.events import declare_consumers, schedule_loop
from egsu.reports.models import SCHEMA, outbox
from egsu.reports.service import OpenData, Queries, Reports
from egsu.reports.sources import Alarms, Forecasts, Historian, Ingest, Registry
from egsu.runtime import Runtime, service_lifespan
from egsu.runtime.outbox import OutboxRelay, enqueue


def _optional(settings: ReportsSettings, name: str) -> httpx.AsyncClient | None:
    return service_client(settings, name, timeout=30) if name in settings.services else None


def create_app() -> FastAPI:
    """The reports service's ASGI app."""
    settings = get_settings(ReportsSettings)

    async def on_start(app: FastAPI, rt: Runtime) -> None:
        assert (
            rt.db is not None
            and rt.bus is not None
            and rt.store is not None
            and rt.audit is not None
        )
        clients = {
            n: service_client(settings, n, timeout=60)
            for n in ("registry", "measurements", "ingest")
        }
        optional = {n: _optional(settings, n) for n in ("monitoring", "forecast")}
        sources = Sources(
            settings=settings,
            registry=Registry(clients["registry"]),
            historian=Historian(clients["measurements"], settings.reports_fetch_concurrency),
            ingest=Ingest(clients["ingest"]),
            forecasts=Forecasts(optional["forecast"]),
            alarms=Alarms(optional["monitoring"]),
        )
        relay = OutboxRelay(rt.db, rt.bus, outbox)
        relay.start()
        reports = Reports(rt.db, rt.bus, rt.store, rt.audit, sources, relay)
        queries = Queries(rt.db, rt.store, rt.audit, sources, relay)
        open_data = OpenData(rt.db, sources)
        app.state.sources, app.state.relay = sources, relay
        app.state.reports, app.state.queries, app.state.open_data = reports, queries, open_data
        declare_consumers(rt.bus, settings, reports, queries, open_data)

        async def enqueue_open_data(period: Period, slot: str) -> bool:
            db = rt.db
            assert db is not None
            async with db.transaction() as s:
                if not await repo.claim_run(s, "open_data", slot):
                    return False
                job = {
                    "open_data": {"from": period.start.isoformat(), "to": period.end.isoformat()}
                }
                await enqueue(
                    s, outbox, f"{REPORTS_JOBS}.open_data", orjson.dumps(job), f"open-data-{slot}"
                )
            relay.poke()
            return True

        # Test stacks run the regular reports on demand only (POST /schedules/{name}/run), so
        # that yesterday's national and regional runs do not compete with the tests.
        scheduled = settings.reports_schedule_enabled and settings.environment != "test"
        scheduler = (
            asyncio.create_task(schedule_loop(reports, settings, enqueue_open_data))
            if scheduled
            else None
        )

        async def stop() -> None:
            if scheduler is not None:
                scheduler.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await scheduler
            await relay.stop()
            for c in [*clients.values(), *(c for c in optional.values() if c is not None)]:
                await c.aclose()

        rt.closers.append(stop)

    return create_service_app(
        settings=settings,
        title="EGSU TEK reports",
        description=(
            "Regular and emergency reports for the local (facility, subject), regional (KATO) and national levels in XLSX, PDF, "
            "CSV and JSON, in Russian, Kazakh and English; recommendations (§47); queries of state bodies (§22); and open "
            "data (§20) under /api/v1/open without a token. Reports are made by jobs and archived with their inputs. "
            "Days and months are Kazakhstan's (UTC+05:00)."
        ),
        routers=[router, open_router],
        lifespan=service_lifespan(settings, schema=SCHEMA, bus=True, store=True, on_start=on_start),
    )
