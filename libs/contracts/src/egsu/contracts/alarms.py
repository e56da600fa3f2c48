"""Alarm events published by monitoring on ``egsu.alarms.<severity>`` (stream ALARMS).

One event per step of an alarm's life: raised, reopened, acknowledged, cleared, closed, shelved,
unshelved, escalated, reminder, flapping, comment. The reports service listens to
``egsu.alarms.critical`` for emergency reports; webhooks and the console's event stream carry the
same payload. ``Nats-Msg-Id`` is ``alarm-<alarm id>-<seq>``, so a step is published once.

Channel convention (§84–§85): a subject's system reports the communication channel in use as a
meter/SCADA event on the point with ``code = "channel_switch"`` and ``text = "main"`` or
``"reserve"`` (case-insensitive); monitoring keeps the channel in use per point and the share of
readings received over each channel.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from egsu.contracts.streams import ALARMS

Severity = Literal["critical", "major", "minor", "warning"]
SEVERITIES: tuple[str, ...] = ("critical", "major", "minor", "warning")
AlarmState = Literal["raised", "acknowledged", "cleared", "closed"]
AlarmEventType = Literal[
    "raised",
    "reopened",
    "acknowledged",
    "cleared",
    "closed",
    "shelved",
    "unshelved",
    "escalated",
    "reminder",
    "flapping",
    "comment",
]
ObjectType = Literal["point", "facility", "system", "device", "subject"]

CHANNEL_SWITCH_EVENT = "channel_switch"
CHANNELS = ("main", "reserve")


def alarm_subject(severity: str) -> str:
    """The NATS subject of an alarm event of this severity."""
    return f"{ALARMS}.{severity}"


class AlarmSnapshot(BaseModel):
    """The alarm as it is after the step the event reports."""

    id: str
    rule_id: str | None
    rule_version: int | None
    kind: str
    category: str  # process | equipment | security | communication | metrology | compliance
    severity: Severity
    state: AlarmState
    object_type: ObjectType
    object_id: str
    subject_bin: str | None
    facility_id: str | None = None
    facility_type: str | None = None
    region_kato: str | None = None
    point_code: str | None = None
    quantity: str | None = None
    message: dict[str, str]  # ru, kk, en
    value: float | None = None
    limit: float | None = None
    first_ts: datetime | None = None  # measurement time of the first occurrence
    last_ts: datetime | None = None  # measurement time of the latest occurrence
    raised_at: datetime
    count: int = 1
    late: bool = False
    flapping: bool = False
    escalation_level: int = 0
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    cleared_at: datetime | None = None
    shelved_until: datetime | None = None
    details: dict[str, Any] = {}


class AlarmEvent(BaseModel):
    """One step of an alarm's life."""

    id: str  # alarm-<alarm id>-<seq>
    type: AlarmEventType
    time: datetime
    actor: str | None = None  # username, or None for the System
    comment: str | None = None
    alarm: AlarmSnapshot
