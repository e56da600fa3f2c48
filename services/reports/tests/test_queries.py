"""Queries of state bodies (§22): purpose and legal basis, limited scope, answer size in the audit journal."""

from __future__ import annotations

import asyncio
import json
import time
import uuid

import nats
import pytest
from nats.js import api
from reports_helpers import R, demo_day, post, wait_stored, world

from egsu.infra import InfraUrls
from egsu.testing.stack import Stack

pytestmark = pytest.mark.stack
Q = f"{R}/queries"


async def audit_events(
    infra: InfraUrls, start: float, action: str, wait_s: float = 10.0
) -> list[dict]:
    nc = await nats.connect(infra.nats_url)
    try:
        js = nc.jetstream()
        durable = f"test-{uuid.uuid4().hex[:8]}"
        sub = await js.pull_subscribe(
            "egsu.audit.access",
            durable=durable,
            stream="AUDIT",
            config=api.ConsumerConfig(
                deliver_policy=api.DeliverPolicy.BY_START_TIME,
                opt_start_time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start - 2)),
            ),
        )
        found, deadline = [], time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                msgs = await sub.fetch(200, timeout=1)
            except (nats.errors.TimeoutError, TimeoutError):
                if found:
                    break
                continue
            for m in msgs:
                await m.ack()
                ev = json.loads(m.data)
                if ev["action"] == action:
                    found.append(ev)
        await js.delete_consumer("AUDIT", durable)
        return found
    finally:
        await nc.close()


async def test_a_state_body_query_is_answered_from_rollups_and_journaled(
    stack: Stack, infra: InfraUrls
) -> None:
    day = demo_day()
    kato = "630000000"
    ws = [world(stack, kato, "consumption") for _ in range(2)]
    await asyncio.to_thread(
        wait_stored,
        stack,
        [post(stack, w, day, [100.0 * (i + 1)] * 24, "active_import") for i, w in enumerate(ws)],
    )
    start = time.time()
    body = {
        "purpose": "Анализ энергопотребления региона для программы энергосбережения",
        "legal_basis": "Закон РК «Об энергосбережении», ст. 5",
        "dataset": "electricity",
        "measures": ["consumption"],
        "filters": {"region_kato": [kato], "from": day.isoformat(), "to": day.isoformat()},
        "group_by": ["region_kato", "day"],
        "aggregate": "sum",
    }
    async with stack.client("government") as c:
        r = await c.post(Q, json=body)
        assert r.status_code == 200, r.text
        rows = r.json()["rows"]
        assert rows == [
            {
                "region_kato": kato,
                "day": day.isoformat(),
                "consumption": pytest.approx(24 * 300 / 1000),
            }
        ]
        size = len(r.content)
        hourly = await c.post(
            Q, json={**body, "group_by": ["hour"], "resolution": "1h", "aggregate": "max"}
        )
        assert hourly.status_code == 200 and len(hourly.json()["rows"]) == 24
        r = await c.post(Q, json={**body, "purpose": ""})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "purpose"
        r = await c.post(Q, json={k: v for k, v in body.items() if k != "legal_basis"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "legal_basis"
        r = await c.post(
            Q, json={**body, "group_by": ["subject_bin"]}
        )  # not what a state body may see
        assert r.status_code == 403 and r.json()["code"] == "scope_not_allowed"
        r = await c.post(
            Q, json={**body, "filters": {**body["filters"], "subject_bin": [ws[0].bin]}}
        )
        assert r.status_code == 403
    async with stack.client(ws[0].user) as c:
        assert (await c.post(Q, json=body)).status_code == 403
    events = await audit_events(infra, start, "query.answer")
    mine = [
        e
        for e in events
        if e["details"].get("purpose") == body["purpose"] and e["actor"]["username"] == "government"
    ]
    assert mine, events
    assert mine[0]["details"]["legal_basis"] == body["legal_basis"]
    assert mine[0]["details"]["rows"] == 1 and mine[0]["details"]["bytes"] == size


async def test_a_long_query_runs_as_a_job_with_a_result_link(stack: Stack) -> None:
    body = {
        "purpose": "Годовой анализ по типам объектов для Бюро национальной статистики",
        "legal_basis": "Закон РК «О государственной статистике», ст. 16",
        "dataset": "electricity",
        "measures": ["consumption", "generation", "losses"],
        "filters": {"from": "2015-01-01", "to": "2015-12-31"},
        "group_by": ["facility_type", "month"],
    }
    async with stack.client("government") as c:
        r = await c.post(Q, json=body)
        assert r.status_code == 202, r.text
        link = r.json()["link"]
        deadline = time.monotonic() + 120
        while (status := (await c.get(link)).json())["status"] != "done":
            assert status["status"] in ("queued", "running") and time.monotonic() < deadline, status
            await asyncio.sleep(0.3)
        assert status["purpose"] == body["purpose"] and status["bytes"] > 0
        res = await c.get(status["result"])
        assert res.status_code == 200 and "rows" in res.json()
        csv_ = await c.get(status["result"], params={"format": "csv"})
        assert csv_.status_code == 200
    other = world(stack, "630000000", "consumption")
    async with stack.client(other.user) as c:  # a subject reaches no query
        assert (await c.get(link)).status_code == 403
