"""Signed checkpoints: a Merkle root over a run of entries, signed and written to the object store.

A checkpoint covers the entries after the previous checkpoint, up to ``max_entries`` of them and
never across a month (so an archived month carries whole checkpoints). It is made when its oldest
entry has waited ``min_age`` or when ``max_entries`` are waiting. Before signing, the chain of the
run is verified: a broken chain is never signed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from egsu.audit import merkle
from egsu.audit.chain import GENESIS, ts
from egsu.audit.records import BUCKET, checkpoint_key, month_of, next_month
from egsu.audit.signing import SigningKey, canonical
from egsu.audit.verify import chain_failure
from egsu.core.time import utcnow
from egsu.storage import ObjectStore

log = logging.getLogger("egsu.audit.checkpoints")
CHECKPOINT_TYPE = "egsu.audit.checkpoint/v1"


def statement_digest(document: dict) -> str:  # type: ignore[type-arg]
    return hashlib.sha256(canonical(document["statement"])).hexdigest()


class ChainBroken(RuntimeError):
    """The entries to be checkpointed do not form an intact chain."""


@dataclass
class Checkpointer:
    conn: asyncpg.Connection
    store: ObjectStore
    key: SigningKey
    schema: str = "audit"
    max_entries: int = 50_000
    min_age: timedelta = timedelta(seconds=60)
    clock: Callable[[], datetime] = utcnow

    async def run(self, *, force: bool = False) -> list[int]:
        """Make every checkpoint that is due; the numbers of those made."""
        made = []
        while (no := await self._one(force=force)) is not None:
            made.append(no)
        return made

    async def _one(self, *, force: bool) -> int | None:
        s, c = self.schema, self.conn
        last = await c.fetchrow(
            f'SELECT no, last_seq, last_hash, document FROM "{s}".checkpoint '
            "ORDER BY no DESC LIMIT 1"
        )
        head = await c.fetchval(f'SELECT seq FROM "{s}".chain_head WHERE id = 1')
        start = (last["last_seq"] if last else 0) + 1
        if head < start:
            return None
        first = await c.fetchrow(
            f'SELECT recorded_at, prev_hash FROM "{s}".entry WHERE seq = $1', start
        )
        if first is None:
            raise ChainBroken(f"entry {start} is missing; no checkpoint can be made past it")
        waiting = head - start + 1
        if (
            not force
            and waiting < self.max_entries
            and first["recorded_at"] > self.clock() - self.min_age
        ):
            return None
        month = month_of(first["recorded_at"])
        end = min(head, start + self.max_entries - 1)
        rows = await c.fetch(
            f'SELECT seq, hash, recorded_at FROM "{s}".entry WHERE seq BETWEEN $1 AND $2 '
            f"AND recorded_at < $3 ORDER BY seq",
            start,
            end,
            next_month(month),
        )
        end = rows[-1]["seq"]
        expected_prev = bytes(last["last_hash"]) if last else GENESIS
        failure = await chain_failure(c, s, start, end, expected_prev)
        if failure is not None:
            raise ChainBroken(f"the chain is broken at entry {failure.seq}: {failure.detail}")
        hashes = [bytes(r["hash"]) for r in rows]
        no = (last["no"] if last else 0) + 1
        statement = {
            "type": CHECKPOINT_TYPE,
            "no": no,
            "first_seq": start,
            "last_seq": end,
            "size": len(hashes),
            "month": f"{month:%Y-%m}",
            "first_prev_hash": bytes(first["prev_hash"]).hex(),
            "last_hash": hashes[-1].hex(),
            "merkle_root": merkle.root(hashes).hex(),
            "first_recorded_at": ts(rows[0]["recorded_at"]),
            "last_recorded_at": ts(rows[-1]["recorded_at"]),
            "created_at": ts(self.clock()),
            "previous": statement_digest(json.loads(last["document"])) if last else None,
        }
        document = self.key.sign(statement)
        body = json.dumps(document, indent=1).encode()
        key = checkpoint_key(no)
        await self.store.put(BUCKET, key, body, content_type="application/json")
        await c.execute(
            f'INSERT INTO "{s}".checkpoint (no, first_seq, last_seq, month, root, last_hash, '
            f"created_at, object_key, document) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            no,
            start,
            end,
            month,
            bytes.fromhex(statement["merkle_root"]),
            hashes[-1],
            self.clock(),
            key,
            body.decode(),
        )
        log.info("checkpoint %d: entries %d..%d", no, start, end)
        return no
