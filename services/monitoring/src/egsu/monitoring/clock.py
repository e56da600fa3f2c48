"""The monitor's clock: wall time in production. Where time travel is allowed (tests, drills,
the accuracy benchmark) it can be set to another moment, past or future, and set back."""

from __future__ import annotations

import time
from datetime import UTC, datetime


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def ts(self) -> float:
        return time.time() + self.offset

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.ts(), UTC)

    def set(self, at: datetime | None) -> None:
        """Run as if it were ``at`` from now on (None: wall time again)."""
        self.offset = 0.0 if at is None else at.timestamp() - time.time()
