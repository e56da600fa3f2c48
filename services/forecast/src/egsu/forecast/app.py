"""The forecast service's app factory.

The forecasting engine (``egsu.forecast.backtest``, ``forecasters``, ``hierarchy``, ``analytics``)
is complete; the service's API over the historian's series comes with the measurements service.
"""

from __future__ import annotations

from fastapi import FastAPI

from egsu.core.service import create_service_app
from egsu.core.settings import get_settings
from egsu.forecast.config import ForecastSettings
from egsu.runtime import service_lifespan


def create_app() -> FastAPI:
    """The forecast service's ASGI app."""
    settings = get_settings(ForecastSettings)
    return create_service_app(
        settings=settings,
        title="EGSU TEK forecast",
        description="Demand forecasts with quantiles, back-tests, hierarchy reconciliation and "
        "analytics (decomposition, correlation, what-if scenarios, efficiency).",
        routers=[],
        lifespan=service_lifespan(settings, bus=True),
    )
