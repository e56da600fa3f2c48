"""Accuracy and delay of monitoring's alarms on seeded data with injected, labelled faults.

    .venv/bin/python bench/monitoring_eval.py --subjects 8 --points 20 --history-days 8 --live-days 2

Starts the whole System on fresh embedded servers, registers subjects (one facility, one ASKUE
system each) with 15-minute points measuring active import and three phase voltages, and then:

1. history: ``--history-days`` of normal data, so the seasonal baselines can learn;
2. live: ``--live-days`` replayed interval by interval with the monitor's clock set to each
   interval's end plus a minute (so liveness is judged as it would be live), with injected faults
   and their labels: communication loss of a point or of a whole system, voltage sags and swells,
   a day above the consumption norm, tamper events (cover opened, magnetic field), failure preceded
   by a drift, meter power loss;
3. load: ``--load-seconds`` of batches as fast as the ingest takes them, with voltage sags mixed
   in, timing each sag from its batch's receipt to the alarm event on NATS.

It prints recall and precision per fault type and the delay percentiles. An alarm is a true
positive when it overlaps a label of its type on its object; one that overlaps a label of another
type is counted apart ("other fault"); one that overlaps no label is a false positive. The
simulator's labels will replace this generator when it is on main.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import nats
import numpy as np

from egsu.infra import Infra
from egsu.testing.stack import start_stack
from egsu.testing.world import World, kz, point_body

STEP = 900
MON = "/api/v1/monitoring"
NOMINAL = 10_000.0
PHASES = ("voltage_l1", "voltage_l2", "voltage_l3")
KIND_OF = {  # alarm (kind, rule family) → fault type it detects
    "comm_loss": "comm_loss",
    "system_comm_loss": "comm_loss",
    "voltage_sag": "voltage_sag",
    "voltage_swell": "voltage_swell",
    "above_norm_day": "above_norm",
    "cover_opened": "tamper",
    "magnetic_field": "tamper",
    "anomaly": "failure_drift",
}


class TokenAuth(httpx.Auth):
    """A fresh token for each request (tokens live five minutes; the replay lasts longer)."""

    def __init__(self, stack: Any, user: str) -> None:
        self.stack, self.user = stack, user

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = f"Bearer {self.stack.token(self.user)}"
        yield request


def client(stack: Any, user: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=stack.url, auth=TokenAuth(stack, user), timeout=60)


@dataclass
class Label:
    type: str
    point: str
    start: float
    end: float


def shape(ts: np.ndarray) -> np.ndarray:
    """Daily load shape by local hour, a little lower at weekends."""
    local = ts + 5 * 3600 - 1
    h = (local % 86400) / 3600
    bump = lambda c, w: np.exp(-0.5 * (((h - c + 12) % 24 - 12) / w) ** 2)  # noqa: E731
    weekend = ((local // 86400 + 3) % 7) >= 5
    return (0.6 + 0.3 * bump(8, 1.5) + 0.5 * bump(20, 2.0)) * np.where(weekend, 0.85, 1.0)


class Plant:
    """Readings of every point for any interval, faults applied."""

    def __init__(self, codes: list[str], rng: np.random.Generator) -> None:
        self.codes = codes
        self.base = rng.uniform(20, 400, len(codes))  # kWh per interval at shape 1
        self.rng = rng
        self.load_factor: dict[tuple[int, int], float] = {}  # (point, ts) -> factor
        self.volt_factor: dict[tuple[int, int], tuple[float, int]] = {}
        self.dead: set[tuple[int, int]] = set()
        self.silent: set[tuple[int, int]] = set()
        self.events: dict[int, list[dict[str, Any]]] = defaultdict(list)

    def daily_norm(self) -> np.ndarray:
        day = np.arange(96) * STEP + 86400 * 3  # a working day
        return self.base * shape(day.astype(float)).sum() * 1.3

    def interval(self, t: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        s = float(shape(np.asarray([float(t)]))[0])
        noise = self.rng.normal(0, 0.03, len(self.codes))
        vnoise = self.rng.normal(0, 0.008, (len(self.codes), 3))
        out = []
        stamp = kz(datetime.fromtimestamp(t, UTC))
        for i, code in enumerate(self.codes):
            if (i, t) in self.silent:
                continue
            f = self.load_factor.get((i, t), 1.0)
            dead = (i, t) in self.dead
            e = 0.0 if dead else self.base[i] * s * f * (1 + noise[i])
            out.append(
                {"point": code, "quantity": "active_import", "ts": stamp, "value": round(e, 3)}
            )
            vf, phases = self.volt_factor.get((i, t), (1.0, 0))
            for k, q in enumerate(PHASES):
                v = 0.0 if dead else NOMINAL * (1 + vnoise[i, k]) * (vf if k < phases else 1.0)
                out.append({"point": code, "quantity": q, "ts": stamp, "value": round(v, 1)})
        events = [
            e
            for e in self.events.pop(t, [])
            if (self.codes.index(e["point"]), t) not in self.silent
        ]
        return out, events


def inject(
    plant: Plant, systems: dict[str, list[int]], t0: int, t1: int, rng: np.random.Generator
) -> list[Label]:
    """Faults in the live window [t0, t1): at most one physical fault per point."""
    labels: list[Label] = []
    n = (t1 - t0) // STEP
    grid = lambda a: t0 + STEP * (a + 1)  # noqa: E731 - interval end of slot a
    for _sid, pts in systems.items():
        if rng.random() < 0.5:
            a = int(rng.integers(8, n - 24))
            d = int(rng.integers(4, 16))
            for i in pts:
                for k in range(a, a + d):
                    plant.silent.add((i, grid(k)))
                labels.append(Label("comm_loss", plant.codes[i], grid(a), grid(a + d - 1)))
    kinds = ["voltage_sag", "voltage_swell", "above_norm", "cover_opened", "magnetic_field",
             "failure_drift", "power_loss", "comm_point"]  # fmt: skip
    probs = [0.3, 0.15, 0.1, 0.05, 0.05, 0.06, 0.04, 0.1]
    for i, code in enumerate(plant.codes):
        r, acc = rng.random(), 0.0
        kind = None
        for k, p in zip(kinds, probs, strict=True):
            acc += p
            if r < acc:
                kind = k
                break
        if kind is None:
            continue
        for _ in range(20):  # a fault whose data never arrives cannot be seen: keep them apart
            a = int(rng.integers(8, n - 40))
            if not any((i, grid(k)) in plant.silent for k in range(a - 4, a + 30)):
                break
        else:
            continue
        if kind in ("voltage_sag", "voltage_swell"):
            d = int(rng.integers(1, 4))
            lo, hi = (0.72, 0.87) if kind == "voltage_sag" else (1.12, 1.19)
            f, ph = float(rng.uniform(lo, hi)), int(rng.integers(1, 4))
            for k in range(a, a + d):
                plant.volt_factor[(i, grid(k))] = (f, ph)
            labels.append(Label(kind, code, grid(a), grid(a + d - 1)))
        elif kind == "above_norm":
            day0 = (t0 + 5 * 3600) // 86400 * 86400 - 5 * 3600 + 86400  # first full local day
            for k in range(96):
                plant.load_factor[(i, day0 + STEP * (k + 1))] = 1.5
            labels.append(Label(kind, code, day0 + STEP, day0 + 86400))
        elif kind in ("cover_opened", "magnetic_field"):
            at = grid(a) - 300
            plant.events[grid(a)].append(
                {"point": code, "ts": kz(datetime.fromtimestamp(at, UTC)), "code": kind}
            )
            d = int(rng.integers(2, 8))
            end_code = "cover_closed" if kind == "cover_opened" else "magnetic_field_end"
            plant.events[grid(a + d)].append(
                {
                    "point": code,
                    "ts": kz(datetime.fromtimestamp(grid(a + d) - 60, UTC)),
                    "code": end_code,
                }
            )
            if kind == "magnetic_field":
                for k in range(a, a + d):
                    plant.load_factor[(i, grid(k))] = 0.35
            labels.append(Label("tamper", code, at, grid(a + d)))
        elif kind == "failure_drift":
            d = int(rng.integers(8, 16))
            for j, k in enumerate(range(a, a + d)):
                plant.load_factor[(i, grid(k))] = 1.0 - 0.38 * j / (d - 1)
            fail = grid(a + d)
            for k in range(a + d, min(n, a + d + 8)):
                plant.dead.add((i, grid(k)))
            plant.events[fail].append(
                {
                    "point": code,
                    "ts": kz(datetime.fromtimestamp(fail - 600, UTC)),
                    "code": "equipment_trip",
                }
            )
            labels.append(Label("failure_drift", code, grid(a), fail))
            labels.append(Label("equipment_failure", code, fail, grid(min(n, a + d + 8) - 1)))
        elif kind == "power_loss":
            d = int(rng.integers(1, 4))
            for k in range(a, a + d):
                plant.dead.add((i, grid(k)))
            plant.events[grid(a)].append(
                {
                    "point": code,
                    "ts": kz(datetime.fromtimestamp(grid(a) - 800, UTC)),
                    "code": "power_loss",
                }
            )
            plant.events[grid(a + d)].append(
                {
                    "point": code,
                    "ts": kz(datetime.fromtimestamp(grid(a + d) - 100, UTC)),
                    "code": "power_restored",
                }
            )
            labels.append(Label("power_loss", code, grid(a) - 800, grid(a + d)))
        elif kind == "comm_point":
            d = int(rng.integers(6, 24))
            for k in range(a, a + d):
                plant.silent.add((i, grid(k)))
            labels.append(Label("comm_loss", code, grid(a), grid(a + d - 1)))
    return labels


async def post(
    c: httpx.AsyncClient,
    bin_: str,
    readings: list[dict[str, Any]],
    events: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    r = await c.post(
        "/api/v1/ingest/readings",
        json={"subject_bin": bin_, "readings": readings, "events": events or []},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    r.raise_for_status()
    return r.json()  # type: ignore[no-any-return]


async def seen(c: httpx.AsyncClient, receipt: str) -> None:
    """Wait until monitoring has taken the batch in."""
    for _ in range(3000):
        try:
            if (await c.get(f"{MON}/batches/{receipt}")).status_code == 200:
                return
        except httpx.HTTPError:  # a dropped keep-alive connection: ask again
            pass
        await asyncio.sleep(0.02)
    raise TimeoutError(f"monitoring did not take in batch {receipt}")


def setup(
    stack: Any, subjects: int, points: int, rng: np.random.Generator, tag: str
) -> tuple[list[World], dict[str, list[int]], list[str]]:
    worlds, systems, codes = [], {}, []
    q = ["active_import", *PHASES]
    with stack.sync_client("ministry") as c:
        for _ in range(subjects):
            w = World(
                stack,
                points=1,
                interval_min=15,
                criticality=2,
                quantities=q,
                nominal_voltage=NOMINAL,
                position="consumption",
            )
            for j in range(1, points):
                body = point_body(
                    f"{tag}-{w.bin}-{j:03d}",
                    w.facility["id"],
                    interval_min=15,
                    quantities=q,
                    nominal_voltage=NOMINAL,
                    position="consumption",
                )
                r = c.post("/api/v1/registry/metering-points", json=body)
                assert r.status_code == 201, r.text
                w.points.append(r.json())
            r = c.post(
                "/api/v1/registry/systems",
                json={
                    "subject_bin": w.bin,
                    "kind": "askue",
                    "name": f"АСКУЭ {w.bin[-4:]}",
                    "facility_ids": [w.facility["id"]],
                },
            )
            assert r.status_code == 201, r.text
            first = len(codes)
            codes += [p["code"] for p in w.points]
            systems[r.json()["id"]] = list(range(first, len(codes)))
            worlds.append(w)
    return worlds, systems, codes


def set_norms(stack: Any, worlds: list[World], plant: Plant) -> None:
    norms = plant.daily_norm()
    with stack.sync_client("ministry") as c:
        i = 0
        for w in worlds:
            for p in w.points:
                r = c.patch(
                    f"/api/v1/registry/metering-points/{p['id']}",
                    json={"norms": {"daily_energy_kwh": round(float(norms[i]), 1)}},
                )
                assert r.status_code == 200, r.text
                i += 1


async def main(args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    root = Path(tempfile.mkdtemp(prefix="egsu-moneval-"))
    infra = Infra(root / "infra", fast=True, environ={})
    stack = start_stack(root / "stack", infra.start().env())
    try:
        worlds, systems, codes = setup(stack, args.subjects, args.points, rng, "EV")
        plant = Plant(codes, rng)
        set_norms(stack, worlds, plant)
        owner = {p["code"]: w.bin for w in worlds for p in w.points}
        now = int(time.time()) // STEP * STEP
        live0 = now - args.live_days * 86400
        hist0 = live0 - args.history_days * 86400
        labels = inject(plant, systems, live0, now, rng)
        await asyncio.sleep(3)  # registry changes reach monitoring
        async with client(stack, "ministry") as c:
            started = time.monotonic()
            sent = 0
            for day in range(args.history_days):
                # the monitor's clock stays a day behind the data, so history never looks silent
                at = datetime.fromtimestamp(hist0 + day * 86400 + 60, UTC)
                await c.put(f"{MON}/clock", json={"at": kz(at)})
                per: dict[str, list[dict[str, Any]]] = defaultdict(list)
                for k in range(96):
                    rows, _ = plant.interval(hist0 + day * 86400 + STEP * (k + 1))
                    for r in rows:
                        per[owner[r["point"]]].append(r)
                receipts = await asyncio.gather(*(post(c, b, rows) for b, rows in per.items()))
                sent += sum(len(v) for v in per.values())
                await asyncio.gather(*(seen(c, x["receipt_id"]) for x in receipts))
            print(f"history: {sent:,} readings in {time.monotonic() - started:.1f} s")
            await c.put(f"{MON}/clock", json={"at": kz(datetime.fromtimestamp(live0 + 60, UTC))})
            started = time.monotonic()
            for k in range((now - live0) // STEP):
                t = live0 + STEP * (k + 1)
                await c.put(f"{MON}/clock", json={"at": kz(datetime.fromtimestamp(t + 60, UTC))})
                rows, events = plant.interval(t)
                per = defaultdict(list)
                ev = defaultdict(list)
                for r in rows:
                    per[owner[r["point"]]].append(r)
                for e in events:
                    ev[owner[e["point"]]].append(e)
                bins = set(per) | set(ev)
                receipts = await asyncio.gather(
                    *(post(c, b, per.get(b, []), ev.get(b)) for b in bins)
                )
                await asyncio.gather(*(seen(c, x["receipt_id"]) for x in receipts))
                r = await c.post(f"{MON}/sweep", json={})
                r.raise_for_status()
            print(
                f"live: {(now - live0) // STEP} intervals replayed in {time.monotonic() - started:.1f} s"
            )
            await c.put(f"{MON}/clock", json={"at": None})
            alarms = []
            cursor = None
            while True:
                params: dict[str, Any] = {
                    "state": "all",
                    "limit": 1000,
                    "from": kz(datetime.fromtimestamp(0, UTC)),
                }
                if cursor:
                    params["cursor"] = cursor
                body = (await c.get(f"{MON}/alarms", params=params)).json()
                alarms += body["items"]
                cursor = body["next_cursor"]
                if not cursor:
                    break
        score(alarms, labels, systems, codes, live0, args.verbose)
        if args.verbose:
            for lab in labels:
                if lab.type in ("comm_loss", "failure_drift", "above_norm"):
                    print(
                        f"  label {lab.type} {lab.point} {datetime.fromtimestamp(lab.start, UTC)} .. {datetime.fromtimestamp(lab.end, UTC)}"
                    )
        await load_phase(stack, args, rng)
    finally:
        stack.stop()
        infra.stop()


def score(
    alarms: list[dict[str, Any]],
    labels: list[Label],
    systems: dict[str, list[int]],
    codes: list[str],
    live0: int,
    verbose: bool = False,
) -> None:
    slack = 2 * 3600
    by_point: dict[str, list[Label]] = defaultdict(list)
    for lab in labels:
        by_point[lab.point].append(lab)
    detected: set[int] = set()
    tp: dict[str, int] = defaultdict(int)
    fp: dict[str, int] = defaultdict(int)
    other: dict[str, int] = defaultdict(int)
    ids = {id(lab): n for n, lab in enumerate(labels)}
    for a in alarms:
        fam = next((f for f in KIND_OF if a["kind"] == f or _family(a) == f), None)
        if fam is None or not a["first_ts"]:
            continue
        ftype = KIND_OF[fam]
        first = datetime.fromisoformat(a["first_ts"]).timestamp()
        last = datetime.fromisoformat(a["last_ts"] or a["first_ts"]).timestamp()
        if last < live0:
            continue
        if a["object_type"] == "system":
            pts = [codes[i] for i in systems.get(a["object_id"], [])]
        else:
            pts = [a["point_code"]]
        hit = False
        near = False
        for code in pts:
            for lab in by_point.get(code, []):
                lo, hi = (
                    lab.start - STEP,
                    lab.end
                    + (slack if ftype in ("comm_loss", "failure_drift", "above_norm") else STEP),
                )
                if first <= hi and last >= lo:
                    if lab.type == ftype:
                        detected.add(ids[id(lab)])
                        hit = True
                    else:
                        near = True
        if hit:
            tp[ftype] += 1
        elif near:
            other[ftype] += 1
        else:
            fp[ftype] += 1
            if verbose:
                print(
                    f"  false {ftype}: {a['object_type']} {a['object_id']} {a['first_ts']} .. {a['last_ts']} count={a['count']}"
                )
    print()
    print(
        f"{'fault type':<16}{'labels':>8}{'found':>8}{'recall':>8}{'alarms':>8}{'TP':>6}{'FP':>6}{'other':>7}{'precision':>11}"
    )
    for ftype in (
        "comm_loss",
        "voltage_sag",
        "voltage_swell",
        "above_norm",
        "tamper",
        "failure_drift",
    ):
        labs = [n for n, lab in enumerate(labels) if lab.type == ftype]
        found = sum(1 for n in labs if n in detected)
        rec = found / len(labs) if labs else float("nan")
        n_al = tp[ftype] + fp[ftype]
        prec = tp[ftype] / n_al if n_al else float("nan")
        print(
            f"{ftype:<16}{len(labs):>8}{found:>8}{rec:>8.3f}{n_al + other[ftype]:>8}{tp[ftype]:>6}{fp[ftype]:>6}{other[ftype]:>7}{prec:>11.3f}"
        )


def _family(a: dict[str, Any]) -> str | None:
    name = a["details"].get("rule_name", "")
    return {
        "Voltage sag (below nominal − tolerance)": "voltage_sag",
        "Voltage swell (above nominal + tolerance)": "voltage_swell",
        "Consumption above the daily norm": "above_norm_day",
        "Meter cover opened": "cover_opened",
        "Magnetic field on the meter": "magnetic_field",
        "Deviation from the point's seasonal baseline": "anomaly",
    }.get(name)


async def load_phase(stack: Any, args: argparse.Namespace, rng: np.random.Generator) -> None:
    """Batches as fast as ingest takes them; each sag timed from receipt to its alarm on NATS."""
    if args.load_seconds <= 0:
        return
    worlds, _, codes = setup(stack, args.load_subjects, args.load_points, rng, "LD")
    owner = {p["code"]: w.bin for w in worlds for p in w.points}
    by_subject: dict[str, list[str]] = defaultdict(list)
    for code in codes:
        by_subject[owner[code]].append(code)
    await asyncio.sleep(3)
    nc = await nats.connect(stack.state()["infra"]["nats_url"])
    raised: dict[tuple[str, float], float] = {}

    async def on_alarm(msg: Any) -> None:
        ev = json.loads(msg.data)
        a = ev["alarm"]
        if (
            ev["type"] in ("raised", "reopened")
            and a["kind"] == "band"
            and a["point_code"] in owner
        ):
            last = datetime.fromisoformat(a["last_ts"]).timestamp()
            raised.setdefault((a["point_code"], last), time.time())

    sub = await nc.subscribe("egsu.alarms.>", cb=on_alarm)
    sags: dict[tuple[str, float], float] = {}  # ingest's received_at of the sag's batch
    receipts: dict[tuple[str, float], float] = {}  # when the receipt (202) was answered
    t = int(time.time()) // STEP * STEP - 400 * 86400
    sent = 0
    stop_at = time.monotonic() + args.load_seconds
    intervals_per_batch = max(1, args.load_batch // (len(codes) // len(by_subject) * 4))

    async def worker(bin_: str, pts: list[str]) -> None:
        nonlocal t, sent
        async with client(stack, "operator") as c:
            while time.monotonic() < stop_at:
                my_t = t
                t += STEP * intervals_per_batch
                rows, marks = [], []
                for k in range(intervals_per_batch):
                    ts = my_t + STEP * (k + 1)
                    stamp = kz(datetime.fromtimestamp(ts, UTC))
                    for code in pts:
                        sag = rng.random() < args.sag_rate
                        rows.append(
                            {"point": code, "quantity": "active_import", "ts": stamp, "value": 10.0}
                        )
                        for q in PHASES:
                            v = NOMINAL * (0.8 if sag and q == "voltage_l1" else 1.0)
                            rows.append({"point": code, "quantity": q, "ts": stamp, "value": v})
                        if sag:
                            marks.append((code, float(ts)))
                rec = await post(c, bin_, rows)
                answered = time.time()
                got = datetime.fromisoformat(rec["received_at"]).timestamp()
                for mk in marks:
                    sags[mk] = got
                    receipts[mk] = answered
                sent += len(rows)

    started = time.monotonic()
    await asyncio.gather(
        *(
            worker(b, p)
            for b, p in by_subject.items()
            for _ in range(args.concurrency // len(by_subject) or 1)
        )
    )
    elapsed = time.monotonic() - started
    await asyncio.sleep(5)
    await sub.unsubscribe()
    await nc.drain()
    missing = sum(1 for k in sags if k not in raised)
    print()
    print(
        f"load: {sent:,} readings in {elapsed:.1f} s = {sent / elapsed:,.0f} readings/s through ingest"
    )
    for name, start in (("ingest received_at", sags), ("receipt answered (202)", receipts)):
        delays = sorted(raised[k] - start[k] for k in start if k in raised)
        if len(delays) > 1:
            q = statistics.quantiles(delays, n=100)
            print(
                f"{name} → alarm on NATS: n={len(delays)} p50={q[49] * 1000:.0f} ms p95={q[94] * 1000:.0f} ms max={delays[-1] * 1000:.0f} ms"
            )
    print(
        f"sags without an alarm event: {missing} (flapping or repeated sags on one point notify once)"
    )
    async with httpx.AsyncClient() as h:
        metrics = (await h.get(stack.service_url("monitoring") + "/metrics")).text
    for name in ("egsu_monitoring_batch_seconds", "egsu_monitoring_receipt_to_commit_seconds"):
        total = next(
            float(x.split()[-1]) for x in metrics.splitlines() if x.startswith(name + "_sum")
        )
        count = next(
            float(x.split()[-1]) for x in metrics.splitlines() if x.startswith(name + "_count")
        )
        print(
            f"{name}: mean {total / max(count, 1) * 1000:.0f} ms over {count:.0f} batches (whole run)"
        )


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--subjects", type=int, default=8)
    ap.add_argument("--points", type=int, default=20)
    ap.add_argument("--history-days", type=int, default=8)
    ap.add_argument("--live-days", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--load-seconds", type=float, default=30)
    ap.add_argument("--load-subjects", type=int, default=4)
    ap.add_argument("--load-points", type=int, default=50)
    ap.add_argument("--load-batch", type=int, default=5000)
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--sag-rate", type=float, default=0.0005)
    ap.add_argument("--verbose", action="store_true")
    asyncio.run(main(ap.parse_args()))
