"""Monitoring settings."""

from egsu.core.settings import Settings


class MonitoringSettings(Settings):
    service_name: str = "monitoring"
    consumer_batch: int = (
        4  # ingest batches fetched at a time (few: each waits for those before it)
    )
    flush_seconds: float = 0.5  # live state and arrivals are written this often
    sweep_seconds: float = 2.0  # time-driven evaluation: inactivity, hold times, escalation
    registry_refresh_seconds: float = 600.0  # full reload of the registry's index
    # An interval counts as missed when its data has not come within this many intervals after its
    # end; a point is inactive after CRITICALITY[c]["inactive_after_intervals"] missed intervals.
    arrival_allowance_intervals: float = 1.0
    future_tolerance_s: float = 60.0  # a reading stamped later than its receipt by more is capped
    hold_seconds: float = 0.0  # default time a condition must be gone before the alarm clears
    flap_window_seconds: float = 900.0
    flap_threshold: int = 3  # returns within the window that make an alarm "flapping"
    escalate_after_seconds: float = 900.0  # critical and unacknowledged for this long: escalate
    remind_every_seconds: float = 1800.0
    max_escalation_level: int = 3
    auto_close_hours: float = 24.0  # cleared and acknowledged alarms close after this long
    # Evaluation at a time later than now (POST /sweep {"at": ...}) for tests and drills; never in prod.
    allow_time_travel: bool = False
    webhook_timeout_seconds: float = 5.0
    webhook_backoff_seconds: tuple[float, ...] = (5.0, 30.0, 120.0, 600.0, 1800.0, 3600.0)
    webhook_max_attempts: int = 7
    arrival_keep_hours: float = 48.0
    baseline_min_samples: int = 6  # per slot before anomalies are judged
