"""Time helpers: the System stores UTC and speaks ISO 8601 with offsets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

KZ = timezone(timedelta(hours=5), "Asia/Almaty")


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)
