"""Forecast service settings."""

from egsu.core.settings import Settings


class ForecastSettings(Settings):
    service_name: str = "forecast"
    # Rolling-origin back-test used to choose each series' model.
    backtest_origins: int = 28
    backtest_warmup: int = 14
    refit_every: int = 7
    # Holiday calendar of the forecast series (the holidays package's country and subdivision).
    holiday_country: str = "KZ"
    holiday_subdiv: str | None = None
