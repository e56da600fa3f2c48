"""VEE accuracy and speed on seeded synthetic series with injected, labelled defects.

    .venv/bin/python bench/vee_eval.py --points 400 --heat 100 --days 14 --seed 1

Generates a small energy system (consumption points with interval energy, its register, power and
voltage; heat points with heat energy, supply and return coolant mass and temperature), injects
defects with ground-truth labels, then replays it day by day the way the historian stores it: one
batch per subject and day, with the context the writer fetches (the readings just before the
batch, the statistics of the last 72 hours) and what earlier batches left behind (estimates in
place of rejected readings, flags). Prints precision and recall per defect type and the engine's
throughput in readings per second on one core (deduplication, statistics, every rule, estimation
and the numbers behind every flag; not the database).

Recall counts labelled defects that got at least one flag of their rule; precision counts flagged
readings that lie in a labelled defect explaining the flag (a spike also breaks the sum check of
its interval, so a sum-check flag on a spike is right). The egsu simulator's labelled data can
replace this generator once it lands.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from egsu.contracts.registry import PointIndexItem
from egsu.contracts.vocabulary import resolve_quantity, unit_factor
from egsu.measurements.points import series_spec
from egsu.measurements.vee import estimate as E
from egsu.measurements.vee import rules as R
from egsu.measurements.vee.config import RuleBook
from egsu.measurements.vee.engine import (
    Frame,
    Outages,
    Series,
    series_stats,
    validate,
)
from egsu.measurements.writer import dedup

DAY = 86400
T0 = 1_772_391_600  # 2026-03-02 00:00 +05:00
ELEC_Q = ("active_import", "active_import_register", "active_power", "voltage_l1")
HEAT_Q = ("heat_energy", "coolant_mass_supply", "coolant_mass_return", "temp_supply")
QID = {q: i + 1 for i, q in enumerate((*ELEC_Q, "active_export", *HEAT_Q))}
K_BACK = 9  # intervals of context before a batch, as the writer fetches for 15-minute points

# defect type -> the rule that should catch it; goals (recall, precision) from the issue
DETECTS = {
    "gap": "gap",
    "spike": "spike",
    "negative": "negative",
    "duplicate": "duplicate",
    "stuck": "stuck",
    "rollover": "rollover",
    "sum_mismatch": "sum_check",
    "clock_skew": "clock_skew",
    "future": "future",
    "too_old": "too_old",
    "capacity": "capacity",
    "zero": "zero_consumption",
    "export": "export_import_only",
    "voltage_range": "voltage_range",
    "voltage_fluctuation": "voltage_fluctuation",
    "above_norm": "above_norm",
    "heat_imbalance": "heat_balance",
}
POINT_WIDE = {"heat_balance"}  # the rule flags both pipes; a defect on either explains both
STRICT = {"gap", "spike", "negative", "duplicate", "stuck", "rollover"}
# a defect also counts as caught by these rules: a spike rejected as beyond the connection's
# capacity; a clock off by more than a third of the interval is refused by ingest and becomes a gap
ALSO_DETECTED_BY = {"spike": ("capacity",), "clock_skew": ("gap",)}
# a flag of the rule is right where one of these defects is
EXPLAINS = {
    "spike": {"spike", "capacity"},
    # a clock off by half an interval lands on its neighbour's slot
    "duplicate": {"duplicate", "clock_skew_edge"},
    # no voltage at all during a power loss is outside the band too
    "voltage_range": {"voltage_range", "power_loss"},
    # a day pushed far above its usual load (the simulator's above_norm) can pass the capacity
    "capacity": {"capacity", "spike", "above_norm"},
    # a wrong supply or return reading breaks the balance too
    "heat_balance": {"heat_imbalance", "spike", "negative", "duplicate"},
    "sum_check": {"sum_mismatch", "spike", "negative", "duplicate", "capacity"},
    "register_decrease": {"sum_mismatch"},
}


@dataclass
class Group:
    """Dense series of one interval length: rows are series, columns intervals."""

    step: int
    per_day: int
    point: list[int] = field(default_factory=list)
    quantity: list[str] = field(default_factory=list)
    truth: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    value: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    present: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))
    skew: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    t0: int = T0

    def ts(self, t: np.ndarray) -> np.ndarray:
        return self.t0 + (np.asarray(t) + 1) * self.step

    def index(self, ts: np.ndarray | int) -> np.ndarray:
        return (np.asarray(ts) - self.t0) // self.step - 1


@dataclass
class System:
    groups: dict[str, Group]
    infos: list[PointIndexItem]
    subject_of: np.ndarray
    labels: list[dict[str, Any]]
    extras: list[dict[str, Any]]  # readings outside the grid: duplicates, future, too old
    events: list[tuple[int, int, str]]
    rows_of_point: dict[int, list[tuple[str, int]]]
    t0: int = T0


def bump(h: np.ndarray, centre: float, width: float) -> np.ndarray:
    d = np.abs((h - centre + 12) % 24 - 12)
    return np.exp(-0.5 * (d / width) ** 2)  # type: ignore[no-any-return]


def generate(n_elec: int, n_heat: int, days: int, seed: int) -> System:
    rng = np.random.default_rng(seed)
    n = n_elec + n_heat
    subject_of = np.arange(n) // 50
    infos: list[PointIndexItem] = []
    e = Group(900, 96)
    h = Group(3600, 24)
    klass = rng.choice(["res", "com", "ind", "flat"], n_elec, p=[0.4, 0.3, 0.2, 0.1])
    base = rng.lognormal(3.0, 0.8, n)  # kW (electricity) / ×0.01 Gcal/h (heat)
    import_only = rng.random(n_elec) < 0.2
    has_norm = rng.random(n_elec) < 0.3
    rollover = rng.random(n_elec) < 0.05
    mv = rng.random(n_elec) < 0.5
    rows_of_point: dict[int, list[tuple[str, int]]] = defaultdict(list)

    te = np.arange(days * 96)
    mid = T0 + te * 900 + 450
    hour = ((mid - T0) % DAY) / 3600.0
    weekday = ((mid - T0) // DAY + 0) % 7  # 2026-03-02 is a Monday
    off = weekday >= 5
    shapes = {
        "res": (
            0.55 + 0.3 * bump(hour, 8, 1.3) + 0.5 * bump(hour, 20.5, 2) + 0.12 * bump(hour, 13, 2.5)
        )
        * np.where(off, 1.05, 1.0),
        "com": 0.35
        + np.where(off, 0.2, 0.65)
        * (1 / (1 + np.exp(-(hour - 8.5) * 3)))
        * (1 - 1 / (1 + np.exp(-(hour - 19) * 2))),
        "ind": 0.92 + 0.04 * np.sin(2 * np.pi * hour / 24),
        "flat": np.full(len(te), 0.9),
    }
    rows = []
    for p in range(n_elec):
        shape = shapes[klass[p]] * (1 + 0.03 * rng.standard_normal(len(te)))
        if klass[p] == "ind" and rng.random() < 0.3:  # a new shift from some day on: not a defect
            shape = shape * np.where(te >= rng.integers(1, max(days, 2)) * 96, 1.3, 1.0)
        energy = np.round(np.maximum(shape, 0) * base[p] * 0.25, 3)
        digits = 6 if rollover[p] else 9
        limit = 10.0**digits
        start = (
            limit - energy[: int(96 * rng.uniform(2, days - 1))].sum()
            if rollover[p]
            else rng.uniform(1e4, 1e6)
        )
        register = np.round(np.mod(start + np.cumsum(energy), limit), 3)
        u_nom = 10_000.0 if mv[p] else 400.0
        phase = u_nom / math.sqrt(3)
        volts = np.round(
            phase
            * (1 + 0.01 * np.sin(2 * np.pi * te / 96 + p) + 0.003 * rng.standard_normal(len(te))),
            1,
        )
        power = np.round(energy / 0.25, 3)
        day_max = energy.reshape(days, 96).sum(axis=1).max()
        norms = {"daily_energy_kwh": round(float(day_max) * 1.2, 1)} if has_norm[p] else {}
        quantities = [*ELEC_Q] + (["active_export"] if import_only[p] else [])
        infos.append(
            PointIndexItem(
                id=str(p),
                code=f"E{p:05d}",
                subject_bin=f"{subject_of[p]:012d}",
                facility_id=f"F{p // 5}",
                facility_type="consumer_site",
                region_kato="550000000",
                commodity="electricity",
                position="consumption",
                quantities=quantities,
                interval_min=15,
                nominal_voltage=u_nom,
                max_power_kw=round(float(base[p]) * 2.5, 1),
                register_digits=digits,
                import_only=bool(import_only[p]),
                norms=norms,
            )
        )
        series = [energy, register, power, volts] + ([np.zeros(len(te))] if import_only[p] else [])
        for q, x in zip(quantities, series, strict=True):
            rows_of_point[p].append(("e", len(rows)))
            e.point.append(p)
            e.quantity.append(q)
            rows.append(x)
    e.truth = np.asarray(rows)

    th = np.arange(days * 24)
    hmid = T0 + th * 3600 + 1800
    hh = ((hmid - T0) % DAY) / 3600.0
    rows = []
    for j in range(n_heat):
        p = n_elec + j
        load = (0.8 + 0.15 * bump(hh, 7, 2) + 0.1 * bump(hh, 20, 2)) * (
            1 + 0.02 * rng.standard_normal(len(th))
        )
        gcal = np.round(load * base[p] * 0.01, 4)
        supply = np.round(gcal / 0.03, 3)  # Δθ ≈ 30 K
        ret = np.round(supply * (1 - 0.004 + 0.002 * rng.standard_normal(len(th))), 3)
        temp = np.round(70 + 10 * load + 0.3 * rng.standard_normal(len(th)), 2)
        infos.append(
            PointIndexItem(
                id=str(p),
                code=f"H{p:05d}",
                subject_bin=f"{subject_of[p]:012d}",
                facility_id=f"F{p // 5}",
                facility_type="consumer_site",
                region_kato="550000000",
                commodity="heat",
                position="consumption",
                quantities=list(HEAT_Q),
                interval_min=60,
                max_power_kw=round(float(base[p]) * 0.01 * 1163 * 2.5, 1),
                norms={"heat_balance_tolerance_pct": 3.0},
            )
        )
        for q, x in zip(HEAT_Q, (gcal, supply, ret, temp), strict=True):
            rows_of_point[p].append(("h", len(rows)))
            h.point.append(p)
            h.quantity.append(q)
            rows.append(x)
    h.truth = np.asarray(rows) if rows else np.zeros((0, len(th)))
    for g in (e, h):
        g.value = g.truth.copy()
        g.present = np.ones(g.truth.shape, bool)
        g.skew = np.zeros(g.truth.shape)
    system = System({"e": e, "h": h}, infos, subject_of, [], [], [], dict(rows_of_point))
    inject(system, rng, n_elec, days, rollover)
    return system


def inject(
    s: System, rng: np.random.Generator, n_elec: int, days: int, rollover: np.ndarray
) -> None:
    e, h = s.groups["e"], s.groups["h"]
    labels = s.labels

    def row(p: int, q: str) -> tuple[str, int] | None:
        for g, r in s.rows_of_point.get(p, ()):
            if s.groups[g].quantity[r] == q:
                return g, r
        return None

    def follow(reg_row: int, a: int, change: np.ndarray) -> None:
        """The register follows what the meter measured from interval ``a`` on."""
        limit = 10.0 ** (s.infos[e.point[reg_row]].register_digits or 9)
        more = np.zeros(e.value.shape[1] - a)
        more[: len(change)] = change
        e.value[reg_row, a:] = np.round(np.mod(e.value[reg_row, a:] + np.cumsum(more), limit), 3)

    def label(kind: str, cells: list[tuple[str, int, int]], extras: tuple[int, ...] = ()) -> None:
        labels.append({"type": kind, "cells": cells, "extras": list(extras)})

    for p in range(n_elec):
        info = s.infos[p]
        for d in range(days):
            lo = d * 96
            busy: list[tuple[int, int]] = []

            def span(
                length: int, lo: int = lo, busy: list[tuple[int, int]] = busy
            ) -> tuple[int, int] | None:
                for _ in range(6):
                    a = lo + int(rng.integers(1, 96 - length - 1))
                    b = a + length - 1
                    if all(b + 2 < x or a > y + 2 for x, y in busy):
                        busy.append((a, b))
                        return a, b
                return None

            ai = row(p, "active_import")[1]  # type: ignore[index]
            reg = row(p, "active_import_register")[1]  # type: ignore[index]
            pw = row(p, "active_power")[1]  # type: ignore[index]
            vl = row(p, "voltage_l1")[1]  # type: ignore[index]
            typical = float(e.truth[ai, lo : lo + 96].mean())
            u = rng.random(20)
            if u[0] < 0.03 and (sp := span(int(rng.integers(1, 13)))):
                a, b = sp
                for _, r in s.rows_of_point[p]:
                    e.present[r, a : b + 1] = False
                label("gap", [("e", r, t) for _, r in s.rows_of_point[p] for t in range(a, b + 1)])
            if u[1] < 0.02 and (sp := span(1)):
                t = sp[0]
                e.value[ai, t] = round(max(e.value[ai, t], typical) * rng.uniform(5, 15), 3)
                label("spike", [("e", ai, t)])
            if u[2] < 0.01 and (sp := span(1)):
                t = sp[0]
                e.value[ai, t] = -round(max(abs(e.value[ai, t]), 0.1 * typical), 3)
                label("negative", [("e", ai, t)])
            if u[3] < 0.02 and (sp := span(1)):
                t = sp[0]
                other = round(
                    e.value[ai, t] * (1 + rng.choice([-1, 1]) * rng.uniform(0.08, 0.38)), 3
                )
                s.extras.append(
                    {"g": "e", "r": ai, "t": t, "value": other, "kind": "duplicate", "day": d}
                )
                label("duplicate", [("e", ai, t)])
            if u[4] < 0.015 and (sp := span(int(rng.integers(8, 26)))):
                a, b = sp
                r = pw if rng.random() < 0.6 else vl
                e.value[r, a : b + 1] = e.value[r, a]
                label("stuck", [("e", r, t) for t in range(a, b + 1)])
            if u[5] < 0.01 and (sp := span(int(rng.integers(4, 26)))):
                a, b = sp
                sk = float(rng.choice([-1, 1]) * rng.integers(17, 290))
                for _, r in s.rows_of_point[p]:
                    e.skew[r, a : b + 1] = sk
                label(
                    "clock_skew",
                    [("e", r, t) for _, r in s.rows_of_point[p] for t in range(a, b + 1)],
                )
            if u[6] < 0.005:
                k = int(rng.integers(1, 5))
                ids = []
                for j in range(k):
                    s.extras.append(
                        {
                            "g": "e",
                            "r": ai,
                            "t": lo + 96 + 5 + j,
                            "value": typical,
                            "kind": "future",
                            "day": d,
                        }
                    )
                    ids.append(len(s.extras) - 1)
                label("future", [], tuple(ids))
            if u[7] < 0.005:
                s.extras.append(
                    {
                        "g": "e",
                        "r": ai,
                        "t": lo - 400 * 96 + int(rng.integers(0, 96)),
                        "value": typical,
                        "kind": "too_old",
                        "day": d,
                    }
                )
                label("too_old", [], (len(s.extras) - 1,))
            if u[8] < 0.012 and (sp := span(1)):
                t = sp[0]
                e.value[reg, t] = round(e.value[reg, t] + typical * rng.uniform(3, 10), 3)
                label("sum_mismatch", [("e", reg, t)])
            if info.import_only and u[9] < 0.03 and (sp := span(int(rng.integers(1, 5)))):
                a, b = sp
                ex = row(p, "active_export")[1]  # type: ignore[index]
                e.value[ex, a : b + 1] = np.round(typical * rng.uniform(0.1, 1.0, b - a + 1), 3)
                label("export", [("e", ex, t) for t in range(a, b + 1)])
            if u[10] < 0.006 and (sp := span(int(rng.integers(1, 4)))):
                a, b = sp
                cap = info.max_power_kw * 0.25 * 1.2  # type: ignore[operator]
                e.value[ai, a : b + 1] = np.round(cap * rng.uniform(1.3, 2.0, b - a + 1), 3)
                label("capacity", [("e", ai, t) for t in range(a, b + 1)])
            if u[11] < 0.012 and (sp := span(int(rng.integers(4, 25)))):
                a, b = sp  # the meter reads nothing while the site works: both channels stop
                e.value[ai, a : b + 1] = 0.0
                e.value[pw, a : b + 1] = 0.0
                follow(reg, a, -e.truth[ai, a : b + 1])
                label("zero", [("e", ai, t) for t in range(a, b + 1)])
            if u[12] < 0.012 and (sp := span(int(rng.integers(1, 9)))):
                a, b = sp  # a power outage: zeros that are right (events say so)
                e.value[ai, a : b + 1] = 0.0
                e.value[pw, a : b + 1] = 0.0
                follow(reg, a, -e.truth[ai, a : b + 1])
                ts = e.ts(np.array([a, b]))
                s.events += [
                    (p, int(ts[0] - 900 + 60), "power_loss"),
                    (p, int(ts[1] - 30), "power_restored"),
                ]
                label("power_loss", [("e", ai, t) for t in range(a, b + 1)])
            if u[13] < 0.02 and (sp := span(int(rng.integers(1, 6)))):
                a, b = sp
                f = rng.uniform(0.72, 0.87) if rng.random() < 0.6 else rng.uniform(1.12, 1.19)
                e.value[vl, a : b + 1] = np.round(e.value[vl, a : b + 1] * f, 1)
                label("voltage_range", [("e", vl, t) for t in range(a, b + 1)])
            if u[14] < 0.012 and (sp := span(int(rng.integers(2, 7)) + 1)):
                a, b = sp  # swings of ±6..8 % inside the band; the return step belongs to it
                sign = np.where(np.arange(b - a) % 2 == 0, 1.0, -1.0)
                e.value[vl, a:b] = np.round(
                    e.value[vl, a:b] * (1 + sign * rng.uniform(0.06, 0.08)), 1
                )
                label("voltage_fluctuation", [("e", vl, t) for t in range(a, b + 1)])
            if info.norms and u[15] < 0.03:
                f = rng.uniform(1.5, 2.5)
                e.value[ai, lo : lo + 96] = np.round(e.value[ai, lo : lo + 96] * f, 3)
                e.value[pw, lo : lo + 96] = np.round(e.value[pw, lo : lo + 96] * f, 3)
                follow(reg, lo, e.value[ai, lo : lo + 96] - e.truth[ai, lo : lo + 96])
                label("above_norm", [("e", ai, t) for t in range(lo, lo + 96)])
    # register rollovers: every wrap of what the meter shows, at the reading after it
    for p in np.flatnonzero(rollover).tolist():
        _, r = row(p, "active_import_register")  # type: ignore[misc]
        reg = e.value[r]
        for t in np.flatnonzero(reg[1:] < reg[:-1] - 0.5 * 10.0**6).tolist():
            label("rollover", [("e", r, t + 1)])
    for j in range(len(s.infos) - n_elec):
        p = n_elec + j
        rows = {h.quantity[r]: r for _, r in s.rows_of_point[p]}
        for d in range(days):
            if rng.random() < 0.03:
                a = d * 24 + int(rng.integers(1, 12))
                b = a + int(rng.integers(3, 12))
                r = rows["coolant_mass_return"]
                h.value[r, a : b + 1] = np.round(
                    h.value[r, a : b + 1] * (1 - rng.uniform(0.06, 0.2)), 3
                )
                label(
                    "heat_imbalance",
                    [
                        ("h", rows[q], t)
                        for q in ("coolant_mass_supply", "coolant_mass_return")
                        for t in range(a, b + 1)
                    ],
                )
            if rng.random() < 0.02:
                a = d * 24 + int(rng.integers(1, 12))
                b = a + int(rng.integers(0, 3))
                for r in rows.values():
                    h.present[r, a : b + 1] = False
                label("gap", [("h", r, t) for r in rows.values() for t in range(a, b + 1)])
            if rng.random() < 0.01:
                a = d * 24 + int(rng.integers(1, 12))
                r = rows["heat_energy"]
                h.value[r, a] = round(h.value[r, a] * rng.uniform(5, 15), 4)
                label("spike", [("h", r, a)])
            if rng.random() < 0.01:
                a = d * 24 + int(rng.integers(1, 12))
                b = a + int(rng.integers(8, 12))
                r = rows["temp_supply"]
                h.value[r, a : b + 1] = h.value[r, a]
                label("stuck", [("h", r, t) for t in range(a, b + 1)])


@dataclass
class Store:
    """What the historian holds after each batch: current values and their flags."""

    value: np.ndarray
    present: np.ndarray
    actual: np.ndarray
    ok: np.ndarray
    bits: np.ndarray
    estimated: np.ndarray  # a gap estimate was written here
    gap_found: np.ndarray  # the gap rule found this interval missing


def replay(s: System, days: int, book: RuleBook) -> dict[str, Any]:
    stores = {
        k: Store(
            value=np.zeros(g.truth.shape),
            present=np.zeros(g.truth.shape, bool),
            actual=np.zeros(g.truth.shape, bool),
            ok=np.zeros(g.truth.shape, bool),
            bits=np.zeros(g.truth.shape, np.int64),
            estimated=np.zeros(g.truth.shape, bool),
            gap_found=np.zeros(g.truth.shape, bool),
        )
        for k, g in s.groups.items()
    }
    extra_bits = np.zeros(len(s.extras), np.int64)
    extras_at: dict[tuple[str, int, int], list[int]] = defaultdict(list)
    for i, x in enumerate(s.extras):
        extras_at[(x["g"], x["r"], x["day"])].append(i)
    subjects = sorted(set(s.subject_of.tolist()))
    # the series of each subject, in a fixed order: (group, row)
    series_of: dict[int, list[tuple[str, int]]] = {}
    specs_of: dict[int, Series] = {}
    zero_series: dict[int, dict[int, list[int]]] = {}
    for subj in subjects:
        pts = np.flatnonzero(s.subject_of == subj).tolist()
        lst = [gr for p in pts for gr in s.rows_of_point[p]]
        series_of[subj] = lst
        specs = []
        for g, r in lst:
            grp = s.groups[g]
            p = grp.point[r]
            info = s.infos[p]
            specs.append(
                series_spec(
                    p,
                    QID.setdefault(grp.quantity[r], len(QID) + 1),
                    grp.quantity[r],
                    info.commodity,
                    info.interval_min,
                    info,
                    book,
                )
            )
        specs_of[subj] = Series(specs)
        zs: dict[int, list[int]] = defaultdict(list)
        for i, sp in enumerate(specs):
            if sp.enabled & R.ZERO:
                zs[sp.pid].append(i)
        zero_series[subj] = dict(zs)
    events_by_point = defaultdict(list)
    for ev in s.events:
        events_by_point[ev[0]].append(ev)
    engine_s = 0.0
    readings = 0
    estimates: list[tuple[str, int, int, float, int]] = []
    for d in range(days):
        for subj in subjects:
            ser = specs_of[subj]
            lst = series_of[subj]
            received = float(s.t0 + (d + 1) * DAY + 3600)
            # --- the batch as ingest sends it (columns) ---------------------------------
            b_s, b_t, b_v, b_k, b_x = [], [], [], [], []
            c_s, c_t, c_v, c_a, c_o = [], [], [], [], []
            for i, (g, r) in enumerate(lst):  # per series (the writer does this in SQL)
                grp = s.groups[g]
                st = stores[g]
                lo, hi = d * grp.per_day, (d + 1) * grp.per_day
                idx = np.flatnonzero(grp.present[r, lo:hi]) + lo
                b_s.append(np.full(len(idx), i))
                b_t.append(grp.ts(idx))
                b_v.append(grp.value[r, idx])
                b_k.append(grp.skew[r, idx])
                b_x.append(idx)
                # context: the readings just before the batch and the last one before those
                k_back = max(K_BACK, 120 * 60 // grp.step + 1) if grp.step <= 900 else 3
                c0 = max(0, lo - k_back)
                cidx = np.flatnonzero(st.present[r, c0:lo]) + c0
                before = np.flatnonzero(st.present[r, max(0, c0 - 48 * 3600 // grp.step) : c0])
                if len(before):
                    cidx = np.r_[before[-1] + max(0, c0 - 48 * 3600 // grp.step), cidx]
                c_s.append(np.full(len(cidx), i))
                c_t.append(grp.ts(cidx))
                c_v.append(st.value[r, cidx])
                c_a.append(st.actual[r, cidx])
                c_o.append(st.ok[r, cidx])
            extra = [(i, x) for i, (g, r) in enumerate(lst) for x in extras_at.get((g, r, d), ())]
            bs = np.concatenate([*b_s, np.array([i for i, _ in extra], np.int64)])
            bt = np.concatenate(
                [
                    *b_t,
                    np.array(
                        [s.groups[lst[i][0]].ts(s.extras[x]["t"]) for i, x in extra], np.int64
                    ),
                ]
            )
            bv = np.concatenate([*b_v, np.array([s.extras[x]["value"] for _, x in extra], float)])
            bk = np.concatenate([*b_k, np.zeros(len(extra))])
            on_grid = [
                s.extras[x]["t"] if s.extras[x]["kind"] == "duplicate" else -1 for _, x in extra
            ]
            bx = np.concatenate([*b_x, np.array(on_grid, np.int64)])
            bextra = np.concatenate(
                [np.full(sum(len(x) for x in b_x), -1), np.array([x for _, x in extra], np.int64)]
            )
            cs, ct, cv = np.concatenate(c_s), np.concatenate(c_t), np.concatenate(c_v)
            ca, co = np.concatenate(c_a), np.concatenate(c_o)
            pid = ser.pid[bs]
            qid = ser.qid[bs]
            outages = Outages.from_events(
                zero_series[subj],
                [ev for p in set(pid.tolist()) for ev in events_by_point.get(p, ())],
            )
            # statistics of the last 72 hours (what the writer keeps per series)
            hs, ht, hv = [], [], []
            for i, (g, r) in enumerate(lst):
                grp, st = s.groups[g], stores[g]
                lo = d * grp.per_day
                w0 = max(0, lo - 72 * 3600 // grp.step)
                hidx = np.flatnonzero(st.ok[r, w0:lo]) + w0
                hs.append(np.full(len(hidx), i))
                ht.append(grp.ts(hidx))
                hv.append(st.value[r, hidx])
            hs_, ht_, hv_ = np.concatenate(hs), np.concatenate(ht), np.concatenate(hv)

            # --- the engine ----------------------------------------------------------------
            started = time.process_time()
            order, rank, dup = dedup(pid, qid, bt, bv)
            last = np.ones(len(order), bool)
            last[:-1] = rank[1:] == 1
            fin = order[last]
            hf = Frame.build(
                hs_,
                ht_,
                hv_,
                np.zeros(len(hs_), bool),
                np.ones(len(hs_), bool),
                np.ones(len(hs_), bool),
            )
            ser.stored = series_stats(hf, ser)
            n_b, n_c = len(fin), len(cs)
            f = Frame.build(
                np.r_[cs, bs[fin]], np.r_[ct, bt[fin]], np.r_[cv, bv[fin]],
                np.r_[np.zeros(n_c, bool), np.ones(n_b, bool)], np.r_[ca, np.ones(n_b, bool)],
                np.r_[co, np.ones(n_b, bool)], np.r_[np.zeros(n_c), bk[fin]],
                np.r_[np.zeros(n_c, bool), dup[last]], np.r_[-(np.arange(n_c) + 1), fin],
            )  # fmt: skip
            verdict = validate(f, ser, received, outages)
            tg = E.linear(E.targets(f, ser, verdict), ser)
            ks, kt = E.profile_keys(tg, ser)
            if len(ks):
                tg = E.profile(tg, ser, ks, kt, _lookup(s, stores, lst, ks, kt))
            flagged = np.flatnonzero(verdict.bits)
            verdict.details(flagged)
            gaps = verdict.gaps
            engine_s += time.process_time() - started
            readings += len(bt)

            # --- what the historian keeps ---------------------------------------------------
            batch_rows = np.flatnonzero(f.batch)
            src = f.tag[batch_rows]
            grid_rows = batch_rows[bx[src] >= 0]
            gsrc = f.tag[grid_rows]
            for g in s.groups:
                sel = (
                    np.array([lst[int(i)][0] == g for i in f.s[grid_rows]], bool)
                    if len(grid_rows)
                    else np.zeros(0, bool)
                )
                rr = np.array([lst[int(i)][1] for i in f.s[grid_rows][sel]], np.int64)
                tt = bx[gsrc[sel]]
                st = stores[g]
                st.value[rr, tt] = f.v[grid_rows[sel]]
                st.present[rr, tt] = True
                st.actual[rr, tt] = True
                st.ok[rr, tt] = (verdict.bits[grid_rows[sel]] & R.FAILING_MASK) == 0
                st.bits[rr, tt] |= verdict.bits[grid_rows[sel]]
            xr = batch_rows[bx[src] < 0]
            extra_bits[bextra[f.tag[xr]]] |= verdict.bits[xr]
            # run flags reaching back into stored readings
            ctx_rows = np.flatnonzero(~f.batch & (verdict.bits != 0))
            for row in ctx_rows.tolist():  # a handful
                g, r = lst[int(f.s[row])]
                grp = s.groups[g]
                t = int(grp.index(f.ts[row]))
                stores[g].bits[r, t] |= int(verdict.bits[row])
                stores[g].ok[r, t] = False
            for k in range(
                len(gaps.s)
            ):  # per gap found (the writer records those within the limit)
                g, r = lst[int(gaps.s[k])]
                grp = s.groups[g]
                if gaps.missing[k] * grp.step > 48 * 3600:
                    continue
                a = int(grp.index(f.ts[gaps.left[k]]))
                lo_, hi_ = max(a + 1, 0), min(a + 1 + int(gaps.missing[k]), grp.value.shape[1])
                if lo_ < hi_:
                    stores[g].gap_found[r, lo_:hi_] = True
            good = ~np.isnan(tg.value)
            for i in np.flatnonzero(good).tolist():  # per estimate
                g, r = lst[int(tg.s[i])]
                grp = s.groups[g]
                t = int(grp.index(tg.ts[i]))
                st = stores[g]
                st.value[r, t] = tg.value[i]
                st.present[r, t] = True
                st.actual[r, t] = False
                st.ok[r, t] = False
                if tg.replaces[i] < 0:
                    st.estimated[r, t] = True
                    st.bits[r, t] |= R.GAP
                estimates.append((g, r, t, float(tg.value[i]), int(tg.method[i])))
    return {
        "stores": stores,
        "extra_bits": extra_bits,
        "engine_s": engine_s,
        "readings": readings,
        "estimates": estimates,
    }


def _lookup(
    s: System, stores: dict[str, Store], lst: list[tuple[str, int]], ks: np.ndarray, kt: np.ndarray
) -> np.ndarray:
    out = np.full(len(ks), np.nan)
    for j, (i, t) in enumerate(zip(ks.tolist(), kt.tolist(), strict=True)):  # estimates: rare
        g, r = lst[i]
        grp = s.groups[g]
        k = int(grp.index(t))
        if 0 <= k < grp.truth.shape[1] and stores[g].ok[r, k]:
            out[j] = stores[g].value[r, k]
    return out


def evaluate(s: System, res: dict[str, Any]) -> list[dict[str, Any]]:
    stores, extra_bits = res["stores"], res["extra_bits"]
    covers: dict[str, dict[str, np.ndarray]] = {}
    extra_cov: dict[str, set[int]] = defaultdict(set)
    for lab in s.labels:
        m = covers.setdefault(
            lab["type"], {g: np.zeros(x.truth.shape, bool) for g, x in s.groups.items()}
        )
        for g, r, t in lab["cells"]:
            m[g][r, t] = True
        extra_cov[lab["type"]].update(lab["extras"])
    # a reading whose clock is off by half an interval lands on the slot next to its own
    if "clock_skew" in covers:
        covers["clock_skew_edge"] = {}
        for g, m in covers["clock_skew"].items():
            edge = m.copy()
            edge[:, 1:] |= m[:, :-1]
            edge[:, :-1] |= m[:, 1:]
            covers["clock_skew_edge"][g] = edge
    out = []
    by_type = defaultdict(list)
    for lab in s.labels:
        by_type[lab["type"]].append(lab)
    for kind, rule in DETECTS.items():
        labs = by_type.get(kind, [])
        if rule == "gap":  # the gap rule found the interval missing (estimated or not)
            flag = {g: st.gap_found for g, st in stores.items()}
            missing = {g: ~x.present for g, x in s.groups.items()}
            found = sum(1 for lab in labs if any(flag[g][r, t] for g, r, t in lab["cells"]))
            slots = sum(int((flag[g]).sum()) for g in flag)
            right = sum(int((flag[g] & missing[g]).sum()) for g in flag)
            out.append(_row(kind, rule, len(labs), found, slots, right))
            continue
        bit = R.BY_CODE[rule].mask
        explains = EXPLAINS.get(rule, {kind})
        any_bit = bit
        for other in ALSO_DETECTED_BY.get(kind, ()):
            any_bit |= R.BY_CODE[other].mask
        found = 0
        for lab in labs:
            hit = (
                any(stores[g].bits[r, t] & any_bit for g, r, t in lab["cells"])
                or any(extra_bits[x] & any_bit for x in lab["extras"])
                or (
                    "gap" in ALSO_DETECTED_BY.get(kind, ())
                    and any(not s.groups[g].present[r, t] for g, r, t in lab["cells"])
                )
            )
            found += bool(hit)
        flagged = right = 0
        for g, st in stores.items():
            fl = (st.bits & bit) != 0
            ok = np.zeros(fl.shape, bool)
            for k in explains:
                if k in covers:
                    ok |= covers[k][g]
            if rule in POINT_WIDE:  # a defect on any quantity of the point at that time explains it
                pts = np.asarray(s.groups[g].point)
                for k in explains:
                    if k in covers:
                        hit = np.zeros((pts.max() + 1, fl.shape[1]), bool)
                        np.logical_or.at(hit, pts, covers[k][g])
                        ok |= hit[pts]
            flagged += int(fl.sum())
            right += int((fl & ok).sum())
        fx = np.flatnonzero(extra_bits & bit)
        flagged += len(fx)
        right += sum(1 for x in fx.tolist() if any(x in extra_cov[k] for k in explains))
        out.append(_row(kind, rule, len(labs), found, flagged, right))
    # the control: zeros during a reported outage must not be flagged
    labs = by_type.get("power_loss", [])
    wrong = sum(1 for lab in labs if any(stores[g].bits[r, t] & R.ZERO for g, r, t in lab["cells"]))
    out.append(
        {
            "defect": "power_loss (control)",
            "rule": "zero_consumption",
            "labelled": len(labs),
            "detected": wrong,
            "recall": None,
            "flagged": None,
            "precision": None,
            "goal": "no flag",
            "ok": wrong == 0,
        }
    )
    return out


def _row(
    kind: str, rule: str, labelled: int, found: int, flagged: int, right: int
) -> dict[str, Any]:
    recall = found / labelled if labelled else None
    precision = right / flagged if flagged else None
    goal = (0.95, 0.90) if kind in STRICT else (0.85, 0.85)
    ok = (recall is None or recall >= goal[0]) and (precision is None or precision >= goal[1])
    return {
        "defect": kind,
        "rule": rule,
        "labelled": labelled,
        "detected": found,
        "recall": recall,
        "flagged": flagged,
        "precision": precision,
        "goal": f"R≥{goal[0]:.2f} P≥{goal[1]:.2f}",
        "ok": ok,
    }


def estimation_error(s: System, res: dict[str, Any]) -> dict[str, Any]:
    errs: dict[int, list[float]] = defaultdict(list)
    for g, r, t, v, method in res["estimates"]:
        grp = s.groups[g]
        if grp.quantity[r] not in ("active_import", "heat_energy") or grp.present[r, t]:
            continue
        truth = grp.truth[r, t]
        if truth > 0:
            errs[method].append(abs(v - truth) / truth)
    return {E.METHODS[m]: (len(x), float(np.mean(x))) for m, x in errs.items()}


# --- the egsu simulator's data set (``egsu simulate --out DIR --format csv``) -------------------

SIM_TYPES = {  # simulator label -> the defect type evaluated here
    "gap": "gap",
    "comm_loss": "gap",
    "spike": "spike",
    "negative": "negative",
    "duplicate": "duplicate",
    "stuck": "stuck",
    "clock_skew": "clock_skew",
    "rollover": "rollover",
    "voltage_sag": "voltage_range",
    "voltage_swell": "voltage_range",
    "above_norm": "above_norm",
    "power_loss": "power_loss",
}


def _epoch(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp())


def simulate(out: Path, points: int, days: int, seed: int) -> None:
    """Write a data set with the egsu simulator (seeded, labelled defects), as `egsu simulate` does."""
    from egsu.simulator.defects import Rates
    from egsu.simulator.generator import Simulation
    from egsu.simulator.model import build
    from egsu.simulator.output import write_dataset

    first = date(2026, 1, 12)  # the simulator's default first day
    system = build(points, seed, first + timedelta(days=days - 1))
    sim = Simulation(system, seed=seed, start=first, rates=Rates(), horizon_days=days)
    write_dataset(
        out,
        system,
        sim,
        start=first,
        days=days,
        fmt="parquet",
        meta={"seed": seed, "points": points},
    )


def _frame(path: Path, name: str, fmt: str) -> Any:
    import polars as pl

    f = path / f"{name}.{fmt}"
    return pl.read_parquet(f) if fmt == "parquet" else pl.read_csv(f, infer_schema_length=0)


def _seconds(col: Any, fmt: str) -> np.ndarray:
    """Epoch seconds of a timestamp column (UTC instants in Parquet, ISO text with offset in CSV)."""
    import polars as pl

    if fmt == "csv":
        col = col.str.to_datetime("%Y-%m-%dT%H:%M:%S%z", time_zone="UTC")
    return col.cast(pl.Datetime("us", "UTC")).dt.epoch("s").to_numpy().astype(np.int64)  # type: ignore[no-any-return]


def load_simulator(path: Path) -> tuple[System, int]:
    """An `egsu simulate --out` data set, canonicalised and snapped to the grid as ingest would."""
    import polars as pl

    manifest = json.loads((path / "manifest.json").read_text())
    fmt, days = manifest.get("format", "parquet"), int(manifest["days"])
    t0 = _epoch(f"{manifest['start']}T00:00:00+05:00")
    fac = _frame(path / "registry", "facilities", fmt)
    ftype = dict(zip(fac["key"].to_list(), fac["type"].to_list(), strict=True))
    mp = _frame(path / "registry", "metering_points", fmt)

    def num(x: Any) -> float | None:
        return None if x in (None, "") else float(x)

    infos: list[PointIndexItem] = []
    for r in mp.iter_rows(named=True):  # per point
        norms = {}
        if num(r.get("daily_norm_kwh")):
            norms["daily_energy_kwh"] = num(r["daily_norm_kwh"])
        if num(r.get("daily_norm_gcal")):
            norms["heat_daily_gcal"] = num(r["daily_norm_gcal"])
        quantities = r["quantities"]
        if isinstance(quantities, str):
            quantities = json.loads(quantities)
        infos.append(
            PointIndexItem(
                id=r["code"],
                code=r["code"],
                subject_bin=r["subject_bin"],
                facility_id=r["facility_key"],
                facility_type=ftype.get(r["facility_key"], "other"),
                region_kato=r["region_kato"],
                commodity=r["commodity"],
                position=r["position"],
                quantities=list(quantities),
                units=json.loads(r["units"] or "{}"),
                interval_min=int(r["interval_min"]),
                nominal_voltage=num(r["nominal_voltage"]),
                rated_current=num(r["rated_current"]),
                max_power_kw=num(r["max_power_kw"]),
                register_digits=int(float(r["register_digits"]))
                if num(r["register_digits"])
                else None,
                import_only=str(r["import_only"]).lower() == "true",
                norms=norms,
            )
        )
    bins = sorted({i.subject_bin for i in infos})
    subject_of = np.asarray([bins.index(i.subject_bin) for i in infos])
    groups: dict[str, Group] = {}
    rows_of_point: dict[int, list[tuple[str, int]]] = defaultdict(list)
    series = {"point": [], "quantity": [], "group": [], "row": [], "step": []}
    for p, info in enumerate(infos):
        g = f"g{info.interval_min}"
        grp = groups.setdefault(g, Group(info.interval_min * 60, 1440 // info.interval_min, t0=t0))
        for q in info.quantities:
            rows_of_point[p].append((g, len(grp.point)))
            for k, v in (
                ("point", info.code),
                ("quantity", q),
                ("group", g),
                ("row", len(grp.point)),
                ("step", grp.step),
            ):
                series[k].append(v)
            grp.point.append(p)
            grp.quantity.append(q)
    sf = pl.DataFrame(series)
    for grp in groups.values():
        shape = (len(grp.point), days * grp.per_day)
        grp.value, grp.present, grp.skew = np.zeros(shape), np.zeros(shape, bool), np.zeros(shape)
    s = System(groups, infos, subject_of, [], [], [], dict(rows_of_point), t0=t0)
    factor_rows = []
    for d in range(days):
        day = (date.fromisoformat(manifest["start"]) + timedelta(days=d)).isoformat()
        files = sorted((path / "readings").glob(f"{day}*.{fmt}"))
        for file in files:
            rd = (
                pl.read_parquet(file)
                if fmt == "parquet"
                else pl.read_csv(file, infer_schema_length=0)
            )
            rd = rd.join(sf, on=["point", "quantity"], how="inner")
            pairs = rd.select("quantity", "unit").unique()
            for q, u in pairs.iter_rows():  # per (quantity, unit), a few dozen
                qq = resolve_quantity(q)
                factor_rows.append((q, u, unit_factor(qq, u) if qq else None))
            fac_df = pl.DataFrame(
                factor_rows, schema=["quantity", "unit", "factor"], orient="row"
            ).unique()
            rd = rd.join(fac_df, on=["quantity", "unit"], how="inner").filter(
                pl.col("factor").is_not_null()
            )
            ts = _seconds(rd["ts"], fmt)
            step = rd["step"].to_numpy()
            skew = (ts + step / 2) % step - step / 2
            ok = np.abs(skew) <= step / 3  # further off is refused by ingest (misaligned)
            value = rd["value"].cast(pl.Float64).to_numpy() * rd["factor"].to_numpy()
            gcol, rcol = rd["group"].to_numpy(), rd["row"].to_numpy()
            for g, grp in groups.items():
                m = ok & (gcol == g)
                idx = ((ts[m] - skew[m]).astype(np.int64) - t0) // grp.step - 1
                r = rcol[m]
                inside = (idx >= 0) & (idx < grp.value.shape[1])
                r, idx, v, sk = r[inside], idx[inside], value[m][inside], skew[m][inside]
                key = r * grp.value.shape[1] + idx
                _, first = np.unique(key, return_index=True)
                later = np.setdiff1d(np.arange(len(key)), first)
                grp.value[r[first], idx[first]] = v[first]
                grp.present[r[first], idx[first]] = True
                grp.skew[r[first], idx[first]] = sk[first]
                for j in later.tolist():  # a second value for a key: a duplicate in the batch
                    s.extras.append(
                        {
                            "g": g,
                            "r": int(r[j]),
                            "t": int(idx[j]),
                            "value": float(v[j]),
                            "kind": "duplicate",
                            "day": d,
                        }
                    )
    ev = _frame(path, "events", fmt)
    index = {i.code: k for k, i in enumerate(infos)}
    for p, t, code in zip(
        ev["point"].to_list(), _seconds(ev["ts"], fmt).tolist(), ev["code"].to_list(), strict=True
    ):
        if p in index:
            s.events.append((index[p], int(t), code))
    lab = _frame(path, "labels", fmt)
    row_of = {
        (index[pt], q): (g, r)
        for pt, q, g, r in zip(
            series["point"], series["quantity"], series["group"], series["row"], strict=True
        )
    }
    starts, ends = _seconds(lab["start"], fmt), _seconds(lab["end"], fmt)
    for k, r in enumerate(lab.iter_rows(named=True)):  # per label
        p = index.get(r["point"])
        if p is None:
            continue
        q = r["quantity"] or ""
        if q and (p, q) not in row_of:
            continue
        cells = []
        for g, row in [row_of[(p, q)]] if q else rows_of_point[p]:
            grp = groups[g]
            lo, hi = int(grp.index(starts[k])), int(grp.index(ends[k]))
            cells += [(g, row, t) for t in range(max(lo, 0), min(hi, grp.value.shape[1] - 1) + 1)]
        s.labels.append({"type": SIM_TYPES.get(r["type"], r["type"]), "cells": cells, "extras": []})
    for (
        grp
    ) in groups.values():  # the truth behind a gap is not in the data set: no estimation error
        grp.truth = np.where(grp.present, grp.value, np.nan)
    return s, days


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=400, help="electricity points")
    ap.add_argument("--heat", type=int, default=100, help="heat points")
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--source",
        choices=("own", "simulator"),
        default="own",
        help="own: this script's generator (--points electricity and --heat heat points); "
        "simulator: the egsu simulator with --points points (its default defect rates)",
    )
    ap.add_argument("--data", type=Path, help="evaluate an existing `egsu simulate --out` data set")
    args = ap.parse_args()
    t = time.perf_counter()
    if args.source == "simulator" or args.data:
        if args.data is None:
            tmp = Path(tempfile.mkdtemp(prefix="vee-sim-"))
            try:
                simulate(tmp, args.points, args.days, args.seed)
                s, args.days = load_simulator(tmp)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
            args.data = Path(f"(simulated, seed {args.seed})")
        else:
            s, args.days = load_simulator(args.data)
        what = f"egsu simulator data set {args.data} ({len(s.infos)} points, {args.days} days)"
    else:
        s = generate(args.points, args.heat, args.days, args.seed)
        what = f"{args.points} electricity + {args.heat} heat points, {args.days} days, seed {args.seed}"
    gen_s = time.perf_counter() - t
    res = replay(s, args.days, RuleBook())
    rows = evaluate(s, res)
    print(f"{what}; loaded in {gen_s:.1f} s; {len(s.labels)} labelled defects")  # fmt: skip
    print(
        f"\n{'defect':<22}{'rule':<22}{'labelled':>9}{'detected':>9}{'recall':>8}{'flagged':>9}{'precision':>10}  goal"
    )
    for r in rows:
        rec = f"{r['recall']:.3f}" if r["recall"] is not None else "–"
        pre = f"{r['precision']:.3f}" if r["precision"] is not None else "–"
        fl = r["flagged"] if r["flagged"] is not None else "–"
        print(
            f"{r['defect']:<22}{r['rule']:<22}{r['labelled']:>9}{r['detected']:>9}{rec:>8}{fl!s:>9}{pre:>10}  {r['goal']} {'ok' if r['ok'] else 'MISSED'}"
        )
    est = estimation_error(s, res)
    print("\nestimates of missing interval energy (mean absolute error vs. the truth):")
    for m, (n, e) in est.items():
        print(f"  {m:<12}{n:>7} intervals  {100 * e:6.2f} %")
    rate = res["readings"] / res["engine_s"]
    print(
        f"\nVEE engine: {res['readings']:,} readings in {res['engine_s']:.2f} s on one core = {rate:,.0f} readings/s"
    )


if __name__ == "__main__":
    main()
