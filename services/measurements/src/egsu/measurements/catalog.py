"""The historian's own numbering of metering points and quantities, cached in the process."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date

import asyncpg

from egsu.contracts.vocabulary import QUANTITIES


@dataclass(frozen=True, slots=True)
class Point:
    id: int
    code: str
    subject_bin: str
    facility_id: str
    region_kato: str
    commodity: str
    interval_min: int


# Quantities whose totals over a facility, subject, region or the country mean something: energy
# and volumes add up; power adds up as the sum of the points' hourly means.
GROUPED = frozenset(
    q.code
    for q in QUANTITIES.values()
    if (q.kind == "interval") or q.dimension in ("power_active", "power_reactive", "heat_power")
)
POWER = frozenset(
    q.code
    for q in QUANTITIES.values()
    if q.dimension in ("power_active", "power_reactive", "heat_power")
)


class Catalog:
    def __init__(self) -> None:
        self.points: dict[str, Point] = {}
        self.by_id: dict[int, Point] = {}
        self.quantities: dict[str, int] = {}
        self.quantity_codes: dict[int, str] = {}
        self.partitions: set[str] = set()

    async def load(self, conn: asyncpg.Connection) -> None:
        for r in await conn.fetch("SELECT id, code FROM measurements.quantity"):
            self.quantities[r["code"]] = r["id"]
            self.quantity_codes[r["id"]] = r["code"]

    async def quantity_ids(self, conn: asyncpg.Connection, codes: list[str]) -> dict[str, int]:
        missing = [c for c in set(codes) if c not in self.quantities]
        if missing:
            await conn.execute(
                "INSERT INTO measurements.quantity (code) SELECT unnest($1::text[]) ON CONFLICT (code) DO NOTHING",
                sorted(missing),
            )
            for r in await conn.fetch(
                "SELECT id, code FROM measurements.quantity WHERE code = ANY($1::text[])", missing
            ):
                self.quantities[r["code"]] = r["id"]
                self.quantity_codes[r["id"]] = r["code"]
        return self.quantities

    async def point_ids(
        self, conn: asyncpg.Connection, refs: list[dict[str, object]]
    ) -> list[Point]:
        stale = [
            r
            for r in refs
            if (p := self.points.get(str(r["code"]))) is None
            or (p.subject_bin, p.facility_id, p.region_kato, p.commodity, p.interval_min)
            != (
                r["subject_bin"],
                r["facility_id"],
                r["region_kato"],
                r["commodity"],
                r["interval_min"],
            )
        ]
        if stale:
            stale.sort(key=lambda r: str(r["code"]))
            rows = await conn.fetch(
                """
                INSERT INTO measurements.point (code, subject_bin, facility_id, region_kato, commodity, interval_min)
                SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[])
                ON CONFLICT (code) DO UPDATE SET subject_bin = EXCLUDED.subject_bin,
                  facility_id = EXCLUDED.facility_id, region_kato = EXCLUDED.region_kato,
                  commodity = EXCLUDED.commodity, interval_min = EXCLUDED.interval_min, updated_at = now()
                RETURNING id, code, subject_bin, facility_id, region_kato, commodity, interval_min
                """,
                [r["code"] for r in stale],
                [r["subject_bin"] for r in stale],
                [r["facility_id"] for r in stale],
                [r["region_kato"] for r in stale],
                [r["commodity"] for r in stale],
                [r["interval_min"] for r in stale],
            )
            for r in rows:
                self._remember(Point(**dict(r)))
        return [self.points[str(r["code"])] for r in refs]

    async def point(self, conn: asyncpg.Connection, code: str) -> Point | None:
        if code in self.points:
            return self.points[code]
        r = await conn.fetchrow(
            "SELECT id, code, subject_bin, facility_id, region_kato, commodity, interval_min "
            "FROM measurements.point WHERE code = $1",
            code,
        )
        if r is None:
            return None
        p = Point(**dict(r))
        self._remember(p)
        return p

    async def point_by_id(self, conn: asyncpg.Connection, pid: int) -> Point | None:
        if pid in self.by_id:
            return self.by_id[pid]
        r = await conn.fetchrow(
            "SELECT id, code, subject_bin, facility_id, region_kato, commodity, interval_min "
            "FROM measurements.point WHERE id = $1",
            pid,
        )
        if r is None:
            return None
        p = Point(**dict(r))
        self._remember(p)
        return p

    async def points_where(self, conn: asyncpg.Connection, column: str, value: str) -> list[Point]:
        """The historian's points of a subject, facility or region."""
        assert column in ("subject_bin", "facility_id", "region_kato")
        rows = await conn.fetch(
            "SELECT id, code, subject_bin, facility_id, region_kato, commodity, interval_min "
            f"FROM measurements.point WHERE {column} = $1 ORDER BY code",
            value,
        )
        out = []
        for r in rows:
            p = Point(**dict(r))
            self._remember(p)
            out.append(p)
        return out

    def _remember(self, p: Point) -> None:
        self.points[p.code] = p
        self.by_id[p.id] = p

    async def ensure_partitions(
        self, pool_conn: asyncpg.Connection, months: set[tuple[int, int]]
    ) -> None:
        """Monthly partitions of ``reading`` for the batch's months, created outside the batch's transaction."""
        for y, mth in sorted(months):
            name = f"reading_y{y:04d}m{mth:02d}"
            if name in self.partitions:
                continue
            start = date(y, mth, 1)
            end = date(y + (mth == 12), mth % 12 + 1, 1)
            # another writer may create it at the same moment
            with contextlib.suppress(asyncpg.DuplicateTableError, asyncpg.UniqueViolationError):
                await pool_conn.execute(
                    f"CREATE TABLE IF NOT EXISTS measurements.{name} PARTITION OF measurements.reading "
                    f"FOR VALUES FROM ('{start.isoformat()}T00:00:00+00') TO ('{end.isoformat()}T00:00:00+00')"
                )
            self.partitions.add(name)
