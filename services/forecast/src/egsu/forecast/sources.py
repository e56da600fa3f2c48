"""What the forecast service reads from the other services, through their APIs.

- the historian (measurements): series of a point, facility, subject, region or the country, and a
  point's meter and SCADA event journal;
- the registry: the directory of metering points and facilities (who owns what, where it is, the
  installed capacity, the feeder);
- monitoring, when it is deployed: alarm history (optional: without it the analytics say so).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from egsu.core.errors import ServiceUnavailable

log = logging.getLogger("egsu.forecast.sources")

M = "/api/v1/measurements"
COUNTRY = "KZ"
LEVELS = ("point", "facility", "subject", "region", "country")
GROUP_PATH = {
    "facility": "facilities",
    "subject": "subjects",
    "region": "regions",
}


def step_of_interval(interval_min: int) -> int:
    """The forecast step (seconds) of a point reporting every ``interval_min`` minutes."""
    if interval_min <= 15:
        return 900
    if interval_min <= 30:
        return 1800
    if interval_min <= 60:
        return 3600
    return 86400


RESOLUTION = {900: "15m", 1800: "30m", 3600: "1h", 86400: "1d"}


async def _get(client: httpx.AsyncClient, path: str, params: Any = None) -> Any:
    """JSON of a GET; None on 404; ServiceUnavailable when the service cannot answer."""
    try:
        resp = await client.get(path, params=params)
    except httpx.HTTPError as exc:
        raise ServiceUnavailable(
            f"{client.base_url} cannot be reached: {exc}", code="source_unavailable"
        ) from exc
    if resp.status_code == 404:
        return None
    if resp.status_code >= 400:
        raise ServiceUnavailable(
            f"{client.base_url}{path} answered {resp.status_code}: {resp.text[:300]}",
            code="source_unavailable",
        )
    return orjson.loads(resp.content)


def _epoch(ts: str) -> int:
    return int(datetime.fromisoformat(ts).timestamp())


class Historian:
    """Series from the historian, keyed by the start of each step (UTC seconds)."""

    def __init__(self, client: httpx.AsyncClient, concurrency: int = 16) -> None:
        self.client = client
        self._gate = asyncio.Semaphore(concurrency)

    async def series(
        self,
        level: str,
        key: str,
        quantity: str,
        start: datetime,
        end: datetime,
        step_s: int = 3600,
        field: str = "sum",
    ) -> dict[int, float]:
        """Values of ``[start, end)`` by step start; an empty dict when there are none.

        Groups are hourly totals (or daily); a point is read at its forecast step: native
        readings are stamped at the end of their interval and are moved to its start.
        """
        params = {
            "quantity": quantity,
            "from": start.astimezone(UTC).isoformat(),
            "to": end.astimezone(UTC).isoformat(),
            "resolution": RESOLUTION.get(step_s, "1h"),
        }
        if level == "point":
            path = f"{M}/points/{key}/readings"
        elif level == "country":
            path = f"{M}/country/readings"
        else:
            path = f"{M}/{GROUP_PATH[level]}/{key}/readings"
        if level != "point" and step_s < 3600:
            params["resolution"] = "1h"
        async with self._gate:
            body = await _get(self.client, path, params)
        if body is None:
            return {}
        out: dict[int, float] = {}
        # A point's native readings carry "value" and are stamped at the end of their interval;
        # buckets carry "sum" and are labelled by their start, as group hours are.
        shift = int(body.get("interval_min") or 0) * 60 if level == "point" else 0
        for item in body.get("items", []):
            if "sum" in item:
                value, ts = item.get(field, item["sum"]), _epoch(item["ts"])
            else:
                value, ts = item.get("value"), _epoch(item["ts"]) - shift
            if value is not None and item.get("quality") != "superseded":
                out[ts] = float(value)
        return out

    async def events(
        self, code: str, start: datetime, end: datetime, limit: int = 2000
    ) -> list[dict[str, Any]]:
        """The meter and SCADA journal of a point in ``(start, end]``."""
        params = {"from": start.isoformat(), "to": end.isoformat(), "limit": limit}
        async with self._gate:
            body = await _get(self.client, f"{M}/points/{code}/events", params)
        return list((body or {}).get("items", []))


@dataclass(frozen=True, slots=True)
class PointInfo:
    id: str
    code: str
    subject_bin: str
    facility_id: str
    facility_type: str
    region_kato: str
    commodity: str
    position: str
    quantities: frozenset[str]
    interval_min: int
    nominal_voltage: float | None = None
    max_power_kw: float | None = None
    status: str = "active"


@dataclass
class Directory:
    """The registry's metering points and facilities, as the forecast service needs them."""

    points: dict[str, PointInfo] = field(default_factory=dict)
    facilities: dict[str, dict[str, Any]] = field(default_factory=dict)

    def measuring(self, quantity: str) -> list[PointInfo]:
        return [p for p in self.points.values() if quantity in p.quantities]

    def of_facility(self, facility_id: str) -> list[PointInfo]:
        return [p for p in self.points.values() if p.facility_id == facility_id]

    def of_subject(self, subject_bin: str) -> list[PointInfo]:
        return [p for p in self.points.values() if p.subject_bin == subject_bin]

    def point_by_id(self, point_id: str) -> PointInfo | None:
        return next((p for p in self.points.values() if p.id == point_id), None)

    def feeder_facilities(self, facility_id: str) -> list[str]:
        """Other facilities on the same feeder (registry ``facility.feeder``)."""
        feeder = (self.facilities.get(facility_id) or {}).get("feeder")
        if not feeder:
            return []
        return sorted(
            fid
            for fid, f in self.facilities.items()
            if f.get("feeder") == feeder and fid != facility_id
        )

    def subject_region(self, subject_bin: str) -> str | None:
        """The region where most of a subject's points are."""
        regions = Counter(p.region_kato for p in self.of_subject(subject_bin))
        return regions.most_common(1)[0][0] if regions else None

    def facility_region(self, facility_id: str) -> str | None:
        f = self.facilities.get(facility_id)
        if f is not None:
            return str(f["region_kato"])
        points = self.of_facility(facility_id)
        return points[0].region_kato if points else None

    def facility_subject(self, facility_id: str) -> str | None:
        f = self.facilities.get(facility_id)
        if f is not None:
            return str(f["subject_bin"])
        points = self.of_facility(facility_id)
        return points[0].subject_bin if points else None

    def installed(self, region_kato: str | None, commodity: str) -> tuple[float, list[str]]:
        """Installed capacity of the generating facilities (kW, or Gcal/h for heat) and their ids."""
        key = "installed_heat_gcal_h" if commodity == "heat" else "installed_electric_mw"
        factor = 1.0 if commodity == "heat" else 1000.0
        total, ids = 0.0, []
        for fid, f in self.facilities.items():
            if region_kato is not None and f.get("region_kato") != region_kato:
                continue
            if f.get("status", "active") != "active" or not f.get(key):
                continue
            total += float(f[key]) * factor
            ids.append(fid)
        return total, ids


class Registry:
    """The directory, read from the registry and kept for ``ttl`` seconds."""

    def __init__(self, client: httpx.AsyncClient, ttl: float = 120.0) -> None:
        self.client = client
        self.ttl = ttl
        self._cached: tuple[float, Directory] | None = None
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._cached = None

    async def directory(self, *, fresh: bool = False) -> Directory:
        async with self._lock:
            if (
                not fresh
                and self._cached is not None
                and time.monotonic() - self._cached[0] < self.ttl
            ):
                return self._cached[1]
            index = await _get(self.client, "/api/v1/registry/metering-points/index")
            facilities = await self._pages("/api/v1/registry/facilities")
            points = {}
            for i in (index or {}).get("items", []):
                points[i["code"]] = PointInfo(
                    id=str(i["id"]),
                    code=i["code"],
                    subject_bin=i["subject_bin"],
                    facility_id=str(i["facility_id"]),
                    facility_type=i.get("facility_type") or "",
                    region_kato=i["region_kato"],
                    commodity=i["commodity"],
                    position=i.get("position") or "",
                    quantities=frozenset(i.get("quantities") or ()),
                    interval_min=int(i.get("interval_min") or 60),
                    nominal_voltage=i.get("nominal_voltage"),
                    max_power_kw=i.get("max_power_kw"),
                    status=i.get("status") or "active",
                )
            directory = Directory(points, {str(f["id"]): f for f in facilities})
            self._cached = (time.monotonic(), directory)
            return directory

    async def _pages(self, path: str, params: dict[str, Any] | None = None) -> list[Any]:
        out: list[Any] = []
        cursor = None
        while True:
            query = {**(params or {}), "limit": 1000}
            if cursor:
                query["cursor"] = cursor
            body = await _get(self.client, path, query)
            if body is None:
                return out
            out.extend(body["items"])
            cursor = body.get("next_cursor")
            if not cursor:
                return out

    async def facility(self, facility_id: str) -> dict[str, Any] | None:
        d = await self.directory()
        if facility_id in d.facilities:
            return d.facilities[facility_id]
        return await _get(self.client, f"/api/v1/registry/facilities/{facility_id}")  # type: ignore[no-any-return]

    async def device(self, device_id: str) -> dict[str, Any] | None:
        return await _get(self.client, f"/api/v1/registry/devices/{device_id}")  # type: ignore[no-any-return]

    async def devices(self, **filters: str) -> list[dict[str, Any]]:
        return await self._pages("/api/v1/registry/devices", filters)


class Alarms:
    """Alarm history from monitoring when it is deployed; None means "not available"."""

    def __init__(self, client: httpx.AsyncClient | None) -> None:
        self.client = client

    @property
    def available(self) -> bool:
        return self.client is not None

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        if self.client is None:
            return None
        try:
            resp = await self.client.get(path, params=params, timeout=10)
        except (httpx.HTTPError, ServiceUnavailable) as exc:
            log.info("monitoring %s not available: %s", path, exc)
            return None
        if resp.status_code != 200:
            return None
        try:
            return orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            return None

    async def of(
        self, start: datetime, end: datetime, **filters: str
    ) -> list[dict[str, Any]] | None:
        """Alarms (any state) of the objects matching ``filters`` raised in ``[start, end]``."""
        body = await self._get(
            "/api/v1/monitoring/alarms",
            {
                **filters,
                "state": "all",
                "from": start.isoformat(),
                "to": end.isoformat(),
                "limit": 1000,
            },
        )
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            return None
        return [a for a in body["items"] if isinstance(a, dict)]

    async def one(self, alarm_id: str) -> dict[str, Any] | None:
        body = await self._get(f"/api/v1/monitoring/alarms/{alarm_id}")
        return body if isinstance(body, dict) else None


def unique(values: Iterable[str]) -> list[str]:
    return sorted(set(values))
