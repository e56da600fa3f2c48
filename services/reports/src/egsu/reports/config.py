"""Reports settings (environment, prefix ``EGSU_``)."""

from __future__ import annotations

from egsu.core.settings import Settings


class ReportsSettings(Settings):
    service_name: str = "reports"
    # Regular reports: every day at this local time (UTC+05:00) for the day before, and on the
    # first of each month at the same time for the month before.
    reports_daily_at: str = "06:00"
    reports_schedule_enabled: bool = True
    reports_schedule_check_seconds: float = 30.0
    # What the regular runs issue: "kind:level:format", regional ones for every region with points.
    reports_daily: tuple[str, ...] = (
        "daily_electricity_balance:national:xlsx",
        "daily_electricity_balance:national:pdf",
        "daily_electricity_balance:regional:xlsx",
        "daily_heat_supply:national:xlsx",
        "data_quality:national:xlsx",
    )
    reports_monthly: tuple[str, ...] = (
        "monthly_consumption_generation:national:xlsx",
        "monthly_consumption_generation:national:pdf",
        "monthly_consumption_generation:regional:xlsx",
    )
    reports_language: str = "ru"
    # Open data: regenerated every so many minutes over the last so many days.
    reports_open_data_minutes: float = 60.0
    reports_open_data_days: int = 35
    reports_open_min_subjects: int = 3  # a cell backed by fewer subjects is suppressed
    reports_open_dominance: float = 0.85  # ... or one whose largest subject has this share or more
    # Emergency reports
    reports_emergency_format: str = "pdf"
    reports_incident_window_seconds: int = 300  # events of one facility this close are one incident
    # SCADA emergency events read straight from ingest batches (monitoring passes them on as
    # critical alarms too; both land in one incident). Severities and codes that count:
    reports_scada_direct: bool = True
    reports_scada_severities: tuple[str, ...] = ("emergency", "critical")
    reports_scada_codes: tuple[str, ...] = (
        "equipment_trip",
        "protection_trip",
        "breaker_trip",
        "emergency_shutdown",
    )
    # Generation
    reports_job_attempts: int = 3
    reports_fetch_concurrency: int = 16
    reports_history_days: int = 28  # own history that equipment recommendations compare with
    reports_peak_shift_share: float = 0.1  # share of a large consumer's peak load proposed to shift
    reports_query_sync_units: int = 400  # larger queries of state bodies run as jobs
