"""Measurements settings."""

from egsu.core.settings import Settings


class MeasurementsSettings(Settings):
    service_name: str = "measurements"
    consumer_batch: int = 8  # messages (each up to 50,000 readings) fetched at a time
    workers: int = 2  # batches written concurrently
    rollup_flush_seconds: float = 0.25
    max_items: int = 200_000  # largest answer of a readings query
