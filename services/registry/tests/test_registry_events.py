"""Registry changes reach the bus (through the outbox) with audit records; verification notices go out once."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from egsu.bus import Bus
from egsu.contracts.audit import AuditEvent
from egsu.core.settings import Settings
from egsu.db import Database
from egsu.infra import InfraUrls
from egsu.registry import models as m
from egsu.registry.events import notify_verification_due
from egsu.testing.stack import Stack

from .conftest import World

pytestmark = pytest.mark.stack


async def last(bus: Bus, stream: str, subject: str) -> dict:  # type: ignore[type-arg]
    msg = await bus.js.get_last_msg(stream, subject)
    return json.loads(msg.data)  # type: ignore[no-any-return]


async def test_change_event_and_audit_record_are_published(stack: Stack, infra: InfraUrls) -> None:
    world = World(stack)
    bus = Bus(Settings(nats_url=infra.nats_url))
    await bus.connect(wait=True)
    try:
        async with stack.client("ministry") as c:
            r = await c.patch(
                f"/api/v1/registry/facilities/{world.facility['id']}", json={"feeder": "Ф-12"}
            )
            assert r.status_code == 200
        for _ in range(50):
            changed = await last(bus, "REGISTRY", "egsu.registry.changed.facility")
            if changed["id"] == world.facility["id"] and changed["action"] == "updated":
                break
            await asyncio.sleep(0.05)
        assert changed["changed_fields"] == ["feeder"] and changed["subject_bin"] == world.bin
        audit = AuditEvent.model_validate(await last(bus, "AUDIT", "egsu.audit.change"))
        assert audit.action == "registry.facility.updated" and audit.actor.username == "ministry"
        assert audit.before["feeder"] is None and audit.after["feeder"] == "Ф-12"
    finally:
        await bus.close()


async def test_verification_due_is_announced_once_per_due_date(
    stack: Stack, infra: InfraUrls
) -> None:
    world = World(stack)
    async with stack.client("ministry") as c:
        r = await c.post(
            "/api/v1/registry/devices",
            json={
                "point_id": world.point["id"],
                "type": "electricity_meter",
                "model": "ЦЭ6850М",
                "serial_number": f"V{world.bin}",
                "verification_interval_months": 12,
                "verification_date": (date.today() - timedelta(days=370)).isoformat(),
            },
        )
        device = r.json()
    db = Database(infra.database_url, schema="registry")
    try:
        assert await notify_verification_due(db, 30) >= 1
        assert await notify_verification_due(db, 30) == 0
        async with db.transaction() as s:
            row = (
                await s.execute(
                    select(m.device.c.verification_notified_for).where(
                        m.device.c.id == device["id"]
                    )
                )
            ).scalar_one()
        assert row.isoformat() == device["next_verification_due"]
    finally:
        await db.dispose()
