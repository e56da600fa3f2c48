"""Sending readings to ingest: per-subject batches, backfill of history and the live clock.

A batch is ``POST /api/v1/ingest/readings`` with the subject's own token and an Idempotency-Key
derived from the run and the batch's place in time, so a re-run (or a retry after a 503) sends the
same key with the same bytes and ingest answers with the original receipt instead of storing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import numpy as np
import polars as pl

from egsu.client import ApiError, Conflict, EgsuClient, Unreachable
from egsu.client.retry import RETRY_STATUSES
from egsu.simulator.client import IngestUnavailable, api
from egsu.simulator.generator import TZ_OFFSET, Events, Readings, Simulation, iso, local_midnight
from egsu.simulator.model import EnergySystem
from egsu.simulator.output import readings_frame

log = logging.getLogger("egsu.simulator")
INGEST = "/api/v1/ingest/readings"
MAX_BATCH = 50_000


@dataclass
class Batch:
    subject_bin: str
    key: str
    body: bytes
    readings: int
    events: int


@dataclass
class PostStats:
    batches: int = 0
    readings: int = 0
    accepted: int = 0
    rejected: int = 0
    retried: int = 0
    failed: int = 0
    conflicts: int = 0
    samples: list[str] = field(default_factory=list)

    def note(self, msg: str) -> None:
        if len(self.samples) < 20:
            self.samples.append(msg)


def run_id(system: EnergySystem, seed: int, epoch: date, rates: dict[str, float]) -> str:
    """A short fingerprint of everything the generated data depends on."""
    text = json.dumps({"seed": seed, "points": system.n_points, "epoch": epoch.isoformat(),
                       "rates": rates, "v": 1}, sort_keys=True)  # fmt: skip
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def batches(
    system: EnergySystem,
    readings: Readings,
    events: Events,
    *,
    key: str,
    max_batch: int = MAX_BATCH,
) -> Iterator[Batch]:
    """Split rows by subject (and into chunks of at most ``max_batch`` readings) as JSON bodies."""
    codes = pl.Series(system.codes, dtype=pl.String)
    subj = system.p_subject[readings.point]
    order = np.argsort(subj, kind="stable")
    subj_sorted = subj[order]
    ev_subj = (
        np.asarray(system.p_subject[np.asarray(events.point, dtype=np.int64)])
        if events.point
        else np.zeros(0, np.int64)
    )
    subjects = np.union1d(np.unique(subj_sorted), np.unique(ev_subj))
    for j in subjects.tolist():
        lo, hi = np.searchsorted(subj_sorted, [j, j + 1])
        idx = order[lo:hi]
        ev_idx = np.flatnonzero(ev_subj == j)
        b = system.bins[j]
        n_chunks = max(1, -(-len(idx) // max_batch))
        for c in range(n_chunks):
            part = readings.take(idx[c * max_batch : (c + 1) * max_batch])
            df = readings_frame(part, codes, "csv")
            ev_rows = [
                {"point": system.codes[events.point[k]], "ts": iso(events.ts[k]),
                 "code": events.code[k], "text": events.text[k]}
                for k in (ev_idx.tolist() if c == 0 else [])
            ]  # fmt: skip
            head = json.dumps({"subject_bin": b}, ensure_ascii=False)[:-1]
            body = (
                head + ',"readings":' + (df.write_json() if len(df) else "[]")
                + ',"events":' + json.dumps(ev_rows, ensure_ascii=False) + "}"
            )  # fmt: skip
            yield Batch(b, f"{key}:{b}:{c}", body.encode(), len(df), len(ev_rows))


class Poster:
    """Posts batches with their subject's token, concurrently, retrying with the same key."""

    def __init__(
        self, http: httpx.AsyncClient, gateway: str, *, concurrency: int = 4, max_wait: float = 600
    ) -> None:
        self.http = http
        self.gateway = gateway.rstrip("/")
        self.sem = asyncio.Semaphore(concurrency)
        self.max_wait = max_wait
        self.clients: dict[str, EgsuClient] = {}
        self.stats = PostStats()

    def client(self, b: str) -> EgsuClient:
        if b not in self.clients:
            self.clients[b] = api(self.http, self.gateway, f"subject-{b}", max_wait=self.max_wait)
        return self.clients[b]

    async def post(self, batch: Batch) -> dict[str, Any] | None:
        st = self.stats
        try:
            async with self.sem:
                receipt = await self.client(batch.subject_bin).post_readings_json(
                    batch.body, idempotency_key=batch.key
                )
        except Unreachable as exc:
            raise IngestUnavailable(str(exc)) from exc
        except ApiError as exc:
            st.batches += 1
            st.readings += batch.readings
            if exc.status == 404 and exc.code == "unknown_area":
                raise IngestUnavailable("the System has no ingest API (/api/v1/ingest)") from exc
            if exc.status in RETRY_STATUSES:
                raise IngestUnavailable(
                    f"ingest kept answering {exc.status} for {self.max_wait:.0f} s"
                ) from exc
            if isinstance(exc, Conflict):
                st.conflicts += 1
            else:
                st.failed += 1
            st.note(f"{batch.key}: {exc.status} {exc.code} {exc.detail[:200]}")
            return None
        st.batches += 1
        st.readings += batch.readings
        st.accepted += receipt.accepted
        st.rejected += receipt.rejected_count
        for x in receipt.rejected[:3]:
            st.note(f"{batch.subject_bin}: rejected {x.model_dump()}")
        return receipt.model_dump(mode="json")

    async def post_all(
        self, items: list[Batch], on_done: Callable[[Batch], None] | None = None
    ) -> None:
        async def one(b: Batch) -> None:
            await self.post(b)
            if on_done:
                on_done(b)

        await asyncio.gather(*(one(b) for b in items))


def window(sim: Simulation, after: int, upto: int) -> tuple[Readings, Events]:
    """Rows whose interval ends in (after, upto] and events stamped in (after, upto]."""
    parts: list[Readings] = []
    ev = Events()
    d = datetime.fromtimestamp(after + 1 + TZ_OFFSET, UTC).date()
    last = datetime.fromtimestamp(upto + TZ_OFFSET - 1, UTC).date()
    while d <= last:
        day = sim.day(d)
        r = day.readings
        m = np.flatnonzero((r.t_nom > after) & (r.t_nom <= upto))
        parts.append(r.take(m))
        for k in range(len(day.events.ts)):
            if after < day.events.ts[k] <= upto:
                ev.add(
                    day.events.point[k], day.events.ts[k], day.events.code[k], day.events.text[k]
                )
        d += timedelta(days=1)
    return Readings.concat(parts), ev


async def backfill(
    sim: Simulation,
    poster: Poster,
    *,
    start: date,
    upto: int,
    key: str,
    max_batch: int = MAX_BATCH,
    progress: Callable[[int, int], None] | None = None,
    after: int | None = None,
    on_day: Callable[[int], None] | None = None,
) -> None:
    """Post every day from ``start`` up to the interval ending at ``upto`` (epoch seconds); with
    ``after``, only intervals ending after it (resuming an earlier backfill); ``on_day`` is told
    up to when everything is posted after each day.
    The next day is generated in a thread while the current one is being posted."""
    system = sim.sys
    d = start
    loop = asyncio.get_running_loop()

    def gen(day: date) -> tuple[date, list[Batch]]:
        t0 = local_midnight(day)
        end = min(upto, t0 + 86400)
        r, e = window(sim, max(t0, after or t0), end)
        # a whole day always has the same key; a part of a day names where it ends
        where = day.isoformat() + (
            "" if end == t0 + 86400 and not after else f"@{after or t0}-{end}"
        )
        return day, list(batches(system, r, e, key=f"{key}:{where}", max_batch=max_batch))

    last_day = datetime.fromtimestamp(upto + TZ_OFFSET - 1, UTC).date()
    pending = loop.run_in_executor(None, gen, d) if d <= last_day else None
    while pending is not None:
        day, items = await pending
        nxt = day + timedelta(days=1)
        after = None if after is None or after < local_midnight(nxt) else after
        pending = loop.run_in_executor(None, gen, nxt) if nxt <= last_day else None
        await poster.post_all(items, (lambda b: progress(b.readings, 1)) if progress else None)
        if on_day is not None:
            on_day(min(upto, local_midnight(nxt)))


def weather_batch(sim: Simulation, after: int, upto: int) -> dict[str, Any]:
    """Observed hourly temperature per region in (after, upto], and the forecasts issued in it
    (06:00 local each day, hourly for the next two local days): the items of the forecast
    service's weather API (``weather_feed`` posts them in the demo)."""
    from egsu.simulator import geo

    n = len(geo.KATOS)
    hours = np.arange((after // 3600 + 1) * 3600, upto + 1, 3600, dtype=np.int64)
    region = np.repeat(np.arange(n), len(hours))
    t = np.tile(hours, n)
    temp = np.round(sim.weather.temperature(region, t), 2)
    observations = [
        {"region_kato": geo.KATOS[r], "ts": iso(int(x)), "temperature_c": float(v)}
        for r, x, v in zip(region.tolist(), t.tolist(), temp.tolist(), strict=True)
    ]
    forecasts = []
    for issued in hours[(hours + TZ_OFFSET) % 86400 == 6 * 3600].tolist():
        target = issued + 18 * 3600 + 3600 * np.arange(48, dtype=np.int64)
        for r in range(n):
            values = np.round(sim.weather.forecast(np.full(48, r), np.full(48, issued), target), 2)
            forecasts += [
                {"region_kato": geo.KATOS[r], "issued_at": iso(issued), "ts": iso(int(x)),
                 "temperature_c": float(v)}
                for x, v in zip(target.tolist(), values.tolist(), strict=True)
            ]  # fmt: skip
    return {"observations": observations, "forecasts": forecasts}


class SimClock:
    """Simulated time: runs ``speed`` times faster than real time from ``start``, but never ahead
    of the real clock unless ``future`` is set (then it keeps accelerating)."""

    def __init__(self, start: float, speed: float = 1.0, *, future: bool = False) -> None:
        self.start = start
        self.speed = speed
        self.future = future
        self.t0 = time.monotonic()

    def now(self) -> float:
        t = self.start + (time.monotonic() - self.t0) * self.speed
        return t if self.future else min(t, time.time())


async def live(
    sim: Simulation,
    poster: Poster,
    clock: SimClock,
    *,
    key: str,
    stop: asyncio.Event,
    after: int | None = None,
    on_tick: Callable[[int, int], None] | None = None,
    tick: int = 300,
    retry_pause: float = 10.0,
) -> None:
    """Post each subject's new intervals as the simulated clock passes their end (every 5 minutes
    of simulated time). If ingest is unavailable the tick waits and retries with the same key;
    the following ticks then catch up together."""
    last = int(after if after is not None else clock.now() // tick * tick)
    while not stop.is_set():
        boundary = int(clock.now() // tick * tick)
        if boundary > last:
            r, e = await asyncio.to_thread(window, sim, last, boundary)
            items = list(batches(sim.sys, r, e, key=f"{key}:live:{last}-{boundary}"))
            try:
                await poster.post_all(items)
            except IngestUnavailable as exc:
                log.warning("live: %s; will try again", exc)
                await _sleep(stop, retry_pause)
                continue
            if on_tick:
                on_tick(boundary, len(r))
            last = boundary
        next_at = (last + tick - clock.now()) / max(clock.speed, 1e-9)
        await _sleep(stop, min(max(next_at, 0.2), 5.0))


def stop_on_signals(stop: asyncio.Event, grace: float = 3.0) -> None:
    """SIGINT/SIGTERM set ``stop``; whatever is still waiting (a retry, a slow post) is cancelled
    ``grace`` seconds later, so Ctrl-C never waits for a retry loop to give up."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()

    def on_signal() -> None:
        stop.set()
        if task is not None:
            loop.call_later(grace, task.cancel)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    """Sleep, but wake up at once when ``stop`` is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
