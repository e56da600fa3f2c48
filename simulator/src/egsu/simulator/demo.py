"""The demo behind ``egsu up --demo``: seed the registry and users, backfill a week, run live;
the simulated weather goes to the forecast service alongside (``weather_feed``).

It keeps its place in ``var/simulator/demo.json`` (the simulation's first day and how far it has
posted), so the next ``make run`` resumes: the registry seeding finds everything there, the
backfill continues where it stopped, and the registers continue from the same first day.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from egsu.client import NO_RETRY, EgsuClient, EgsuClientError
from egsu.simulator.client import IngestUnavailable, pool
from egsu.simulator.defects import Rates
from egsu.simulator.generator import Simulation, iso, local_midnight
from egsu.simulator.model import build
from egsu.simulator.post import Poster, SimClock, _sleep, backfill, live, run_id, stop_on_signals
from egsu.simulator.weather_feed import feed

log = logging.getLogger("egsu.simulator")
STATUS: dict[str, Any] = {"phase": "starting"}


class _Status(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(STATUS).encode()
        self.send_response(200 if self.path in ("/readyz", "/healthz", "/") else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def serve_status(port: int) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), _Status)
    threading.Thread(target=server.serve_forever, daemon=True, name="status").start()


def _phase(phase: str, **kw: Any) -> None:
    STATUS.clear()
    STATUS.update({"phase": phase, **kw})
    log.info("demo: %s %s", phase, kw or "")


async def _wait_ready(url: str, stop: asyncio.Event) -> None:
    async with EgsuClient(url, retry=NO_RETRY, timeout=5) as gateway:
        while not stop.is_set():
            with contextlib.suppress(EgsuClientError):
                await gateway.get("/readyz")
                return
            await asyncio.sleep(1)


async def run_demo(
    *,
    url: str,
    var: Path,
    points: int,
    seed: int,
    days: int,
    registry_url: str | None,
    status_port: int,
    speed: float,
) -> None:
    from egsu.simulator.cli import do_seed

    if status_port:
        serve_status(status_port)
    stop = asyncio.Event()
    stop_on_signals(stop)
    state_file = var / "simulator" / "demo.json"
    state: dict[str, Any] = {}
    if state_file.exists():
        state = json.loads(state_file.read_text())
    today = _local_day(int(time.time()))
    if state.get("seed") != seed or state.get("points") != points:
        state = {
            "seed": seed,
            "points": points,
            "epoch": (today - timedelta(days=days)).isoformat(),
        }

    def save() -> None:
        state_file.parent.mkdir(parents=True, exist_ok=True)
        state_file.write_text(json.dumps(state, indent=2))

    save()
    epoch = date.fromisoformat(state["epoch"])
    system = build(points, seed, today)
    rates = Rates()
    rid = run_id(system, seed, epoch, rates.as_dict())
    await _wait_ready(url, stop)
    _phase("seeding", subjects=len(system.bins), points=points)
    report = await do_seed(system, url, var=var, registry_url=registry_url, show=False)
    for e in report.errors[:20]:
        log.error("seed: %s", e)
    _phase("seeded", created=report.created, existing=report.existing, errors=len(report.errors))
    sim = Simulation(system, seed=seed, start=epoch, rates=rates, horizon_days=days + 7)
    # the weather depends on the seed only, so the feed may share the simulation
    weather = asyncio.create_task(feed(sim, url, state, save, stop, first=epoch, clock=time.time))
    try:
        live_from = int(time.time() - 2 * 3600) // 300 * 300
        async with pool() as http:
            poster = Poster(http, url, concurrency=4, max_wait=120)
            done = int(state.get("posted_until") or local_midnight(epoch))

            def posted(until: int) -> None:  # a stopped backfill resumes after the last day
                state["posted_until"] = until
                save()

            while not stop.is_set() and done < live_from:
                _phase("backfill", since=iso(done), until=iso(live_from))
                first = _local_day(done)
                try:
                    await backfill(sim, poster, start=first, upto=live_from, key=f"sim:{rid}",
                                   after=done if done > local_midnight(first) else None,
                                   on_day=posted)  # fmt: skip
                except IngestUnavailable as exc:
                    _phase("waiting for ingest", reason=str(exc))
                    await _sleep(stop, 30)
                    done = int(state.get("posted_until") or done)
                    sim = Simulation(
                        system, seed=seed, start=epoch, rates=rates, horizon_days=days + 7
                    )
                    continue
                done = live_from
                state["posted_until"] = done
                save()
            if stop.is_set():
                return
            _phase("live", since=iso(done), speed=speed)

            def ticked(boundary: int, n: int) -> None:
                state["posted_until"] = boundary
                save()
                STATUS.update(
                    {
                        "posted_until": iso(boundary),
                        "last_readings": n,
                        "stats": poster.stats.__dict__ | {"samples": poster.stats.samples[-3:]},
                    }
                )

            await live(
                sim,
                poster,
                SimClock(done, speed),
                key=f"sim:{rid}",
                stop=stop,
                after=done,
                on_tick=ticked,
            )

    finally:
        weather.cancel()


def _local_day(ts: int) -> date:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts + 5 * 3600, UTC).date()
