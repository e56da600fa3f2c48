"""Fixtures of the historian's own tests: the schema on the session's PostgreSQL and a harness that
stores batches the way the consumer does (without NATS or the registry service)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import numpy as np
import pytest

from egsu.contracts.registry import PointIndexItem
from egsu.db.migrations import upgrade
from egsu.infra import InfraUrls
from egsu.measurements import migrations
from egsu.measurements.app import asyncpg_dsn
from egsu.measurements.catalog import Catalog
from egsu.measurements.estimator import estimate_due_gaps
from egsu.measurements.points import PointDirectory
from egsu.measurements.rollups import flush_group_deltas
from egsu.measurements.vee.config import RuleBook
from egsu.measurements.writer import Result, VeeInputs, months_of, store_batch


@pytest.fixture(scope="session")
async def pool(infra: InfraUrls) -> AsyncIterator[asyncpg.Pool]:
    await upgrade(infra.database_url, Path(migrations.__file__).parent, migrations.SCHEMA)
    p = await asyncpg.create_pool(asyncpg_dsn(infra.database_url), min_size=1, max_size=4)
    try:
        yield p
    finally:
        await p.close()


@dataclass
class Harness:
    """One subject with points; ``store`` writes a batch as the historian's consumer would."""

    pool: asyncpg.Pool
    catalog: Catalog = field(default_factory=Catalog)
    bin: str = field(default_factory=lambda: str(uuid.uuid4().int)[:12])
    facility_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    region: str = "550000000"
    infos: dict[str, PointIndexItem] = field(default_factory=dict)
    rulebook: RuleBook = field(default_factory=RuleBook)

    def point(self, commodity: str = "electricity", interval_min: int = 15, **kw: Any) -> str:
        code = f"H-{uuid.uuid4().hex[:12]}"
        item = {
            "id": str(uuid.uuid4()),
            "code": code,
            "subject_bin": self.bin,
            "facility_id": self.facility_id,
            "facility_type": "consumer_site",
            "region_kato": self.region,
            "commodity": commodity,
            "position": "consumption",
            "quantities": [],
            "interval_min": interval_min,
            **kw,
        }
        self.infos[code] = PointIndexItem.model_validate(item)
        return code

    def ref(self, code: str) -> dict[str, Any]:
        i = self.infos[code]
        return {
            "code": code,
            "subject_bin": i.subject_bin,
            "facility_id": i.facility_id,
            "region_kato": i.region_kato,
            "commodity": i.commodity,
            "interval_min": i.interval_min,
        }

    async def store(
        self,
        rows: list[tuple[str, str, float, float]],
        *,
        received_at: float | None = None,
        skew: list[float] | None = None,
        events: list[dict[str, Any]] | None = None,
    ) -> Result:
        """Store readings given as (point code, quantity, ts seconds, value)."""
        codes = sorted({r[0] for r in rows} | {e["point"] for e in events or []})
        pos = {c: i for i, c in enumerate(codes)}
        ts = [float(r[2]) for r in rows]
        raw = {
            "receipt_id": str(uuid.uuid4()),
            "subject_bin": self.bin,
            "received_at": datetime.fromtimestamp(
                received_at if received_at is not None else max(ts, default=0) + 3600, UTC
            ).isoformat(),
            "source": "rest",
            "points": [self.ref(c) for c in codes],
            "point_idx": [pos[r[0]] for r in rows],
            "quantity": [r[1] for r in rows],
            "ts": ts,
            "value": [float(r[3]) for r in rows],
            "skew_s": skew or [],
            "events": events or [],
        }
        async with self.pool.acquire() as conn:
            await self.catalog.point_ids(conn, raw["points"])
            await self.catalog.quantity_ids(conn, raw["quantity"])
            await self.catalog.ensure_partitions(conn, months_of(np.asarray(ts)))
        vee = VeeInputs(rulebook=self.rulebook, infos=self.infos)
        async with self.pool.acquire() as conn, conn.transaction():
            res = await store_batch(conn, self.catalog, raw, raw["receipt_id"], vee)
        async with self.pool.acquire() as conn:
            await flush_group_deltas(conn)
        return res

    async def estimate(self) -> int:
        """Run the gap estimator now (as the historian does a few seconds after a batch)."""
        directory = PointDirectory(None, 3600)
        directory.put(("subject_bin", self.bin), list(self.infos.values()))
        n = await estimate_due_gaps(self.pool, self.catalog, directory, self.rulebook, -1.0)
        async with self.pool.acquire() as conn:
            await flush_group_deltas(conn)
        return n

    async def readings(
        self, code: str, quantity: str, *, all_versions: bool = False
    ) -> list[dict[str, Any]]:
        p = self.catalog.points[code]
        q = self.catalog.quantities[quantity]
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT extract(epoch FROM ts)::float8 AS t, version, value, quality, rules, origin, current "
                "FROM measurements.reading WHERE point_id = $1 AND quantity_id = $2 "
                f"{'' if all_versions else 'AND current'} ORDER BY ts, version",
                p.id,
                q,
            )
        return [dict(r) for r in rows]


@pytest.fixture
def harness(pool: asyncpg.Pool) -> Harness:
    return Harness(pool)
