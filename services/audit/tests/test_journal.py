"""The chain: appended in order, idempotent, verified, and tampering found and located."""

from __future__ import annotations

import asyncio
import random
import string
from collections.abc import Callable

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from egsu.audit.journal import Journal
from egsu.audit.proofs import make_proof, verify_proof
from egsu.audit.signing import Keyring, SigningKey
from egsu.audit.verify import verify
from egsu.contracts.audit import Actor, AuditEvent

from .conftest import Setup


async def seqs_of(s: Setup, ids: list[str]) -> dict[str, int]:
    rows = await s.conn.fetch("SELECT event_id, seq FROM audit.entry WHERE event_id = ANY($1)", ids)
    return {r["event_id"]: r["seq"] for r in rows}


async def test_events_are_chained_in_order_and_redelivery_writes_nothing_twice(
    setup: Setup, make_event: Callable[..., AuditEvent]
) -> None:
    evs = [make_event() for _ in range(50)]
    r1 = await setup.journal.append(evs[:30])
    r2 = await setup.journal.append(evs[20:] + evs[:5])  # 15 redelivered, 20 new
    assert (r1.appended, r2.appended, r2.duplicates, r2.last_seq) == (30, 20, 15, 50)
    rows = await setup.conn.fetch(
        "SELECT seq, event_id, prev_hash, hash FROM audit.entry ORDER BY seq"
    )
    assert [r["event_id"] for r in rows] == [e.id for e in evs]
    assert all(rows[i]["prev_hash"] == rows[i - 1]["hash"] for i in range(1, 50))
    report = await verify(setup.conn, setup.store, setup.keyring)
    assert report.status == "ok" and report.entries == 50


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    text=st.text(),
    number=st.floats(allow_nan=False) | st.integers(),
    roles=st.lists(st.text(max_size=5)),
)
async def test_postgresql_and_python_compute_the_same_hashes_for_any_content(
    setup: Setup, make_event: Callable[..., AuditEvent], text: str, number: float, roles: list[str]
) -> None:
    ev = make_event(
        action=text or "x",
        object_id=text,
        source_ip=text[:40],
        actor=Actor(username=text, roles=roles, subject_bin=text[:12]),
        before={"v": number, text: [text]},
        after={"v": None},
        details={"emoji": "⚡ Қ " + text},
    )
    await setup.journal.append([ev])
    report = await verify(setup.conn, setup.store, setup.keyring)
    assert report.status == "ok", report.failure


async def test_kilobytes_of_random_text_in_indexed_fields_are_journaled(
    setup: Setup, make_event: Callable[..., AuditEvent]
) -> None:
    noise = "".join(random.choice(string.printable + "жқүə€") for _ in range(20_000))
    ev = make_event(
        object_id="/api/v1/" + noise, actor=Actor(username=noise[:5000], subject_bin=noise[:3000])
    )
    assert (await setup.journal.append([ev])).appended == 1
    assert (await verify(setup.conn, setup.store, setup.keyring)).status == "ok"


async def test_an_updated_row_is_found_and_located(
    setup: Setup, make_event: Callable[..., AuditEvent]
) -> None:
    evs = [make_event() for _ in range(40)]
    await setup.journal.append(evs)
    await setup.checkpointer().run()
    victim = evs[17]
    await setup.conn.execute(
        "UPDATE audit.entry SET actor_username = 'someone-else' WHERE event_id = $1", victim.id
    )
    report = await verify(setup.conn, setup.store, setup.keyring)
    assert report.status == "failed"
    assert report.failure is not None
    assert (report.failure.seq, report.failure.reason, report.failure.entry_id) == (
        18,
        "hash_mismatch",
        victim.id,
    )
    assert "изменена" in report.failure.messages["ru"] and report.failure.messages["kk"]


async def test_a_deleted_row_is_found_and_located(
    setup: Setup, make_event: Callable[..., AuditEvent]
) -> None:
    evs = [make_event() for _ in range(40)]
    await setup.journal.append(evs)
    await setup.conn.execute("DELETE FROM audit.entry WHERE event_id = $1", evs[24].id)
    report = await verify(setup.conn, setup.store, setup.keyring)
    assert report.failure is not None and report.status == "failed"
    assert (report.failure.seq, report.failure.reason) == (25, "missing_entry")
    # the last entry too
    await setup.conn.execute("DELETE FROM audit.entry WHERE event_id = $1", evs[-1].id)
    await setup.conn.execute("DELETE FROM audit.entry WHERE seq < 25")
    report = await verify(setup.conn, setup.store, setup.keyring)
    assert report.failure is not None and report.failure.seq == 1


async def test_a_rewritten_and_rehashed_chain_is_caught_by_the_signed_checkpoint(
    setup: Setup, make_event: Callable[..., AuditEvent]
) -> None:
    evs = [make_event() for _ in range(30)]
    await setup.journal.append(evs)
    assert await setup.checkpointer().run() == [1]
    # Someone with database access rewrites entry 10 and re-computes every hash after it.
    from egsu.audit.chain import hash_sql

    await setup.conn.execute(
        "UPDATE audit.entry SET outcome = 'success', action = 'nothing' WHERE seq = 10"
    )
    for seq in range(10, 31):
        await setup.conn.execute(
            f"UPDATE audit.entry e SET hash = {hash_sql('e')} WHERE seq = $1", seq
        )
        await setup.conn.execute(
            "UPDATE audit.entry SET prev_hash = (SELECT hash FROM audit.entry WHERE seq = $1) "
            "WHERE seq = $2",
            seq,
            seq + 1,
        )
    await setup.conn.execute(
        "UPDATE audit.chain_head SET hash = (SELECT hash FROM audit.entry WHERE seq = 30)"
    )
    report = await verify(setup.conn, setup.store, setup.keyring)
    assert report.failure is not None
    assert (report.failure.reason, report.failure.checkpoint) == ("checkpoint_mismatch", 1)
    # A checkpoint re-signed with another key is not trusted either.
    rogue = SigningKey.load_or_create(setup.settings.var_dir / "rogue.pem")
    assert verify_proof({}, Keyring.of(rogue.public)).ok is False


async def test_inclusion_proof_verifies_offline_and_a_doctored_one_does_not(
    setup: Setup, make_event: Callable[..., AuditEvent]
) -> None:
    evs = [make_event() for _ in range(23)]
    await setup.journal.append(evs)
    await setup.checkpointer().run()
    proof = await make_proof(setup.conn, setup.store, evs[13].id)
    assert proof["entry"]["seq"] == 14 and proof["tree_size"] == 23
    result = verify_proof(proof, setup.keyring)
    assert result.ok, result.detail
    doctored = {**proof, "entry": {**proof["entry"], "actor_username": "nobody"}}
    assert not verify_proof(doctored, setup.keyring).ok
    other = SigningKey.load_or_create(setup.settings.var_dir / "other.pem")
    assert "not a trusted audit key" in verify_proof(proof, Keyring.of(other.public)).detail


async def test_verification_while_entries_are_appended_sees_one_consistent_journal(
    setup: Setup, make_event: Callable[..., AuditEvent]
) -> None:
    writer = await asyncpg.connect(setup.url)
    try:
        journal = Journal(writer)
        await journal.append([make_event() for _ in range(50)])

        async def keep_appending() -> None:
            for _ in range(30):
                await journal.append([make_event() for _ in range(20)])

        appending = asyncio.create_task(keep_appending())
        while not appending.done():
            report = await verify(setup.conn, setup.store, setup.keyring)
            assert report.status == "ok", report.failure
        await appending
    finally:
        await writer.close()


async def test_a_checkpoint_deleted_from_the_journal_is_found_in_the_object_store(
    setup: Setup, make_event: Callable[..., AuditEvent]
) -> None:
    await setup.journal.append([make_event() for _ in range(10)])
    await setup.checkpointer(max_entries=4).run()
    assert (await verify(setup.conn, setup.store, setup.keyring)).status == "ok"
    await setup.conn.execute("DELETE FROM audit.checkpoint WHERE no = 3")
    report = await verify(setup.conn, setup.store, setup.keyring)
    assert report.failure is not None
    assert (report.failure.reason, report.failure.checkpoint) == ("checkpoint_missing", 3)
