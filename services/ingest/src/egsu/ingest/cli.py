"""``egsu replay``: rebuild the historian from the raw archive of accepted payloads.

Every accepted receipt in the window is read back from the object store, checked again against
the registry and published to the historian's stream; the historian stores a reading only when it
is new or different, so a replay over data that is already there changes nothing.
"""

from __future__ import annotations

import asyncio
import gzip
import uuid
from datetime import UTC, datetime

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from sqlalchemy import select

from egsu.auth.client import service_client
from egsu.bus import Bus
from egsu.contracts.readings import IngestBatch
from egsu.contracts.streams import INGEST_BATCHES
from egsu.core.settings import get_settings
from egsu.db import Database
from egsu.ingest import exchange80020
from egsu.ingest import models as m
from egsu.ingest.config import IngestSettings
from egsu.ingest.parsing import canonicalise, parse_csv, parse_json
from egsu.ingest.points import PointDirectory
from egsu.storage import ObjectStore

app = typer.Typer(help="Rebuild the historian from the raw archive.", invoke_without_command=True)


def _when(value: str) -> datetime:
    dt = datetime.fromisoformat(value)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


async def replay(
    start: datetime, end: datetime, subject_bin: str | None, progress: Progress | None
) -> tuple[int, int]:
    settings = get_settings(IngestSettings)
    assert settings.database_url
    db = Database(settings.database_url, schema="ingest")
    bus = Bus(settings, name="egsu-replay")
    await bus.connect(wait=True)
    store = ObjectStore(settings)
    registry = service_client(settings, "registry", timeout=60)
    points = PointDirectory(registry, ttl=3600)
    run = uuid.uuid4().hex[:8]
    batches = readings = 0
    try:
        async with db.transaction() as s:
            stmt = (
                select(m.receipt)
                .where(
                    m.receipt.c.status == "accepted",
                    m.receipt.c.received_at >= start,
                    m.receipt.c.received_at < end,
                )
                .order_by(m.receipt.c.received_at)
            )
            if subject_bin:
                stmt = stmt.where(m.receipt.c.subject_bin == subject_bin)
            receipts = [dict(r) for r in (await s.execute(stmt)).mappings()]
        task = progress.add_task("replaying", total=len(receipts)) if progress else None
        for r in receipts:
            body = gzip.decompress(await store.get("raw", r["raw_key"]))
            pts = await points.of_subject(r["subject_bin"])
            flags: list[int] = []
            if r["raw_key"].endswith(".xml.gz"):
                canon, _, flags, _ = exchange80020.canonical(
                    exchange80020.parse(body), pts, {}, settings.skew_tolerance
                )
            else:
                raw = parse_csv(body) if r["raw_key"].endswith(".csv.gz") else parse_json(body)
                if r["source"] == "document":
                    raw = parse_json(body)
                canon = canonicalise(raw, pts, {}, settings.skew_tolerance)
            batch = IngestBatch(
                receipt_id=r["id"],
                subject_bin=r["subject_bin"],
                received_at=r["received_at"],
                source="replay",
                points=canon.points,
                point_idx=canon.point_idx,
                quantity=canon.quantity,
                ts=canon.ts,
                value=canon.value,
                skew_s=canon.skew_s,
                flags=flags,
                events=canon.events,
            )
            await bus.publish(
                f"{INGEST_BATCHES}.{r['subject_bin']}",
                batch.encode(),
                msg_id=f"replay-{run}-{r['id']}",
            )
            batches += 1
            readings += canon.accepted
            if progress and task is not None:
                progress.advance(task)
    finally:
        await registry.aclose()
        await bus.close()
        await db.dispose()
    return batches, readings


@app.callback()
def main(
    start: str = typer.Option(
        ..., "--from", help="Received at or after (ISO 8601; UTC if no offset)."
    ),
    end: str = typer.Option(..., "--to", help="Received before (ISO 8601)."),
    subject_bin: str = typer.Option(None, "--subject", help="Only this subject's payloads."),
) -> None:
    """Publish every accepted payload received in the window to the historian again."""
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
    ) as p:
        batches, readings = asyncio.run(replay(_when(start), _when(end), subject_bin, p))
    typer.echo(f"replayed {batches} batches, {readings} readings")
