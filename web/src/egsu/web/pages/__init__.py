"""The console's screens, one module each."""

from __future__ import annotations

from fastapi import APIRouter

from egsu.web.pages import (
    alarms,
    audit,
    cabinet,
    corrections,
    forecast,
    open_data,
    overview,
    places,
    registry,
    reports,
)

routers: list[APIRouter] = [
    overview.router,
    places.router,
    registry.router,
    cabinet.router,
    alarms.router,
    corrections.router,
    reports.router,
    forecast.router,
    audit.router,
    open_data.router,
]
