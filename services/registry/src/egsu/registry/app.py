"""The registry's app factory."""

from __future__ import annotations

from fastapi import FastAPI

from egsu.core.service import create_service_app
from egsu.core.settings import get_settings
from egsu.registry.api import router
from egsu.registry.config import RegistrySettings
from egsu.runtime import service_lifespan


def create_app() -> FastAPI:
    """The registry's ASGI app."""
    settings = get_settings(RegistrySettings)
    return create_service_app(
        settings=settings,
        title="EGSU TEK registry",
        description="Subjects, facilities, metering points, devices, systems, documents and obligations.",
        routers=[router],
        lifespan=service_lifespan(settings, bus=True),
    )
