"""What the historian knows about metering points from the registry, and the VEE series it builds.

The registry's compact index (``GET /api/v1/registry/metering-points/index``) is fetched per
subject with this service's own client and kept for ``point_cache_seconds``; a change event on
``egsu.registry.changed.*`` drops the subject's entry so a new norm or capacity applies to the next
batch. When the registry cannot be reached, the last copy is used; without any copy the batch waits
(it is delivered again), as ingest could not have accepted it without the registry either.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

import httpx
import orjson

from egsu.contracts.registry import PointIndexItem
from egsu.contracts.vocabulary import QUANTITIES, unit_factor
from egsu.core.errors import ServiceUnavailable
from egsu.measurements.vee import rules as R
from egsu.measurements.vee.config import RuleBook
from egsu.measurements.vee.engine import SeriesSpec

log = logging.getLogger("egsu.measurements.points")
KW_PER_GCAL_H = 1163.0
ZERO_POSITIONS = frozenset({"consumption", "own_needs"})  # where zero consumption is abnormal


class PointDirectory:
    """The registry's metering-point index, cached per subject (and per region for analytics)."""

    def __init__(self, registry: httpx.AsyncClient | None, ttl: float) -> None:
        self.registry = registry
        self.ttl = ttl
        self._cache: dict[tuple[str, str], tuple[float, dict[str, PointIndexItem]]] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def forget(self, subject_bin: str | None = None) -> None:
        """Drop cached entries: one subject's, or everything."""
        if subject_bin is None:
            self._cache.clear()
            return
        self._cache.pop(("subject_bin", subject_bin), None)
        for k in [k for k in self._cache if k[0] != "subject_bin"]:
            self._cache.pop(k, None)

    async def warm(self) -> None:
        """Get this service's token early, so the first batch does not wait for it."""
        if self.registry is None:
            return
        try:
            await self.registry.get("/readyz")
        except (httpx.HTTPError, ServiceUnavailable) as exc:
            log.info("registry not reachable yet (%s); the first batch will ask again", exc)

    def put(self, key: tuple[str, str], items: list[PointIndexItem]) -> None:
        self._cache[key] = (time.monotonic(), {i.code: i for i in items})

    async def of_subject(self, subject_bin: str) -> dict[str, PointIndexItem]:
        return await self._get(("subject_bin", subject_bin))

    async def of_region(self, region_kato: str) -> dict[str, PointIndexItem]:
        return await self._get(("region_kato", region_kato))

    async def of_facility(self, facility_id: str) -> dict[str, PointIndexItem]:
        return await self._get(("facility_id", facility_id))

    async def _get(self, key: tuple[str, str]) -> dict[str, PointIndexItem]:
        cached = self._cache.get(key)
        if cached and time.monotonic() - cached[0] < self.ttl:
            return cached[1]
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            cached = self._cache.get(key)
            if cached and time.monotonic() - cached[0] < self.ttl:
                return cached[1]
            if self.registry is None:
                return cached[1] if cached else {}
            try:
                resp = await self.registry.get(
                    "/api/v1/registry/metering-points/index", params={key[0]: key[1]}
                )
                resp.raise_for_status()
            except (httpx.HTTPError, ServiceUnavailable) as exc:
                if cached:
                    log.warning("registry unreachable (%s); using the cached index of %s", exc, key)
                    return cached[1]
                raise ServiceUnavailable(
                    "the registry cannot be reached for the metering points' limits and norms",
                    code="registry_unavailable",
                ) from exc
            items = [PointIndexItem.model_validate(i) for i in orjson.loads(resp.content)["items"]]
            self.put(key, items)
            return self._cache[key][1]


def _nan(x: float | None) -> float:
    return math.nan if x is None else float(x)


def series_spec(
    pid: int,
    qid: int,
    code: str,
    commodity: str,
    interval_min: int,
    info: PointIndexItem | None,
    rulebook: RuleBook,
    stats: tuple[float, ...] | None = None,
) -> SeriesSpec:
    """The engine's view of one series: enabled rules, thresholds and the point's limits."""
    enabled, th = rulebook.for_quantity(commodity, code)
    step = interval_min * 60
    if info is None:
        return SeriesSpec(pid, qid, code, step, enabled, th, stats=stats)
    q = QUANTITIES.get(code)
    base = code.split(":")[0]
    hours = interval_min / 60
    p_max = _nan(info.max_power_kw)
    if math.isnan(p_max) and info.nominal_voltage and info.rated_current:
        p_max = math.sqrt(3) * info.nominal_voltage * info.rated_current / 1000
    margin = th.capacity_margin
    cap = math.nan
    if q is not None:
        if q.kind == "interval" and q.dimension in ("energy_active", "energy_reactive"):
            cap = p_max * hours * margin
        elif q.kind == "interval" and q.dimension == "heat_energy":
            cap = p_max / KW_PER_GCAL_H * hours * margin
        elif q.dimension in ("power_active", "power_reactive"):
            cap = p_max * margin
        elif q.dimension == "heat_power":
            cap = p_max / KW_PER_GCAL_H * margin
        elif q.dimension == "current" and info.rated_current:
            cap = info.rated_current * margin
    norms: dict[str, Any] = info.norms or {}
    norm_interval = norm_daily = math.nan
    if base == "active_import" and code == base:
        norm_interval = _nan(norms.get("interval_energy_kwh"))
        norm_daily = _nan(norms.get("daily_energy_kwh"))
    elif code == "heat_energy":
        norm_daily = _nan(norms.get("heat_daily_gcal"))
    reg_limit = math.nan
    if q is not None and q.kind == "register" and info.register_digits:
        factor = unit_factor(q, info.units.get(code) or info.units.get(base)) or 1.0
        reg_limit = 10.0**info.register_digits * factor
    v_tol = norms.get("voltage_tolerance_pct")
    heat_tol = norms.get("heat_balance_tolerance_pct")
    if info.position not in ZERO_POSITIONS:
        enabled &= ~R.ZERO
    if info.status != "active":
        enabled &= ~(R.ZERO | R.STUCK)
    return SeriesSpec(
        pid=pid,
        qid=qid,
        code=code,
        step=step,
        enabled=enabled,
        th=th,
        cap=cap,
        u_nom=_nan(info.nominal_voltage),
        v_tol=math.nan if v_tol is None else float(v_tol) / 100,
        norm_interval=norm_interval,
        norm_daily=norm_daily,
        reg_limit=reg_limit,
        import_only=info.import_only,
        heat_tol=math.nan if heat_tol is None else float(heat_tol) / 100,
        stats=stats,
    )
