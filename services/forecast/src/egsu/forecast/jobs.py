"""Jobs off the request path: training and scoring on the FORECAST_JOBS work queue.

A job is a row (its status is what the API shows) and a message on ``egsu.forecast.jobs.<kind>``
written in the same transaction (the outbox). The queue is a JetStream work queue with one durable
consumer that every forecast process pulls from, so several workers share the load; a worker that
dies leaves its message to be redelivered. Jobs are queued by a person (ministry, operator), by the
schedule (nightly retraining, the day-ahead issue) and by new data: ``egsu.readings.stored`` marks
the groups it touches, and an updater queues each marked group's update at most every
``forecast_update_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select, text

from egsu.bus import Bus, Delivery
from egsu.bus.bus import backoff
from egsu.contracts.readings import ReadingsStored
from egsu.contracts.streams import FORECAST_JOBS, READINGS_STORED, REGISTRY_CHANGED
from egsu.core.errors import ServiceUnavailable
from egsu.core.time import KZ, utcnow
from egsu.db import Database
from egsu.forecast import models as m
from egsu.forecast import repository as repo
from egsu.forecast.config import ForecastSettings
from egsu.forecast.service import Forecasting
from egsu.runtime.outbox import OutboxRelay, enqueue

log = logging.getLogger("egsu.forecast.jobs")
KINDS = ("train", "score")


class Busy(Exception):
    """Another worker trains the same group right now."""


class Jobs:
    def __init__(
        self,
        settings: ForecastSettings,
        db: Database,
        relay: OutboxRelay,
        forecasting: Forecasting,
    ) -> None:
        self.settings = settings
        self.db = db
        self.relay = relay
        self.forecasting = forecasting
        self._point_groups: tuple[float, set[str]] = (0.0, set())

    # ---------------------------------------------------------------- queueing

    async def enqueue(
        self,
        kind: str,
        group: str,
        quantity: str,
        horizons: Sequence[str] | None = None,
        *,
        origin: str,
        requested_by: str | None = None,
    ) -> list[dict[str, Any]]:
        """Queue a job (a score job: one per shard of the group's series); the queued rows."""
        horizons = list(horizons or self.settings.forecast_horizons)
        shards = 1
        if kind == "score" and group != "national":
            n = len(await self.forecasting.refs(group, quantity))
            shards = max(1, math.ceil(n / self.settings.forecast_score_shard))
        rows = [
            repo.new_job(
                kind,
                group,
                quantity,
                horizons,
                origin=origin,
                requested_by=requested_by,
                shard=k,
                shards=shards,
            )
            for k in range(shards)
        ]
        async with self.db.transaction() as session:
            for row in rows:
                await repo.add_job(session, row)
                await enqueue(
                    session,
                    m.outbox,
                    f"{FORECAST_JOBS}.{kind}",
                    orjson.dumps({"job_id": row["id"]}),
                    f"forecast-job-{row['id']}",
                )
        self.relay.poke()
        return rows

    # ---------------------------------------------------------------- running

    async def run(self, job_id: str) -> None:
        async with self.db.transaction() as session:
            job = await repo.job(session, job_id)
            if job is None or job["status"] in ("done", "failed"):
                return
            job = await repo.start_job(session, job_id, self.forecasting.worker, utcnow())
        if job is None:
            return
        try:
            if job["kind"] == "train":
                result = await self._train(job)
            else:
                result = await self.forecasting.score(job)
        except Busy:
            async with self.db.transaction() as session:
                await repo.finish_job(
                    session,
                    job_id,
                    "queued",
                    utcnow(),
                    error="waiting for a training of the same group",
                )
            raise
        except ServiceUnavailable as exc:
            await self._failed(job, f"{exc.code}: {exc.detail}", retry=True)
            raise
        except Exception as exc:
            await self._failed(job, f"{type(exc).__name__}: {exc}", retry=True)
            raise
        async with self.db.transaction() as session:
            await repo.finish_job(session, job_id, "done", utcnow(), result=result)

    async def _failed(self, job: dict[str, Any], error: str, *, retry: bool) -> None:
        final = not retry or job["attempts"] >= self.settings.forecast_job_attempts
        async with self.db.transaction() as session:
            await repo.finish_job(
                session, job["id"], "failed" if final else "queued", utcnow(), error=error[:2000]
            )
        if final:
            raise _Final(error)

    async def _train(self, job: dict[str, Any]) -> dict[str, Any]:
        key = f"forecast-train:{job['group_key']}:{job['quantity']}"
        async with self.db.engine.connect() as conn:
            got = await conn.scalar(text("SELECT pg_try_advisory_lock(hashtext(:k))"), {"k": key})
            await conn.commit()
            if not got:
                raise Busy(key)
            try:
                result = await self.forecasting.train(job)
            finally:
                await conn.execute(text("SELECT pg_advisory_unlock(hashtext(:k))"), {"k": key})
                await conn.commit()
        trained = [h for h, r in result.get("horizons", {}).items() if r.get("status") == "trained"]
        if not trained:
            return result
        if (
            job["group_key"] == "national"
            or result.get("series", 0) <= self.settings.forecast_score_shard
        ):
            scoring = {**job, "horizons": trained, "shard": 0}
            result["scoring"] = await self.forecasting.score(scoring)
        else:
            queued = await self.enqueue(
                "score", job["group_key"], job["quantity"], trained, origin="train"
            )
            result["scoring_jobs"] = [q["id"] for q in queued]
        return result

    def handler(self) -> Callable[[list[Delivery]], Awaitable[None]]:
        async def handle(batch: list[Delivery]) -> None:
            for d in batch:
                try:
                    job_id = str(orjson.loads(d.data)["job_id"])
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    await d.term()
                    continue
                try:
                    await self.run(job_id)
                except Busy:
                    await d.nak(5.0)
                    continue
                except _Final as exc:
                    log.error("forecast job %s failed: %s", job_id, exc)
                    await d.term()
                    continue
                except Exception:
                    log.exception("forecast job %s failed; it will be tried again", job_id)
                    await d.nak(backoff(d.num_delivered))
                    continue
                await d.ack()

        return handle

    # ---------------------------------------------------------------- new data

    async def point_groups(self) -> set[str]:
        """Point groups that hold series (kept for a minute)."""
        at, groups = self._point_groups
        loop = asyncio.get_running_loop()
        if loop.time() - at < 60:
            return groups
        async with self.db.transaction() as session:
            rows = await session.execute(
                select(m.series.c.group_key).where(m.series.c.level == "point").distinct()
            )
            groups = {r.group_key for r in rows}
        self._point_groups = (loop.time(), groups)
        return groups

    def groups(self) -> list[str]:
        levels = self.settings.auto_levels
        return [g for g in ("national", "facility", "subject") if g in levels]

    def stored_handler(self) -> Callable[[list[Delivery]], Awaitable[None]]:
        async def handle(batch: list[Delivery]) -> None:
            marks: set[tuple[str, str]] = set()
            now = utcnow()
            horizon = now - timedelta(days=self.settings.forecast_score_days)
            points = await self.point_groups()
            for d in batch:
                try:
                    event = ReadingsStored.model_validate_json(d.data)
                except ValueError:
                    continue
                if (
                    event.ts_to is None
                    or event.ts_to < horizon
                    or event.inserted + event.superseded == 0
                ):
                    continue
                for q in set(event.quantities) & set(self.settings.forecast_quantities):
                    marks |= {(g, q) for g in self.groups()}
                    marks |= {(g, q) for g in points}
            if marks:
                async with self.db.transaction() as session:
                    await repo.mark_data(session, sorted(marks), now)
            for d in batch:
                await d.ack()

        return handle

    def registry_handler(self) -> Callable[[list[Delivery]], Awaitable[None]]:
        async def handle(batch: list[Delivery]) -> None:
            self.forecasting.registry.invalidate()
            for d in batch:
                await d.ack()

        return handle

    async def update_round(self) -> list[dict[str, Any]]:
        """Queue the updates of the groups that new data touched (debounced)."""
        now = utcnow()
        async with self.db.transaction() as session:
            claimed = await repo.claim_updates(session, now, self.settings.update_seconds)
        queued: list[dict[str, Any]] = []
        for group, quantity in claimed:
            async with self.db.transaction() as session:
                models = await repo.current_models(session, group, quantity)
                training = await repo.pending_job(session, "train", group, quantity)
            if training:
                continue
            if self._needs_training(models, now) and not await self._tried_lately(
                group, quantity, now
            ):
                queued += await self.enqueue("train", group, quantity, origin="data")
                continue
            if not models:
                continue  # too little data at the last try; the next one comes later
            horizons = ["intraday"] + [
                h
                for h in ("day_ahead", "week_ahead")
                if await self._issue_due(group, quantity, h, now)
            ]
            horizons = [h for h in horizons if h in self.settings.forecast_horizons]
            if horizons:
                queued += await self.enqueue("score", group, quantity, horizons, origin="data")
        return queued

    def _needs_training(self, models: dict[str, dict[str, Any]], now: datetime) -> bool:
        """No model yet, or a young one (trained on less than four weeks, over six hours ago)."""
        if "day_ahead" not in models:
            return True
        model = models["day_ahead"]
        span = (
            (model["data_to"] - model["data_from"])
            if model["data_from"] and model["data_to"]
            else None
        )
        young = span is not None and span < timedelta(days=28)
        return young and now - model["created_at"] > timedelta(hours=6)

    async def _tried_lately(self, group: str, quantity: str, now: datetime) -> bool:
        async with self.db.transaction() as session:
            last = await session.scalar(
                text(
                    "SELECT max(coalesce(finished_at, created_at)) FROM forecast.job "
                    "WHERE kind = 'train' AND group_key = :g AND quantity = :q"
                ),
                {"g": group, "q": quantity},
            )
        return last is not None and now - last < timedelta(
            seconds=self.settings.retry_training_seconds
        )

    async def _issue_due(self, group: str, quantity: str, horizon: str, now: datetime) -> bool:
        """Whether the day-ahead (or week-ahead) forecast of the group is due: not yet issued
        since today's issue time (once that time has come), or never issued."""
        local = now.astimezone(KZ)
        issue = self.forecasting.issue_time
        moment = local.replace(hour=issue.hour, minute=issue.minute, second=0, microsecond=0)
        async with self.db.transaction() as session:
            last = await session.scalar(
                text(
                    "SELECT max(finished_at) FROM forecast.job WHERE kind IN ('score', 'train') "
                    "AND group_key = :g AND quantity = :q AND status = 'done' "
                    "AND jsonb_exists(horizons, :h)"
                ),
                {"g": group, "q": quantity, "h": horizon},
            )
        if last is None:
            return True
        return bool(local >= moment and last < moment)

    async def updater(self, stop: asyncio.Event) -> None:
        period = max(0.5, min(self.settings.update_seconds / 2, 30.0))
        while not stop.is_set():
            try:
                await self.update_round()
            except Exception:  # the next round tries again
                log.exception("forecast update round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=period)

    # ---------------------------------------------------------------- schedule

    async def schedule_round(self, now: datetime) -> list[dict[str, Any]]:
        """Nightly retraining of every group, and the day-ahead issue; each once per day."""
        local = now.astimezone(KZ)
        today = local.date().isoformat()
        queued: list[dict[str, Any]] = []
        groups = self.groups() + sorted(await self.point_groups())
        hh, mm = (int(x) for x in self.settings.forecast_retrain_at.split(":"))
        if (local.hour, local.minute) >= (hh, mm):
            async with self.db.transaction() as session:
                claimed = await repo.claim_run(session, "retrain", today)
                if claimed:
                    keep = now - timedelta(days=self.settings.forecast_keep_intraday_days)
                    pruned = await repo.prune_runs(session, "intraday", keep)
                    log.info("nightly run: %d old intraday forecasts removed", pruned)
            if claimed:
                for g in groups:
                    for q in self.settings.forecast_quantities:
                        queued += await self.enqueue("train", g, q, origin="schedule")
        issue = self.forecasting.issue_time
        if (local.hour, local.minute) >= (issue.hour, issue.minute):
            async with self.db.transaction() as session:
                claimed = await repo.claim_run(session, "issue", today)
            if claimed:
                horizons = [
                    h for h in ("day_ahead", "week_ahead") if h in self.settings.forecast_horizons
                ]
                for g in groups:
                    for q in self.settings.forecast_quantities:
                        queued += await self.enqueue("score", g, q, horizons, origin="schedule")
        return queued

    async def scheduler(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.schedule_round(utcnow())
            except Exception:
                log.exception("forecast schedule round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    stop.wait(), timeout=self.settings.forecast_schedule_check_seconds
                )


class _Final(Exception):
    """A job failed for the last time."""


def declare_consumers(bus: Bus, settings: ForecastSettings, jobs: Jobs) -> None:
    if settings.forecast_worker:
        bus.consumer(
            stream="FORECAST_JOBS",
            durable="forecast-jobs",
            filter_subject=f"{FORECAST_JOBS}.>",
            handler=jobs.handler(),
            batch=1,
            ack_wait=60,
            max_ack_pending=64,
        )
    bus.consumer(
        stream="READINGS",
        durable="forecast-readings",
        filter_subject=f"{READINGS_STORED}.>",
        handler=jobs.stored_handler(),
        batch=64,
        ack_wait=30,
    )
    bus.consumer(
        stream="REGISTRY",
        durable="forecast-registry",
        filter_subject=f"{REGISTRY_CHANGED}.>",
        handler=jobs.registry_handler(),
        batch=256,
        ack_wait=30,
    )
