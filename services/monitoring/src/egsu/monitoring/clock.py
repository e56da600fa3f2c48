"""The monitor's clock: wall time; tests and drills evaluate at a given time with ``sweep(at)``."""

from __future__ import annotations

from datetime import UTC, datetime


class Clock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def ts(self) -> float:
        return self.now().timestamp()
