"""Posting to ingest: per-subject batches with the subject's token, retried unchanged after 503."""

from __future__ import annotations

import json
from datetime import date

import httpx
import numpy as np

from egsu.simulator.generator import local_midnight
from egsu.simulator.model import build
from egsu.simulator.generator import Simulation
from egsu.simulator.post import Poster, batches, window

START = date(2026, 1, 12)


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
        own = {c for c, sb in zip(s.codes, s.points["subject_bin"], strict=True) if sb == b.subject_bin}
        assert codes <= own
        x = body["readings"][0]
        assert set(x) == {"point", "quantity", "ts", "value", "unit"} and x["ts"].endswith("+05:00")
    assert len({b.key for b in items}) == len(items)
    again = list(batches(s, *window(Simulation(s, seed=4, start=START), t0, t0 + 6 * 3600), key="k", max_batch=5000))
    assert [(b.key, b.body) for b in again] == [(b.key, b.body) for b in items]


async def test_a_503_is_retried_with_the_same_key_and_body() -> None:
    seen: list[tuple[str, bytes, str]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/token"):
            form = dict(x.split("=") for x in request.content.decode().split("&"))
            return httpx.Response(200, json={"access_token": f"tok-{form['username']}", "expires_in": 300})
        seen.append((request.headers["Idempotency-Key"], request.content, request.headers["Authorization"]))
        if len(seen) < 3:
            return httpx.Response(503, headers={"Retry-After": "0"}, json={"code": "bus_unavailable"})
        body = json.loads(request.content)
        return httpx.Response(202, json={"receipt_id": "r1", "accepted": len(body["readings"]), "rejected": []})

    s = build(120, 4, START)
    sim = Simulation(s, seed=4, start=START)
    t0 = local_midnight(START)
    r, e = window(sim, t0, t0 + 900)
    batch = next(batches(s, r, e, key="run"))
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        poster = Poster(http, "http://gw", max_wait=30)
        receipt = await poster.post(batch)
    assert receipt is not None and receipt["accepted"] == batch.readings
    assert len(seen) == 3 and len({(k, b) for k, b, _ in seen}) == 1
    assert seen[0][2] == f"Bearer tok-subject-{batch.subject_bin}"
    assert poster.stats.accepted == batch.readings and np.isclose(poster.stats.batches, 1)
