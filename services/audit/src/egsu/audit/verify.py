"""Verification of the online journal: the chain re-computed in PostgreSQL, checkpoints re-built.

The chain check runs in one SQL statement (every hash re-computed by ``sha256()`` and compared
with the stored one and with the next entry's ``prev_hash``), so a million entries do not travel
to Python. Checkpoints are then re-built from the stored hashes and compared with the signed
documents in the object store, which a database administrator cannot re-sign.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import asyncpg

from egsu.audit import merkle
from egsu.audit.chain import GENESIS, hash_sql
from egsu.audit.records import BUCKET, checkpoint_key
from egsu.audit.signing import Keyring
from egsu.core.errors import EgsuError
from egsu.storage import ObjectStore

# What each failure means, in the System's three languages.
REASONS: dict[str, dict[str, str]] = {
    "hash_mismatch": {
        "en": "The entry was changed after it was recorded: its content does not match its hash.",
        "ru": "Запись изменена после регистрации: её содержимое не соответствует её хешу.",
        "kk": "Жазба тіркелгеннен кейін өзгертілген: оның мазмұны хешіне сәйкес келмейді.",
    },
    "missing_entry": {
        "en": "An entry is missing from the journal: it was deleted.",
        "ru": "В журнале отсутствует запись: она была удалена.",
        "kk": "Журналда жазба жоқ: ол жойылған.",
    },
    "chain_broken": {
        "en": "The entry does not continue the chain: the previous entry was replaced or removed.",
        "ru": "Запись не продолжает цепочку: предыдущая запись заменена или удалена.",
        "kk": "Жазба тізбекті жалғастырмайды: алдыңғы жазба ауыстырылған немесе жойылған.",
    },
    "unexpected_entry": {
        "en": "An entry is in the journal that the journal never wrote.",
        "ru": "В журнале есть запись, которую журнал не создавал.",
        "kk": "Журналда журнал жасамаған жазба бар.",
    },
    "checkpoint_mismatch": {
        "en": "Entries of a signed checkpoint were rewritten: they do not give its Merkle root.",
        "ru": "Записи подписанной контрольной точки переписаны: они не дают её корень Меркла.",
        "kk": "Қол қойылған бақылау нүктесінің жазбалары қайта жазылған: Меркл түбірі сәйкес емес.",
    },
    "checkpoint_signature": {
        "en": "A checkpoint's signature is not valid or not made by a trusted audit key.",
        "ru": "Подпись контрольной точки недействительна или сделана не доверенным ключом аудита.",
        "kk": "Бақылау нүктесінің қолтаңбасы жарамсыз немесе сенімді аудит кілтімен жасалмаған.",
    },
    "checkpoint_missing": {
        "en": "A signed checkpoint is missing from the journal or from the object store.",
        "ru": "Подписанная контрольная точка отсутствует в журнале или в хранилище объектов.",
        "kk": "Қол қойылған бақылау нүктесі журналда немесе объект қоймасында жоқ.",
    },
}


@dataclass
class Failure:
    seq: int
    reason: str
    detail: str
    entry_id: str | None = None
    checkpoint: int | None = None
    messages: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.messages:
            self.messages = dict(REASONS.get(self.reason, {}))


@dataclass
class Report:
    status: str  # "ok" or "failed"
    first_seq: int | None = None
    last_seq: int | None = None
    entries: int = 0
    checkpoints: int = 0
    unchecked_entries: int = 0  # after the last checkpoint: protected by the chain only, so far
    failure: Failure | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def chain_failure(
    conn: asyncpg.Connection, schema: str, first: int, last: int, expected_prev: bytes | None
) -> Failure | None:
    """The first entry in ``first..last`` whose hash, link or position is wrong (None: intact).

    Two passes: re-computing every hash is the expensive one and needs no order, so PostgreSQL
    runs it with parallel workers; the links and positions are then checked in ``seq`` order over
    the narrow columns only.
    """
    bad, count, top = await conn.fetchrow(
        f"""
        SELECT min(e.seq) FILTER (WHERE {hash_sql("e")} <> e.hash), count(*), max(e.seq)
        FROM "{schema}".entry e WHERE e.seq BETWEEN $1 AND $2
        """,
        first,
        last,
    )
    if count == 0:
        return Failure(first, "missing_entry", f"entries {first}..{last} are missing")
    row = await conn.fetchrow(
        f"""
        WITH r AS (
            SELECT seq, event_id, prev_hash, lag(seq) OVER w AS p_seq, lag(hash) OVER w AS p_hash
            FROM "{schema}".entry WHERE seq BETWEEN $1 AND $2
            WINDOW w AS (ORDER BY seq)
        )
        SELECT seq, event_id, p_seq FROM r
        WHERE (p_seq IS NULL AND (seq <> $1 OR ($3::bytea IS NOT NULL AND prev_hash <> $3::bytea)))
           OR (p_seq IS NOT NULL AND (seq <> p_seq + 1 OR prev_hash <> p_hash))
        ORDER BY seq LIMIT 1
        """,
        first,
        last,
        expected_prev,
    )
    if bad is not None and (row is None or bad <= row["seq"]):
        eid = await conn.fetchval(
            f'SELECT event_id FROM "{schema}".entry WHERE seq = $1 LIMIT 1', bad
        )
        return Failure(
            bad, "hash_mismatch", f"entry {bad} ({eid}) does not match its hash", entry_id=eid
        )
    if row is None:
        if top != last:
            return Failure(top + 1, "missing_entry", f"entries {top + 1}..{last} are missing")
        return None
    seq, eid = row["seq"], row["event_id"]
    p_seq = row["p_seq"] if row["p_seq"] is not None else first - 1
    if seq > p_seq + 1:
        return Failure(
            p_seq + 1,
            "missing_entry",
            f"entries {p_seq + 1}..{seq - 1} are missing (between {p_seq} and {seq})",
        )
    if seq <= p_seq:
        return Failure(seq, "unexpected_entry", f"entry {seq} appears more than once", entry_id=eid)
    return Failure(
        seq, "chain_broken", f"entry {seq} ({eid}) does not follow entry {seq - 1}", entry_id=eid
    )


async def _expected_prev(conn: asyncpg.Connection, schema: str, first: int) -> bytes | None:
    """The hash entry ``first`` must chain to (None if that entry is itself missing)."""
    if first == 1:
        return GENESIS
    prev = await conn.fetchval(f'SELECT hash FROM "{schema}".entry WHERE seq = $1', first - 1)
    if prev is None:
        prev = await conn.fetchval(
            f'SELECT last_hash FROM "{schema}".archive WHERE last_seq = $1', first - 1
        )
    return bytes(prev) if prev is not None else None


async def load_document(store: ObjectStore, key: str) -> dict[str, Any] | None:
    try:
        return json.loads(await store.get(BUCKET, key))  # type: ignore[no-any-return]
    except EgsuError as exc:
        if exc.status == 404:
            return None
        raise
    except ValueError:
        return {}


def check_checkpoint(
    document: dict[str, Any] | None, keyring: Keyring, no: int, hashes: list[bytes], first_seq: int
) -> Failure | None:
    """Whether a signed checkpoint document matches the entries' hashes it covers."""
    if document is None:
        return Failure(
            first_seq,
            "checkpoint_missing",
            f"checkpoint {no} is not in the object store",
            checkpoint=no,
        )
    problem = keyring.check(document)
    if problem:
        return Failure(
            first_seq, "checkpoint_signature", f"checkpoint {no}: {problem}", checkpoint=no
        )
    st = document["statement"]
    if st.get("no") != no or st.get("first_seq") != first_seq:
        return Failure(
            first_seq,
            "checkpoint_mismatch",
            f"checkpoint {no} in the database does not match the signed one",
            checkpoint=no,
        )
    if len(hashes) != st["size"]:
        return Failure(
            first_seq,
            "checkpoint_mismatch",
            f"checkpoint {no} signed {st['size']} entries ({st['first_seq']}..{st['last_seq']}); "
            f"{len(hashes)} are there",
            checkpoint=no,
        )
    if merkle.root(hashes).hex() != st["merkle_root"] or hashes[-1].hex() != st["last_hash"]:
        return Failure(
            first_seq,
            "checkpoint_mismatch",
            f"entries {st['first_seq']}..{st['last_seq']} no longer give the Merkle root signed "
            f"in checkpoint {no}",
            checkpoint=no,
        )
    return None


async def verify(
    conn: asyncpg.Connection,
    store: ObjectStore,
    keyring: Keyring,
    *,
    schema: str = "audit",
    first_seq: int | None = None,
    last_seq: int | None = None,
) -> Report:
    """Re-compute the chain and checkpoints over ``first_seq..last_seq`` (default: all online).

    Everything is read in one snapshot, so entries appended meanwhile do not look like forgeries.
    """
    if conn.is_in_transaction():
        report, orphan = await _verify(conn, store, keyring, schema, first_seq, last_seq)
    else:
        async with conn.transaction(isolation="repeatable_read", readonly=True):
            report, orphan = await _verify(conn, store, keyring, schema, first_seq, last_seq)
        if orphan is not None and await _recorded_meanwhile(conn, schema, orphan.checkpoint):
            orphan = None
    if orphan is not None and (report.failure is None or orphan.seq < report.failure.seq):
        report.status, report.failure = "failed", orphan
    return report


async def _recorded_meanwhile(conn: asyncpg.Connection, schema: str, no: int | None) -> bool:
    """Whether a checkpoint seen only in the object store was being made during the snapshot.

    The writer uploads a checkpoint, then records it; a verification in between sees the upload
    alone. A checkpoint that stays unrecorded was deleted from the journal.
    """
    for _ in range(30):
        if await conn.fetchval(f'SELECT 1 FROM "{schema}".checkpoint WHERE no = $1', no):
            return True
        await asyncio.sleep(0.1)
    return False


async def _verify(
    conn: asyncpg.Connection,
    store: ObjectStore,
    keyring: Keyring,
    schema: str,
    first_seq: int | None,
    last_seq: int | None,
) -> tuple[Report, Failure | None]:
    s = schema
    head = await conn.fetchval(f'SELECT seq FROM "{s}".chain_head WHERE id = 1')
    lo, hi = await conn.fetchrow(f'SELECT min(seq), max(seq) FROM "{s}".entry')
    archived_to = await conn.fetchval(f'SELECT max(last_seq) FROM "{s}".archive') or 0
    if lo is None:
        if head > archived_to:
            return Report(
                "failed",
                failure=Failure(
                    archived_to + 1,
                    "missing_entry",
                    f"entries {archived_to + 1}..{head} are missing",
                ),
            ), None
        return Report("ok"), None
    a = max(lo, first_seq or lo)
    b = min(hi, last_seq or hi)
    if a > b:
        return Report("ok", first_seq=a, last_seq=b), None
    cps = await conn.fetch(
        f'SELECT no, first_seq, last_seq, object_key FROM "{s}".checkpoint '
        f"WHERE last_seq >= $1 AND first_seq <= $2 ORDER BY no",
        a,
        b,
    )
    if cps:
        a, b = min(a, cps[0]["first_seq"]), max(b, cps[-1]["last_seq"])
    report = Report("ok", first_seq=a, last_seq=b, entries=b - a + 1, checkpoints=len(cps))

    failures: list[Failure] = []
    if a == lo and lo != archived_to + 1:
        failures.append(
            Failure(
                archived_to + 1, "missing_entry", f"entries {archived_to + 1}..{lo - 1} are missing"
            )
        )
    if b == hi and hi != head:
        if hi < head:
            failures.append(
                Failure(hi + 1, "missing_entry", f"entries {hi + 1}..{head} are missing")
            )
        else:
            failures.append(
                Failure(
                    head + 1,
                    "unexpected_entry",
                    f"entries {head + 1}..{hi} were not written by the journal",
                )
            )
    expected = await _expected_prev(conn, s, a)
    chain = await chain_failure(conn, s, a, b, expected)
    if chain is None and expected is None:
        chain = Failure(a - 1, "missing_entry", f"entry {a - 1} is missing")

    cp_failure = None
    previous = None
    for cp in cps:
        no, f, last = cp["no"], cp["first_seq"], cp["last_seq"]
        if previous is not None and (no != previous["no"] + 1 or f != previous["last_seq"] + 1):
            cp_failure = Failure(
                previous["last_seq"] + 1,
                "checkpoint_missing",
                f"checkpoints between {previous['no']} and {no} are missing",
                checkpoint=no,
            )
            break
        previous = cp
        rows = await conn.fetch(
            f'SELECT hash FROM "{s}".entry WHERE seq BETWEEN $1 AND $2 ORDER BY seq', f, last
        )
        doc = await load_document(store, cp["object_key"])
        cp_failure = check_checkpoint(doc, keyring, no, [bytes(r["hash"]) for r in rows], f)
        if cp_failure is not None:
            break
    orphan_failure = None
    if cp_failure is None and b == hi:
        last_no = await conn.fetchval(f'SELECT max(no) FROM "{s}".checkpoint') or 0
        orphan = await load_document(store, checkpoint_key(last_no + 1))
        if orphan is not None:
            st = orphan.get("statement", {})
            orphan_failure = Failure(
                int(st.get("first_seq", hi)),
                "checkpoint_missing",
                f"checkpoint {last_no + 1} is in the object store but not in the journal",
                checkpoint=last_no + 1,
            )
    covered_to = cps[-1]["last_seq"] if cps else a - 1
    report.unchecked_entries = max(0, b - covered_to)

    if chain is not None and cp_failure is not None:
        # A rewritten checkpoint range is reported unless the chain locates it more precisely.
        cp_last = next(
            (c["last_seq"] for c in cps if c["no"] == cp_failure.checkpoint), cp_failure.seq
        )
        failures.append(chain if chain.seq <= cp_last else cp_failure)
    elif chain is not None or cp_failure is not None:
        failures.append(chain or cp_failure)  # type: ignore[arg-type]
    if failures:
        report.status = "failed"
        report.failure = min(failures, key=lambda x: x.seq)
    return report, orphan_failure
