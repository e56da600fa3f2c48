"""Creating the generated registry through the registry API, idempotently.

Re-running is safe: a subject that exists answers 409 and is kept; facilities, systems and
obligations are matched by name (or facility and note) within their subject, points by code and
devices by serial number, and only what is missing is created.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from egsu.client import ApiError, Conflict, EgsuClient, EgsuClientError
from egsu.simulator import payloads
from egsu.simulator.model import EnergySystem

log = logging.getLogger("egsu.simulator")
R = "/api/v1/registry"


@dataclass
class SeedReport:
    created: dict[str, int] = field(default_factory=dict)
    existing: dict[str, int] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def count(self, entity: str, created: bool) -> None:
        d = self.created if created else self.existing
        d[entity] = d.get(entity, 0) + 1


def add_realm_users(system: EnergySystem, var: Path) -> Path:
    """Register ``subject-<BIN>`` users (password ``demo``) in the development realm's added-users file."""
    from egsu.realm.model import add_users

    path = var / "realm" / "users.yaml"
    add_users(path, system.users())
    return path


class Seeder:
    def __init__(
        self,
        system: EnergySystem,
        client: EgsuClient,
        *,
        concurrency: int = 8,
        on_subject: Callable[[], None] | None = None,
    ) -> None:
        self.s = system
        self.client = client
        self.sem = asyncio.Semaphore(concurrency)
        self.report = SeedReport()
        self.on_subject = on_subject
        by_subject: dict[str, list[int]] = {}
        for i, b in enumerate(system.facilities["subject_bin"]):
            by_subject.setdefault(b, []).append(i)
        self.fac_of = by_subject
        self.points_of: dict[str, list[int]] = {}
        for i, fk in enumerate(system.points["facility_key"]):
            self.points_of.setdefault(fk, []).append(i)
        self.systems_of: dict[str, list[int]] = {}
        for i, b in enumerate(system.systems["subject_bin"]):
            self.systems_of.setdefault(b, []).append(i)
        self.obligations_of: dict[str, list[int]] = {}
        for i, b in enumerate(system.obligations["subject_bin"]):
            self.obligations_of.setdefault(b, []).append(i)

    async def _all(self, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        async with self.sem:
            return [x async for x in self.client.paginate(R + path, page_size=1000, **params)]

    async def _create(self, entity: str, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        try:
            async with self.sem:
                # a repeated create is answered 409 and counted as existing: safe to retry
                r = await self.client.request("POST", R + path, json=body, idempotent=True)
        except Conflict:
            self.report.count(entity, False)
            return None
        except ApiError as exc:
            name = body.get("code") or body.get("bin") or body.get("name_ru") or body.get("name")
            self.report.errors.append(
                f"{entity} {name}: {exc.status} {exc.code} {exc.detail[:300]}"
            )
            return None
        self.report.count(entity, r.status_code == 201)
        return r.json()  # type: ignore[no-any-return]

    async def subject(self, j: int) -> None:
        s = self.s
        b = s.bins[j]
        await self._create("subject", "/subjects", payloads.subject(s, j))
        # facilities
        have = {f["name_ru"]: f["id"] for f in await self._all("/facilities", {"subject_bin": b})}
        fac_ids: dict[str, str] = {}
        todo = []
        for i in self.fac_of.get(b, []):
            name = s.facilities["name_ru"][i]
            if name in have:
                fac_ids[s.facilities["key"][i]] = have[name]
                self.report.count("facility", False)
            else:
                todo.append(i)
        made = await asyncio.gather(
            *(self._create("facility", "/facilities", payloads.facility(s, i)) for i in todo)
        )
        for i, row in zip(todo, made, strict=True):
            if row is not None:
                fac_ids[s.facilities["key"][i]] = row["id"]
        # metering points
        async with self.sem:
            index = await self.client.get(R + "/metering-points/index", subject_bin=b)
        point_ids = {p["code"]: p["id"] for p in index["items"]}
        todo = [
            i for fk in fac_ids for i in self.points_of.get(fk, []) if s.codes[i] not in point_ids
        ]
        self.report.existing["metering_point"] = self.report.existing.get(
            "metering_point", 0
        ) + sum(1 for fk in fac_ids for i in self.points_of.get(fk, []) if s.codes[i] in point_ids)
        made = await asyncio.gather(*(
            self._create("metering_point", "/metering-points",
                         payloads.metering_point(s, i, fac_ids[s.points["facility_key"][i]]))
            for i in todo
        ))  # fmt: skip
        for i, row in zip(todo, made, strict=True):
            if row is not None:
                point_ids[s.codes[i]] = row["id"]
        # devices: a meter at every point
        serials = {d["serial_number"] for d in await self._all("/devices", {"subject_bin": b})}
        todo = [i for fk in fac_ids for i in self.points_of.get(fk, [])
                if s.codes[i] in point_ids and s.devices["serial_number"][i] not in serials]  # fmt: skip
        self.report.existing["device"] = self.report.existing.get("device", 0) + sum(
            1
            for fk in fac_ids
            for i in self.points_of.get(fk, [])
            if s.devices["serial_number"][i] in serials
        )
        await asyncio.gather(
            *(
                self._create("device", "/devices", payloads.device(s, i, point_ids[s.codes[i]]))
                for i in todo
            )
        )
        # systems
        names = {x["name"] for x in await self._all("/systems", {"subject_bin": b})}
        for i in self.systems_of.get(b, []):
            if s.systems["name"][i] in names:
                self.report.count("system", False)
                continue
            ids = [fac_ids[k] for k in s.systems["facility_keys"][i] if k in fac_ids]
            await self._create("system", "/systems", payloads.system(s, i, ids))
        # obligations
        have_ob = {
            (o["note"], o["facility_id"])
            for o in await self._all("/obligations", {"subject_bin": b})
        }
        for i in self.obligations_of.get(b, []):
            fk = s.obligations["facility_key"][i]
            fid = fac_ids.get(fk) if fk else None
            if fk and fid is None:
                continue
            if (s.obligations["note"][i], fid) in have_ob:
                self.report.count("obligation", False)
                continue
            await self._create("obligation", "/obligations", payloads.obligation(s, i, fid))
        if self.on_subject:
            self.on_subject()

    async def run(self) -> SeedReport:
        async def one(j: int) -> None:
            try:
                await self.subject(j)
            except EgsuClientError as exc:
                self.report.errors.append(f"subject {self.s.bins[j]}: {exc}")

        await asyncio.gather(*(one(j) for j in range(len(self.s.bins))))
        return self.report
