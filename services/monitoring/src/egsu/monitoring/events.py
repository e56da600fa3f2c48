"""Monitoring's consumers: ingest batches, registry changes and notices, ingest compliance notices,
and the background loops (sweep, registry refresh, checkpoints)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

from egsu.bus import Bus, Delivery
from egsu.contracts.readings import IngestBatch
from egsu.monitoring.service import Monitor

log = logging.getLogger("egsu.monitoring.events")


def batch_handler(monitor: Monitor) -> Any:
    async def handle(batch: list[Delivery]) -> None:
        await monitor.directory_ready.wait()
        for d in batch:
            try:
                raw = IngestBatch.decode_raw(d.data)
            except Exception:  # not a batch at all: it can never be handled
                log.exception("undecodable batch on %s; dropped", d.subject)
                await d.term()
                continue
            await monitor.handle_batch(raw, d.msg_id or raw["receipt_id"])
            await d.ack()

    return handle


def registry_handler(monitor: Monitor) -> Any:
    async def handle(batch: list[Delivery]) -> None:
        reload: set[str | None] = set()
        devices: set[str] = set()
        for d in batch:
            try:
                body = orjson.loads(d.data)
            except orjson.JSONDecodeError:
                await d.term()
                continue
            if d.subject.endswith(".verification_due"):
                await monitor.verification_due(body)
            elif d.subject.startswith("egsu.registry.changed."):
                if body.get("entity") in (
                    "metering_point",
                    "facility",
                    "system",
                    "device",
                    "subject",
                ):
                    reload.add(body.get("subject_bin"))
                if body.get("entity") == "device":
                    devices.add(str(body.get("id")))
            await d.ack()
        if reload:
            for bin_ in reload:
                if monitor.directory.registry is not None:
                    await monitor.directory.load(bin_)
                await monitor.sync_points(bin_)
            for d_id in devices:
                await monitor.device_changed(d_id)

    return handle


def compliance_handler(monitor: Monitor) -> Any:
    async def handle(batch: list[Delivery]) -> None:
        for d in batch:
            try:
                body = orjson.loads(d.data)
            except orjson.JSONDecodeError:
                await d.term()
                continue
            if "subject_bin" in body and "overdue" in body:
                await monitor.subject_overdue(body)
            await d.ack()

    return handle


async def sweep_loop(monitor: Monitor, bus: Bus, interval: float) -> None:
    rounds = 0
    await monitor.directory_ready.wait()
    while True:
        await asyncio.sleep(interval)
        try:
            info = await bus.js.consumer_info("INGEST", "monitoring")
            monitor.behind = (info.num_pending or 0) > 0
        except Exception as exc:  # without the figure, judge as if caught up
            log.debug("consumer info: %s", exc)
            monitor.behind = False
        try:
            await monitor.sweep()
            rounds += 1
            if rounds % 30 == 0:
                await monitor.save_checkpoint()
            if rounds % 300 == 0:
                await monitor.housekeeping()
        except Exception:  # the next round tries again
            log.exception("sweep failed")


async def first_load(monitor: Monitor) -> None:
    """The registry's index at start, retried until the registry answers."""
    delay = 0.5
    while True:
        try:
            await monitor.directory.load()
            await monitor.sync_points()
            monitor.directory_ready.set()
            return
        except Exception as exc:  # the registry may start after us
            log.warning("registry not reachable yet (%s); retrying", exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)


async def flush_loop(monitor: Monitor, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await monitor.flush()
        except Exception:  # the rows stay dirty for the next round
            log.exception("live state flush failed")


async def refresh_loop(monitor: Monitor, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await monitor.directory.load()
            await monitor.sync_points()
        except Exception:  # keep the old directory until the registry answers
            log.exception("registry refresh failed")
