"""Readings, meter events and defect labels of the energy system, one local day at a time.

A day is computed for all points as matrices (points × intervals) per quantity, in chunks of
points so that memory stays bounded at 100,000 points, then flattened to long rows
(point, quantity, ts, value, unit). Registers are carried from day to day in integer milli-units,
so interval energy equals the register delta exactly (except where a defect or a rollover is
labelled). Noise comes from counter-based hashing (noise.py): a given interval of a given point has
the same value whichever window it is generated in.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import holidays
import numpy as np

from egsu.contracts.vocabulary import QUANTITIES
from egsu.simulator import geo
from egsu.simulator.defects import DATA_TYPES, EVENT_CODES, EVENT_TEXT, PHYSICAL_TYPES, Rates
from egsu.simulator.model import (
    COM,
    CONS,
    FLAT,
    GEN,
    GRID,
    HEAT,
    HEAT_CONS,
    HEAT_OUT,
    HYDRO,
    IC,
    IND,
    OWN,
    RES,
    SOLAR,
    THERMAL,
    WIND,
    EnergySystem,
)  # fmt: skip
from egsu.simulator.noise import normal, uniform
from egsu.simulator.weather import Weather

TZ_OFFSET = 5 * 3600  # Kazakhstan, UTC+05:00 since 1 March 2024
QLIST: tuple[str, ...] = tuple(QUANTITIES)
Q = {q: i for i, q in enumerate(QLIST)}
ULIST: tuple[str, ...] = ("kWh", "MWh", "kvarh", "Mvarh", "kW", "V", "A", "Hz", "Gcal", "GJ",
                          "Gcal/h", "GJ/h", "t", "m³", "°C", "MPa")  # fmt: skip
U = {u: i for i, u in enumerate(ULIST)}
EV = {c: i for i, c in enumerate(EVENT_CODES)}
SIGMA = np.array([0.06, 0.06, 0.025, 0.03, 0.015, 0.03, 0.08, 0.04, 0.06, 0.03])
INTERVAL_Q = ("active_import", "active_export", "reactive_import", "reactive_export",
              "heat_energy", "coolant_mass_supply", "coolant_volume_supply")  # fmt: skip


def local_midnight(d: date) -> int:
    """UTC epoch seconds of 00:00+05:00 on ``d``."""
    return int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()) - TZ_OFFSET


def iso(ts: int) -> str:
    """``2026-01-15T10:15:00+05:00`` for UTC epoch seconds."""
    return (datetime.fromtimestamp(ts + TZ_OFFSET, UTC)).strftime("%Y-%m-%dT%H:%M:%S+05:00")


@dataclass
class Readings:
    """Long rows of readings; ``t_nom`` is the interval end the reading belongs to, ``ts`` the
    stamp the meter put on it (they differ under clock skew)."""

    point: np.ndarray
    quantity: np.ndarray
    ts: np.ndarray
    t_nom: np.ndarray
    value: np.ndarray
    unit: np.ndarray

    def __len__(self) -> int:
        return len(self.point)

    @staticmethod
    def concat(parts: list[Readings]) -> Readings:
        if not parts:
            e = np.zeros(0, dtype=np.int64)
            return Readings(
                e.astype(np.int32), e.astype(np.int16), e, e, e.astype(float), e.astype(np.int16)
            )
        return Readings(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                          ("point", "quantity", "ts", "t_nom", "value", "unit")))  # fmt: skip

    def take(self, idx: np.ndarray) -> Readings:
        return Readings(self.point[idx], self.quantity[idx], self.ts[idx], self.t_nom[idx],
                        self.value[idx], self.unit[idx])  # fmt: skip


@dataclass
class Events:
    point: list[int] = field(default_factory=list)
    ts: list[int] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    text: list[str] = field(default_factory=list)

    def add(self, point: int, ts: int, code: str, text: str | None = None) -> None:
        self.point.append(point)
        self.ts.append(ts)
        self.code.append(code)
        self.text.append(text or EVENT_TEXT[code])

    def sorted(self) -> Events:
        order = sorted(range(len(self.ts)), key=lambda i: (self.ts[i], self.point[i], self.code[i]))
        return Events(
            *([getattr(self, f)[i] for i in order] for f in ("point", "ts", "code", "text"))
        )


@dataclass
class Day:
    day: date
    readings: Readings
    events: Events
    labels: list[dict[str, Any]]


@dataclass
class _Defect:
    kind: str
    point: int
    a: int  # first affected interval (index in the point's grid of the day)
    b: int  # last affected interval
    quantity: str | None = None
    param: float = 0.0
    param2: float = 0.0


class Simulation:
    """Days of the system in order from ``start``; registers carry over from one day to the next."""

    def __init__(
        self,
        system: EnergySystem,
        *,
        seed: int,
        start: date,
        rates: Rates | None = None,
        horizon_days: int = 7,
        chunk_points: int = 5_000,
    ) -> None:
        self.sys = system
        self.seed = seed
        self.start = start
        self.rates = rates or Rates()
        self.weather = Weather(seed)
        self.chunk_points = chunk_points
        self.next_day = start
        self._cache: dict[date, Day] = {}
        self._holidays = holidays.country_holidays(
            "KZ", years=range(start.year - 1, start.year + 3)
        )
        s = system
        n = s.n_points
        role = s.p_role
        self.has_imp = (role == CONS) | (role == OWN) | (role == IC)
        self.has_exp = (role == GEN) | (role == IC)
        self.scale_div = np.where(s.p_scale & (role < HEAT_OUT), 1000.0, 1.0)
        self.limit = np.where(role < HEAT_OUT, 10 ** s.p_digits.astype(np.int64) * 1000, 1)
        rng = np.random.default_rng(np.random.SeedSequence([seed, 8001]))
        self.reg_imp = (rng.uniform(0.05, 0.6, n) * self.limit).astype(np.int64)
        self.reg_exp = (rng.uniform(0.05, 0.6, n) * self.limit).astype(np.int64)
        split = np.array([0.45, 0.35, 0.20])
        self.reg_t = (self.reg_imp[:, None] * split[None, :]).astype(np.int64)
        self.reg_imp = np.where(s.p_tariff, self.reg_t.sum(axis=1), self.reg_imp)
        # points whose total register wraps within the first days (label: rollover)
        elec = role < HEAT_OUT
        roll = elec & (rng.random(n) < self.rates.rollover)
        if self.rates.rollover > 0 and n >= 50 and not roll.any():
            roll[np.flatnonzero(elec)[:1]] = True
        hours = rng.uniform(0.1, 0.9, n) * horizon_days * 24
        per_hour = s.p_base * 0.45 * 1000 / self.scale_div
        near = np.maximum(self.limit - (hours * per_hour).astype(np.int64), 0)
        export_side = role == GEN
        self.reg_exp = np.where(roll & export_side, near, self.reg_exp)
        self.reg_imp = np.where(roll & ~export_side & ~s.p_tariff, near, self.reg_imp)
        self.reg_t = np.where(
            (roll & s.p_tariff)[:, None], (near[:, None] * split).astype(np.int64), self.reg_t
        )
        self.reg_imp = np.where(s.p_tariff, self.reg_t.sum(axis=1), self.reg_imp)
        self.rollover_points = np.flatnonzero(roll)
        self.ic_bias = 0.7 * uniform(seed, 31, np.arange(n), 0) * (role == IC)
        self.leak = 0.004 + 0.008 * uniform(seed, 32, np.arange(n), 0)
        self.wind_phase = (
            2 * np.pi * uniform(seed, 33, np.arange(n)[:, None], np.arange(4)[None, :])
        )

    # -- the public side -------------------------------------------------------------------------

    def day(self, d: date) -> Day:
        """The readings of local day ``d``; days before it are generated first (registers)."""
        if d in self._cache:
            return self._cache[d]
        if d < self.next_day:
            raise ValueError(f"day {d} is before the simulation's current day {self.next_day}")
        while self.next_day < d:
            self._generate(self.next_day, keep=False)
        return self._generate(d, keep=True)

    def chunks(self, d: date) -> Iterator[tuple[Readings, Events, list[dict[str, Any]]]]:
        """Day ``d`` chunk by chunk (bounded memory for large systems); must be called in order."""
        if d > self.next_day:
            self.day(d - timedelta(days=1))
        if d != self.next_day:
            raise ValueError(f"chunks of {d}: the simulation is at {self.next_day}")
        yield from self._day_chunks(d)
        self.next_day = d + timedelta(days=1)

    # -- a day -----------------------------------------------------------------------------------

    def _generate(self, d: date, *, keep: bool) -> Day:
        parts: list[Readings] = []
        events = Events()
        labels: list[dict[str, Any]] = []
        for r, e, lab in self._day_chunks(d):
            parts.append(r)
            events.point += e.point
            events.ts += e.ts
            events.code += e.code
            events.text += e.text
            labels += lab
        self.next_day = d + timedelta(days=1)
        readings = Readings.concat(parts)
        order = np.lexsort((readings.quantity, readings.point, readings.t_nom))
        out = Day(d, readings.take(order), events.sorted(), sorted(labels, key=_label_key))
        if keep:
            self._cache = {k: v for k, v in self._cache.items() if k >= d - timedelta(days=1)}
            self._cache[d] = out
        return out

    def _day_chunks(self, d: date) -> Iterator[tuple[Readings, Events, list[dict[str, Any]]]]:
        t0 = local_midnight(d)
        sched, comm = self._schedule(d)
        for interval in (5, 15):
            pts = np.flatnonzero(self.sys.p_interval == interval)
            if not len(pts):
                continue
            t_end = t0 + (np.arange(1440 // interval, dtype=np.int64) + 1) * interval * 60
            for k in range(0, len(pts), self.chunk_points):
                yield self._chunk(d, pts[k : k + self.chunk_points], interval, t_end, sched, comm)

    def _schedule(self, d: date) -> tuple[dict[int, list[_Defect]], dict[int, tuple[int, int]]]:
        """Which defects strike which points on day ``d`` (drawn for all points at once)."""
        s, r = self.sys, self.rates
        n = s.n_points
        rng = np.random.default_rng(np.random.SeedSequence([self.seed, 9001, d.toordinal()]))
        u_data, u_phys = rng.random(n), rng.random(n)
        pos = rng.random((n, 2))
        ln = rng.random((n, 2))
        par = rng.random((n, 4))
        n_intervals = 1440 // s.p_interval
        role, cls = s.p_role, s.p_class
        elec = role < HEAT_OUT
        has_norm = ~np.isnan(s.p_norm_kwh)
        applicable = {
            "gap": np.ones(n, bool), "spike": np.ones(n, bool), "stuck": np.ones(n, bool),
            "negative": np.ones(n, bool), "duplicate": np.ones(n, bool),
            "clock_skew": np.ones(n, bool),
            "above_norm": has_norm, "power_loss": elec, "cover_opened": np.ones(n, bool),
            "magnetic_field": (role == CONS) | (role == OWN) | (role == IC) | (role == HEAT_CONS),
            "clock_set": np.ones(n, bool), "voltage_sag": s.p_pq, "voltage_swell": s.p_pq,
            "failure": ((role == GEN) & np.isin(cls, [THERMAL, HYDRO])) | (role == HEAT_OUT)
            | ((role == CONS) & (cls == IND)),
        }  # fmt: skip
        out: dict[int, list[_Defect]] = {}

        def draw(types: tuple[str, ...], u: np.ndarray) -> np.ndarray:
            kind = np.full(n, -1)
            cum = np.zeros(n)
            for i, t in enumerate(types):
                p = getattr(r, t) * applicable[t]
                hit = (kind < 0) & (u >= cum) & (u < cum + p)
                kind[hit] = i
                cum = cum + p
            return kind

        # communication loss of whole systems (a subject's ASKUE), aligned to quarter hours
        n_sub = len(s.bins)
        srng = np.random.default_rng(np.random.SeedSequence([self.seed, 9002, d.toordinal()]))
        lost = srng.random(n_sub) < r.comm_loss
        q_len = srng.integers(4, 25, n_sub)
        q_start = (srng.random(n_sub) * (96 - q_len)).astype(np.int64)
        comm = {
            int(j): (int(q_start[j]) * 900, int(q_start[j] + q_len[j]) * 900)
            for j in np.flatnonzero(lost)
        }

        phys = draw(PHYSICAL_TYPES, u_phys)
        for p in np.flatnonzero(phys >= 0).tolist():
            t = PHYSICAL_TYPES[phys[p]]
            T = int(n_intervals[p])
            length = {"power_loss": 1 + int(ln[p, 1] * 8), "magnetic_field": 2 + int(ln[p, 1] * 7),
                      "voltage_sag": 1 + int(ln[p, 1] * 4), "voltage_swell": 1 + int(ln[p, 1] * 4),
                      "failure": 8 + int(ln[p, 1] * 17)}.get(t, 1)  # fmt: skip
            if t == "above_norm":
                a, b = 0, T - 1
            elif t == "failure":
                a = int(pos[p, 1] * (T - length - 4))
                b = a + length - 1
            else:
                a = int(pos[p, 1] * (T - length + 1))
                b = a + length - 1
            out.setdefault(p, []).append(
                _Defect(t, p, a, b, None, float(par[p, 2]), float(par[p, 3]))
            )

        data = draw(DATA_TYPES, u_data)
        for p in np.flatnonzero(data >= 0).tolist():
            t = DATA_TYPES[data[p]]
            T = int(n_intervals[p])
            length = {"gap": 1 + int(ln[p, 0] * 12), "stuck": 8 + int(ln[p, 0] * 17),
                      "clock_skew": 4 + int(ln[p, 0] * 21)}.get(t, 1)  # fmt: skip
            a = int(pos[p, 0] * (T - length + 1))
            qs = s.points["quantities"][p]
            q = None
            if t in ("spike", "negative", "duplicate"):
                cands = [x for x in qs if x in INTERVAL_Q]
                q = cands[int(par[p, 0] * len(cands))]
            elif t == "stuck":
                cands = [
                    x
                    for x in qs
                    if x in ("active_power", "voltage_l1", "heat_power", "temp_supply")
                ]
                q = cands[int(par[p, 0] * len(cands))]
                if cls[p] == SOLAR or (q == "active_power" and role[p] == IC):
                    # a stuck value must stand out: at a solar plant only by day
                    per_h = 60 // int(s.p_interval[p])
                    a = 9 * per_h + int(pos[p, 0] * max(1, 4 * per_h - length))
            b = a + length - 1
            prior = out.get(p, [])
            if any(x.a <= b + 1 and a <= x.b + 1 and x.kind != "above_norm" for x in prior):
                continue  # keep each label's effect visible: no data defect on top of a physical one
            prior.append(_Defect(t, p, a, b, q, float(par[p, 1]), float(par[p, 3])))
            out[p] = prior

        # a point whose system is silent shows nothing else meanwhile
        if comm:
            t_step = s.p_interval * 60
            for p in list(out):
                span = comm.get(int(s.p_subject[p]))
                if span is None:
                    continue
                keep = []
                for x in out[p]:
                    lo, hi = x.a * t_step[p], (x.b + 1) * t_step[p]
                    if x.kind == "above_norm" or hi <= span[0] or lo >= span[1]:
                        keep.append(x)
                out[p] = keep
        return out, comm

    # -- the physics of a chunk ------------------------------------------------------------------

    def _chunk(
        self,
        d: date,
        pts: np.ndarray,
        interval: int,
        t_end: np.ndarray,
        sched: dict[int, list[_Defect]],
        comm: dict[int, tuple[int, int]],
    ) -> tuple[Readings, Events, list[dict[str, Any]]]:
        s, seed = self.sys, self.seed
        P, T = len(pts), len(t_end)
        h = interval / 60.0
        t_mid = t_end - interval * 30
        step = t_end // 300
        hour = ((t_mid + TZ_OFFSET) % 86400) / 3600.0
        start_hour = ((t_end - interval * 60 + TZ_OFFSET) % 86400) // 3600
        off = d.weekday() >= 5 or d in self._holidays
        holiday = d in self._holidays
        doy = d.timetuple().tm_yday
        reg = s.p_region[pts]
        regions = np.arange(len(geo.KATOS))[:, None]
        temp = self.weather.temperature(regions, t_mid[None, :])[reg]
        smooth = self.weather.smooth(regions, t_mid[None, :])[reg]
        cls = s.p_class[pts]
        role = s.p_role[pts]
        base = s.p_base[pts]

        shape = np.ones((P, T))
        heat_frac = np.zeros((P, T))
        for c in np.unique(cls).tolist():
            rows = cls == c
            shape[rows] = _shape(c, hour, temp[rows], smooth[rows], off, holiday, doy, t_mid,
                                 self.wind_phase[pts[rows]], s.p_lat[pts[rows]],
                                 geo.LON[reg[rows]], reg[rows], d, seed)  # fmt: skip
            if c == HEAT:
                heat_frac[rows] = _heating(temp[rows], smooth[rows], geo.T_DESIGN[reg[rows]])
        eps = normal(seed, 11, pts[:, None], step[None, :])
        shape = shape * (1 + SIGMA[cls][:, None] * eps)
        ic = role == IC
        if ic.any():
            wave = 1 + 0.3 * np.sin(2 * np.pi * t_mid[None, :] / (3.1 * 86400) + 7 * pts[ic, None])
            shape[ic] = shape[ic] - self.ic_bias[pts[ic], None] * wave
        shape[~ic] = np.maximum(shape[~ic], 0)
        power = base[:, None] * shape  # kW (signed at interchange points) or Gcal/h

        local = np.full(s.n_points, -1)
        local[pts] = np.arange(P)
        mine = [x for p in pts.tolist() for x in sched.get(p, ())]
        dead = np.zeros((P, T), bool)
        v_factor = np.ones((P, T, 3))
        t_drift = np.zeros((P, T))
        for x in mine:
            i = local[x.point]
            sl = slice(x.a, x.b + 1)
            if x.kind == "above_norm":
                norm = s.p_norm_kwh[x.point]
                day_total = max(float(np.abs(power[i]).sum() * h), 1e-9)
                power[i] *= max(1.5, 1.3 * norm / day_total)
            elif x.kind == "power_loss":
                power[i, sl] = 0
                dead[i, sl] = True
            elif x.kind == "magnetic_field":
                power[i, sl] *= 0.35
            elif x.kind == "failure":
                ramp = np.linspace(1.0, 0.62, x.b - x.a + 1)
                power[i, sl] *= ramp
                power[i, x.b + 1 :] = 0
                t_drift[i, sl] = np.linspace(0, 1, x.b - x.a + 1)
                t_drift[i, x.b + 1 :] = 1
                v_factor[i, sl, :] *= np.linspace(1.0, 0.955, x.b - x.a + 1)[:, None]
            elif x.kind in ("voltage_sag", "voltage_swell"):
                phases = 1 + int(x.param * 3)
                lo, hi = (0.72, 0.87) if x.kind == "voltage_sag" else (1.12, 1.19)
                v_factor[i, sl, :phases] *= lo + (hi - lo) * x.param2

        blocks: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = []  # q, rows, values, units

        def put(q: str, rows: np.ndarray, values: np.ndarray, unit: np.ndarray | str) -> None:
            if len(rows):
                u = np.full(len(rows), U[unit]) if isinstance(unit, str) else unit
                blocks.append((q, rows, values, u))

        rollover_labels: list[dict[str, Any]] = []

        # electricity
        e = np.flatnonzero(role < HEAT_OUT)
        if len(e):
            ge = pts[e]
            div = self.scale_div[ge][:, None]
            scaled = s.p_scale[ge]
            pw = power[e]
            imp = np.rint(np.maximum(pw, 0) * h / div * 1000).astype(np.int64)
            exp = np.rint(np.maximum(-pw, 0) * h / div * 1000).astype(np.int64)
            gen = role[e] == GEN
            exp[gen], imp[gen] = imp[gen], 0
            tan = s.p_tan_phi[ge][:, None] * (
                1 + 0.05 * normal(seed, 12, ge[:, None], step[None, :])
            )
            r_imp = np.rint(imp * tan).astype(np.int64)
            r_exp = np.rint(exp * tan).astype(np.int64)
            ekwh, ekvarh = (
                np.where(scaled, U["MWh"], U["kWh"]),
                np.where(scaled, U["Mvarh"], U["kvarh"]),
            )
            hi_, he_ = self.has_imp[ge], self.has_exp[ge]
            put("active_import", e[hi_], imp[hi_] / 1000, ekwh[hi_])
            put("reactive_import", e[hi_], r_imp[hi_] / 1000, ekvarh[hi_])
            put("active_export", e[he_], exp[he_] / 1000, ekwh[he_])
            put("reactive_export", e[he_], r_exp[he_] / 1000, ekvarh[he_])
            kw = (imp - exp) / 1000 * div / h
            put("active_power", e, np.round(kw, 3), "kW")
            # registers: integer milli-units, wrap at 10^digits
            for q, has, flow, state in (("active_import_register", hi_, imp, self.reg_imp),
                                        ("active_export_register", he_, exp, self.reg_exp)):  # fmt: skip
                rows, gp = e[has], ge[has]
                if not len(rows):
                    continue
                lim = self.limit[gp][:, None]
                before = state[gp]
                cum = before[:, None] + np.cumsum(flow[has], axis=1)
                state[gp] = cum[:, -1] % lim[:, 0]
                shown = cum % lim
                prev = np.concatenate([before[:, None] % lim, shown[:, :-1]], axis=1)
                for rr, tt in zip(*np.nonzero(shown < prev), strict=True):
                    rollover_labels.append(_label("rollover", int(gp[rr]), q, int(t_end[tt]), int(t_end[tt]), s,
                                                  {"limit": float(lim[rr, 0] / 1000)}))  # fmt: skip
                put(q, rows, shown / 1000, ekwh[has])
            tar = s.p_tariff[ge]
            if tar.any():
                zone = _zone(start_hour)
                rows, gp = e[tar], ge[tar]
                for z in range(3):
                    flow = np.where(zone[None, :] == z, imp[tar], 0)
                    cum = self.reg_t[gp, z][:, None] + np.cumsum(flow, axis=1)
                    lim = self.limit[gp][:, None]
                    self.reg_t[gp, z] = cum[:, -1] % lim[:, 0]
                    put(f"active_import_register:t{z + 1}", rows, (cum % lim) / 1000, ekwh[tar])
            # power quality
            pq = s.p_pq[ge]
            if pq.any():
                rows, gp = e[pq], ge[pq]
                nominal = s.p_nominal_v[gp][:, None]
                phase_v = np.where(nominal < 1000, nominal, nominal / math.sqrt(3))
                load = np.clip(np.abs(shape[rows]), 0, 2)
                pf = 1 / np.sqrt(1 + s.p_tan_phi[gp] ** 2)
                kw_abs = np.abs(kw[pq])
                for k in range(3):
                    v = nominal * (1 + 0.012 * normal(seed, 20 + k, gp[:, None], step[None, :])
                                   - 0.01 * (load - 0.7)) * v_factor[rows, :, k]  # fmt: skip
                    v[dead[rows]] = 0
                    put(f"voltage_l{k + 1}", rows, np.round(v, 2), "V")
                    amps = (
                        kw_abs
                        * 1000
                        / (3 * phase_v * pf[:, None])
                        * (1 + 0.02 * normal(seed, 23 + k, gp[:, None], step[None, :]))
                    )
                    amps[dead[rows]] = 0
                    put(f"current_l{k + 1}", rows, np.round(amps, 2), "A")
                grid_f = (
                    50
                    + 0.025 * np.sin(2 * np.pi * t_mid / 5400.0)
                    + 0.012 * normal(seed, 26, 0, step)
                )
                f = grid_f[None, :] + 0.002 * normal(seed, 27, gp[:, None], step[None, :])
                f[dead[rows]] = 0
                put("frequency", rows, np.round(f, 3), "Hz")

        # heat
        hr = np.flatnonzero(role >= HEAT_OUT)
        if len(hr):
            gh = pts[hr]
            gj = s.p_scale[gh]
            gcal = np.maximum(power[hr], 0) * h
            frac = np.clip(heat_frac[hr], 0, 1)
            on = 1 / (1 + np.exp((smooth[hr] - 9.0) / 1.2))
            flow = (s.p_base[gh][:, None] * 1000 / 65 * (0.55 + 0.45 * on)
                    * (1 + 0.01 * normal(seed, 40, gh[:, None], step[None, :])))  # fmt: skip
            t_sup = (
                65
                + 60 * frac
                + 0.4 * normal(seed, 41, gh[:, None], step[None, :])
                - 18 * t_drift[hr]
            )
            mass_s = np.maximum(flow * h, gcal * 1000 / np.maximum(t_sup - 25, 5))
            # the sensor's own noise: when the flow limit is reached the return water sits at
            # 25 °C, but no thermometer reads exactly the same value for hours
            t_ret = (
                t_sup - gcal * 1000 / mass_s + 0.05 * normal(seed, 43, gh[:, None], step[None, :])
            )
            mass_r = mass_s * (1 - self.leak[gh][:, None])
            factor = np.where(gj, 4.1868, 1.0)[:, None]
            energy = np.round(gcal * factor, 6)
            put("heat_energy", hr, energy, np.where(gj, U["GJ"], U["Gcal"]))
            put("heat_power", hr, np.round(energy / h, 6), np.where(gj, U["GJ/h"], U["Gcal/h"]))
            put("coolant_mass_supply", hr, np.round(mass_s, 3), "t")
            put("coolant_mass_return", hr, np.round(mass_r, 3), "t")
            put("coolant_volume_supply", hr, np.round(mass_s * 1000 / _density(t_sup), 3), "m³")
            put("coolant_volume_return", hr, np.round(mass_r * 1000 / _density(t_ret), 3), "m³")
            put("temp_supply", hr, np.round(t_sup, 2), "°C")
            put("temp_return", hr, np.round(t_ret, 2), "°C")
            pr = s.p_pressure[gh]
            if pr.any():
                n1 = normal(seed, 42, gh[pr][:, None], step[None, :])
                put("pressure_supply", hr[pr], np.round(0.75 + 0.02 * n1, 4), "MPa")
                put("pressure_return", hr[pr], np.round(0.35 + 0.01 * n1, 4), "MPa")

        # data defects, communication loss, clock skew
        present = np.ones((P, T), bool)
        offset = np.zeros((P, T), np.int64)
        events = Events()
        labels: list[dict[str, Any]] = []
        by_q = {q: (rows, vals) for q, rows, vals, _ in blocks}
        dup_rows: list[tuple[int, int, int, float, int]] = []  # local row, q, t, value, unit
        unit_of = {q: u for q, _, _, u in blocks}
        step_s = interval * 60
        for x in mine:
            i, p = local[x.point], x.point
            sl = slice(x.a, x.b + 1)
            start, end = int(t_end[x.a]), int(t_end[x.b])
            typical = max(float(s.p_base[p]) * h, 1e-3)
            if x.quantity is not None:
                rows, vals = by_q[x.quantity]
                j = int(np.searchsorted(rows, i))
                qfac = 1.0
                if x.quantity in (
                    "active_import",
                    "active_export",
                    "reactive_import",
                    "reactive_export",
                ):
                    qfac = 1 / float(self.scale_div[p])
                elif x.quantity == "heat_energy" and s.p_scale[p]:
                    qfac = 4.1868
                elif x.quantity.startswith("coolant"):
                    qfac = 1000 / 65
            kind = x.kind
            if kind == "gap":
                present[i, sl] = False
            elif kind == "spike":
                v = vals[j, x.a]
                vals[j, x.a] = round(max(abs(v), typical * qfac) * (5 + 10 * x.param), 3)
            elif kind == "negative":
                vals[j, x.a] = -round(max(abs(vals[j, x.a]), 0.1 * typical * qfac), 3)
            elif kind == "stuck":
                vals[j, sl] = vals[j, x.a]
            elif kind == "duplicate":
                v = vals[j, x.a]
                other = (
                    v * (1 + (0.08 + 0.3 * x.param) * (1 if x.param2 < 0.5 else -1))
                    if v
                    else 0.1 * typical * qfac
                )
                dup_rows.append(
                    (i, Q[x.quantity], x.a, round(float(other), 6), int(unit_of[x.quantity][j]))
                )  # type: ignore[index]
            elif kind == "clock_skew":
                sign = 1 if x.param2 < 0.5 else -1
                skew = sign * (17 + int(x.param * 400))
                if skew % step_s == 0:
                    skew += 1
                offset[i, sl] = skew
                fix = end + skew + 30
                events.add(p, fix, "clock_set", f"{EVENT_TEXT['clock_set']}: {-skew:+d} с")
                labels.append(_label("clock_set", p, None, fix, fix, s, {"correction_s": -skew}))
            elif kind == "power_loss":
                events.add(p, start - step_s + 1 + int(x.param * (step_s - 2)), "power_loss")
                events.add(p, end - int(x.param2 * (step_s - 2)) - 1, "power_restored")
            elif kind == "cover_opened":
                at = start - step_s + 1 + int(x.param * (step_s - 2))
                events.add(p, at, "cover_opened")
                events.add(p, at + 600 + int(x.param2 * 1800), "cover_closed")
                start = end = at
            elif kind == "magnetic_field":
                events.add(p, start - step_s + 5, "magnetic_field")
                events.add(p, end - 5, "magnetic_field_end")
            elif kind == "clock_set":
                at = start - step_s + 60 + int(x.param * (step_s - 120))
                corr = int(3 + x.param2 * 15) * (1 if x.param < 0.5 else -1)
                events.add(p, at, "clock_set", f"{EVENT_TEXT['clock_set']}: {corr:+d} с")
                start = end = at
            if kind == "failure":
                fail = int(t_end[min(x.b + 1, T - 1)])
                events.add(p, fail - step_s + 7, "equipment_trip")
                labels.append(_label("failure_drift", p, None, start, end, s, {"failure_at": fail}))
                labels.append(_label("equipment_failure", p, None, fail, int(t_end[-1]), s, {}))
            elif kind in ("spike", "negative", "stuck", "duplicate", "gap", "clock_skew", "above_norm",
                          "power_loss", "magnetic_field", "voltage_sag", "voltage_swell", "cover_opened"):  # fmt: skip
                detail: dict[str, Any] = {}
                if kind == "clock_skew":
                    detail = {"skew_s": int(offset[i, x.a])}
                elif kind in ("voltage_sag", "voltage_swell"):
                    detail = {"phases": 1 + int(x.param * 3)}
                labels.append(_label(kind, p, x.quantity, start, end, s, detail))
            elif kind == "clock_set":
                labels.append(_label("clock_set", p, None, start, end, s, {"correction_s": corr}))

        subj = s.p_subject[pts]
        t0 = int(t_end[0]) - step_s
        for i in range(P):
            span = comm.get(int(subj[i]))
            if span is None:
                continue
            silent = (t_end > t0 + span[0]) & (t_end <= t0 + span[1])
            present[i, silent] = False
            k = np.flatnonzero(silent)
            labels.append(_label("comm_loss", int(pts[i]), None, int(t_end[k[0]]), int(t_end[k[-1]]), s,
                                 {"system": s.points["system_key"][pts[i]]}))  # fmt: skip

        # flatten
        parts = []
        for q, rows, vals, units in blocks:
            m = present[rows].ravel()
            parts.append(Readings(
                np.repeat(pts[rows], T).astype(np.int32)[m],
                np.full(len(rows) * T, Q[q], np.int16)[m],
                (np.tile(t_end, len(rows)) + offset[rows].ravel())[m],
                np.tile(t_end, len(rows))[m],
                np.asarray(vals, dtype=np.float64).ravel()[m],
                np.repeat(units, T).astype(np.int16)[m],
            ))  # fmt: skip
        for i, qi, t, v, u in dup_rows:
            if present[i, t]:
                parts.append(Readings(np.array([pts[i]], np.int32), np.array([qi], np.int16),
                                      np.array([t_end[t] + offset[i, t]]), np.array([t_end[t]]),
                                      np.array([v]), np.array([u], np.int16)))  # fmt: skip
        return Readings.concat(parts), events, labels + rollover_labels


# --- shapes -------------------------------------------------------------------------------------


def _bump(hour: np.ndarray, centre: float, width: float) -> np.ndarray:
    dist = np.abs((hour - centre + 12) % 24 - 12)
    return np.exp(-0.5 * (dist / width) ** 2)  # type: ignore[no-any-return]


def _heating(temp: np.ndarray, smooth: np.ndarray, design: np.ndarray) -> np.ndarray:
    """Share of design heating load: on while the smoothed outdoor temperature is below ~9 °C."""
    on = 1 / (1 + np.exp((smooth - 9.0) / 1.2))
    return on * np.clip((18 - temp) / (18 - design[:, None]), 0, 1.15)  # type: ignore[no-any-return]


def _shape(c: int, hour: np.ndarray, temp: np.ndarray, smooth: np.ndarray, off: bool,
           holiday: bool, doy: int, t_mid: np.ndarray, phase: np.ndarray, lat: np.ndarray,
           lon: np.ndarray, region: np.ndarray, d: date, seed: int) -> np.ndarray:  # fmt: skip
    """Load relative to the point's base power for one load class."""
    h = hour[None, :]
    res = 0.55 + 0.3 * _bump(h, 8, 1.3) + 0.5 * _bump(h, 20.5, 2.0) + 0.12 * _bump(h, 13, 2.5)
    if c == RES:
        weather = 1 + 0.012 * np.maximum(0, 12 - temp) + 0.02 * np.maximum(0, temp - 26)
        return res * (1.05 if off else 1.0) * weather  # type: ignore[no-any-return]
    if c == COM:
        work = 1 / (1 + np.exp(-(h - 8.5) * 3)) * (1 - 1 / (1 + np.exp(-(h - 19) * 2)))
        weather = 1 + 0.008 * np.maximum(0, 10 - temp) + 0.03 * np.maximum(0, temp - 24)
        return (0.35 + (0.2 if off else 0.65) * work) * weather  # type: ignore[no-any-return]
    if c == IND:
        k = 0.93 if holiday else 0.97 if off else 1.0
        return np.broadcast_to(k * (0.92 + 0.04 * np.sin(2 * np.pi * h / 24)), temp.shape).copy()
    if c == FLAT:
        return np.broadcast_to(0.9 + 0.03 * _bump(h, 19, 3), temp.shape).copy()
    if c == THERMAL:
        heat = 1 / (1 + np.exp((smooth - 9.0) / 2))
        return np.minimum(0.55 + 0.22 * heat + 0.12 * (res - 0.8), 1.0)  # type: ignore[no-any-return]
    if c == HYDRO:
        season = 0.35 + 0.45 * np.exp(-0.5 * ((doy - 150) / 35) ** 2)
        return np.broadcast_to(
            np.clip(season * (0.8 + 0.35 * (res - 0.8)), 0.05, 1.0), temp.shape
        ).copy()
    if c == WIND:
        periods = np.array([0.35, 0.9, 2.3, 5.1]) * 86400
        wave = sum(
            np.sin(2 * np.pi * t_mid[None, :] / periods[k] + phase[:, k, None]) for k in range(4)
        )
        v = 7.5 + 2.6 * wave + 1.0 * np.sin(2 * np.pi * (h - 15) / 24)
        cf = np.clip((v - 3) / 9.5, 0, 1) ** 2.2
        return np.where(v > 25, 0, cf)  # type: ignore[no-any-return]
    if c == SOLAR:
        dec = np.radians(23.44) * np.sin(2 * np.pi * (doy + 284) / 365)
        solar_time = ((t_mid[None, :] / 3600.0) + lon[:, None] / 15.0) % 24
        ha = np.radians(15 * (solar_time - 12))
        la = np.radians(lat)[:, None]
        sin_el = np.sin(la) * np.sin(dec) + np.cos(la) * np.cos(dec) * np.cos(ha)
        cloud = 0.35 + 0.65 * np.sqrt(uniform(seed, 34, region, d.toordinal()))[:, None]
        return np.maximum(sin_el, 0) ** 1.15 * cloud * 0.95  # type: ignore[no-any-return]
    if c == GRID:
        return res * (1 + 0.01 * np.maximum(0, 12 - temp))  # type: ignore[no-any-return]
    if c == HEAT:
        dhw = 0.12 * (0.7 + 0.5 * _bump(h, 8, 1.5) + 0.6 * _bump(h, 20, 2))
        return np.clip(_heating(temp, smooth, geo.T_DESIGN[region]) + dhw, 0.04, 1.3)  # type: ignore[no-any-return]
    raise ValueError(c)


def _zone(start_hour: np.ndarray) -> np.ndarray:
    """Tariff zone of each interval by the local hour it starts in: 0 peak, 1 day, 2 night."""
    h = start_hour
    peak = ((h >= 7) & (h < 9)) | ((h >= 18) & (h < 22))
    night = (h >= 23) | (h < 7)
    return np.where(peak, 0, np.where(night, 2, 1))


def _density(t: np.ndarray) -> np.ndarray:
    """Water density (kg/m³) at temperature ``t`` °C, good to about 0.5 % up to 150 °C."""
    return 1001.0 - 0.08 * t - 0.0036 * t**2  # type: ignore[no-any-return]


def _label(kind: str, p: int, q: str | None, start: int, end: int, s: EnergySystem,
           detail: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    return {
        "type": kind,
        "point": s.points["code"][p],
        "quantity": q,
        "system": s.points["system_key"][p] if kind == "comm_loss" else None,
        "start": start,
        "end": end,
        "detail": detail,
    }


def _label_key(x: dict[str, Any]) -> tuple[Any, ...]:
    return (x["start"], x["point"], x["type"], x["quantity"] or "", x["end"])


__all__ = [
    "QLIST",
    "ULIST",
    "Day",
    "Readings",
    "Simulation",
    "iso",
    "local_midnight",
]
