"""Where the numbers come from: the registry, the historian, ingest, monitoring and forecast.

Everything is read through the other services' APIs with this service's client-credentials token.
The historian keeps totals per facility, subject, region and the country, but not per metering
point position (generation, own needs, consumption, interchange). ``Planner`` finds the cheapest
set of historian series that yields the totals per position and per breakdown: a group's total
minus the points that belong elsewhere, or its parts when that is cheaper.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import orjson

from egsu.core.errors import ServiceUnavailable
from egsu.core.time import KZ

log = logging.getLogger("egsu.reports.sources")

M = "/api/v1/measurements"
Cell = list[float]  # [sum, count, valid]
Series = dict[int, Cell]  # bucket start (UTC seconds) -> cell
Node = tuple[str, str]  # ("country" | "region" | "subject" | "facility" | "point", key)


def day_start(d: date) -> datetime:
    """The start of a local (UTC+05:00) day, in UTC."""
    return datetime(d.year, d.month, d.day, tzinfo=KZ).astimezone(UTC)


def window(d_from: date, d_to: date) -> tuple[datetime, datetime]:
    """[start, end) of the local days ``d_from`` … ``d_to`` inclusive, in UTC."""
    return day_start(d_from), day_start(d_to + timedelta(days=1))


def local_day(ts: int) -> date:
    return datetime.fromtimestamp(ts, KZ).date()


@dataclass(frozen=True, slots=True)
class PointInfo:
    code: str
    subject_bin: str
    facility_id: str
    facility_type: str
    region_kato: str
    commodity: str
    position: str
    quantities: frozenset[str]

    def measures(self, quantity: str) -> bool:
        return quantity in self.quantities


@dataclass
class Directory:
    """The registry's picture of the System at the time of the report."""

    points: list[PointInfo]
    facilities: dict[str, dict[str, Any]]
    subjects: dict[str, dict[str, Any]]

    def subject_name(self, bin_: str, lang: str = "ru") -> str:
        s = self.subjects.get(bin_)
        if not s:
            return bin_
        if lang == "kk":
            return str(s.get("name_kk") or s.get("name_ru") or bin_)
        if lang == "en":
            return str(s.get("name_en") or s.get("name_ru") or bin_)
        return str(s.get("name_ru") or bin_)

    def facility_name(self, fid: str, lang: str = "ru") -> str:
        f = self.facilities.get(fid)
        if not f:
            return fid
        return str(f.get("name_kk") if lang == "kk" else f.get("name_ru")) or fid


async def _get_json(client: httpx.AsyncClient, path: str, params: Any = None) -> Any:
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


async def _pages(client: httpx.AsyncClient, path: str, params: dict[str, Any]) -> list[Any]:
    out: list[Any] = []
    cursor = None
    while True:
        body = await _get_json(
            client,
            path,
            {**params, "limit": 1000, "cursor": cursor} if cursor else {**params, "limit": 1000},
        )
        if body is None:
            return out
        out.extend(body["items"])
        cursor = body.get("next_cursor")
        if not cursor:
            return out


class Registry:
    """The registry's index of metering points, facilities and subjects (read afresh for every job by default)."""

    def __init__(self, client: httpx.AsyncClient, ttl: float = 0.0) -> None:
        self.client = client
        self.ttl = ttl
        self._cache: dict[tuple[str, str], tuple[float, Directory]] = {}
        self._lock = asyncio.Lock()

    async def directory(
        self, *, subject_bin: str | None = None, facility_id: str | None = None
    ) -> Directory:
        """All points (or one subject's, or one facility's) with their facilities and subjects."""
        key = (
            ("subject", subject_bin)
            if subject_bin
            else ("facility", facility_id)
            if facility_id
            else ("all", "")
        )
        async with self._lock:
            hit = self._cache.get(key)  # type: ignore[arg-type]
            if hit and time.monotonic() - hit[0] < self.ttl:
                return hit[1]
            params: dict[str, Any] = {}
            if subject_bin:
                params["subject_bin"] = subject_bin
            if facility_id:
                params["facility_id"] = facility_id
            index = await _get_json(self.client, "/api/v1/registry/metering-points/index", params)
            facilities = {
                f["id"]: f
                for f in await _pages(
                    self.client, "/api/v1/registry/facilities", params if subject_bin else {}
                )
            }
            subjects = {
                s["bin"]: s for s in await _pages(self.client, "/api/v1/registry/subjects", {})
            }
            points = [
                PointInfo(
                    i["code"],
                    i["subject_bin"],
                    i["facility_id"],
                    i["facility_type"],
                    i["region_kato"],
                    i["commodity"],
                    i["position"],
                    frozenset(i["quantities"]),
                )
                for i in (index or {"items": []})["items"]
            ]
            d = Directory(points, facilities, subjects)
            self._cache[key] = (time.monotonic(), d)  # type: ignore[index]
            return d

    async def facility(self, fid: str) -> dict[str, Any] | None:
        return await _get_json(self.client, f"/api/v1/registry/facilities/{fid}")  # type: ignore[no-any-return]

    async def point(self, code: str) -> dict[str, Any] | None:
        return await _get_json(self.client, f"/api/v1/registry/metering-points/by-code/{code}")  # type: ignore[no-any-return]

    async def subject(self, bin_: str) -> dict[str, Any] | None:
        return await _get_json(self.client, f"/api/v1/registry/subjects/{bin_}")  # type: ignore[no-any-return]


# --- planning ------------------------------------------------------------------------------------


@dataclass
class Plan:
    """For each class key, the signed historian series whose sum is that class's total."""

    terms: dict[Hashable, list[tuple[int, Node]]]

    @property
    def nodes(self) -> set[Node]:
        return {n for ts in self.terms.values() for _, n in ts}


class Planner:
    """Chooses historian series for the totals of ``scope`` points per class ``key``."""

    def __init__(self, points: Iterable[PointInfo], quantity: str) -> None:
        self.points = [p for p in points if p.measures(quantity)]

    def plan(
        self, in_scope: Callable[[PointInfo], bool], key: Callable[[PointInfo], Hashable]
    ) -> Plan:
        by_region: dict[str, list[PointInfo]] = defaultdict(list)
        by_subject: dict[str, list[PointInfo]] = defaultdict(list)
        for p in self.points:
            by_region[p.region_kato].append(p)
            by_subject[p.subject_bin].append(p)

        def group(
            node: Node,
            members: list[PointInfo],
            children: list[tuple[Node, list[PointInfo]]] | None,
        ):  # type: ignore[no-untyped-def]
            inside = [p for p in members if in_scope(p)]
            if not inside:
                return 0, []
            if node[0] == "point":
                return 1, [(key(inside[0]), 1, node)]
            outside = [p for p in members if not in_scope(p)]
            classes: dict[Hashable, list[PointInfo]] = defaultdict(list)
            for p in inside:
                classes[key(p)].append(p)
            big = max(classes, key=lambda k: len(classes[k]))
            here_cost = 1 + len(outside) + len(inside) - len(classes[big])
            here: list[tuple[Hashable, int, Node]] = [(big, 1, node)]
            here += [(big, -1, ("point", p.code)) for p in outside]
            for k, ps in classes.items():
                if k != big:
                    for p in ps:
                        here += [(k, 1, ("point", p.code)), (big, -1, ("point", p.code))]
            if children is None or here_cost <= 1:
                return here_cost, here
            cost, parts = 0, []
            for child, child_members in children:
                c, t = group(child, child_members, children_of(child, child_members))
                cost += c
                parts += t
                if cost >= here_cost:
                    return here_cost, here
            return cost, parts

        def children_of(
            node: Node, members: list[PointInfo]
        ) -> list[tuple[Node, list[PointInfo]]] | None:
            kind = node[0]
            if kind == "point":
                return None
            if kind == "facility":
                return [(("point", p.code), [p]) for p in members]
            by_fac: dict[str, list[PointInfo]] = defaultdict(list)
            for p in members:
                by_fac[p.facility_id].append(p)
            if kind == "subject":
                return [(("facility", f), ps) for f, ps in by_fac.items()]
            if kind == "region":
                out: list[tuple[Node, list[PointInfo]]] = []
                seen: set[str] = set()
                for p in members:
                    if p.subject_bin in seen:
                        continue
                    seen.add(p.subject_bin)
                    whole = by_subject[p.subject_bin]
                    if all(q.region_kato == node[1] for q in whole):
                        out.append((("subject", p.subject_bin), whole))
                    else:
                        for f, ps in by_fac.items():
                            if ps[0].subject_bin == p.subject_bin:
                                out.append((("facility", f), ps))
                return out
            return [(("region", r), ps) for r, ps in by_region.items()]

        _, terms = group(
            ("country", "KZ"), self.points, children_of(("country", "KZ"), self.points)
        )
        out: dict[Hashable, list[tuple[int, Node]]] = defaultdict(list)
        for k, sign, node in terms:
            out[k].append((sign, node))
        return Plan(dict(out))


# --- the historian -------------------------------------------------------------------------------


def _path(node: Node) -> str:
    kind, key = node
    return {
        "country": f"{M}/country/readings",
        "region": f"{M}/regions/{key}/readings",
        "subject": f"{M}/subjects/{key}/readings",
        "facility": f"{M}/facilities/{key}/readings",
        "point": f"{M}/points/{key}/readings",
    }[kind]


class Historian:
    def __init__(self, client: httpx.AsyncClient, concurrency: int = 16) -> None:
        self.client = client
        self.sem = asyncio.Semaphore(concurrency)
        self.calls = 0

    async def series(
        self, node: Node, quantity: str, start: datetime, end: datetime, resolution: str
    ) -> Series:
        """One historian series, normalised to {bucket start: [sum, count, valid]}."""
        params = {
            "quantity": quantity,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "resolution": resolution,
        }
        async with self.sem:
            self.calls += 1
            body = await _get_json(self.client, _path(node), params)
        out: Series = {}
        for i in (body or {}).get("items", []):
            value = i.get("sum", i.get("value"))
            if value is None:
                continue
            # the historian's daily group buckets carry count and quality_share as strings (numeric)
            count = float(i.get("count") or 0)
            share = i.get("quality_share")
            valid = round(count * float(share)) if share is not None else count
            ts = int(datetime.fromisoformat(i["ts"]).timestamp())
            out[ts] = [float(value), count, float(valid)]
        return out

    async def collect(
        self, plan: Plan, quantity: str, start: datetime, end: datetime, resolution: str
    ) -> dict[Hashable, Series]:
        """The totals of every class of the plan."""
        nodes = sorted(plan.nodes)
        fetched = await asyncio.gather(
            *(self.series(n, quantity, start, end, resolution) for n in nodes)
        )
        got = dict(zip(nodes, fetched, strict=True))
        out: dict[Hashable, Series] = {}
        for k, terms in plan.terms.items():
            acc: Series = {}
            for sign, node in terms:
                for ts, (s, c, v) in got[node].items():
                    cell = acc.setdefault(ts, [0.0, 0.0, 0.0])
                    cell[0] += sign * s
                    cell[1] += sign * c
                    cell[2] += sign * v
            out[k] = {ts: c for ts, c in acc.items() if c[1] > 0.5 or abs(c[0]) > 1e-9}
        return out

    async def events(self, code: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        async with self.sem:
            body = await _get_json(
                self.client,
                f"{M}/points/{code}/events",
                {"from": start.isoformat(), "to": end.isoformat(), "limit": 1000},
            )
        return list((body or {}).get("items", []))

    async def native(
        self, code: str, quantity: str, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        async with self.sem:
            body = await _get_json(
                self.client,
                f"{M}/points/{code}/readings",
                {"quantity": quantity, "from": start.isoformat(), "to": end.isoformat()},
            )
        return list((body or {}).get("items", []))


# --- optional services ---------------------------------------------------------------------------


class OptionalService:
    """A service that may not exist yet (monitoring, forecast): None instead of an error."""

    def __init__(self, client: httpx.AsyncClient | None) -> None:
        self.client = client

    async def get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        if self.client is None:
            return None
        try:
            resp = await self.client.get(path, params=params, timeout=10)
        except (httpx.HTTPError, ServiceUnavailable) as exc:
            log.info("%s%s not available: %s", self.client.base_url, path, exc)
            return None
        if resp.status_code != 200:
            return None
        try:
            return orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            return None


class Forecasts(OptionalService):
    """Forecasts next to actuals, when the forecast service answers.

    Expected shape (issue 9): ``GET /api/v1/forecast/{level}/{key}?quantity=&from=&to=&resolution=1h``
    answering ``{"items": [{"ts": …, "p50": …, "p10": …, "p90": …}]}`` with energy per bucket in the
    quantity's canonical unit. Anything else counts as "no forecast available".
    """

    async def hourly(
        self, level: str, key: str, quantity: str, start: datetime, end: datetime
    ) -> dict[int, float] | None:
        body = await self.get(
            f"/api/v1/forecast/{level}/{key}",
            {
                "quantity": quantity,
                "from": start.isoformat(),
                "to": end.isoformat(),
                "resolution": "1h",
            },
        )
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            return None
        out: dict[int, float] = {}
        for i in body["items"]:
            try:
                value = i.get("p50", i.get("value"))
                if value is not None:
                    out[int(datetime.fromisoformat(i["ts"]).timestamp())] = float(value)
            except (KeyError, TypeError, ValueError):
                return None
        return out or None


class Alarms(OptionalService):
    """Alarm history from monitoring, when it answers (``GET /api/v1/monitoring/alarms``)."""

    async def of_facility(
        self, fid: str, start: datetime, end: datetime
    ) -> list[dict[str, Any]] | None:
        body = await self.get(
            "/api/v1/monitoring/alarms",
            {"facility_id": fid, "from": start.isoformat(), "to": end.isoformat(), "limit": 200},
        )
        if not isinstance(body, dict) or not isinstance(body.get("items"), list):
            return None
        return [a for a in body["items"] if isinstance(a, dict)]

    async def one(self, alarm_id: str) -> dict[str, Any] | None:
        body = await self.get(f"/api/v1/monitoring/alarms/{alarm_id}")
        return body if isinstance(body, dict) else None


class Ingest:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def compliance(
        self, d_from: date, d_to: date, subject_bin: str | None = None
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"from": d_from.isoformat(), "to": d_to.isoformat()}
        if subject_bin:
            params["subject_bin"] = subject_bin
        body = await _get_json(self.client, "/api/v1/ingest/compliance", params)
        return list((body or {}).get("items", []))

    async def receipts(
        self, start: datetime, end: datetime, subject_bin: str | None = None
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"from": start.isoformat(), "to": end.isoformat()}
        if subject_bin:
            params["subject_bin"] = subject_bin
        out: list[dict[str, Any]] = []
        cursor = None
        while True:
            p = {**params, "limit": 500}
            if cursor:
                p["cursor"] = cursor
            body = await _get_json(self.client, "/api/v1/ingest/receipts", p)
            if body is None:
                return out
            out.extend(body["items"])
            cursor = body.get("next_cursor")
            if not cursor or len(out) >= 100_000:
                return out
