"""The journal of the running System, through the gateway."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
import pytest

from egsu.infra import InfraUrls
from egsu.testing.stack import Stack

pytestmark = pytest.mark.stack


def wait_for(fetch: Any, until: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = fetch()
        if until(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def entries(stack: Stack, **params: Any) -> list[dict[str, Any]]:
    with stack.sync_client("auditor") as c:
        r = c.get("/api/v1/audit/entries", params={"limit": 1000, **params})
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


def probe_user(stack: Stack) -> str:
    name = f"probe-{uuid.uuid4().hex[:8]}"
    stack.add_user(name, ["operator"])
    return name


def test_a_request_leaves_exactly_one_access_entry_with_its_actor_and_status(stack: Stack) -> None:
    ok, denied = uuid.uuid4().hex, uuid.uuid4().hex
    with stack.sync_client("operator") as c:
        assert c.get("/api/v1/registry/regions", headers={"X-Request-ID": ok}).status_code == 200
        assert c.get("/api/v1/audit/entries", headers={"X-Request-ID": denied}).status_code == 403
    found = wait_for(lambda: entries(stack, request_id=ok), lambda x: len(x) >= 1)
    time.sleep(1.0)  # nothing else arrives later for the same request
    found = entries(stack, request_id=ok)
    assert len(found) == 1, found
    e = found[0]
    assert (e["kind"], e["service"], e["outcome"]) == ("access", "gateway", "success")
    assert (e["actor"]["username"], e["actor"]["role"]) == ("operator", "operator")
    assert e["details"]["status"] == 200 and e["action"] == "GET /api/v1/registry/regions"
    assert e["object"] == {"type": "http", "id": "/api/v1/registry/regions"}
    refused = wait_for(
        lambda: entries(stack, request_id=denied, kind="access"), lambda x: len(x) >= 1
    )
    assert (
        len(refused) == 1
        and refused[0]["details"]["status"] == 403
        and refused[0]["outcome"] == "denied"
    )


def test_only_auditor_and_ministry_read_and_nobody_writes(stack: Stack) -> None:
    assert httpx.get(f"{stack.url}/api/v1/audit/entries").status_code == 401
    for user in ("operator", "government"):
        with stack.sync_client(user) as c:
            r = c.get("/api/v1/audit/entries")
            assert r.status_code == 403 and r.json()["code"] == "role_required"
            assert c.get("/api/v1/audit/verify").status_code == 403
    for user in ("auditor", "ministry"):
        with stack.sync_client(user) as c:
            assert c.get("/api/v1/audit/entries", params={"limit": 1}).status_code == 200
            for method in ("POST", "PUT", "PATCH", "DELETE"):
                assert c.request(method, "/api/v1/audit/entries").status_code in (403, 404, 405)
            first = c.get("/api/v1/audit/entries", params={"limit": 1}).json()["items"][0]
            assert c.delete(f"/api/v1/audit/entries/{first['id']}").status_code in (403, 404, 405)
            assert c.get(f"/api/v1/audit/entries/{first['id']}").status_code == 200


def test_bad_filters_are_problems_naming_the_field(stack: Stack) -> None:
    with stack.sync_client("auditor") as c:
        for params, field in (
            ({"from": "yesterday"}, "from"),
            ({"from": "2025-01-01T00:00:00"}, "from"),
            ({"kind": "gossip"}, "kind"),
            ({"cursor": "!!"}, "cursor"),
            ({"limit": 0}, "limit"),
            ({"bin": "12"}, "bin"),
            ({"from": "2025-02-01T00:00+05:00", "to": "2025-01-01T00:00+05:00"}, "to"),
        ):
            r = c.get("/api/v1/audit/entries", params=params)
            assert r.status_code == 422, (params, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert [e["field"] for e in r.json()["errors"]] == [field], r.json()


def test_filters_cursor_pages_and_csv_export(stack: Stack) -> None:
    user = probe_user(stack)
    with stack.sync_client(user) as c:
        for _ in range(5):
            assert c.get("/api/v1/me").status_code == 200
    wait_for(lambda: entries(stack, actor=user), lambda x: len(x) == 5)
    seen, cursor = [], None
    with stack.sync_client("ministry") as c:
        for size in (2, 2, 1):
            params = {"actor": user, "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = c.get("/api/v1/audit/entries", params=params).json()
            assert len(page["items"]) == size
            seen += page["items"]
            cursor = page["next_cursor"]
        assert (
            cursor is None
            or c.get("/api/v1/audit/entries", params={"actor": user, "cursor": cursor}).json()[
                "items"
            ]
            == []
        )
        assert [e["seq"] for e in seen] == sorted((e["seq"] for e in seen), reverse=True)
        assert len({e["id"] for e in seen}) == 5
        assert (
            c.get("/api/v1/audit/entries", params={"actor": user, "outcome": "denied"}).json()[
                "items"
            ]
            == []
        )
        assert (
            len(
                c.get(
                    "/api/v1/audit/entries",
                    params={
                        "actor": user,
                        "role": "operator",
                        "kind": "access",
                        "action": "GET /api/v1/me",
                    },
                ).json()["items"]
            )
            == 5
        )
        r = c.get("/api/v1/audit/entries", params={"actor": user, "format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0].startswith("seq,id,time") and len(lines) == 6
    with stack.sync_client("auditor") as c:
        since = (datetime.now(UTC) - timedelta(minutes=10)).isoformat()
        report = c.get("/api/v1/audit/verify", params={"from": since}).json()
        assert report["status"] == "ok" and report["entries"] >= 5, report
        r = c.get("/api/v1/audit/verify", params={"from": "2025-01-01T00:00:00"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "from"
    assert all(user in line for line in lines[1:])


def test_proof_of_an_entry_verifies_offline(stack: Stack, tmp_path: Path) -> None:
    rid = uuid.uuid4().hex
    httpx.get(f"{stack.url}/api/v1/registry/regions", headers={"X-Request-ID": rid})
    entry = wait_for(lambda: entries(stack, request_id=rid), lambda x: len(x) == 1)[0]
    with stack.sync_client("auditor") as c:
        r = wait_for(
            lambda: c.get(f"/api/v1/audit/entries/{entry['id']}/proof"),
            lambda r: r.status_code == 200,
        )
        assert r.status_code == 200, r.text
        (tmp_path / "proof.json").write_text(r.text)
        key = c.get("/api/v1/audit/public-key").json()
    (tmp_path / "audit.pem").write_text(key["public_key"])
    cmd = [
        sys.executable,
        "-m",
        "egsu.cli.main",
        "audit",
        "verify-proof",
        str(tmp_path / "proof.json"),
        "--public-key",
        str(tmp_path / "audit.pem"),
    ]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0 and run.stdout.startswith("OK"), run.stdout + run.stderr
    proof = json.loads(r.text)
    proof["entry"]["outcome"] = "failure"
    (tmp_path / "proof.json").write_text(json.dumps(proof))
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and "does not match its hash" in run.stdout


async def _pending(infra: InfraUrls) -> int:
    nc = await nats.connect(infra.nats_url)
    try:
        info = await nc.jetstream().consumer_info("AUDIT", "audit-journal")
        return int(info.num_pending or 0) + int(info.num_ack_pending or 0)
    finally:
        await nc.close()


async def _count(infra: InfraUrls, user: str) -> int:
    conn = await asyncpg.connect(infra.database_url)
    try:
        return int(
            await conn.fetchval("SELECT count(*) FROM audit.entry WHERE actor_username = $1", user)
        )
    finally:
        await conn.close()


async def test_events_wait_in_jetstream_while_the_journal_is_down_and_none_is_lost(
    stack: Stack, infra: InfraUrls
) -> None:
    user = probe_user(stack)
    pid = stack.pid("audit")
    os.kill(pid, signal.SIGSTOP)  # the audit service hangs: it takes nothing from JetStream
    try:
        async with stack.client(user) as c:
            for i in range(0, 1000, 50):
                rs = await asyncio.gather(*(c.get("/api/v1/me") for _ in range(50)))
                assert all(r.status_code == 200 for r in rs), i
        deadline = time.monotonic() + 15
        while await _pending(infra) < 1000 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        assert await _pending(infra) >= 1000  # held by JetStream…
        assert await _count(infra, user) == 0  # …and not written while the journal is down
    finally:
        os.kill(pid, signal.SIGCONT)
    deadline = time.monotonic() + 60
    while await _count(infra, user) < 1000 and time.monotonic() < deadline:
        await asyncio.sleep(0.3)
    await asyncio.sleep(1.0)
    assert await _count(infra, user) == 1000
    assert stack.pid("audit") == pid  # the same process caught up: no restart was involved
    async with stack.client("auditor") as c:
        assert (
            len(
                (
                    await c.get("/api/v1/audit/entries", params={"actor": user, "limit": 1000})
                ).json()["items"]
            )
            == 1000
        )
        r = await c.get("/api/v1/audit/verify")
    assert r.status_code == 200 and r.json()["status"] == "ok", r.text
    assert r.json()["entries"] >= 1000


async def test_tampering_in_postgresql_is_found_and_located_through_the_api(
    stack: Stack, infra: InfraUrls
) -> None:
    user = probe_user(stack)
    with stack.sync_client(user) as c:
        for _ in range(3):
            c.get("/api/v1/me")
    mine = wait_for(lambda: entries(stack, actor=user), lambda x: len(x) == 3)
    victim = mine[1]
    conn = await asyncpg.connect(infra.database_url)
    async with stack.client("auditor") as c:
        try:
            await conn.execute(
                "UPDATE audit.entry SET outcome = 'failure' WHERE event_id = $1", victim["id"]
            )
            report = (await c.get("/api/v1/audit/verify")).json()
            assert report["status"] == "failed"
            assert (
                report["failure"]["seq"],
                report["failure"]["entry_id"],
                report["failure"]["reason"],
            ) == (victim["seq"], victim["id"], "hash_mismatch")
        finally:
            await conn.execute(
                "UPDATE audit.entry SET outcome = 'success' WHERE event_id = $1", victim["id"]
            )
        assert (await c.get("/api/v1/audit/verify")).json()["status"] == "ok"
        row = await conn.fetchrow("SELECT * FROM audit.entry WHERE event_id = $1", victim["id"])
        try:
            await conn.execute("DELETE FROM audit.entry WHERE event_id = $1", victim["id"])
            report = (await c.get("/api/v1/audit/verify")).json()
            assert report["status"] == "failed"
            assert (report["failure"]["seq"], report["failure"]["reason"]) == (
                victim["seq"],
                "missing_entry",
            )
        finally:
            cols = list(row.keys())
            params = ", ".join(f"${i + 1}" for i in range(len(cols)))
            await conn.execute(
                f"INSERT INTO audit.entry ({', '.join(cols)}) VALUES ({params})",
                *row.values(),
            )
            await conn.close()
        assert (await c.get("/api/v1/audit/verify")).json()["status"] == "ok"
