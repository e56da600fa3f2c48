"""What ingest knows about metering points: the registry's index, cached per subject.

A subject's points are fetched once and kept for a while; registry change events drop the entry so
a new point is usable at once. Codes a subject does not own are looked up to tell an unknown point
from another subject's point.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

import httpx
import orjson

from egsu.contracts.exchange80020 import channel_map
from egsu.contracts.registry import PointIndexItem
from egsu.core.errors import ServiceUnavailable

log = logging.getLogger("egsu.ingest.points")


@dataclass(frozen=True, slots=True)
class PointInfo:
    code: str
    subject_bin: str
    facility_id: str
    region_kato: str
    commodity: str
    interval_s: int
    quantities: frozenset[str]
    units: dict[str, str]
    active: bool
    code_80020: str | None = None
    channels_80020: dict[str, str] = field(default_factory=dict)  # effective: defaults + own

    @classmethod
    def of(cls, item: PointIndexItem) -> PointInfo:
        return cls(
            item.code,
            item.subject_bin,
            item.facility_id,
            item.region_kato,
            item.commodity,
            item.interval_min * 60,
            frozenset(item.quantities),
            dict(item.units),
            item.status == "active",
            item.code_80020,
            channel_map(item.channels_80020),
        )

    def measures(self, quantity: str) -> bool:
        return quantity in self.quantities or quantity.split(":", 1)[0] in self.quantities


class PointDirectory:
    def __init__(self, registry: httpx.AsyncClient, ttl: float) -> None:
        self.registry = registry
        self.ttl = ttl
        self._by_subject: dict[str, tuple[float, dict[str, PointInfo]]] = {}
        self._owner: dict[str, tuple[float, str | None]] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def forget(self, subject_bin: str | None) -> None:
        if subject_bin is None:
            self._by_subject.clear()
        else:
            self._by_subject.pop(subject_bin, None)
        self._owner.clear()

    async def of_subject(self, subject_bin: str) -> dict[str, PointInfo]:
        cached = self._by_subject.get(subject_bin)
        if cached and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        lock = self._locks.setdefault(subject_bin, asyncio.Lock())
        async with lock:
            cached = self._by_subject.get(subject_bin)
            if cached and time.monotonic() - cached[0] < self.ttl:
                return cached[1]
            try:
                resp = await self.registry.get(
                    "/api/v1/registry/metering-points/index", params={"subject_bin": subject_bin}
                )
                resp.raise_for_status()
            except httpx.HTTPError as exc:
                raise ServiceUnavailable(
                    "the registry cannot be reached to check metering points; try again shortly",
                    code="registry_unavailable",
                ) from exc
            items = orjson.loads(resp.content)["items"]
            points = {i["code"]: PointInfo.of(PointIndexItem.model_validate(i)) for i in items}
            self._by_subject[subject_bin] = (time.monotonic(), points)
            return points

    async def owners(self, codes: list[str], by: str = "code") -> dict[str, str | None]:
        """For codes a subject does not own: which subject does (None if nobody).

        ``by`` names the code: the System's point code, or ``code_80020`` for exchange files.
        """
        now = time.monotonic()
        out: dict[str, str | None] = {}
        missing = []
        for c in codes:
            hit = self._owner.get(f"{by}:{c}")
            if hit and now - hit[0] < self.ttl:
                out[c] = hit[1]
            else:
                missing.append(c)
        for i in range(0, len(missing), 100):
            chunk = missing[i : i + 100]
            try:
                resp = await self.registry.get(
                    "/api/v1/registry/metering-points",
                    params=[(by, c) for c in chunk] + [("limit", "1000")],
                )
                resp.raise_for_status()
            except httpx.HTTPError as exc:
                raise ServiceUnavailable(
                    "the registry cannot be reached; try again shortly", code="registry_unavailable"
                ) from exc
            found = {p[by]: p["subject_bin"] for p in resp.json()["items"]}
            for c in chunk:
                out[c] = found.get(c)
                self._owner[f"{by}:{c}"] = (now, out[c])
        return out
