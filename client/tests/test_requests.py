"""Retries, token reuse, splitting and problem documents, against an in-process HTTP handler."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from egsu.client import (
    EgsuClient,
    Password,
    Reading,
    Retry,
    ServerError,
    ServiceUnavailable,
    Unprocessable,
    Unreachable,
)
from egsu.client.sse import events

T0 = datetime(2026, 1, 15, 10, 0, tzinfo=UTC)


def client(handler: Callable[[httpx.Request], httpx.Response], **kw: object) -> EgsuClient:
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return EgsuClient("http://gw", Password("subject-1", "demo"), http=http, **kw)  # type: ignore[arg-type]


def token_or(
    answer: Callable[[httpx.Request], httpx.Response], tokens: list[str]
) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            tokens.append(request.content.decode())
            return httpx.Response(200, json={"access_token": "tok", "expires_in": 300})
        return answer(request)

    return handler


def receipt(
    key: str, accepted: int, rejected: list[dict[str, object]] | None = None
) -> dict[str, object]:
    return {
        "receipt_id": f"r-{key}", "subject_bin": "990340001234", "status": "accepted",
        "source": "rest", "received_at": T0.isoformat(), "sha256": "x", "idempotency_key": key,
        "accepted": accepted, "rejected_count": len(rejected or []), "rejected": rejected or [],
    }  # fmt: skip


async def test_a_503_is_retried_after_its_retry_after_with_the_same_key_and_body() -> None:
    seen: list[tuple[str, bytes, float]] = []
    tokens: list[str] = []

    def ingest(request: httpx.Request) -> httpx.Response:
        seen.append((request.headers["Idempotency-Key"], request.content, time.monotonic()))
        if len(seen) == 1:
            return httpx.Response(
                503, headers={"Retry-After": "1"}, json={"code": "bus_unavailable"}
            )
        if len(seen) == 2:
            return httpx.Response(502, text="bad gateway")
        return httpx.Response(202, json=receipt(request.headers["Idempotency-Key"], 1))

    async with client(token_or(ingest, tokens)) as egsu:
        reading = Reading(point="P1", quantity="active_import", ts=T0, value=1.5)
        [r] = await egsu.post_readings([reading], subject_bin="990340001234")
    assert len(seen) == 3 and len({(k, b) for k, b, _ in seen}) == 1
    assert seen[0][0].startswith("sha256:") and r.idempotency_key == seen[0][0]
    assert seen[1][2] - seen[0][2] >= 0.95  # Retry-After honoured
    assert len(tokens) == 1  # the token is reused across the attempts
    body = json.loads(seen[0][1])
    assert body["readings"] == [
        {
            "point": "P1",
            "quantity": "active_import",
            "ts": "2026-01-15T10:00:00+00:00",
            "value": 1.5,
        }
    ]


async def test_an_order_without_a_key_is_not_repeated_after_an_ambiguous_502() -> None:
    posts: list[str] = []

    def reports(request: httpx.Request) -> httpx.Response:
        posts.append(request.method)
        return httpx.Response(502, text="upstream reset")

    async with client(token_or(reports, [])) as egsu:
        with pytest.raises(ServerError) as err:
            await egsu.post("/api/v1/reports", {"kind": "x"})
    assert posts == ["POST"] and err.value.status == 502


async def test_the_retry_budget_ends_in_the_servers_last_answer_or_unreachable() -> None:
    def busy(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, headers={"Retry-After": "0"}, json={"code": "bus_unavailable",
                              "detail": "the bus is down"})  # fmt: skip

    started = time.monotonic()
    async with client(token_or(busy, []), retry=Retry(max_wait=0.5)) as egsu:
        with pytest.raises(ServiceUnavailable) as err:
            await egsu.post_readings_json(b'{"readings": []}', idempotency_key="k")
    assert err.value.code == "bus_unavailable" and time.monotonic() - started < 2
    assert err.value.transient  # a store-and-forward poster keeps the batch for later

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    async with client(down, retry=Retry(max_wait=0.3, base=0.05)) as egsu:
        with pytest.raises(Unreachable) as gone:
            await egsu.get("/api/v1/registry/subjects")
    assert gone.value.transient


async def test_a_problem_document_names_the_field_and_reason() -> None:
    def ingest(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            422,
            headers={"Content-Type": "application/problem+json"},
            json={"type": "urn:egsu:problem:no_valid_readings", "title": "The request is not valid",
                  "status": 422, "code": "no_valid_readings", "detail": "no reading could be accepted",
                  "errors": [{"field": "readings[0].quantity", "code": "unknown_quantity",
                              "message": "unknown quantity 'x'", "index": 0}]},
        )  # fmt: skip

    async with client(token_or(ingest, [])) as egsu:
        with pytest.raises(Unprocessable) as err:
            await egsu.post_readings([{"point": "P", "quantity": "x", "ts": T0, "value": 1}])
    e = err.value
    assert (e.status, e.code, e.field) == (422, "no_valid_readings", "readings[0].quantity")
    assert e.errors[0].code == "unknown_quantity" and e.errors[0].index == 0
    assert not e.transient  # sending it again will not help


async def test_a_large_submission_is_split_with_stable_keys_and_whole_list_indexes() -> None:
    bodies: list[tuple[str, dict[str, object]]] = []

    def ingest(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append((request.headers["Idempotency-Key"], body))
        rejected = [{"index": 1, "field": "ts", "code": "off_grid", "message": "off the grid"}]
        return httpx.Response(202, json=receipt(request.headers["Idempotency-Key"], 9, rejected))

    readings = [
        Reading(point="P1", quantity="active_import", ts=T0 + timedelta(minutes=15 * i), value=i)
        for i in range(25)
    ]
    ev = [{"point": "P1", "ts": T0.isoformat(), "code": "cover_opened"}]
    async with client(token_or(ingest, []), max_batch=10) as egsu:
        receipts = await egsu.post_readings(readings, events=ev, idempotency_key="askue:2026-01-15")
    assert [k for k, _ in bodies] == [
        "askue:2026-01-15:0",
        "askue:2026-01-15:1",
        "askue:2026-01-15:2",
    ]
    assert [len(b["readings"]) for _, b in bodies] == [10, 10, 5]  # type: ignore[arg-type]
    assert [len(b["events"]) for _, b in bodies] == [1, 0, 0]  # type: ignore[arg-type]
    assert [r.rejected[0].index for r in receipts] == [1, 11, 21]


async def test_csv_is_split_with_its_header_repeated() -> None:
    parts: list[bytes] = []

    def ingest(request: httpx.Request) -> httpx.Response:
        parts.append(request.content)
        assert request.url.params["subject_bin"] == "990340001234"
        return httpx.Response(202, json=receipt(request.headers["Idempotency-Key"], 2))

    rows = "".join(
        f"P1,active_import,2026-01-15T10:{m:02d}:00+05:00,{m},kWh\n" for m in range(0, 60, 15)
    )
    data = "point,quantity,ts,value,unit\n" + rows
    async with client(token_or(ingest, []), max_batch=3) as egsu:
        await egsu.post_csv(data, subject_bin="990340001234")
    assert [p.decode().count("\n") for p in parts] == [4, 2]
    assert all(p.startswith(b"point,quantity,ts,value,unit\n") for p in parts)


async def test_server_sent_events_are_parsed_across_lines_comments_and_ids() -> None:
    async def lines():  # type: ignore[no-untyped-def]
        for line in [": keep-alive", "event: ready", "data: {}", "retry: 2000", "",
                     "id: 7", "event: raised", 'data: {"a":', "data: 1}", "", "data: x", ""]:  # fmt: skip
            yield line

    got = [e async for e in events(lines())]
    assert [(e.event, e.data, e.id) for e in got] == [
        ("ready", "{}", None),
        ("raised", '{"a":\n1}', "7"),
        ("message", "x", "7"),
    ]
    assert got[0].retry == 2000


def test_the_sync_facade_waits_for_answers_and_iterates_pages() -> None:
    from egsu.client.sync import SyncEgsuClient

    pages = {"": (["a", "b"], "c2"), "c2": (["c"], None)}

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/receipts"):
            items, nxt = pages[request.url.params.get("cursor", "")]
            return httpx.Response(
                200, json={"items": [{"id": i} for i in items], "next_cursor": nxt}
            )
        return httpx.Response(202, json=receipt(request.headers["Idempotency-Key"], 1))

    http = httpx.AsyncClient(transport=httpx.MockTransport(token_or(api, [])))
    with SyncEgsuClient("http://gw", Password("subject-1", "demo"), http=http) as egsu:
        got = egsu.post_readings_json(b'{"readings": []}', idempotency_key="k1")
        assert got.idempotency_key == "k1"
        assert [x["id"] for x in egsu.paginate("/api/v1/ingest/receipts")] == ["a", "b", "c"]


async def test_concurrent_requests_refused_with_an_old_token_renew_it_once() -> None:
    import asyncio

    issued: list[str] = []

    def api(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            issued.append(f"tok{len(issued) + 1}")
            return httpx.Response(200, json={"access_token": issued[-1], "expires_in": 300})
        if request.headers["Authorization"] == "Bearer tok1" and len(issued) < 3:
            return httpx.Response(401, json={"code": "token_revoked"})  # revoked after issue
        return httpx.Response(200, json={"token": request.headers["Authorization"]})

    async with client(api) as egsu:
        await egsu.access_token()
        answers = await asyncio.gather(*(egsu.get("/api/v1/ingest/receipts") for _ in range(8)))
    assert issued == ["tok1", "tok2"] and {a["token"] for a in answers} == {"Bearer tok2"}
