"""Posting to ingest: per-subject batches with the subject's token, retried unchanged after 503."""

from __future__ import annotations

import json
from datetime import date

import httpx
import numpy as np
import pytest

from egsu.simulator.generator import Simulation, local_midnight
from egsu.simulator.model import build
from egsu.simulator.post import Poster, batches, window

START = date(2026, 1, 12)


def receipt(key: str, accepted: int) -> dict[str, object]:
    """Ingest's receipt for a batch of ``accepted`` readings posted with ``key``."""
    return {"receipt_id": f"r-{key}", "subject_bin": "990340001234", "status": "accepted",
            "source": "rest", "received_at": "2026-01-12T00:00:00+00:00", "sha256": "0" * 64,
            "idempotency_key": key, "accepted": accepted, "rejected_count": 0, "rejected": []}  # fmt: skip


def test_batches_are_per_subject_and_within_the_limit() -> None:
    s = build(300, 4, START)
    sim = Simulation(s, seed=4, start=START)
    t0 = local_midnight(START)
    r, e = window(sim, t0, t0 + 6 * 3600)
    items = list(batches(s, r, e, key="k", max_batch=5000))
    assert sum(b.readings for b in items) == len(r)
    assert all(b.readings <= 5000 for b in items)
    for b in items[:20]:
        body = json.loads(b.body)
        assert body["subject_bin"] == b.subject_bin
        codes = {x["point"] for x in body["readings"]}
        own = {
            c for c, sb in zip(s.codes, s.points["subject_bin"], strict=True) if sb == b.subject_bin
        }
        assert codes <= own
        x = body["readings"][0]
        assert set(x) == {"point", "quantity", "ts", "value", "unit"} and x["ts"].endswith("+05:00")
    assert len({b.key for b in items}) == len(items)
    again = list(
        batches(
            s,
            *window(Simulation(s, seed=4, start=START), t0, t0 + 6 * 3600),
            key="k",
            max_batch=5000,
        )
    )
    assert [(b.key, b.body) for b in again] == [(b.key, b.body) for b in items]


async def test_a_503_is_retried_with_the_same_key_and_body() -> None:
    seen: list[tuple[str, bytes, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            form = dict(x.split("=") for x in request.content.decode().split("&"))
            return httpx.Response(
                200, json={"access_token": f"tok-{form['username']}", "expires_in": 300}
            )
        seen.append(
            (request.headers["Idempotency-Key"], request.content, request.headers["Authorization"])
        )
        if len(seen) < 3:
            return httpx.Response(
                503, headers={"Retry-After": "0"}, json={"code": "bus_unavailable"}
            )
        body = json.loads(request.content)
        return httpx.Response(202, json=receipt("r1", len(body["readings"])))

    s = build(120, 4, START)
    sim = Simulation(s, seed=4, start=START)
    t0 = local_midnight(START)
    r, e = window(sim, t0, t0 + 900)
    batch = next(batches(s, r, e, key="run"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        poster = Poster(http, "http://gw", max_wait=30)
        got = await poster.post(batch)
    assert got is not None and got["accepted"] == batch.readings
    assert len(seen) == 3 and len({(k, b) for k, b, _ in seen}) == 1
    assert seen[0][2] == f"Bearer tok-subject-{batch.subject_bin}"
    assert poster.stats.accepted == batch.readings and np.isclose(poster.stats.batches, 1)


class FakeIngest:
    """The ingest endpoint's contract (issue 4): 202 with a receipt, the same receipt for the same
    key and body, 409 for the same key with another body; down (503) while ``down`` is set."""

    def __init__(self) -> None:
        self.receipts: dict[str, tuple[bytes, dict[str, object]]] = {}
        self.stored: set[tuple[str, str, str]] = set()
        self.down = False
        self.posts = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 300})
        self.posts += 1
        if self.down:
            return httpx.Response(503, headers={"Retry-After": "0"})
        key = request.headers["Idempotency-Key"]
        if key in self.receipts:
            body, earlier = self.receipts[key]
            return httpx.Response(202 if body == request.content else 409, json=earlier)
        data = json.loads(request.content)
        for x in data["readings"]:
            self.stored.add((x["point"], x["quantity"], x["ts"]))
        answer = receipt(key, len(data["readings"]))
        self.receipts[key] = (request.content, answer)
        return httpx.Response(202, json=answer)


async def test_backfill_posts_every_reading_once_and_a_rerun_changes_nothing() -> None:
    from egsu.simulator.defects import Rates
    from egsu.simulator.post import backfill

    s = build(80, 6, START)
    ingest = FakeIngest()
    upto = local_midnight(START) + 86400 + 6 * 3600
    async with httpx.AsyncClient(transport=httpx.MockTransport(ingest)) as http:
        for _ in range(2):
            sim = Simulation(s, seed=6, start=START, rates=Rates().scaled(0))
            poster = Poster(http, "http://gw", concurrency=4)
            await backfill(sim, poster, start=START, upto=upto, key="run", max_batch=10_000)
            assert poster.stats.conflicts == 0 and poster.stats.failed == 0
    expected = sum(
        len(q) * (30 * 60 // m)
        for q, m in zip(s.points["quantities"], s.points["interval_min"], strict=True)
    )
    assert len(ingest.stored) == expected
    assert len(ingest.receipts) == ingest.posts // 2


async def test_a_stopped_backfill_resumes_after_the_last_day_it_posted() -> None:
    from egsu.simulator.defects import Rates
    from egsu.simulator.post import backfill

    s = build(80, 6, START)
    ingest = FakeIngest()
    upto = local_midnight(START) + 2 * 86400 + 6 * 3600
    marks: list[int] = []

    class Stopped(Exception):
        pass

    def stop_after_first_day(until: int) -> None:
        marks.append(until)
        raise Stopped  # Ctrl-C after the first day

    async with httpx.AsyncClient(transport=httpx.MockTransport(ingest)) as http:
        sim = Simulation(s, seed=6, start=START, rates=Rates().scaled(0))
        with pytest.raises(Stopped):
            await backfill(sim, Poster(http, "http://gw", concurrency=4), start=START, upto=upto,
                           key="run", on_day=stop_after_first_day)  # fmt: skip
        assert marks == [local_midnight(START) + 86400]
        first_day = len(ingest.stored)
        resumed = date.fromordinal(START.toordinal() + 1)
        await backfill(sim, Poster(http, "http://gw", concurrency=4), start=resumed, upto=upto,
                       key="run", on_day=marks.append)  # fmt: skip
    assert marks[1:] == [local_midnight(START) + 2 * 86400, upto]
    per_hour = sum(
        len(q) * (60 // m)
        for q, m in zip(s.points["quantities"], s.points["interval_min"], strict=True)
    )
    assert first_day == 24 * per_hour and len(ingest.stored) == (48 + 6) * per_hour


async def test_live_survives_ingest_being_down_and_catches_up() -> None:
    import asyncio

    from egsu.simulator.post import SimClock, live

    s = build(80, 6, START)
    sim = Simulation(s, seed=6, start=START)
    ingest = FakeIngest()
    ingest.down = True
    t0 = local_midnight(START) + 8 * 3600
    stop = asyncio.Event()
    ticks: list[int] = []
    ticked = asyncio.Event()

    def on_tick(boundary: int, _n: int) -> None:
        ticks.append(boundary)
        ticked.set()

    async with httpx.AsyncClient(transport=httpx.MockTransport(ingest)) as http:
        poster = Poster(http, "http://gw", max_wait=1.0)
        clock = SimClock(t0, speed=3600, future=True)  # an hour of simulated time per second
        task = asyncio.create_task(
            live(
                sim,
                poster,
                clock,
                key="run",
                stop=stop,
                after=t0,
                on_tick=on_tick,
                retry_pause=0.2,
            )
        )
        await asyncio.sleep(1.5)
        assert not ticks and ingest.posts > 0  # nothing counted as sent while ingest refuses
        ingest.down = False
        await asyncio.wait_for(ticked.wait(), timeout=10)
        await asyncio.sleep(0.5)
        stop.set()
        await task
    last = ticks[-1]
    stamps = {ts for _, _, ts in ingest.stored}
    from egsu.simulator.generator import iso

    assert iso(t0 + 300) in stamps and iso(last) in stamps
    assert all(iso(t0) < ts for ts in stamps)


def test_weather_batch_matches_the_weather_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import polars as pl

    from egsu.simulator.output import weather_frames
    from egsu.simulator.post import weather_batch

    s = build(30, 2, START)
    sim = Simulation(s, seed=2, start=START)
    t0 = local_midnight(START)
    body = weather_batch(sim, t0 - 1, t0 + 86400 - 3600)
    observed, forecast = weather_frames(sim, START, 1, "csv")
    assert len(body["observations"]) == len(observed) == 20 * 24
    first = observed.filter(pl.col("region_kato") == "710000000").row(0, named=True)
    same = [
        x
        for x in body["observations"]
        if x["region_kato"] == "710000000" and x["ts"] == first["ts"]
    ]
    assert same[0]["temperature_c"] == first["temperature_c"]
    assert len(body["forecasts"]) == len(forecast) == 20 * 48
    assert {x["issued_at"] for x in body["forecasts"]} == {"2026-01-12T06:00:00+05:00"}
