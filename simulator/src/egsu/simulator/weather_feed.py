"""The demo's weather service: observed temperatures and daily forecasts posted to the System.

The forecast service takes weather per region as an external factor (``POST
/api/v1/forecast/weather``). In the demo the simulator is the weather service: every hour it posts
the hours observed since its last post, and each day's forecast once that forecast has been
issued (06:00 local, for the next two days), exactly what ``egsu simulate --out`` writes to
``weather_observed`` and ``weather_forecast``. Its place is kept in the demo's state file.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import date
from typing import Any

from egsu.client import EgsuClient, EgsuClientError, NotFound
from egsu.simulator.client import api, pool
from egsu.simulator.generator import Simulation, local_midnight
from egsu.simulator.post import _sleep, weather_batch

log = logging.getLogger("egsu.simulator")
WEATHER = "/api/v1/forecast/weather"
CHUNK = 5000


async def post_items(client: EgsuClient, items: list[dict[str, Any]]) -> int | None:
    """Post weather items in chunks; returns how many were stored, None when the System has no
    forecast service (yet)."""
    stored = 0
    for i in range(0, len(items), CHUNK):
        body = {"source": "simulator", "items": items[i : i + CHUNK]}
        try:
            # a repeated chunk stores the same values again: safe to retry after any failure
            r = await client.request("POST", WEATHER, json=body, idempotent=True)
        except NotFound:
            return None
        stored += sum(int(v) for v in r.json().get("stored", {}).values())
    return stored


async def feed(
    sim: Simulation,
    url: str,
    state: dict[str, Any],
    save: Callable[[], None],
    stop: asyncio.Event,
    *,
    first: date,
    user: str = "ministry",
    password: str = "demo",  # noqa: S107 - development realm
    clock: Callable[[], float],
) -> None:
    """Post the weather that is due, then again every hour, until ``stop``."""
    # the first forecast that covers the first day was issued the day before
    start = local_midnight(first) - 86400
    async with pool() as http:
        client = api(http, url, user, password, max_wait=120)
        while not stop.is_set():
            now = int(clock())
            after = int(state.get("weather_posted_until") or start)
            body = await asyncio.to_thread(weather_batch, sim, after, now)
            try:
                stored = await post_items(client, body["observations"] + body["forecasts"])
            except EgsuClientError as exc:  # the demo goes on without weather; next hour again
                log.warning("weather: %s", exc)
                stored = 0
            if stored is None:
                log.info("weather: the System has no forecast service; trying again in an hour")
            elif stored:
                state["weather_posted_until"] = now // 3600 * 3600
                save()
                log.info("weather: %d observations and forecasts posted", stored)
            await _sleep(stop, 3600 - now % 3600 + 60)
