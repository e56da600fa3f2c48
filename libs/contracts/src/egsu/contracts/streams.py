"""Every JetStream stream of the System, declared in this one place.

Subjects are named ``egsu.<area>.<what>[.<detail>]``. A stream captures an area; consumers filter.
"""

from __future__ import annotations

from dataclasses import dataclass

from nats.js import api

DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    description: str
    max_age: float = 7 * DAY
    duplicate_window: float = 120.0
    work_queue: bool = False
    max_msg_size: int = 8 * 1024 * 1024
    max_bytes: int = -1

    def config(self, *, replicas: int = 1) -> api.StreamConfig:
        return api.StreamConfig(
            name=self.name,
            description=self.description,
            subjects=list(self.subjects),
            retention=api.RetentionPolicy.WORK_QUEUE
            if self.work_queue
            else api.RetentionPolicy.LIMITS,
            storage=api.StorageType.FILE,
            max_age=self.max_age,
            duplicate_window=self.duplicate_window,
            max_msg_size=self.max_msg_size,
            max_bytes=self.max_bytes,
            num_replicas=replicas,
            discard=api.DiscardPolicy.OLD,
        )


# Subjects
AUDIT = "egsu.audit"  # egsu.audit.<kind>: access, auth, change, control, security, abnormal
INGEST_BATCHES = "egsu.ingest.batches"  # egsu.ingest.batches.<bin>: accepted readings, in chunks
INGEST_EVENTS = "egsu.ingest.events"  # egsu.ingest.events.<kind>: compliance overdue, …
TELEMETRY = "egsu.telemetry"  # egsu.telemetry.<bin>: readings a subject publishes straight to NATS
REGISTRY_CHANGED = "egsu.registry.changed"  # egsu.registry.changed.<entity>
REGISTRY_EVENTS = "egsu.registry.events"  # egsu.registry.events.<kind>: verification due, …
CLIENT_REVOKED = f"{REGISTRY_EVENTS}.client_revoked"  # an integration client was revoked
READINGS_STORED = (
    "egsu.readings.stored"  # egsu.readings.stored.<bin>: a batch reached the historian
)
READINGS_CORRECTED = "egsu.readings.corrected"
ALARMS = "egsu.alarms"  # egsu.alarms.<severity>
FORECAST_JOBS = "egsu.forecast.jobs"  # egsu.forecast.jobs.<kind>: work queue for forecast workers
REPORTS_JOBS = "egsu.reports.jobs"  # egsu.reports.jobs.<kind>: work queue for report workers

STREAMS: tuple[StreamSpec, ...] = (
    StreamSpec(
        "AUDIT",
        (f"{AUDIT}.>",),
        "Audit events from every service, consumed by the audit journal",
        max_age=30 * DAY,
    ),
    StreamSpec(
        "INGEST",
        (f"{INGEST_BATCHES}.>",),
        "Accepted reading batches on their way to the historian",
        max_age=14 * DAY,
    ),
    StreamSpec(
        "INGEST_EVENTS", (f"{INGEST_EVENTS}.>",), "Ingest notices: overdue subjects and the like"
    ),
    StreamSpec(
        "TELEMETRY",
        (f"{TELEMETRY}.>",),
        "Readings published by subjects' systems straight to NATS",
        max_age=3 * DAY,
    ),
    StreamSpec("REGISTRY", ("egsu.registry.>",), "Registry changes and registry notices"),
    StreamSpec(
        "READINGS",
        ("egsu.readings.>",),
        "The historian's notices: batches stored, corrections applied",
    ),
    StreamSpec(
        "ALARMS", (f"{ALARMS}.>",), "Alarms raised, acknowledged and cleared", max_age=30 * DAY
    ),
    StreamSpec(
        "FORECAST_JOBS",
        (f"{FORECAST_JOBS}.>",),
        "Forecast training and scoring jobs",
        work_queue=True,
    ),
    StreamSpec("REPORTS_JOBS", (f"{REPORTS_JOBS}.>",), "Report generation jobs", work_queue=True),
)
