"""Ingest settings."""

from egsu.core.settings import Settings


class IngestSettings(Settings):
    service_name: str = "ingest"
    max_batch_readings: int = 50_000
    max_body_bytes: int = 32 * 1024 * 1024
    point_cache_seconds: float = 300.0
    # A timestamp off the point's interval grid by at most this share of the interval is accepted,
    # stored at the nearest grid time and flagged by validation (clock skew); further off is rejected.
    skew_tolerance: float = 1 / 3
    default_deadline_min: int = 60
    compliance_check_seconds: float = 60.0
    telemetry_batch: int = 16
