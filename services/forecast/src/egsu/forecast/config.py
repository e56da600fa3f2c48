"""Forecast service settings (environment, prefix ``EGSU_``)."""

from __future__ import annotations

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

    # What is forecast without being asked: the national hierarchy (regions and the country),
    # facilities and subjects; metering points when asked for (POST /points/{code}) or listed here.
    # None: all three, and the national hierarchy only in the test environment.
    forecast_auto_levels: tuple[str, ...] | None = None
    forecast_quantities: tuple[str, ...] = ("active_import", "heat_energy")
    forecast_horizons: tuple[str, ...] = ("intraday", "day_ahead", "week_ahead")
    forecast_day_ahead_issue: str = "12:00"  # local time the day-ahead forecast is issued
    # Models compared by the back-test; MSTL (statsforecast, one fit per series and window) only in
    # groups of at most this many series. None: 30, and 0 in the test environment.
    forecast_models: tuple[str, ...] = ("seasonal_naive", "degree_day", "mstl", "lightgbm")
    forecast_mstl_max_series: int | None = None
    forecast_lgbm_rounds: int | None = None  # None: 400, and 100 in the test environment
    forecast_min_history_days: float = 3.0  # history before the first back-test window
    forecast_train_days: int = 91  # history a training run reads
    forecast_score_days: int = 35  # history a scoring run reads (lags, levels)
    forecast_train_sample: int = 1000  # series a group's global model is trained on at most
    forecast_score_shard: int = 2000  # series per scoring job
    forecast_fetch_concurrency: int = 16
    # Jobs: this process works the FORECAST_JOBS queue (several replicas share it).
    forecast_worker: bool = True
    forecast_job_attempts: int = 3
    # New data (egsu.readings.stored) updates the group's intraday forecast at most this often.
    forecast_update_seconds: float | None = None  # None: 900, and 2 in the test environment
    # A group new data touched but that has no model yet is tried again at most this often.
    forecast_retry_training_seconds: float | None = (
        None  # None: 600, and 20 in the test environment
    )
    # Nightly retraining of every group at this local time; off in the test environment.
    forecast_retrain_at: str = "02:00"
    forecast_schedule_enabled: bool = True
    forecast_schedule_check_seconds: float = 30.0
    forecast_keep_intraday_days: int = 7  # older intraday runs are deleted by the nightly run
    forecast_directory_ttl: float = 120.0  # seconds the registry's directory is reused

    @property
    def testing(self) -> bool:
        return self.environment == "test"

    @property
    def auto_levels(self) -> tuple[str, ...]:
        if self.forecast_auto_levels is not None:
            return self.forecast_auto_levels
        return ("national",) if self.testing else ("national", "facility", "subject")

    @property
    def retry_training_seconds(self) -> float:
        if self.forecast_retry_training_seconds is not None:
            return self.forecast_retry_training_seconds
        return 20.0 if self.testing else 600.0

    @property
    def mstl_max_series(self) -> int:
        if self.forecast_mstl_max_series is not None:
            return self.forecast_mstl_max_series
        return 0 if self.testing else 30

    @property
    def lgbm_rounds(self) -> int:
        if self.forecast_lgbm_rounds is not None:
            return self.forecast_lgbm_rounds
        return 100 if self.testing else 400

    @property
    def update_seconds(self) -> float:
        if self.forecast_update_seconds is not None:
            return self.forecast_update_seconds
        return 2.0 if self.testing else 900.0

    @property
    def schedule_enabled(self) -> bool:
        return self.forecast_schedule_enabled and not self.testing
