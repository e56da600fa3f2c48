"""Test data through the public API: a subject with a facility and metering points, and its user."""

from __future__ import annotations

import random
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from egsu.testing.stack import Stack

KZ = timezone(timedelta(hours=5))
_rng = random.Random()
_lock = threading.Lock()


def complete_bin(first11: str) -> str | None:
    """The 12-digit BIN/IIN for 11 digits (Kazakhstan's check digit), or None when none fits."""
    d = [int(c) for c in first11]
    s = sum(a * w for a, w in zip(d, range(1, 12), strict=True)) % 11
    if s == 10:
        s = sum(a * w for a, w in zip(d, (3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2), strict=True)) % 11
    return None if s == 10 else first11 + str(s)


def new_bin() -> str:
    """A fresh, valid legal-entity BIN."""
    with _lock:
        while True:
            first = f"{_rng.randint(0, 99):02d}{_rng.randint(1, 12):02d}4{_rng.randint(0, 9)}{_rng.randint(0, 99999):05d}"
            full = complete_bin(first)
            if full:
                return full


def subject_body(bin_: str, region: str = "550000000", **kw: Any) -> dict[str, Any]:
    return {
        "bin": bin_,
        "name_ru": f"ТОО «Энергия {bin_[-4:]}»",
        "name_kk": f"«Энергия {bin_[-4:]}» ЖШС",
        "legal_form": "llp",
        "kind": "generation",
        "region_kato": region,
        "contacts": {"email": "info@energy.kz", "phone": "+7 7182 000000"},
        **kw,
    }


def facility_body(bin_: str, **kw: Any) -> dict[str, Any]:
    return {
        "subject_bin": bin_,
        "name_ru": "Павлодарская ТЭЦ-3",
        "name_kk": "Павлодар ЖЭО-3",
        "type": "chp",
        "installed_electric_mw": 540,
        "installed_heat_gcal_h": 1154,
        "voltage_kv": 220,
        "latitude": 52.3,
        "longitude": 76.9,
        "criticality": 1,
        **kw,
    }


def point_body(code: str, facility_id: str, **kw: Any) -> dict[str, Any]:
    return {
        "code": code,
        "facility_id": facility_id,
        "commodity": "electricity",
        "position": "generation",
        "quantities": ["active_export", "reactive_export", "voltage_l1"],
        "interval_min": 5,
        "nominal_voltage": 220000,
        "rated_current": 2000,
        **kw,
    }


class World:
    """A subject with one facility and ``points`` metering points (made by the ministry), and its user."""

    def __init__(
        self,
        stack: Stack,
        region: str = "550000000",
        *,
        points: int = 1,
        interval_min: int = 5,
        quantities: list[str] | None = None,
        criticality: int = 1,
        **point_kw: Any,
    ) -> None:
        self.stack = stack
        self.region = region
        self.bin = new_bin()
        self.user = f"subject-{self.bin}"
        stack.add_user(self.user, ["subject"], bin=self.bin)
        with stack.sync_client("ministry") as c:
            r = c.post("/api/v1/registry/subjects", json=subject_body(self.bin, region))
            assert r.status_code == 201, r.text
            r = c.post(
                "/api/v1/registry/facilities", json=facility_body(self.bin, criticality=criticality)
            )
            assert r.status_code == 201, r.text
            self.facility = r.json()
            self.points: list[dict[str, Any]] = []
            for i in range(points):
                body = point_body(
                    f"T-{self.bin}-{i + 1:02d}",
                    self.facility["id"],
                    interval_min=interval_min,
                    **point_kw,
                )
                if quantities:
                    body["quantities"] = quantities
                r = c.post("/api/v1/registry/metering-points", json=body)
                assert r.status_code == 201, r.text
                self.points.append(r.json())
        self.point = self.points[0]
        self.point_code = self.point["code"]


def grid(start: datetime, count: int, minutes: int) -> list[datetime]:
    """``count`` interval ends on a grid of ``minutes``, the first one after ``start``."""
    step = minutes * 60
    first = (int(start.timestamp()) // step + 1) * step
    return [datetime.fromtimestamp(first + i * step, UTC) for i in range(count)]


def kz(dt: datetime) -> str:
    """An ISO 8601 timestamp in Kazakhstan's offset (+05:00)."""
    return dt.astimezone(KZ).isoformat()
