"""The forecast service's work: which series a group holds, panels from the historian and the
weather, training and scoring (run by the jobs), reading the issued forecasts, and scenarios.

Groups are the units of training: ``national`` (every region and the country, reconciled so that
the regions add up to the nation), ``facility``, ``subject`` and ``point:<step>`` (metering points
of one step). One global model per group, quantity and horizon; scoring is split into shards of
series so that several workers share a large group.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as clock
from typing import Any

import numpy as np
import pandas as pd

from egsu.contracts.regions import REGIONS_BY_KATO
from egsu.contracts.vocabulary import resolve_quantity
from egsu.core.errors import FieldError, NotFound, Unprocessable
from egsu.core.time import KZ, utcnow
from egsu.db import Database
from egsu.forecast import pipeline, weather
from egsu.forecast import repository as repo
from egsu.forecast.config import ForecastSettings
from egsu.forecast.errors import ForecastInputError
from egsu.forecast.pipeline import Forecast, TrainConfig, Trained
from egsu.forecast.series import Panel
from egsu.forecast.sources import COUNTRY, Directory, Historian, Registry, step_of_interval
from egsu.storage import ObjectStore

log = logging.getLogger("egsu.forecast.service")

GROUPS = ("national", "facility", "subject", "point")
LOCAL_OFFSET = 5 * 3600
HOUR = 3600
DAY_S = 86400


def floor_local(dt: datetime, step_s: int) -> datetime:
    """``dt`` floored to the step on Kazakhstan's clock (days start at local midnight)."""
    t = int(dt.timestamp()) + LOCAL_OFFSET
    return datetime.fromtimestamp(t // step_s * step_s - LOCAL_OFFSET, UTC)


def group_of(level: str, step_s: int = HOUR) -> str:
    if level in ("region", "country"):
        return "national"
    if level == "point":
        return f"point:{step_s}"
    return level


@dataclass(frozen=True, slots=True)
class SeriesRef:
    level: str
    key: str
    quantity: str
    step_s: int = HOUR
    region_kato: str | None = None
    subject_bin: str | None = None

    @property
    def id(self) -> str:
        return f"{self.level}:{self.key}"

    @property
    def group(self) -> str:
        return group_of(self.level, self.step_s)

    def row(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "key": self.key,
            "quantity": self.quantity,
            "group_key": self.group,
            "subject_bin": self.subject_bin,
            "region_kato": self.region_kato,
            "step_s": self.step_s,
        }


def commodity_of(quantity: str) -> str:
    q = resolve_quantity(quantity)
    return q.commodity if q else "electricity"


def refs_of_group(
    group: str, quantity: str, directory: Directory, requested: Sequence[dict[str, Any]] = ()
) -> list[SeriesRef]:
    """The series a group holds: from the registry's points that measure the quantity."""
    points = directory.measuring(quantity)
    if group == "national":
        regions = sorted({p.region_kato for p in points})
        return [SeriesRef("country", COUNTRY, quantity)] + [
            SeriesRef("region", k, quantity, region_kato=k) for k in regions
        ]
    if group == "facility":
        fids = sorted({p.facility_id for p in points})
        return [
            SeriesRef(
                "facility",
                f,
                quantity,
                region_kato=directory.facility_region(f),
                subject_bin=directory.facility_subject(f),
            )
            for f in fids
        ]
    if group == "subject":
        bins = sorted({p.subject_bin for p in points})
        return [
            SeriesRef(
                "subject", b, quantity, region_kato=directory.subject_region(b), subject_bin=b
            )
            for b in bins
        ]
    if group.startswith("point:"):
        step = int(group.split(":", 1)[1])
        codes = {r["key"] for r in requested}
        out = []
        for p in sorted(points, key=lambda p: p.code):
            if step_of_interval(p.interval_min) != step or (codes and p.code not in codes):
                continue
            out.append(SeriesRef("point", p.code, quantity, step, p.region_kato, p.subject_bin))
        return out
    raise ValueError(f"unknown group {group!r}")


def sample(refs: Sequence[SeriesRef], size: int) -> list[SeriesRef]:
    """At most ``size`` series, the same ones from run to run (by a hash of their id)."""
    if len(refs) <= size:
        return list(refs)
    keep = sorted(refs, key=lambda r: hashlib.sha256(r.id.encode()).hexdigest())[:size]
    return sorted(keep, key=lambda r: r.id)


def horizon_end(horizon: str, known_end: datetime) -> datetime:
    """Where a scoring run's window for the horizon ends."""
    if horizon == "intraday":
        return known_end + timedelta(days=1)
    if horizon == "week_ahead":
        return known_end + timedelta(days=7)
    # day-ahead: the whole next local day
    return floor_local(known_end, DAY_S) + timedelta(days=2)


class Forecasting:
    """Training, scoring and reading forecasts (one object per process)."""

    def __init__(
        self,
        settings: ForecastSettings,
        db: Database,
        store: ObjectStore,
        historian: Historian,
        registry: Registry,
    ) -> None:
        self.settings = settings
        self.db = db
        self.store = store
        self.historian = historian
        self.registry = registry
        self._models: dict[int, Trained] = {}
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        hh, mm = settings.forecast_day_ahead_issue.split(":")
        self.issue_time = clock(int(hh), int(mm))

    # ---------------------------------------------------------------- configuration

    def config(self, n_series: int) -> TrainConfig:
        s = self.settings
        names = tuple(m for m in s.forecast_models if m != "mstl" or n_series <= s.mstl_max_series)
        return TrainConfig(
            models=names,
            rounds=s.lgbm_rounds,
            origins=s.backtest_origins,
            warmup=s.backtest_warmup,
            refit_every=s.refit_every,
            min_history_days=s.forecast_min_history_days,
            country=None if s.holiday_country.lower() == "none" else s.holiday_country,
            subdiv=s.holiday_subdiv,
        )

    async def refs(self, group: str, quantity: str) -> list[SeriesRef]:
        directory = await self.registry.directory()
        requested: list[dict[str, Any]] = []
        if group.startswith("point:") and "point" not in self.settings.auto_levels:
            async with self.db.transaction() as session:
                requested = await repo.requested_points(session, quantity)
            if not requested:
                return []
        return refs_of_group(group, quantity, directory, requested)

    # ---------------------------------------------------------------- panels

    async def panel(
        self,
        refs: Sequence[SeriesRef],
        start: datetime,
        end: datetime,
        known_end: datetime,
        now: datetime,
    ) -> tuple[Panel, int, np.ndarray]:
        """History of ``refs`` on the grid ``[start, end)`` (readings up to ``known_end``), with
        the weather of each series' region; the number of known steps; each step's weather origin.
        """
        step_s = refs[0].step_s
        step = pd.Timedelta(seconds=step_s)
        index = pd.date_range(start.astimezone(KZ), end.astimezone(KZ), freq=step, inclusive="left")
        index = pd.DatetimeIndex(index.as_unit("ns"), freq=step)
        known = int(np.searchsorted(index.asi8, pd.Timestamp(known_end).as_unit("ns").value))
        histories = await asyncio.gather(
            *(
                self.historian.series(r.level, r.key, r.quantity, start, known_end, step_s)
                for r in refs
            )
        )
        load = np.full((len(refs), len(index)), np.nan)
        base = int(index[0].timestamp())
        for i, values in enumerate(histories):
            for ts, v in values.items():
                pos = (ts - base) // step_s
                if 0 <= pos < known:
                    load[i, pos] = v
        regions = sorted({r.region_kato for r in refs if r.region_kato})
        async with self.db.transaction() as session:
            frames = await weather.read(
                session,
                regions,
                start - timedelta(hours=3),
                end + timedelta(hours=3),
                now,
            )
        on_grid = {k: weather.on_grid(frames.get(k), index, step, known) for k in regions}
        names = list(weather.EXOG.values())
        exog = {name: np.full(load.shape, np.nan) for name in names}
        origin = np.full(load.shape, -1, dtype=np.int8)
        region_rows = {r.region_kato: i for i, r in enumerate(refs) if r.level == "region"}
        for i, r in enumerate(refs):
            if r.level == "country":
                continue
            if r.region_kato in on_grid:
                values, o = on_grid[r.region_kato]
                for name in names:
                    exog[name][i] = values[name]
                origin[i] = o
        for i, r in enumerate(refs):
            if r.level != "country" or not on_grid:
                continue
            # The nation's weather: the regions' weighted by their mean load.
            weights, stacks, origins = [], {n: [] for n in names}, []
            for kato, (values, o) in on_grid.items():
                row = region_rows.get(kato)
                w = np.nanmean(load[row, :known]) if row is not None and known else np.nan
                weights.append(w if np.isfinite(w) and w > 0 else 1.0)
                for n in names:
                    stacks[n].append(values[n])
                origins.append(o)
            wts = np.asarray(weights)[:, None]
            for n in names:
                arr = np.vstack(stacks[n])
                ok = np.isfinite(arr)
                total = np.where(ok, wts, 0).sum(axis=0)
                with np.errstate(invalid="ignore", divide="ignore"):
                    exog[n][i] = np.where(
                        total > 0, np.where(ok, arr * wts, 0).sum(axis=0) / total, np.nan
                    )
            origin[i] = np.min(np.vstack(origins), axis=0)
        ids = [r.id for r in refs]
        return Panel(index=index, load=load, exog=exog, ids=ids), known, origin

    @staticmethod
    def restrict(panel: Panel, stop: int, exog: Sequence[str]) -> Panel:
        """The panel up to step ``stop`` with exactly the exogenous columns ``exog``."""
        columns = {
            name: (
                panel.exog[name][:, :stop]
                if name in panel.exog
                else np.full((panel.n_series, stop), np.nan)
            )
            for name in exog
        }
        return Panel(
            index=panel.index[:stop], load=panel.load[:, :stop], exog=columns, ids=panel.ids
        )

    # ---------------------------------------------------------------- training

    async def train(self, job: dict[str, Any]) -> dict[str, Any]:
        """Back-test and fit every horizon of the group; store the versions and their scores."""
        group, quantity = job["group_key"], job["quantity"]
        refs = await self.refs(group, quantity)
        if not refs:
            return {"series": 0, "note": "no series: no metering point measures the quantity"}
        now = utcnow()
        step_s = refs[0].step_s
        known_end = floor_local(now, step_s)
        start = floor_local(known_end - timedelta(days=self.settings.forecast_train_days), DAY_S)
        chosen = sample(refs, self.settings.forecast_train_sample)
        full, _, _ = await self.panel(chosen, start, known_end, known_end, now)
        has_data = np.isfinite(full.load).any(axis=1)
        if not has_data.any():
            return {"series": len(refs), "trained_series": 0, "note": "no readings yet"}
        keep = np.flatnonzero(has_data)
        # The history starts on the local day of the first reading (a young group has weeks of
        # nothing before it).
        per_day = max(1, DAY_S // step_s)
        first = int(np.flatnonzero(np.isfinite(full.load).any(axis=0))[0]) // per_day * per_day
        columns = [name for name, values in full.exog.items() if np.isfinite(values[keep]).any()]
        panel = Panel(
            index=full.index[first:],
            load=full.load[keep, first:],
            exog={c: full.exog[c][keep, first:] for c in columns},
            ids=[full.ids[i] for i in keep],
        )
        parents = (
            {sid: f"country:{COUNTRY}" for sid in panel.ids if sid.startswith("region:")}
            if group == "national"
            else None
        )
        config = self.config(panel.n_series)
        out: dict[str, Any] = {
            "series": len(refs),
            "trained_series": panel.n_series,
            "horizons": {},
        }
        for horizon in job["horizons"]:
            try:
                trained = await asyncio.to_thread(
                    pipeline.train,
                    panel,
                    horizon,
                    config,
                    parents=parents,
                    issue_time=self.issue_time,
                )
            except ForecastInputError as exc:
                out["horizons"][horizon] = {"status": "not_enough_history", "detail": str(exc)}
                continue
            model_id, version = await self._save(job, trained)
            out["horizons"][horizon] = {
                "status": "trained",
                "model_id": model_id,
                "version": version,
                "origins": trained.origins,
                "default_model": trained.default_model,
                "seconds": round(trained.seconds, 3),
                "reconciliation": (trained.reconciliation or {}).get("method"),
            }
        async with self.db.transaction() as session:
            await repo.upsert_series(session, [r.row() for r in refs])
        return out

    async def _save(self, job: dict[str, Any], trained: Trained) -> tuple[int, int]:
        group, quantity, horizon = job["group_key"], job["quantity"], trained.horizon
        data = trained.to_bytes()
        digest = hashlib.sha256(data).hexdigest()
        async with self.db.transaction() as session:
            version = await repo.next_version(session, group, quantity, horizon)
        key = f"forecast/{group}/{quantity}/{horizon}/v{version:05d}-{job['id'][:8]}.json.gz"
        await self.store.put(
            "models",
            key,
            data,
            content_type="application/gzip",
            metadata={"sha256": digest, "group": group, "quantity": quantity, "horizon": horizon},
        )
        counts: dict[str, int] = {}
        for sid in trained.ids:
            name = trained.selected.get(sid, trained.default_model)
            counts[name] = counts.get(name, 0) + 1
        async with self.db.transaction() as session:
            model_id = await repo.add_model(
                session,
                {
                    "group_key": group,
                    "quantity": quantity,
                    "horizon": horizon,
                    "version": version,
                    "object_key": key,
                    "sha256": digest,
                    "size": len(data),
                    "series_count": len(trained.ids),
                    "origins": trained.origins,
                    "step_s": int(trained.step.total_seconds()),
                    "default_model": trained.default_model,
                    "selected": counts,
                    "scores": trained.scores,
                    "reconciliation": {
                        k: v
                        for k, v in (trained.reconciliation or {}).items()
                        if k in ("method", "scores")
                    }
                    or None,
                    "data_from": datetime.fromisoformat(trained.data_from)
                    if trained.data_from
                    else None,
                    "data_to": datetime.fromisoformat(trained.data_to) if trained.data_to else None,
                    "train_seconds": trained.seconds,
                    "notes": trained.notes,
                    "job_id": job["id"],
                },
            )
            rows = []
            for sid, by_model in trained.per_series.items():
                level, key_ = sid.split(":", 1)
                chosen = trained.selected.get(sid, trained.default_model)
                for candidate, s in by_model.items():
                    rows.append(
                        {
                            "model_id": model_id,
                            "level": level,
                            "key": key_,
                            "candidate": candidate,
                            "selected": candidate == chosen,
                            **{
                                k: s.get(k)
                                for k in (
                                    "mape",
                                    "smape",
                                    "mase",
                                    "rmse",
                                    "pinball",
                                    "coverage_p10_p90",
                                )
                            },
                        }
                    )
            await repo.add_scores(session, rows)
        self._models[model_id] = trained
        return model_id, version

    async def model(self, row: dict[str, Any]) -> Trained:
        """A stored model version (kept in memory once read)."""
        cached = self._models.get(row["id"])
        if cached is not None:
            return cached
        data = await self.store.get("models", row["object_key"])
        trained = await asyncio.to_thread(Trained.from_bytes, data)
        if len(self._models) > 64:
            self._models.pop(next(iter(self._models)))
        self._models[row["id"]] = trained
        return trained

    # ---------------------------------------------------------------- scoring

    async def score(self, job: dict[str, Any]) -> dict[str, Any]:
        """Forecast the job's shard of the group for every horizon that has a model."""
        group, quantity = job["group_key"], job["quantity"]
        async with self.db.transaction() as session:
            rows = await repo.current_models(session, group, quantity)
        horizons = [h for h in job["horizons"] if h in rows]
        out: dict[str, Any] = {
            "horizons": {h: {"status": "no_model"} for h in job["horizons"] if h not in rows}
        }
        if not horizons:
            return out
        refs = await self.refs(group, quantity)
        size = self.settings.forecast_score_shard
        if group != "national":
            refs = refs[job["shard"] * size : (job["shard"] + 1) * size]
        if not refs:
            return {**out, "series": 0}
        models = {h: await self.model(rows[h]) for h in horizons}
        now = utcnow()
        step_s = refs[0].step_s
        known_end = floor_local(now, step_s)
        ends = {h: horizon_end(h, known_end) for h in horizons}
        start = floor_local(known_end - timedelta(days=self.settings.forecast_score_days), DAY_S)
        full, known, origin = await self.panel(refs, start, max(ends.values()), known_end, now)
        # Series with less than a day of readings in the last two weeks are not forecast.
        recent = full.load[:, max(0, known - 14 * DAY_S // step_s) : known]
        enough = np.isfinite(recent).sum(axis=1) >= DAY_S // step_s
        keep = np.flatnonzero(enough)
        if keep.size == 0:
            return {
                **out,
                "series": len(refs),
                "scored_series": 0,
                "note": "not enough recent readings",
            }
        full = Panel(
            index=full.index,
            load=full.load[keep],
            exog={k: v[keep] for k, v in full.exog.items()},
            ids=[full.ids[i] for i in keep],
        )
        origin = origin[keep]
        kept = [refs[i] for i in keep]
        parents = (
            {r.id: f"country:{COUNTRY}" for r in kept if r.level == "region"}
            if group == "national"
            else {}
        )
        async with self.db.transaction() as session:
            ids = await repo.upsert_series(session, [r.row() for r in kept])
        runs: list[dict[str, Any]] = []
        for h in horizons:
            trained = models[h]
            stop = int(np.searchsorted(full.index.asi8, pd.Timestamp(ends[h]).as_unit("ns").value))
            panel = self.restrict(full, stop, trained.exog)
            try:
                window = pipeline.scoring_window(panel, trained, known)
                forecast = await asyncio.to_thread(pipeline.predict, panel, trained, window)
            except ForecastInputError as exc:
                out["horizons"][h] = {"status": "failed", "detail": str(exc)}
                continue
            if parents:
                forecast = pipeline.reconcile(forecast, parents, trained)
            runs += self._runs(forecast, ids, h, rows[h]["id"], origin[:, window.targets], job, now)
            out["horizons"][h] = {
                "status": "scored",
                "from": forecast.index[0].isoformat(),
                "steps": len(forecast.index),
                "reconciliation": forecast.reconciliation,
            }
        async with self.db.transaction() as session:
            await repo.add_runs(session, runs)
            await repo.touch_series(session, list(ids.values()), now)
        out["series"] = len(refs)
        out["scored_series"] = len(kept)
        return out

    @staticmethod
    def _runs(
        forecast: Forecast,
        ids: dict[str, int],
        horizon: str,
        model_id: int,
        origin: np.ndarray,
        job: dict[str, Any],
        now: datetime,
    ) -> list[dict[str, Any]]:
        step_s = (
            int((forecast.index[1] - forecast.index[0]).total_seconds())
            if len(forecast.index) > 1
            else HOUR
        )
        out = []
        for i, sid in enumerate(forecast.ids):
            if sid not in ids:
                continue
            o = origin[i]
            source = (
                "none"
                if (o < 0).all()
                else "persistence"
                if (o == 0).any() or (o < 0).any()
                else "observed"
                if (o == 2).all()
                else "forecast"
            )
            out.append(
                {
                    "series_id": ids[sid],
                    "horizon": horizon,
                    "issued_at": now,
                    "cut_at": forecast.cut.to_pydatetime().astimezone(UTC),
                    "start_ts": forecast.index[0].to_pydatetime().astimezone(UTC),
                    "step_s": step_s,
                    "p10": [float(v) for v in forecast.p10[i]],
                    "p50": [float(v) for v in forecast.p50[i]],
                    "p90": [float(v) for v in forecast.p90[i]],
                    "model_id": model_id,
                    "candidate": forecast.model.get(sid, "seasonal_naive"),
                    "reconciliation": forecast.reconciliation,
                    "weather": source,
                    "job_id": job["id"],
                }
            )
        return out

    # ---------------------------------------------------------------- reading

    async def read(
        self,
        level: str,
        key: str,
        quantity: str,
        horizon: str,
        start: datetime | None,
        end: datetime | None,
    ) -> dict[str, Any]:
        """The issued forecast of a series: the latest run, or per step the latest run covering
        it within ``[start, end)``."""
        async with self.db.transaction() as session:
            series = await repo.series_of(session, level, key, quantity)
            if series is None:
                raise NotFound(
                    f"no {quantity} forecast of {level} {key} yet", code="forecast_not_found"
                )
            if start is None and end is None:
                latest = await repo.latest_run(session, series["id"], horizon)
                runs = [latest] if latest else []
            else:
                a = start or datetime(1970, 1, 1, tzinfo=UTC)
                b = end or datetime(2999, 1, 1, tzinfo=UTC)
                runs = await repo.runs_covering(session, series["id"], horizon, a, b)
        items: dict[datetime, dict[str, Any]] = {}
        last = None
        for run in runs:
            step = timedelta(seconds=run["step_s"])
            for k, (p10, p50, p90) in enumerate(
                zip(run["p10"], run["p50"], run["p90"], strict=True)
            ):
                ts = run["start_ts"] + k * step
                if (start is not None and ts < start) or (end is not None and ts >= end):
                    continue
                items[ts] = {
                    "ts": ts.astimezone(UTC).isoformat(),
                    "p10": p10,
                    "p50": p50,
                    "p90": p90,
                    "issued_at": run["issued_at"].astimezone(UTC).isoformat(),
                }
            last = run
        reconciliation = last["reconciliation"] if last else None
        if (
            level == "facility"
            and series["region_kato"]
            and items
            and await self._to_region(
                series, quantity, horizon, items, latest=start is None and end is None
            )
        ):
            reconciliation = "top_down_region"
        unit = resolve_quantity(quantity).unit if resolve_quantity(quantity) else None  # type: ignore[union-attr]
        return {
            "level": level,
            "key": key,
            "quantity": quantity,
            "unit": unit,
            "horizon": horizon,
            "step_s": series["step_s"],
            "ts": "interval_start",
            "issued_at": last["issued_at"].astimezone(UTC).isoformat() if last else None,
            "cut_at": last["cut_at"].astimezone(UTC).isoformat() if last else None,
            "model": last["candidate"] if last else None,
            "model_id": last["model_id"] if last else None,
            "reconciliation": reconciliation,
            "weather": last["weather"] if last else None,
            "items": [items[t] for t in sorted(items)],
        }

    async def _to_region(
        self,
        series: dict[str, Any],
        quantity: str,
        horizon: str,
        items: dict[datetime, dict[str, Any]],
        *,
        latest: bool,
    ) -> bool:
        """Make a facility's forecast add up with the other facilities of its region to the
        region's (reconciled) forecast: at every step each facility's quantiles are scaled by the
        region's P50 over the facilities' P50 sum (top-down, forecast proportions). Changes
        ``items`` in place; False when the region has no forecast for these steps.

        ``latest``: the items come from the latest run only, and so do the other facilities'.
        Over a window, every run covering it counts; not for intraday runs, which are issued
        every few minutes (thousands per region and day), so that read stays unreconciled."""
        if not latest and horizon == "intraday":
            return False
        ts = sorted(items)
        a, b = ts[0], ts[-1] + timedelta(seconds=series["step_s"])
        async with self.db.transaction() as session:
            region = await repo.series_of(session, "region", series["region_kato"], quantity)
            if region is None:
                return False
            region_runs = await repo.runs_covering(session, region["id"], horizon, a, b)
            if latest and region_runs:
                region_runs = region_runs[-1:]
            runs = await repo.runs_of_region(
                session, "facility", series["region_kato"], quantity, horizon, a, b, latest=latest
            )
        want = set(ts)

        def per_step(rs: Sequence[dict[str, Any]]) -> dict[datetime, float]:
            out: dict[datetime, float] = {}
            for run in rs:  # oldest issue first: a later issue overwrites
                step = timedelta(seconds=run["step_s"])
                for k, v in enumerate(run["p50"]):
                    t = run["start_ts"] + k * step
                    if t in want:
                        out[t] = float(v)
            return out

        target = per_step(region_runs)
        by_series: dict[int, list[dict[str, Any]]] = {}
        for run in runs:
            by_series.setdefault(run["series_id"], []).append(run)
        total: dict[datetime, float] = {}
        for rs in by_series.values():
            for t, v in per_step(rs).items():
                total[t] = total.get(t, 0.0) + v
        done = False
        for t in ts:
            if t in target and total.get(t, 0.0) > 0:
                f = target[t] / total[t]
                for q in ("p10", "p50", "p90"):
                    items[t][q] = round(float(items[t][q]) * f, 6)
                done = True
        return done


def aggregate(items: list[dict[str, Any]], step_s: int, to_s: int) -> list[dict[str, Any]]:
    """Sum steps into coarser buckets (P50 exactly; P10/P90 summed, a wider band than the true
    quantiles of the sum). Only whole buckets are kept."""
    if to_s <= step_s:
        return items
    per = to_s // step_s
    buckets: dict[int, list[dict[str, Any]]] = {}
    for it in items:
        t = int(datetime.fromisoformat(it["ts"]).timestamp())
        buckets.setdefault((t + LOCAL_OFFSET) // to_s * to_s - LOCAL_OFFSET, []).append(it)
    out = []
    for b in sorted(buckets):
        group = buckets[b]
        if len(group) != per:
            continue
        out.append(
            {
                "ts": datetime.fromtimestamp(b, UTC).isoformat(),
                **{q: round(math.fsum(i[q] for i in group), 3) for q in ("p10", "p50", "p90")},
                "issued_at": max(i["issued_at"] for i in group),
            }
        )
    return out


def check_region(kato: str) -> None:
    if kato not in REGIONS_BY_KATO:
        raise NotFound(f"no region with KATO {kato}", code="region_not_found")


def bad(field: str, message: str) -> Unprocessable:
    return Unprocessable(f"{field}: {message}", errors=[FieldError(field, "invalid", message)])


# --------------------------------------------------------------------------- scenarios


async def run_scenario(
    forecasting: Forecasting,
    *,
    day: Any,
    quantity: str,
    regions: Sequence[str] | None,
    temperature_delta_c: float,
    demand_growth_pct: float,
    outage_facility_ids: Sequence[str],
) -> dict[str, Any]:
    """A what-if scenario for one local day on the national hierarchy (see ``scenarios``)."""
    from egsu.forecast import scenarios

    now = utcnow()
    today = now.astimezone(KZ).date()
    if (day - today).days > 7:
        raise bad("day", "at most seven days ahead (the week-ahead forecast)")
    horizon = "day_ahead" if (day - today).days <= 1 else "week_ahead"
    async with forecasting.db.transaction() as session:
        models = await repo.current_models(session, "national", quantity)
    if horizon not in models:
        raise NotFound(
            f"no {horizon} model of the national {quantity} forecast yet (train it first)",
            code="model_not_found",
        )
    trained = await forecasting.model(models[horizon])
    refs = await forecasting.refs("national", quantity)
    directory = await forecasting.registry.directory()
    known_in = {r.key for r in refs if r.level == "region"}
    affected_regions = list(regions) if regions else sorted(known_in)
    for n, kato in enumerate(affected_regions):
        if kato not in REGIONS_BY_KATO:
            raise Unprocessable(
                f"regions[{n}]: no region with KATO {kato}",
                errors=[FieldError(f"regions[{n}]", "unknown", f"no region with KATO {kato}")],
            )
        if kato not in known_in:
            raise Unprocessable(
                f"regions[{n}]: region {kato} has no {quantity} series",
                errors=[FieldError(f"regions[{n}]", "no_series", f"no {quantity} series")],
            )
    commodity = commodity_of(quantity)
    outages: dict[str, float] = {}
    for n, fid in enumerate(outage_facility_ids):
        f = directory.facilities.get(fid)
        key = "installed_heat_gcal_h" if commodity == "heat" else "installed_electric_mw"
        if f is None or not f.get(key):
            raise Unprocessable(
                f"outage_facility_ids[{n}]: no generating facility {fid} with installed {commodity} capacity",
                errors=[
                    FieldError(
                        f"outage_facility_ids[{n}]",
                        "unknown",
                        "not a facility with installed capacity",
                    )
                ],
            )
        outages[fid] = float(f[key]) * (1.0 if commodity == "heat" else 1000.0)

    step_s = HOUR
    known_end = floor_local(now, step_s)
    day_start = datetime(day.year, day.month, day.day, tzinfo=KZ).astimezone(UTC)
    day_end = day_start + timedelta(days=1)
    end = day_end if horizon == "day_ahead" else horizon_end("week_ahead", known_end)
    start = floor_local(
        min(day_start, known_end) - timedelta(days=forecasting.settings.forecast_score_days), DAY_S
    )
    full, known, _ = await forecasting.panel(refs, start, end, min(known_end, end), now)
    stop = full.n_steps
    panel = Forecasting.restrict(full, stop, trained.exog)
    window = pipeline.scoring_window(panel, trained, known)
    parents = {r.id: f"country:{COUNTRY}" for r in refs if r.level == "region"}
    affected = [f"region:{k}" for k in affected_regions]
    rows = [panel.ids.index(sid) for sid in affected if sid in panel.ids]

    def compute() -> tuple[Forecast, Any, np.ndarray]:
        forecast = pipeline.reconcile(pipeline.predict(panel, trained, window), parents, trained)
        delta = scenarios.temperature_delta(panel, trained, window, rows, temperature_delta_c)
        outcome = scenarios.apply(forecast, delta, affected, demand_growth_pct, parents)
        return forecast, outcome, panel.load[:, window.targets]

    try:
        forecast, outcome, actual = await asyncio.to_thread(compute)
    except scenarios.ScenarioError as exc:
        raise bad("temperature_delta_c", str(exc)) from None
    except ForecastInputError as exc:
        raise bad("day", str(exc)) from None
    on_day = [k for k, ts in enumerate(forecast.index) if day_start <= ts.to_pydatetime() < day_end]
    if not on_day:
        raise bad("day", "the forecast window does not reach this day")

    def cut(o: Any) -> Any:
        o.baseline = {q: v[:, on_day] for q, v in o.baseline.items()}
        o.scenario = {q: v[:, on_day] for q, v in o.scenario.items()}
        return o

    outcome = cut(outcome)
    index = forecast.index[on_day].tz_convert("UTC")
    nodes = []
    for sid in outcome.ids:
        level, key = sid.split(":", 1)
        region = key if level == "region" else None
        capacity, _ = directory.installed(region, commodity)
        outage = sum(
            mw
            for fid, mw in outages.items()
            if region is None or directory.facilities[fid].get("region_kato") == region
        )
        summary = scenarios.node_summary(outcome, sid, index, capacity or None, outage)
        if day_start < known_end:
            values = actual[outcome.ids.index(sid)][on_day]
            summary["actual"] = [None if not np.isfinite(v) else round(float(v), 3) for v in values]
        if region:
            r = REGIONS_BY_KATO.get(region)
            summary["name"] = {"ru": r.name_ru, "kk": r.name_kk, "en": r.name_en} if r else None
        nodes.append({"level": level, "key": key, **summary})
    unit = resolve_quantity(quantity).unit  # type: ignore[union-attr]
    return {
        "day": day.isoformat(),
        "quantity": quantity,
        "unit": unit,
        "capacity_unit": "Gcal/h" if commodity == "heat" else "kW",
        "step_s": step_s,
        "ts": [t.isoformat() for t in index],
        "horizon": horizon,
        "model_id": models[horizon]["id"],
        "reconciliation": forecast.reconciliation,
        "assumptions": {
            "regions": affected_regions,
            "temperature_delta_c": temperature_delta_c,
            "demand_growth_pct": demand_growth_pct,
            "outage_facility_ids": list(outage_facility_ids),
            "outage": round(sum(outages.values()), 3),
        },
        "country": next(n for n in nodes if n["level"] == "country"),
        "regions": [n for n in nodes if n["level"] == "region"],
    }
