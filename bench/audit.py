"""Audit journal benchmark: events appended per second with chaining, and time to verify 1,000,000.

    .venv/bin/python bench/audit.py [--events 200000] [--verify-entries 1000000] [--batch 1000]

Runs on the embedded PostgreSQL (durable settings: fsync on), NATS and SeaweedFS in a temporary
folder, or on the servers named by EGSU_DATABASE_URL / EGSU_NATS_URL / EGSU_S3_ENDPOINT. Prints:

1. append: realistic gateway access events decoded from JSON and appended (dedupe, chain, COPY)
   in batches, straight into the journal, as the writer does with what it takes from JetStream;
2. end to end: as many events published to a JetStream stream first, then taken by the service's
   writer (``JournalWriter``: fetch, decode, chain, COPY, acknowledge; checkpoints on the side);
3. verify: the journal filled to ``--verify-entries`` entries with checkpoints of 50,000, then the
   whole chain and every signed checkpoint re-computed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
from sqlalchemy.engine import make_url

from egsu.audit.chain import decode
from egsu.audit.checkpoints import Checkpointer
from egsu.audit.config import AuditSettings
from egsu.audit.journal import Journal
from egsu.audit.service import JournalWriter
from egsu.audit.signing import Keyring, SigningKey
from egsu.audit.verify import verify
from egsu.bus import Bus
from egsu.contracts.audit import Actor, AuditEvent, AuditObject
from egsu.contracts.streams import StreamSpec
from egsu.core.time import utcnow
from egsu.db.migrations import upgrade
from egsu.infra import Infra
from egsu.storage import ObjectStore

MIGRATIONS = (
    Path(__file__).parents[1] / "services" / "audit" / "src" / "egsu" / "audit" / "migrations"
)


def access_events(n: int) -> list[bytes]:
    """Gateway access events as they travel on NATS."""
    users = [
        Actor(
            user_id=str(uuid.uuid4()),
            username=f"subject-{i:012d}",
            role="subject",
            roles=["subject"],
            subject_bin=f"{i:012d}",
            client_id="egsu-web",
        )
        for i in range(200)
    ]
    out = []
    for i in range(n):
        path = f"/api/v1/measurements/points/{i % 5000}/readings"
        out.append(
            AuditEvent(
                time=utcnow(),
                kind="access",
                service="gateway",
                action="GET /api/v1/measurements/points/{id}/readings",
                actor=users[i % len(users)],
                object=AuditObject(type="http", id=path),
                request_id=uuid.uuid4().hex,
                source_ip=f"10.0.{i % 250}.{i % 200}",
                details={
                    "method": "GET",
                    "path": path,
                    "status": 200,
                    "duration_ms": 12.5,
                    "service": "measurements",
                },
            )
            .model_dump_json()
            .encode()
        )
    return out


async def bench(args: argparse.Namespace) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="egsu-bench-audit-"))
    infra = Infra(tmp / "infra", fast=False)
    urls = infra.start()
    os.environ.update(urls.env())
    name = f"bench_audit_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(urls.database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = make_url(urls.database_url).set(database=name).render_as_string(hide_password=False)
    await upgrade(url, MIGRATIONS, "audit")
    settings = AuditSettings(s3_bucket_prefix=f"{name.replace('_', '-')}-", var_dir=tmp)
    store = ObjectStore(settings)
    await store.ensure_buckets(["audit"])
    key = SigningKey.load_or_create(tmp / "key.pem")
    conn = await asyncpg.connect(url)
    journal = Journal(conn)
    try:
        print(f"generating {args.events:,} access events…")
        payloads = access_events(args.events)

        # 1. append: decode + dedupe + chain + COPY, in batches
        started = time.perf_counter()
        for i in range(0, len(payloads), args.batch):
            await journal.append_fields([decode(p) for p in payloads[i : i + args.batch]])
        seconds = time.perf_counter() - started
        print(
            f"append:      {args.events:>9,} events in {seconds:6.2f} s = "
            f"{args.events / seconds:>9,.0f} events/s "
            f"(batches of {args.batch})"
        )

        # 2. end to end through JetStream (fresh event ids)
        bus = Bus(settings.model_copy(update={"nats_url": urls.nats_url}))
        await bus.connect(wait=True)
        spec = StreamSpec(
            "BENCHAUDIT", ("bench.audit.>",), "audit benchmark", max_msg_size=1024 * 1024
        )
        await bus.ensure_streams([spec])
        fresh = access_events(args.events)
        started = time.perf_counter()
        for i in range(0, len(fresh), 2000):
            await bus.publish_many([("bench.audit.access", p, None) for p in fresh[i : i + 2000]])
        published = time.perf_counter() - started
        writer = JournalWriter(
            settings.model_copy(update={"database_url": url, "audit_batch": args.batch}),
            bus,
            store,
            key,
            Keyring.of(key.public),
            stream=spec.name,
            durable="bench",
            filter_subject="bench.audit.>",
        )
        started = time.perf_counter()
        writer.start()
        while writer.appended < len(fresh):
            await asyncio.sleep(0.02)
        seconds = time.perf_counter() - started
        await writer.stop()
        await bus.js.delete_stream(spec.name)
        await bus.close()
        print(
            f"end to end:  {args.events:>9,} events in {seconds:6.2f} s = "
            f"{args.events / seconds:>9,.0f} events/s "
            f"(JetStream → writer → ack; publishing them took {published:.1f} s)"
        )

        # 3. verify a million
        have = await conn.fetchval("SELECT seq FROM audit.chain_head")
        print(f"filling the journal to {args.verify_entries:,} entries…")
        while have < args.verify_entries:
            n = min(len(payloads), args.verify_entries - have)
            filler = access_events(min(n, 50_000))
            for i in range(0, len(filler), 5000):
                await journal.append(
                    [AuditEvent.model_validate_json(p) for p in filler[i : i + 5000]]
                )
            have = await conn.fetchval("SELECT seq FROM audit.chain_head")
        started = time.perf_counter()
        made = await Checkpointer(conn, store, key, max_entries=50_000).run(force=True)
        print(
            f"checkpoints: {len(made)} made over {have:,} entries "
            f"in {time.perf_counter() - started:.2f} s"
        )
        await conn.execute("VACUUM ANALYZE audit.entry")
        started = time.perf_counter()
        report = await verify(conn, store, Keyring.of(key.public))
        seconds = time.perf_counter() - started
        print(
            f"verify:      {report.entries:>9,} entries, {report.checkpoints} checkpoints "
            f"in {seconds:6.2f} s "
            f"— {report.status}"
        )
    finally:
        await conn.close()
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()
        infra.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--events", type=int, default=200_000)
    p.add_argument("--verify-entries", type=int, default=1_000_000)
    p.add_argument("--batch", type=int, default=1000)
    asyncio.run(bench(p.parse_args()))


if __name__ == "__main__":
    main()
