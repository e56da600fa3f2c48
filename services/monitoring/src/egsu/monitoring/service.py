"""The monitor: ingest batches in, live state and alarms out; the sweep for what time does.

One monitor per process handles batches one at a time (state and alarms change together in one
transaction per batch); the sweep and people's actions share the same lock, so they never race a
batch for the same alarm. A batch already handled (redelivered by JetStream) changes nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
from prometheus_client import Histogram
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from egsu.bus.audit import AuditLog
from egsu.contracts.alarms import CHANNEL_SWITCH_EVENT, CHANNELS
from egsu.db import Database
from egsu.monitoring import models as m
from egsu.monitoring.alarms import AlarmEngine
from egsu.monitoring.clock import Clock
from egsu.monitoring.config import MonitoringSettings
from egsu.monitoring.directory import Directory, PointInfo
from egsu.monitoring.evaluate import Evaluator, Signal, point_signal
from egsu.monitoring.rules import BUILTIN, Rule, RuleSet
from egsu.monitoring.state import Baselines, LiveTable, Windows, missed_intervals
from egsu.runtime.outbox import OutboxRelay

log = logging.getLogger("egsu.monitoring")
BATCH_SECONDS = Histogram(
    "egsu_monitoring_batch_seconds",
    "Time to take one ingest batch into the live state and the alarms",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
LAG_SECONDS = Histogram(
    "egsu_monitoring_receipt_to_commit_seconds",
    "From a batch's receipt by ingest to its alarms committed by monitoring",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 30),
)


def utc(ts: float | None) -> datetime | None:
    return datetime.fromtimestamp(ts, UTC) if ts is not None else None


class Monitor:
    def __init__(
        self,
        settings: MonitoringSettings,
        db: Database,
        directory: Directory,
        clock: Clock,
        audit: AuditLog | None,
        relay: OutboxRelay | None,
    ) -> None:
        self.s = settings
        self.db = db
        self.directory = directory
        self.clock = clock
        self.relay = relay
        self.live = LiveTable(settings.arrival_allowance_intervals)
        self.windows = Windows()
        self.baselines = Baselines()
        self.evaluator = Evaluator(self.windows, self.baselines, settings.baseline_min_samples)
        self.engine = AlarmEngine(settings, audit)
        self.rules = RuleSet([])
        self.lock = asyncio.Lock()
        self.batches = 0
        self.readings = 0
        self.lag: list[float] = []  # receipt → alarm committed, seconds (for the benchmark)
        self.watermark: float | None = None  # newest receipt time handled
        self.behind = False  # the consumer has messages waiting
        self.directory_ready = asyncio.Event()
        self.flush_lock = asyncio.Lock()
        self.pending_arrivals: tuple[list[Any], ...] = ([], [], [], [])

    # -- start -----------------------------------------------------------------------------------

    async def start(self) -> None:
        async with self.db.transaction() as s:
            for body in BUILTIN:
                await s.execute(
                    pg_insert(m.rule)
                    .values(**body, version=1, updated_by="monitoring")
                    .on_conflict_do_nothing(index_elements=["id"])
                )
                await s.execute(
                    pg_insert(m.rule_version)
                    .values(
                        rule_id=body["id"],
                        version=1,
                        body={k: v for k, v in body.items() if k not in ("id", "builtin")},
                        changed_by="monitoring",
                        comment="built-in rule",
                    )
                    .on_conflict_do_nothing()
                )
            await self.reload_rules(s)
            rows = (await s.execute(select(m.point_state))).mappings().all()
            self.live.load([dict(r) for r in rows])
            await self.engine.load(s)
            for name, target in (("windows", self.windows), ("baselines", self.baselines)):
                blob = (
                    await s.execute(select(m.checkpoint.c.data).where(m.checkpoint.c.name == name))
                ).scalar()
                if blob:
                    target.restore(bytes(blob))

    async def reload_rules(self, session: AsyncSession) -> None:
        rows = (await session.execute(select(m.rule))).mappings().all()
        self.rules = RuleSet([Rule.of(dict(r)) for r in rows])

    async def save_checkpoint(self) -> None:
        async with self.db.transaction() as s:
            for name, blob in (
                ("windows", self.windows.dump()),
                ("baselines", self.baselines.dump()),
            ):
                await s.execute(
                    pg_insert(m.checkpoint)
                    .values(name=name, data=blob, saved_at=self.clock.now())
                    .on_conflict_do_update(
                        index_elements=["name"], set_={"data": blob, "saved_at": self.clock.now()}
                    )
                )

    async def sync_points(self, subject_bin: str | None = None) -> None:
        """Every registry point has a live state row (a new point is watched from now on), with
        the registry's attributes as they are now."""
        now = self.clock.ts()
        async with self.lock, self.db.transaction() as s:
            for p in self.directory.points.values():
                if subject_bin is not None and p.subject_bin != subject_bin:
                    continue
                self.live.get(p.code, now).dirty = True
                live = self.live.get(p.code, now)
                if not p.monitored and live.status != "unmonitored":
                    live.status, live.status_since, live.dirty = "unmonitored", now, True
                elif p.monitored and live.status == "unmonitored":
                    live.status, live.status_since, live.known_since, live.dirty = (
                        "pending",
                        now,
                        now,
                        True,
                    )
            await self._save_points(s, [c for c, lv in self.live.points.items() if lv.dirty])

    async def flush(self) -> None:
        """Write the live state of changed points and the arrivals gathered since the last flush."""
        async with self.flush_lock:
            codes = [c for c, lv in self.live.points.items() if lv.dirty]
            arrivals, self.pending_arrivals = self.pending_arrivals, ([], [], [], [])
            if not codes and not arrivals[0]:
                return
            try:
                async with self.db.transaction() as s:
                    await self._save_points(s, codes)
                    if arrivals[0]:
                        await self._save_arrivals(s, arrivals)
            except BaseException:
                for c in codes:  # try again at the next flush
                    self.live.points[c].dirty = True
                for pending, old in zip(self.pending_arrivals, arrivals, strict=True):
                    pending[:0] = old
                raise

    async def _save_points(self, s: AsyncSession, codes: list[str]) -> None:
        rows = []
        for c in codes:
            p = self.directory.points.get(c)
            lv = self.live.points[c]
            if p is None:
                continue
            rows.append(
                {
                    "code": c,
                    "subject_bin": p.subject_bin,
                    "facility_id": p.facility_id,
                    "facility_type": p.facility_type,
                    "region_kato": p.region_kato,
                    "system_ids": p.system_ids,
                    "interval_min": p.interval_min,
                    "criticality": p.criticality,
                    "monitored": p.monitored,
                    "status": lv.status,
                    "status_since": utc(lv.status_since),
                    "known_since": utc(lv.known_since),
                    "last_ts": utc(lv.last_ts),
                    "last_received_at": utc(lv.last_received_at),
                    "values": {q: [t, v] for q, (t, v) in lv.values.items()},
                    "channel": lv.channel,
                    "channel_since": utc(lv.channel_since),
                    "updated_at": self.clock.now(),
                }
            )
            lv.dirty = False
        for i in range(0, len(rows), 1000):
            chunk = rows[i : i + 1000]
            stmt = pg_insert(m.point_state).values(chunk)
            await s.execute(
                stmt.on_conflict_do_update(
                    index_elements=["code"],
                    set_={k: stmt.excluded[k] for k in chunk[0] if k != "code"},
                )
            )

    # -- a batch -------------------------------------------------------------------------------------

    async def _points_of(self, raw: dict[str, Any]) -> list[PointInfo | None]:
        refs = raw["points"]
        missing = [r for r in refs if r["code"] not in self.directory.points]
        if missing and self.directory.registry is not None:
            try:
                await self.directory.load(raw["subject_bin"])
            except Exception as exc:  # the registry is away: judge what we know, log the rest
                log.warning("registry reload for %s failed: %s", raw["subject_bin"], exc)
            await self.sync_points(raw["subject_bin"])
        return [self.directory.points.get(r["code"]) for r in refs]

    async def handle_batch(self, raw: dict[str, Any], receipt_id: str) -> bool:
        """Take one ingest batch into the live state and the alarms; False if it was seen before."""
        infos = await self._points_of(raw)
        received_at = datetime.fromisoformat(raw["received_at"]).timestamp()
        ts_all = np.asarray(raw["ts"], dtype=np.float64)
        v_all = np.asarray(raw["value"], dtype=np.float64)
        pidx = np.asarray(raw["point_idx"], dtype=np.int64)
        qarr = np.asarray(raw["quantity"], dtype=object)
        started = time.perf_counter()
        async with self.lock:
            async with self.db.transaction() as s:
                fresh = (
                    await s.execute(
                        pg_insert(m.processed_batch)
                        .values(receipt_id=receipt_id)
                        .on_conflict_do_nothing()
                        .returning(m.processed_batch.c.receipt_id)
                    )
                ).first()
                groups = self._merge_windows(infos, raw, pidx, qarr, ts_all, v_all)
                if fresh is None:
                    return False
                now_dt = self.clock.now()
                now = now_dt.timestamp()
                signals, touched, arrivals = self._liveness(
                    infos, groups, pidx, ts_all, received_at, now
                )
                rules_of = {
                    p.code: self.rules.for_point(p, self.directory.version)
                    for p in infos
                    if p is not None
                }
                points = {p.code: p for p in infos if p is not None}
                signals += self.evaluator.readings(
                    rules_of, points, groups, self.engine.open_keys, received_at
                )
                signals += self._events(raw.get("events") or [], rules_of, points, touched, now)
                anomaly_qs = {q for r in self.rules.of_kind("anomaly") for q in r.quantities}
                self.evaluator.learn(groups, anomaly_qs, rules_of, points)
                # live state and arrivals are written by the flusher (every half second), so a
                # batch's own transaction holds only its receipt mark and its alarms
                for pending, new in zip(self.pending_arrivals, arrivals, strict=True):
                    pending.extend(new)
                await self.engine.apply(s, signals, now_dt)
            self.batches += 1
            self.readings += len(ts_all)
            BATCH_SECONDS.observe(time.perf_counter() - started)
            LAG_SECONDS.observe(time.time() - received_at)
            self.lag.append(time.time() - received_at)
            self.watermark = max(self.watermark or 0.0, received_at)
            if len(self.lag) > 100_000:
                del self.lag[:50_000]
        if self.relay is not None:
            self.relay.poke()
        return True

    def _merge_windows(
        self,
        infos: list[PointInfo | None],
        raw: dict[str, Any],
        pidx: np.ndarray,
        qarr: np.ndarray,
        ts_all: np.ndarray,
        v_all: np.ndarray,
    ) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
        """Group the batch by (point, quantity), sorted by time, and merge into the windows."""
        if not len(ts_all):
            return {}
        names = list(dict.fromkeys(raw["quantity"]))
        code_of = {q: i for i, q in enumerate(names)}
        qi = np.fromiter((code_of[q] for q in raw["quantity"]), np.int64, len(ts_all))
        nq = len(names)
        key = pidx * nq + qi
        order = np.lexsort((ts_all, key))
        key_s = key[order]
        cuts = np.flatnonzero(np.diff(key_s)) + 1
        groups: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        for part in np.split(order, cuts):
            k = int(key[part[0]])
            p = infos[k // nq]
            if p is None:
                continue
            q = names[k % nq]
            ts, vs = ts_all[part], v_all[part]
            self.windows.put(p.code, q, ts.astype(np.int64).tolist(), vs.tolist())
            groups[(p.code, q)] = (ts, vs)
        return groups

    def _liveness(
        self,
        infos: list[PointInfo | None],
        groups: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]],
        pidx: np.ndarray,
        ts_all: np.ndarray,
        received_at: float,
        now: float,
    ) -> tuple[list[Signal], set[str], tuple[list[Any], ...]]:
        signals: list[Signal] = []
        touched: set[str] = set()
        arrivals: tuple[list[Any], ...] = ([], [], [], [])
        if not len(ts_all):
            return signals, touched, arrivals
        n = len(infos)
        newest = np.full(n, -np.inf)
        np.maximum.at(newest, pidx, ts_all)
        oldest = np.full(n, np.inf)
        np.minimum.at(oldest, pidx, ts_all)
        cap = received_at + self.s.future_tolerance_s
        comm_rules = self.rules.of_kind("comm_loss")
        systems_back: set[str] = set()
        for i, p in enumerate(infos):
            if p is None or not np.isfinite(newest[i]):
                continue
            live, turned = self.live.arrived(
                p, min(float(newest[i]), cap), float(oldest[i]), received_at, now
            )
            touched.add(p.code)
            if turned:
                systems_back.update(p.system_ids)
            if turned or self._has_open(comm_rules, "point", p.code):
                for r in self.rules.for_point(p, self.directory.version):
                    if r.kind == "comm_loss":
                        signals.append(point_signal(r, p, active=live.status != "active"))
        # latest values by measurement time (each group is sorted by time)
        for (code, q), (ts, vs) in groups.items():
            t, v = float(ts[-1]), float(vs[-1])
            live = self.live.points[code]
            old = live.values.get(q)
            if old is None or t >= old[0]:
                live.values[q] = (t, v)
        # first receipt of each interval, for channel quality
        per_point: dict[str, list[np.ndarray]] = {}
        for (code, _q), (ts, _vs) in groups.items():
            per_point.setdefault(code, []).append(ts)
        codes: list[str] = []
        stamps: list[float] = []
        channels: list[str | None] = []
        for code, parts in per_point.items():
            uts = np.unique(np.concatenate(parts)).tolist()
            codes += [code] * len(uts)
            stamps += uts
            channels += [self.live.points[code].channel] * len(uts)
        delays = np.maximum(0.0, received_at - np.asarray(stamps)).tolist()
        arrivals = (codes, stamps, delays, channels)
        signals += self._system_signals(systems_back, back=True)
        return signals, touched, arrivals

    def _has_open(self, rules: list[Rule], object_type: str, object_id: str) -> bool:
        return any((r.id, object_type, object_id) in self.engine.open_keys for r in rules)

    async def _save_arrivals(self, s: AsyncSession, arrivals: tuple[list[Any], ...]) -> None:
        conn = await s.connection()
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.execute(  # type: ignore[union-attr]
            """
            INSERT INTO monitoring.arrival (point_code, ts, received_at, delay_s, channel)
            SELECT c, to_timestamp(t), to_timestamp(t) + make_interval(secs => d), d, ch
            FROM unnest($1::text[], $2::float8[], $3::float8[], $4::text[]) AS x(c, t, d, ch)
            ON CONFLICT DO NOTHING
            """,
            *arrivals,
        )

    def _events(
        self,
        events: list[dict[str, Any]],
        rules_of: dict[str, list[Rule]],
        points: dict[str, PointInfo],
        touched: set[str],
        now: float,
    ) -> list[Signal]:
        """Meter journal and SCADA events: channel switches, security and equipment alarms."""
        out: dict[tuple[str, str], Signal] = {}
        for e in sorted(events, key=lambda e: e["ts"]):
            code = e["point"]
            p = points.get(code) or self.directory.points.get(code)
            if p is None:
                continue
            ev = str(e["code"])
            if ev == CHANNEL_SWITCH_EVENT:
                ch = str(e.get("text") or "").strip().lower()
                if ch in CHANNELS:
                    live = self.live.get(code, now)
                    if live.channel_since is None or e["ts"] >= live.channel_since:
                        live.channel, live.channel_since, live.dirty = ch, float(e["ts"]), True
                        touched.add(code)
                continue
            rules = rules_of.get(code) or self.rules.for_point(p, self.directory.version)
            sev = str(e.get("severity") or "").lower()
            for r in rules:
                if r.kind != "event":
                    continue
                prm = r.parsed
                raising = ev in prm.codes or (sev and sev in prm.sender_severities)
                clearing = ev in prm.clear_codes
                if not (raising or clearing):
                    continue
                sig = out.get((r.id, code))
                if sig is None:
                    open_ = (r.id, "point", code) in self.engine.open_keys
                    sig = out[(r.id, code)] = point_signal(r, p, active=open_)
                if raising:
                    sig.occurrences.append(float(e["ts"]))
                    sig.active = not prm.momentary
                    sig.args = {"code": ev, "text": e.get("text"), "sender_severity": sev or None}
                else:
                    sig.active = False
        return [
            s
            for s in out.values()
            if s.occurrences or (s.rule.id, "point", s.object_id) in self.engine.open_keys
        ]

    # -- systems -------------------------------------------------------------------------------------

    def _system_signals(self, system_ids: set[str], *, back: bool) -> list[Signal]:
        out: list[Signal] = []
        rules = self.rules.of_kind("system_comm_loss")
        if not rules:
            return out
        for sid in system_ids:
            sysinfo = self.directory.systems.get(sid)
            if sysinfo is None:
                continue
            codes = self.directory.system_points(sid)
            if not codes:
                continue
            silent = sum(
                1
                for c in codes
                if self.live.points.get(c) and self.live.points[c].status == "inactive"
            )
            region = self.directory.points[codes[0]].region_kato
            for r in rules:
                if not r.matches_subject(sysinfo.subject_bin, region):
                    continue
                active = silent / len(codes) >= r.parsed.min_share
                key = (r.id, "system", sid)
                if back and key not in self.engine.open_keys:
                    continue
                if not active and key not in self.engine.open_keys:
                    continue
                out.append(
                    Signal(
                        r,
                        "system",
                        sid,
                        sysinfo.subject_bin,
                        region_kato=region,
                        occurrences=[self.clock.ts()]
                        if active and key not in self.engine.open_keys
                        else [],
                        active=active,
                        args={"name": sysinfo.name, "silent": silent, "total": len(codes)},
                    )
                )
        return out

    # -- the sweep -------------------------------------------------------------------------------------

    async def sweep(
        self, at: datetime | None = None, subject_bin: str | None = None
    ) -> dict[str, int]:
        """Everything time does, as of ``at`` (now by default), for one subject or all."""
        at = at or self.clock.now()
        t = at.timestamp()
        if self.behind and self.watermark is not None:
            # data received up to the watermark is handled; what came after waits in the stream,
            # so silence is judged only up to there (our own lag is not the points' silence)
            t = min(t, self.watermark + self.s.future_tolerance_s)
        async with self.lock, self.db.transaction() as s:
            signals: list[Signal] = []
            went: list[str] = []
            systems: set[str] = set()
            comm_rules = self.rules.of_kind("comm_loss")
            for code, p in self.directory.points.items():
                if subject_bin and p.subject_bin != subject_bin:
                    continue
                live = self.live.get(code, t)
                since = self.live.due_inactive(p, live, t)
                if since is None:
                    continue
                live.status, live.status_since, live.dirty = "inactive", since, True
                went.append(code)
                systems.update(p.system_ids)
            sys_signals = self._system_signals(systems, back=False)
            covered = {
                c
                for sig in sys_signals
                if sig.active
                for c in self.directory.system_points(sig.object_id)
            }
            covered |= {
                c
                for (rid, ot, oid) in self.engine.open_keys
                if ot == "system"
                for c in self.directory.system_points(oid)
            }
            for code in went:
                p = self.directory.points[code]
                live = self.live.points[code]
                if code in covered or not comm_rules:
                    continue
                for r in self.rules.for_point(p, self.directory.version):
                    if r.kind != "comm_loss":
                        continue
                    missed = missed_intervals(p, live, t, self.s.arrival_allowance_intervals)
                    signals.append(
                        point_signal(
                            r,
                            p,
                            occurrences=[live.status_since],
                            active=True,
                            args={"missed": missed, "last_ts": live.last_ts},
                        )
                    )
            signals = sys_signals + signals
            await self._save_points(s, went)
            steps = await self.engine.apply(s, signals, at)
            steps += await self.engine.timers(s, at, subject_bin)
        if steps and self.relay is not None:
            self.relay.poke()
        return {"inactive": len(went), "steps": steps}

    async def housekeeping(self) -> None:
        keep = self.clock.now().timestamp() - self.s.arrival_keep_hours * 3600
        async with self.db.transaction() as s:
            await s.execute(delete(m.arrival).where(m.arrival.c.received_at < utc(keep)))
            await s.execute(
                delete(m.processed_batch).where(
                    m.processed_batch.c.processed_at < utc(keep - 14 * 86400)
                )
            )

    # -- registry and compliance notices ----------------------------------------------------------

    async def verification_due(self, notice: dict[str, Any]) -> None:
        rules = self.rules.of_kind("verification_overdue")
        dev = self.directory.devices.get(notice["device_id"])
        code = notice.get("point_code")
        p = self.directory.points.get(code) if code else None
        region = p.region_kato if p else None
        signals = []
        for r in rules:
            if not r.matches_subject(notice["subject_bin"], region):
                continue
            key = (r.id, "device", notice["device_id"])
            overdue = bool(notice["overdue"])
            if not overdue and key not in self.engine.open_keys:
                continue
            signals.append(
                Signal(
                    r,
                    "device",
                    notice["device_id"],
                    notice["subject_bin"],
                    facility_id=p.facility_id if p else None,
                    facility_type=p.facility_type if p else None,
                    region_kato=region,
                    point_code=code,
                    occurrences=[self.clock.ts()] if overdue else [],
                    active=overdue,
                    args={
                        "serial": notice.get("serial_number") or (dev.serial_number if dev else ""),
                        "due": notice.get("next_verification_due"),
                    },
                )
            )
        await self._apply(signals)

    async def device_changed(self, device_id: str) -> None:
        """A device whose verification moved into the future clears its overdue alarm."""
        dev = self.directory.devices.get(device_id)
        if dev is None or not dev.next_verification_due:
            return
        if date.fromisoformat(dev.next_verification_due) < self.clock.now().date():
            return
        sig = [
            Signal(r, "device", device_id, dev.subject_bin, active=False)
            for r in self.rules.of_kind("verification_overdue")
            if (r.id, "device", device_id) in self.engine.open_keys
        ]
        await self._apply(sig)

    async def subject_overdue(self, notice: dict[str, Any]) -> None:
        bin_ = notice["subject_bin"]
        overdue = bool(notice["overdue"])
        signals = []
        for r in self.rules.of_kind("submission_overdue"):
            if not r.matches_subject(bin_, None):
                continue
            key = (r.id, "subject", bin_)
            if not overdue and key not in self.engine.open_keys:
                continue
            signals.append(
                Signal(
                    r,
                    "subject",
                    bin_,
                    bin_,
                    occurrences=[self.clock.ts()] if overdue else [],
                    active=overdue,
                    args={"missing": notice.get("missing_points")},
                )
            )
        await self._apply(signals)

    async def _apply(self, signals: list[Signal]) -> None:
        if not signals:
            return
        async with self.lock, self.db.transaction() as s:
            await self.engine.apply(s, signals, self.clock.now())
        if self.relay is not None:
            self.relay.poke()

    async def forget_rule_alarms(self, session: AsyncSession, rule_id: str, user: str) -> int:
        return await self.engine.close_for_rule(session, rule_id, user, self.clock.now())
