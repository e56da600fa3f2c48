"""The client against the running System: both grants, JSON and CSV, a retried post stored once,
a list across pages, a report ordered, waited for and downloaded, and an alarm from the stream."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from egsu.client import (
    AlarmEvent,
    ClientCredentials,
    EgsuClient,
    Forbidden,
    NotFound,
    Password,
    Reading,
    Report,
    Unauthorized,
    Unprocessable,
)
from egsu.testing.stack import Stack
from egsu.testing.world import KZ, World, grid, kz

pytestmark = pytest.mark.stack
SERVICE = ClientCredentials("egsu-ingest", "egsu-ingest-dev-secret")


def readings(world: World, start: datetime, n: int, value: float = 10.0) -> list[Reading]:
    return [
        Reading(point=world.point_code, quantity="active_export", ts=t, value=value + i)
        for i, t in enumerate(grid(start, n, 5))
    ]


async def test_password_and_client_credentials_post_json_and_csv_within_their_scope(
    stack: Stack,
) -> None:
    world = await asyncio.to_thread(World, stack)
    other = await asyncio.to_thread(World, stack)
    start = datetime(2026, 2, 3, tzinfo=UTC)
    async with EgsuClient(stack.url, Password(world.user, "demo")) as subject:
        [receipt] = await subject.post_readings(readings(world, start, 6))
        assert receipt.subject_bin == world.bin and receipt.accepted == 6 and not receipt.rejected
        stored = await subject.wait_stored(receipt.receipt_id, timeout=30)
        assert stored.stored and sum(d["count"] for d in stored.deliveries) == 6
        # another subject's points and receipts are not this subject's to touch
        with pytest.raises(Forbidden) as refused:
            await subject.post_readings(readings(other, start, 1), subject_bin=other.bin)
        assert refused.value.code == "not_your_subject"
        with pytest.raises(Unprocessable) as bad:
            await subject.post_readings([{"point": world.point_code, "quantity": "active_export",
                                          "ts": kz(start), "value": "many"}])  # fmt: skip
        assert bad.value.field is not None and bad.value.field.startswith("readings[0]")
    # a service account by client credentials, CSV for the other subject
    csv = "point,quantity,ts,value,unit\n" + "".join(
        f"{other.point_code},active_export,{kz(t)},{i},kWh\n"
        for i, t in enumerate(grid(start, 4, 5))
    )
    async with EgsuClient(stack.url, SERVICE) as service:
        [csv_receipt] = await service.post_csv(csv, subject_bin=other.bin)
        assert (csv_receipt.source, csv_receipt.accepted) == ("csv", 4)
        assert await service.access_token() == await service.access_token()  # cached
    async with EgsuClient(stack.url, Password(world.user, "demo")) as subject:
        with pytest.raises(NotFound):
            await subject.get_receipt(csv_receipt.receipt_id)
    async with EgsuClient(stack.url, Password(other.user, "demo")) as owner:
        got = await owner.get_receipt(csv_receipt.receipt_id)
        assert got.accepted == 4 and got.idempotency_key == csv_receipt.idempotency_key
    async with EgsuClient(stack.url, ClientCredentials("egsu-ingest", "wrong")) as wrong:
        with pytest.raises(Unauthorized) as err:
            await wrong.get_receipt(csv_receipt.receipt_id)
        assert err.value.code == "unauthorized_client"


class LosesFirstAnswer(httpx.AsyncBaseTransport):
    """Delivers every request, but the first answer to a POST is lost on its way back."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.posts: list[tuple[str | None, bytes]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if request.method == "POST" and "/api/" in request.url.path:
            self.posts.append((request.headers.get("Idempotency-Key"), request.content))
            if len(self.posts) == 1:
                await response.aread()
                await response.aclose()
                raise httpx.ReadError("connection reset by peer", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def test_a_post_whose_answer_was_lost_is_retried_with_its_key_and_stored_once(
    stack: Stack,
) -> None:
    world = await asyncio.to_thread(World, stack)
    transport = LosesFirstAnswer()
    http = httpx.AsyncClient(transport=transport, timeout=30)
    async with http, EgsuClient(stack.url, Password(world.user, "demo"), http=http) as egsu:
        [receipt] = await egsu.post_readings(
            readings(world, datetime(2026, 2, 4, tzinfo=UTC), 3), idempotency_key="askue-42"
        )
        assert len(transport.posts) == 2 and transport.posts[0] == transport.posts[1]
        assert receipt.idempotency_key == "askue-42" and receipt.accepted == 3
        listed = [r async for r in egsu.receipts()]
    assert [r.receipt_id for r in listed] == [receipt.receipt_id]  # one receipt, not two


async def test_receipts_are_iterated_across_pages(stack: Stack) -> None:
    world = await asyncio.to_thread(World, stack)
    pages: list[str] = []

    async def count(request: httpx.Request) -> None:
        if request.url.path.endswith("/receipts"):
            pages.append(request.url.params.get("cursor", ""))

    http = httpx.AsyncClient(event_hooks={"request": [count]}, timeout=30)
    async with http, EgsuClient(stack.url, Password(world.user, "demo"), http=http) as egsu:
        start = datetime(2026, 2, 5, tzinfo=UTC)
        posted = [
            (await egsu.post_readings(readings(world, start + timedelta(hours=h), 2)))[0]
            for h in range(5)
        ]
        listed = [r async for r in egsu.receipts(page_size=2)]
    assert [r.receipt_id for r in listed] == [r.receipt_id for r in reversed(posted)]
    assert len(pages) == 3 and pages[0] == "" and all(pages[1:])


async def test_a_report_is_ordered_waited_for_and_downloaded(stack: Stack) -> None:
    world = await asyncio.to_thread(World, stack)
    day = datetime(2026, 2, 6, tzinfo=KZ)
    async with EgsuClient(stack.url, Password(world.user, "demo")) as egsu:
        receipts = await egsu.post_readings(readings(world, day, 12, value=100.0))
        await egsu.wait_stored(receipts[0].receipt_id, timeout=30)
        rid = await egsu.order_report(
            "daily_electricity_balance", level="local", scope=world.bin,
            period_from=day.date(), period_to=day.date(), format="json", language="en",
        )  # fmt: skip
        seen: list[Report] = []
        done = await egsu.wait_report(rid, timeout=90, on_progress=seen.append)
        assert seen[-1].status == "done" and done.download == f"/api/v1/reports/{rid}/download"
        file = await egsu.download_report(rid)
        assert file.sha256 == done.sha256 and file.filename.endswith(".json")
        doc: dict[str, Any] = json.loads(file.content)
        assert doc and [
            r async for r in egsu.reports(kind="daily_electricity_balance") if r.id == rid
        ]


async def test_the_alarm_stream_yields_the_alarm_of_a_voltage_sag(stack: Stack) -> None:
    world = await asyncio.to_thread(World, stack, interval_min=1, criticality=1)
    code = world.point_code
    base = datetime.now(UTC).timestamp() // 60 * 60 - 180
    t1, t2 = (datetime.fromtimestamp(base + 60 * i, UTC) for i in range(2))
    async with EgsuClient(stack.url, Password(world.user, "demo")) as egsu:
        ready = asyncio.Event()

        async def first_band_alarm() -> AlarmEvent:
            async for event in egsu.alarms(on_ready=ready.set):
                if event.alarm.kind == "band" and event.alarm.point_code == code:
                    return event
            raise AssertionError("the stream ended")

        task = asyncio.create_task(first_band_alarm())
        await asyncio.wait_for(ready.wait(), 10)
        for t, v in ((t1, 221_000.0), (t2, 176_000.0)):
            await egsu.post_readings(
                [Reading(point=code, quantity="voltage_l1", ts=t, value=v)],
            )
        event = await asyncio.wait_for(task, 15)
    assert event.type == "raised" and event.alarm.severity == "critical"
    assert event.alarm.subject_bin == world.bin and event.alarm.value == 176_000.0
    assert event.alarm.message["ru"] and event.alarm.message["kk"] and event.alarm.message["en"]
