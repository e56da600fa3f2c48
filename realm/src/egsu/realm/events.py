"""Login events as Keycloak keeps them (``GET /admin/realms/{realm}/events``).

The registry reads them into the audit journal the same way from Keycloak in production. Events
are appended to ``var/realm/events.jsonl`` and the newest are kept in memory.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

KEEP = 100_000  # events answered by the API; older ones stay in the file only


class EventLog:
    def __init__(self, realm_id: str, file: Path | None) -> None:
        self.realm_id = realm_id
        self.file = file
        self._events: deque[dict[str, Any]] = deque(maxlen=KEEP)
        self._lock = threading.Lock()
        self._out: Any = None
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
            if file.exists():
                with file.open(encoding="utf-8") as f:
                    for line in f:
                        if line.strip():
                            self._events.append(json.loads(line))
            self._out = file.open("a", encoding="utf-8")  # kept open for the process

    def add(
        self,
        type_: str,
        *,
        client_id: str | None,
        user_id: str | None = None,
        ip: str | None = None,
        error: str | None = None,
        **details: str,
    ) -> dict[str, Any]:
        ev: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "time": int(time.time() * 1000),
            "type": type_,
            "realmId": self.realm_id,
            "clientId": client_id,
            "userId": user_id,
            "ipAddress": ip,
            "details": {k: v for k, v in details.items() if v is not None},
        }
        if error:
            ev["error"] = error
        with self._lock:
            self._events.append(ev)
            if self._out is not None:
                self._out.write(json.dumps(ev, ensure_ascii=False) + "\n")
                self._out.flush()
        return ev

    def query(
        self,
        *,
        types: list[str],
        client: str | None,
        user: str | None,
        date_from: str | None,
        date_to: str | None,
        ip: str | None,
        first: int,
        max_: int,
    ) -> list[dict[str, Any]]:
        """Newest first, filtered as Keycloak filters (dates as yyyy-MM-dd, inclusive)."""
        lo = _day_ms(date_from) if date_from else None
        hi = _day_ms(date_to) + 86_400_000 if date_to else None
        with self._lock:
            events = list(self._events)
        out: list[dict[str, Any]] = []
        skipped = 0
        for ev in reversed(events):
            if types and ev["type"] not in types:
                continue
            if client and ev.get("clientId") != client:
                continue
            if user and ev.get("userId") != user:
                continue
            if ip and ev.get("ipAddress") != ip:
                continue
            if lo is not None and ev["time"] < lo:
                continue
            if hi is not None and ev["time"] >= hi:
                continue
            if skipped < first:
                skipped += 1
                continue
            out.append(ev)
            if len(out) >= max_:
                break
        return out


def _day_ms(value: str) -> int:
    """Keycloak takes a date (yyyy-MM-dd); epoch milliseconds are accepted as well."""
    if value.isdigit():
        return int(value)
    return int(datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC).timestamp() * 1000)
