"""What monitoring knows from the registry: points with their facility's type and criticality,
facilities, subjects' systems and devices. Loaded at start, reloaded per subject when the registry
announces a change, and fully now and then.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from egsu.contracts.registry import PointIndexItem

log = logging.getLogger("egsu.monitoring.directory")
CRITICALITY_MISSED = {1: 2, 2: 3, 3: 4}  # registry vocab CRITICALITY: inactive_after_intervals


@dataclass(slots=True)
class PointInfo:
    id: str
    code: str
    subject_bin: str
    facility_id: str
    facility_type: str
    region_kato: str
    commodity: str
    quantities: list[str]
    interval_min: int
    criticality: int
    nominal_voltage: float | None
    max_power_kw: float | None
    norms: dict[str, Any]
    status: str
    system_ids: list[str] = field(default_factory=list)

    @property
    def missed_allowed(self) -> int:
        return CRITICALITY_MISSED.get(self.criticality, 3)

    @property
    def monitored(self) -> bool:
        return self.status == "active"

    @classmethod
    def of(cls, item: PointIndexItem) -> PointInfo:
        return cls(
            item.id,
            item.code,
            item.subject_bin,
            item.facility_id,
            item.facility_type,
            item.region_kato,
            item.commodity,
            list(item.quantities),
            item.interval_min,
            item.criticality,
            item.nominal_voltage,
            item.max_power_kw,
            dict(item.norms),
            item.status,
        )


@dataclass(slots=True)
class SystemInfo:
    id: str
    subject_bin: str
    kind: str
    name: str
    facility_ids: list[str]
    channels: list[dict[str, Any]]
    status: str


@dataclass(slots=True)
class DeviceInfo:
    id: str
    subject_bin: str
    point_id: str | None
    type: str
    model: str
    serial_number: str
    next_verification_due: str | None
    status: str


@dataclass(slots=True)
class FacilityInfo:
    id: str
    subject_bin: str
    name_ru: str
    name_kk: str
    type: str
    region_kato: str
    criticality: int


class Directory:
    def __init__(self, registry: httpx.AsyncClient | None) -> None:
        self.registry = registry
        self.points: dict[str, PointInfo] = {}
        self.point_by_id: dict[str, str] = {}
        self.facilities: dict[str, FacilityInfo] = {}
        self.systems: dict[str, SystemInfo] = {}
        self.devices: dict[str, DeviceInfo] = {}
        self.version = 0  # bumped on every change, so caches keyed on it are dropped

    async def _get_all(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        assert self.registry is not None
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            q = {**params, "limit": 1000}
            if cursor:
                q["cursor"] = cursor
            resp = await self.registry.get(path, params=q)
            resp.raise_for_status()
            body = orjson.loads(resp.content)
            out.extend(body["items"])
            cursor = body.get("next_cursor")
            if not cursor:
                return out

    async def load(self, subject_bin: str | None = None) -> None:
        """(Re)load everything, or one subject's part."""
        assert self.registry is not None
        params = {"subject_bin": subject_bin} if subject_bin else {}
        resp = await self.registry.get("/api/v1/registry/metering-points/index", params=params)
        resp.raise_for_status()
        points = [
            PointInfo.of(PointIndexItem.model_validate(i))
            for i in orjson.loads(resp.content)["items"]
        ]
        facilities = await self._get_all("/api/v1/registry/facilities", params)
        systems = await self._get_all("/api/v1/registry/systems", params)
        devices = await self._get_all("/api/v1/registry/devices", params)
        self.replace(
            subject_bin,
            points,
            [
                FacilityInfo(
                    f["id"],
                    f["subject_bin"],
                    f["name_ru"],
                    f["name_kk"],
                    f["type"],
                    f["region_kato"],
                    f["criticality"],
                )
                for f in facilities
            ],
            [
                SystemInfo(
                    s["id"],
                    s["subject_bin"],
                    s["kind"],
                    s["name"],
                    list(s["facility_ids"]),
                    list(s["channels"]),
                    s["status"],
                )
                for s in systems
            ],
            [
                DeviceInfo(
                    d["id"],
                    d["subject_bin"],
                    d.get("point_id"),
                    d["type"],
                    d["model"],
                    d["serial_number"],
                    d.get("next_verification_due"),
                    d["status"],
                )
                for d in devices
            ],
        )

    def replace(
        self,
        subject_bin: str | None,
        points: Iterable[PointInfo],
        facilities: Iterable[FacilityInfo],
        systems: Iterable[SystemInfo],
        devices: Iterable[DeviceInfo],
    ) -> None:
        def keep(d: dict[str, Any]) -> dict[str, Any]:
            if subject_bin is None:
                return {}
            return {k: v for k, v in d.items() if v.subject_bin != subject_bin}

        self.points = keep(self.points) | {p.code: p for p in points}
        self.facilities = keep(self.facilities) | {f.id: f for f in facilities}
        self.systems = keep(self.systems) | {s.id: s for s in systems}
        self.devices = keep(self.devices) | {d.id: d for d in devices}
        self.point_by_id = {p.id: p.code for p in self.points.values()}
        by_facility: dict[str, list[str]] = {}
        for s in self.systems.values():
            if s.status != "active":
                continue
            for f in s.facility_ids:
                by_facility.setdefault(f, []).append(s.id)
        for p in self.points.values():
            p.system_ids = sorted(by_facility.get(p.facility_id, []))
        self.version += 1

    def system_points(self, system_id: str) -> list[str]:
        s = self.systems.get(system_id)
        if s is None:
            return []
        fac = set(s.facility_ids)
        return [c for c, p in self.points.items() if p.facility_id in fac and p.monitored]

    def devices_of_point(self, code: str) -> list[DeviceInfo]:
        p = self.points.get(code)
        if p is None:
            return []
        return [d for d in self.devices.values() if d.point_id == p.id and d.status == "active"]
