"""Retention: months past the online period are archived, verified, dropped, and stay searchable."""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from egsu.audit.archive import Archiver, manifest_key, online_months, part_key, read_segment
from egsu.audit.config import AuditSettings
from egsu.audit.records import BUCKET, add_months, month_of
from egsu.audit.verify import verify
from egsu.contracts.audit import AuditEvent
from egsu.core.time import utcnow

from .conftest import Setup


def test_retention_below_twelve_months_is_refused() -> None:
    with pytest.raises(ValidationError, match="audit_retention_months"):
        AuditSettings(audit_retention_months=11)
    assert AuditSettings(audit_retention_months=24).audit_retention_months == 24


async def _journal_over_months(
    setup: Setup, make_event: Callable[..., AuditEvent]
) -> tuple[list, list]:
    """Entries recorded 15 and 14 months ago and now, each month checkpointed."""
    this = month_of(utcnow())
    old = [add_months(this, -15), add_months(this, -14)]
    events = []
    for m in old:
        setup.clock.at = datetime(m.year, m.month, 10, 12, tzinfo=UTC)
        batch = [
            make_event(time=setup.clock.at, actor=None, object_id=f"/month/{m:%Y-%m}/{i}")
            for i in range(30)
        ]
        await setup.journal.append(batch)
        await setup.checkpointer(max_entries=12).run()
        events.append(batch)
    setup.clock.at = None
    now = [make_event() for _ in range(5)]
    await setup.journal.append(now)
    await setup.checkpointer().run()
    return old, events


async def test_old_months_are_archived_verified_and_dropped_then_searchable(
    setup: Setup, make_event: Callable[..., AuditEvent], tmp_path
) -> None:
    old, events = await _journal_over_months(setup, make_event)
    assert set(old) <= set(await online_months(setup.conn))
    archiver = Archiver(
        setup.conn, setup.store, setup.key, setup.keyring, retention_months=12, part_entries=20
    )
    done = await archiver.run()
    assert [r.month for r in done] == [f"{m:%Y-%m}" for m in old]
    assert all(r.status == "ok" and r.entries == 30 for r in done)
    online = await online_months(setup.conn)
    assert not set(old) & set(online) and month_of(utcnow()) in online
    assert await setup.conn.fetchval("SELECT count(*) FROM audit.entry") == 5
    # The online journal still verifies: its first entry chains to the last archived one.
    report = await verify(setup.conn, setup.store, setup.keyring)
    assert report.status == "ok", report.failure
    assert report.first_seq == 61
    # Parts hold whole checkpoints (12, 12 and 6 entries) and at most 20 entries each.
    manifest = json.loads(await setup.store.get(BUCKET, manifest_key(old[0])))
    assert [p["entries"] for p in manifest["statement"]["parts"]] == [12, 18]

    # The archive is searchable with `egsu audit search --archive` and verified on the way.
    env = {
        **os.environ,
        "EGSU_S3_BUCKET_PREFIX": setup.settings.s3_bucket_prefix,
        "EGSU_VAR_DIR": str(setup.settings.var_dir),
    }
    (setup.settings.var_dir / "audit").mkdir(exist_ok=True)
    (setup.settings.var_dir / "audit" / "signing-key.pem").write_bytes(
        (setup.settings.var_dir / "key.pem").read_bytes()
    )
    target = events[1][7]
    run = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "egsu.cli.main",
            "audit",
            "search",
            "--archive",
            "--object",
            target.object.id,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    found = [json.loads(line) for line in run.stdout.splitlines()]
    assert [f["id"] for f in found] == [target.id]
    assert "30 entries verified" in run.stderr
    run = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "egsu.cli.main", "audit", "verify-archive"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode == 0 and run.stdout.count(": ok") == 2, run.stdout + run.stderr

    # An archived part edited in the object store is found out, and its entries are not shown.
    key = part_key(old[1], 0)
    lines = gzip.decompress(await setup.store.get(BUCKET, key)).splitlines()
    rec = json.loads(lines[3])
    rec["actor_username"] = "nobody"
    lines[3] = json.dumps(rec).encode()
    await setup.store.put(BUCKET, key, gzip.compress(b"\n".join(lines) + b"\n"))
    assert (await read_segment(setup.store, setup.keyring, old[1])).status == "failed"
    run = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "egsu.cli.main",
            "audit",
            "search",
            "--archive",
            "--object",
            target.object.id,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert run.returncode == 1 and run.stdout == "" and "FAILED verification" in run.stderr


async def test_a_month_whose_chain_does_not_verify_stays_online(
    setup: Setup, make_event: Callable[..., AuditEvent]
) -> None:
    old, events = await _journal_over_months(setup, make_event)
    await setup.conn.execute(
        "UPDATE audit.entry SET action = 'edited' WHERE event_id = $1", events[0][3].id
    )
    archiver = Archiver(setup.conn, setup.store, setup.key, setup.keyring, retention_months=12)
    assert await archiver.run() == []
    assert set(old) <= set(await online_months(setup.conn))
