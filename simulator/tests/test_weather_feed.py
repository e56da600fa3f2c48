"""The demo's weather feed against the running System: the forecast service gets the simulator's
observations and forecasts, and the feed resumes where it stopped."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from egsu.simulator import geo
from egsu.simulator.generator import Simulation, local_midnight
from egsu.simulator.model import build
from egsu.simulator.weather_feed import feed
from egsu.testing.stack import Stack

pytestmark = pytest.mark.stack
W = "/api/v1/forecast/weather/regions"
FIRST = date(2025, 3, 10)  # a spring no other test posts weather for
KATO = "710000000"


def _utc(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


async def _feed_once(stack: Stack, sim: Simulation, state: dict[str, Any], now: int) -> None:
    stop = asyncio.Event()
    await asyncio.wait_for(
        feed(sim, stack.url, state, stop.set, stop, first=FIRST, clock=lambda: now), 120
    )


async def test_the_demo_posts_observed_and_forecast_weather_and_resumes(stack: Stack) -> None:
    sim = Simulation(build(30, 5, FIRST), seed=5, start=FIRST)
    start = local_midnight(FIRST) - 86400
    now = local_midnight(FIRST + timedelta(days=6)) + 7 * 3600  # 07:00 of the seventh day
    state: dict[str, Any] = {}
    await _feed_once(stack, sim, state, now)
    assert state["weather_posted_until"] == now
    window = {"from": _utc(start), "to": _utc(now + 2 * 86400), "issued_before": _utc(now)}
    with stack.sync_client("operator") as c:
        observed = c.get(f"{W}/{KATO}", params={**window, "kind": "observed"}).json()["items"]
        forecast = c.get(f"{W}/{KATO}", params={**window, "kind": "forecast"}).json()["items"]
    assert len(observed) == (now - start) // 3600
    region = geo.KATOS.index(KATO)
    t = np.asarray([datetime.fromisoformat(o["ts"]).timestamp() for o in observed], np.int64)
    want = np.round(sim.weather.temperature(np.full(len(t), region), t), 2)
    got = np.asarray([o["temperature_c"] for o in observed])
    assert np.allclose(got, want, atol=0.01)
    # the forecast issued at 06:00 today reaches the end of tomorrow
    last = max(datetime.fromisoformat(f["ts"]).timestamp() for f in forecast)
    assert last >= local_midnight(FIRST + timedelta(days=8)) - 3600 - 1800
    # an hour later only the new hour is posted
    await _feed_once(stack, sim, state, now + 3600)
    with stack.sync_client("operator") as c:
        again = c.get(
            f"{W}/{KATO}",
            params={**window, "to": _utc(now + 2 * 3600), "kind": "observed"},
        ).json()["items"]
    assert len(again) == len(observed) + 1
