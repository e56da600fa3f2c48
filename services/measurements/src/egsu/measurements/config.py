"""Measurements settings."""

from pydantic import Field

from egsu.core.settings import Settings


class MeasurementsSettings(Settings):
    service_name: str = "measurements"
    consumer_batch: int = 8  # messages (each up to 50,000 readings) fetched at a time
    workers: int = 2  # batches written concurrently
    rollup_flush_seconds: float = 0.25
    max_items: int = 200_000  # largest answer of a readings query
    point_cache_seconds: float = 300.0  # registry index per subject (dropped on registry changes)
    # VEE: rules switched off and thresholds changed per commodity / quantity (see vee/config.py)
    vee_rules_off: dict[str, list[str]] = Field(default_factory=dict)
    vee_thresholds: dict[str, dict[str, float]] = Field(default_factory=dict)
    vee_stats_refresh_hours: float = 6.0  # statistics of a series older than this are recomputed …
    vee_stats_window_hours: float = 72.0  # … from this much of its own history
    # gaps are estimated this long after a batch found them (a batch still on its way may fill them)
    vee_estimate_delay_seconds: float = 5.0
    vee_estimate_every_seconds: float = 1.0
    correction_max_intervals: int = 10_000  # largest correction
