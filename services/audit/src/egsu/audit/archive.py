"""Retention: months older than the online period go to the object store, verified, then dropped.

An archived month is ``segments/<YYYY-MM>/``: compressed JSON-lines parts (one record per line,
whole checkpoints per part) and ``manifest.json``, a signed statement naming every part with its
SHA-256, the month's first and last entries and hashes, and the month's signed checkpoints. The
partition is dropped only after the uploaded segment has been read back and fully verified.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import asyncpg

from egsu.audit import merkle
from egsu.audit.chain import COLUMNS, GENESIS, ts
from egsu.audit.journal import RETENTION_LOCK, partition_name
from egsu.audit.records import BUCKET, add_months, check_record, month_of, record_of
from egsu.audit.signing import Keyring, SigningKey
from egsu.audit.verify import load_document, verify
from egsu.core.time import utcnow
from egsu.storage import ObjectStore

log = logging.getLogger("egsu.audit.archive")
SEGMENT_TYPE = "egsu.audit.segment/v1"
SEGMENTS = "segments/"


def segment_prefix(month: date) -> str:
    return f"{SEGMENTS}{month:%Y-%m}/"


def manifest_key(month: date) -> str:
    return segment_prefix(month) + "manifest.json"


def part_key(month: date, index: int) -> str:
    return segment_prefix(month) + f"part-{index:04d}.jsonl.gz"


class ArchiveRefused(RuntimeError):
    """A month that cannot be archived now (not checkpointed yet, or its chain does not verify)."""


@dataclass
class SegmentReport:
    month: str
    status: str = "ok"
    entries: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    first_prev_hash: str | None = None
    last_hash: str | None = None
    problems: list[str] = field(default_factory=list)

    def fail(self, problem: str) -> None:
        self.status = "failed"
        self.problems.append(problem)


async def read_segment(
    store: ObjectStore,
    keyring: Keyring,
    month: date,
    *,
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> SegmentReport:
    """Read an archived month, verifying the manifest, the parts, the chain and the checkpoints."""
    report = SegmentReport(f"{month:%Y-%m}")
    manifest = await load_document(store, manifest_key(month))
    if not manifest:
        report.fail("the manifest is missing")
        return report
    problem = keyring.check(manifest)
    if problem:
        report.fail(f"manifest: {problem}")
        return report
    st = manifest["statement"]
    report.first_seq, report.last_seq = st["first_seq"], st["last_seq"]
    report.first_prev_hash, report.last_hash = st["first_prev_hash"], st["last_hash"]
    checkpoints = {}
    for doc in st["checkpoints"]:
        problem = keyring.check(doc)
        if problem:
            report.fail(f"checkpoint {doc.get('statement', {}).get('no')}: {problem}")
        checkpoints[doc["statement"]["first_seq"]] = doc["statement"]
    prev = st["first_prev_hash"]
    expected = st["first_seq"]
    current: dict[str, Any] | None = None
    hashes: list[bytes] = []
    for part in st["parts"]:
        try:
            data = await store.get(BUCKET, part["key"])
        except Exception as exc:
            report.fail(f"part {part['key']} cannot be read: {exc}")
            return report
        if hashlib.sha256(data).hexdigest() != part["sha256"]:
            report.fail(f"part {part['key']} is not the one the manifest signs (SHA-256 differs)")
            return report
        for line in gzip.decompress(data).splitlines():
            rec = json.loads(line)
            seq = rec.get("seq")
            if seq != expected:
                report.fail(f"entry {expected} is missing (found {seq})")
                return report
            problem = check_record(rec)
            if problem or rec["prev_hash"] != prev:
                report.fail(f"entry {seq}: {problem or 'does not follow the entry before it'}")
                return report
            if seq in checkpoints:
                current, hashes = checkpoints[seq], []
            if current is None:
                report.fail(f"entry {seq} is in no signed checkpoint")
                return report
            hashes.append(bytes.fromhex(rec["hash"]))
            if seq == current["last_seq"]:
                if merkle.root(hashes).hex() != current["merkle_root"]:
                    report.fail(
                        f"entries {current['first_seq']}..{seq} do not give the Merkle root of "
                        f"checkpoint {current['no']}"
                    )
                    return report
                current = None
            prev, expected = rec["hash"], seq + 1
            report.entries += 1
            if on_record is not None:
                on_record(rec)
    if report.entries != st["entries"] or (
        st["entries"] and (expected - 1 != st["last_seq"] or prev != st["last_hash"])
    ):
        report.fail(
            f"the segment holds {report.entries} entries; its manifest signs {st['entries']}"
        )
    return report


async def archived_months(store: ObjectStore) -> list[date]:
    months = set()
    for key in await store.list(BUCKET, SEGMENTS):
        if key.endswith("/manifest.json"):
            y, m = key[len(SEGMENTS) :].split("/")[0].split("-")
            months.add(date(int(y), int(m), 1))
    return sorted(months)


async def online_months(conn: asyncpg.Connection, schema: str = "audit") -> list[date]:
    """The months that have a partition in PostgreSQL."""
    names = await conn.fetch(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace "
        "WHERE n.nspname = $1 AND p.relname = 'entry'",
        schema,
    )
    out = []
    for r in names:
        _, y, m = r["relname"].split("_")
        out.append(date(int(y), int(m), 1))
    return sorted(out)


@dataclass
class Archiver:
    conn: asyncpg.Connection
    store: ObjectStore
    key: SigningKey
    keyring: Keyring
    schema: str = "audit"
    retention_months: int = 12
    part_entries: int = 200_000
    clock: Callable[[], datetime] = utcnow

    def cutoff(self) -> date:
        """Months before this one are past the online period."""
        return add_months(month_of(self.clock()), -self.retention_months)

    async def run(self) -> list[SegmentReport]:
        """Archive every month past the online period (oldest first); stop at the first refusal."""
        if not await self.conn.fetchval(
            "SELECT pg_try_advisory_lock(hashtext($1))", RETENTION_LOCK
        ):
            return []
        done = []
        try:
            for month in await online_months(self.conn, self.schema):
                if month >= self.cutoff():
                    break
                try:
                    done.append(await self.archive_month(month))
                except ArchiveRefused as exc:
                    log.error("audit month %s stays online: %s", f"{month:%Y-%m}", exc)
                    break
        finally:
            await self.conn.execute("SELECT pg_advisory_unlock(hashtext($1))", RETENTION_LOCK)
        return done

    async def archive_month(self, month: date) -> SegmentReport:
        s, c, table = self.schema, self.conn, partition_name(month)
        first, last, count = await c.fetchrow(
            f'SELECT min(seq), max(seq), count(*) FROM "{s}".{table}'
        )
        cps = await c.fetch(
            f'SELECT no, first_seq, last_seq, document FROM "{s}".checkpoint '
            "WHERE month = $1 ORDER BY no",
            month,
        )
        if count:
            if not cps or cps[0]["first_seq"] != first or cps[-1]["last_seq"] != last:
                raise ArchiveRefused("not every entry of the month is in a signed checkpoint yet")
            report = await verify(
                c, self.store, self.keyring, schema=s, first_seq=first, last_seq=last
            )
            if report.status != "ok":
                raise ArchiveRefused(f"the month does not verify: {report.failure}")
            first_prev = bytes(
                await c.fetchval(f'SELECT prev_hash FROM "{s}".entry WHERE seq = $1', first)
            ).hex()
            last_hash = bytes(
                await c.fetchval(f'SELECT hash FROM "{s}".entry WHERE seq = $1', last)
            ).hex()
        else:
            first_prev = last_hash = GENESIS.hex()
        parts = []
        groups = self._groups(cps)
        for i, (a, b) in enumerate(groups):
            data = await self._export(a, b)
            key = part_key(month, i)
            await self.store.put(BUCKET, key, data, content_type="application/gzip")
            parts.append(
                {
                    "key": key,
                    "first_seq": a,
                    "last_seq": b,
                    "entries": b - a + 1,
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "bytes": len(data),
                }
            )
        statement = {
            "type": SEGMENT_TYPE,
            "month": f"{month:%Y-%m}",
            "first_seq": first,
            "last_seq": last,
            "entries": count,
            "first_prev_hash": first_prev,
            "last_hash": last_hash,
            "parts": parts,
            "checkpoints": [json.loads(cp["document"]) for cp in cps],
            "created_at": ts(self.clock()),
        }
        key = manifest_key(month)
        await self.store.put(
            BUCKET,
            key,
            json.dumps(self.key.sign(statement)).encode(),
            content_type="application/json",
        )
        uploaded = await read_segment(self.store, self.keyring, month)
        if uploaded.status != "ok" or uploaded.entries != count:
            raise ArchiveRefused(
                f"the uploaded segment does not verify: {'; '.join(uploaded.problems)}"
            )
        async with c.transaction():
            await c.execute(
                f'INSERT INTO "{s}".archive (month, first_seq, last_seq, entries, last_hash, '
                f"manifest_key, archived_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
                "ON CONFLICT (month) DO NOTHING",
                month,
                first,
                last,
                count,
                bytes.fromhex(last_hash) if count else None,
                key,
                self.clock(),
            )
            await c.execute(f'ALTER TABLE "{s}".entry DETACH PARTITION "{s}".{table}')
            await c.execute(f'DROP TABLE "{s}".{table}')
        log.info(
            "audit month %s archived: %d entries in %d parts", f"{month:%Y-%m}", count, len(parts)
        )
        return uploaded

    def _groups(self, cps: list[asyncpg.Record]) -> list[tuple[int, int]]:
        """Runs of whole checkpoints of up to ``part_entries`` entries each."""
        groups: list[tuple[int, int]] = []
        for cp in cps:
            if groups and cp["last_seq"] - groups[-1][0] + 1 <= self.part_entries:
                groups[-1] = (groups[-1][0], cp["last_seq"])
            else:
                groups.append((cp["first_seq"], cp["last_seq"]))
        return groups

    async def _export(self, first: int, last: int) -> bytes:
        buf = io.BytesIO()
        with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
            async with self.conn.transaction():
                cur = self.conn.cursor(
                    f'SELECT {", ".join(COLUMNS)} FROM "{self.schema}".entry '
                    "WHERE seq BETWEEN $1 AND $2 ORDER BY seq",
                    first,
                    last,
                    prefetch=5000,
                )
                async for row in cur:
                    gz.write(
                        json.dumps(
                            record_of(row), ensure_ascii=False, separators=(",", ":")
                        ).encode()
                        + b"\n"
                    )
        return buf.getvalue()
