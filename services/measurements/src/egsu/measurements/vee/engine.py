"""The rule engine: every check over a batch and the context it needs, vectorised with numpy.

The input is a ``Frame``: the current readings of each affected series (a metering point's
quantity) around the batch, with the batch's new values in place, sorted by series and time, and a
``Series`` table with what each series is (interval, enabled rules, limits from the registry,
thresholds, stored statistics). ``validate`` returns the rule bits of every row, the numbers
behind every hit (for ``explain``), the gaps the batch revealed and the statistics it computed.

Rows outside the batch are context: they feed the checks of the batch's rows and may pick up the
bits of run rules (stuck, zero consumption) when the batch extends a run that started before it.
No loop runs per reading; the few loops here run per rule or per quantile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from egsu.contracts.vocabulary import QUANTITIES
from egsu.measurements.vee import rules as R
from egsu.measurements.vee.config import (
    EXPORT_QUANTITIES,
    HEAT_PAIRS,
    INTERVAL_OF,
    REGISTER_OF,
    VOLTAGE_QUANTITIES,
    Thresholds,
)

LOCAL_OFFSET_S = 5 * 3600  # Kazakhstan, UTC+05:00: norms per local day
KEY_SHIFT = 34  # composite key: series << 34 | seconds (seconds < 2**34, year 2514)
STAT_FIELDS = ("n", "q05", "q25", "q50", "q75", "q95", "nonzero", "equal")
QUANTILES = (0.05, 0.25, 0.5, 0.75, 0.95)
OUTAGE_START = frozenset(
    {"power_loss", "power_failure", "power_down", "outage_start", "equipment_trip"}
)
OUTAGE_END = frozenset(
    {"power_restored", "power_up", "power_returned", "outage_end", "equipment_restored"}
)
OUTAGE_MAX_S = 86_400  # an outage without its end event covers at most a day
DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True, slots=True)
class SeriesSpec:
    """What the engine needs to know about one series (a point's quantity)."""

    pid: int
    qid: int
    code: str
    step: int  # seconds
    enabled: int  # rule mask
    th: Thresholds = DEFAULT_THRESHOLDS
    cap: float = math.nan  # largest physically possible value per reading
    u_nom: float = math.nan  # nominal voltage, V
    v_tol: float = math.nan  # allowed voltage deviation, fraction
    norm_interval: float = math.nan
    norm_daily: float = math.nan
    reg_limit: float = math.nan  # register rollover value in canonical units
    import_only: bool = False
    heat_tol: float = math.nan  # fraction
    stats: tuple[float, ...] | None = None  # stored statistics, in STAT_FIELDS order


class Series:
    """Columns of the series table; index = series number used by the frame."""

    def __init__(self, specs: list[SeriesSpec]) -> None:
        self.specs = specs
        S = self.size = len(specs)
        f64 = np.float64

        def col(get: object, dtype: object = f64) -> np.ndarray:
            return np.fromiter((get(x) for x in specs), dtype=dtype, count=S)  # type: ignore[operator]

        self.pid = col(lambda x: x.pid, np.int64)
        self.qid = col(lambda x: x.qid, np.int64)
        self.step = col(lambda x: x.step, np.int64)
        self.enabled = col(lambda x: x.enabled, np.int64)
        self.cap = col(lambda x: x.cap)
        self.u_nom = col(lambda x: x.u_nom)
        self.v_tol = col(
            lambda x: x.v_tol if not math.isnan(x.v_tol) else x.th.voltage_tolerance_pct / 100
        )
        self.norm_interval = col(lambda x: x.norm_interval)
        self.norm_daily = col(lambda x: x.norm_daily)
        self.reg_limit = col(lambda x: x.reg_limit)
        self.import_only = col(lambda x: x.import_only, bool)
        self.heat_tol = col(
            lambda x: (
                x.heat_tol if not math.isnan(x.heat_tol) else x.th.heat_balance_tolerance_pct / 100
            )
        )
        self.export_q = col(lambda x: x.code in EXPORT_QUANTITIES, bool)
        self.signed = col(
            lambda x: (
                x.code in QUANTITIES
                and QUANTITIES[x.code].dimension in ("power_active", "power_reactive")
            ),
            bool,
        )
        self.nonneg_upward = ~self.signed  # spikes of unsigned quantities are judged upwards only
        self.voltage = col(lambda x: x.code in VOLTAGE_QUANTITIES, bool)
        for name in (
            "spike_z",
            "spike_ratio",
            "min_reference",
            "stuck_intervals",
            "stuck_equal_share",
            "zero_intervals",
            "zero_working_share",
            "clock_tolerance_s",
            "future_tolerance_s",
            "max_age_days",
            "voltage_fluctuation_pct",
            "sum_tolerance_pct",
            "heat_min_flow",
            "linear_max_minutes",
            "estimate_max_hours",
        ):
            setattr(self, name, col(lambda x, n=name: getattr(x.th, n)))
        stored = np.full((S, len(STAT_FIELDS)), np.nan)
        for i, x in enumerate(specs):  # per series, not per reading
            if x.stats is not None:
                stored[i] = x.stats
        self.stored = stored
        # partners: the register of an interval series and back; the return pipe of a supply pipe
        index = {(x.pid, x.code): i for i, x in enumerate(specs)}
        self.partner = np.full(S, -1, np.int64)
        self.heat_partner = np.full(S, -1, np.int64)
        for i, x in enumerate(specs):
            other = REGISTER_OF.get(x.code) or INTERVAL_OF.get(x.code)
            if other is not None:
                self.partner[i] = index.get((x.pid, other), -1)
            ret = HEAT_PAIRS.get(x.code)
            if ret is not None:
                self.heat_partner[i] = index.get((x.pid, ret), -1)
        self.is_register = col(lambda x: x.code in INTERVAL_OF, bool)


@dataclass
class Frame:
    """Current readings of the affected series, sorted by series and time; unique per (series, ts)."""

    s: np.ndarray  # series number
    ts: np.ndarray  # int64 seconds, interval end
    v: np.ndarray  # float64
    batch: np.ndarray  # bool: a reading this batch writes
    actual: np.ndarray  # bool: an actual reading (not an estimate or an edit)
    ok: np.ndarray  # bool: usable as reference (actual and not failing)
    skew: np.ndarray  # float64 seconds off the grid (batch rows)
    dup: np.ndarray  # bool: the batch held this key twice with different values
    tag: np.ndarray  # int64 the caller's label of each row, carried through the sort
    not_commercial: np.ndarray  # bool: the sender marked the value not commercial (batch rows)

    @classmethod
    def build(
        cls,
        s: np.ndarray,
        ts: np.ndarray,
        v: np.ndarray,
        batch: np.ndarray,
        actual: np.ndarray,
        ok: np.ndarray,
        skew: np.ndarray | None = None,
        dup: np.ndarray | None = None,
        tag: np.ndarray | None = None,
        not_commercial: np.ndarray | None = None,
    ) -> Frame:
        n = len(s)
        order = np.lexsort((ts, s))
        return cls(
            s=np.asarray(s, np.int64)[order],
            ts=np.asarray(ts, np.int64)[order],
            v=np.asarray(v, np.float64)[order],
            batch=np.asarray(batch, bool)[order],
            actual=np.asarray(actual, bool)[order],
            ok=np.asarray(ok, bool)[order],
            skew=(np.zeros(n) if skew is None else np.asarray(skew, np.float64))[order],
            dup=(np.zeros(n, bool) if dup is None else np.asarray(dup, bool))[order],
            tag=(np.arange(n) if tag is None else np.asarray(tag, np.int64))[order],
            not_commercial=(
                np.zeros(n, bool) if not_commercial is None else np.asarray(not_commercial, bool)
            )[order],
        )

    def __len__(self) -> int:
        return len(self.s)

    @property
    def key(self) -> np.ndarray:
        return (self.s << KEY_SHIFT) | self.ts


@dataclass
class Outages:
    """Spans in which a point had no power (from meter events), per series number."""

    s: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    start: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    end: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))

    @classmethod
    def from_events(
        cls, series_of_point: dict[int, list[int]], events: list[tuple[int, int, str]]
    ) -> Outages:
        """Outage spans from (point id, ts, code) events: a start code until the next end code."""
        spans: list[tuple[int, int, int]] = []
        by_point: dict[int, list[tuple[int, str]]] = {}
        for pid, t, code in events:  # per event, a handful per batch
            if code in OUTAGE_START or code in OUTAGE_END:
                by_point.setdefault(pid, []).append((t, code))
        for pid, evs in by_point.items():
            evs.sort()
            open_at: int | None = None
            for t, code in evs:
                if code in OUTAGE_START and open_at is None:
                    open_at = t
                elif code in OUTAGE_END:
                    start = open_at if open_at is not None else t - OUTAGE_MAX_S
                    for s in series_of_point.get(pid, ()):
                        spans.append((s, start, t))
                    open_at = None
            if open_at is not None:
                for s in series_of_point.get(pid, ()):
                    spans.append((s, open_at, open_at + OUTAGE_MAX_S))
        if not spans:
            return cls()
        a = np.asarray(spans, np.int64)
        return cls(a[:, 0], a[:, 1], a[:, 2])


@dataclass
class Gaps:
    """Runs of missing intervals the batch revealed, between frame rows ``left`` and ``right``."""

    s: np.ndarray
    left: np.ndarray
    right: np.ndarray
    missing: np.ndarray


@dataclass
class Verdict:
    bits: np.ndarray  # int64 per frame row
    notes: list[tuple[str, np.ndarray, dict[str, np.ndarray]]]  # (rule code, rows, numbers)
    gaps: Gaps
    stats: np.ndarray  # (S, len(STAT_FIELDS)): the statistics used (computed or stored)
    computed: np.ndarray  # bool per series: statistics computed from this frame

    def details(self, rows: np.ndarray) -> dict[int, dict[str, dict[str, float | int | str]]]:
        """The numbers behind each rule hit of the given frame rows."""
        wanted = np.zeros(len(self.bits), bool)
        wanted[rows] = True
        out: dict[int, dict[str, dict[str, float | int | str]]] = {}
        for code, idx, numbers in self.notes:
            sel = np.flatnonzero(wanted[idx])
            if not len(sel):
                continue
            cols = {k: a[sel].tolist() for k, a in numbers.items()}
            for j, row in enumerate(idx[sel].tolist()):  # per flagged reading only
                out.setdefault(row, {}).setdefault(code, {}).update(
                    {k: _num(c[j]) for k, c in cols.items()}
                )
        return out


def _num(x: float | int) -> float | int:
    if isinstance(x, float):
        if math.isnan(x) or math.isinf(x):
            return 0.0
        return round(x, 6)
    return x


def series_keys(s: np.ndarray, ts: np.ndarray) -> np.ndarray:
    return (np.asarray(s, np.int64) << KEY_SHIFT) | np.asarray(ts, np.int64)


def group_stats(s: np.ndarray, v: np.ndarray, S: int) -> np.ndarray:
    """Count, quantiles, non-zero share per series (the equal share is filled by the caller)."""
    out = np.full((S, len(STAT_FIELDS)), np.nan)
    n = np.bincount(s, minlength=S)
    out[:, 0] = n
    if not len(s):
        return out
    order = np.lexsort((v, s))
    sv = v[order]
    start = np.cumsum(n) - n
    has = n > 0
    for j, q in enumerate(QUANTILES, start=1):
        pos = start + np.floor(q * np.maximum(n - 1, 0)).astype(np.int64)
        col = np.full(S, np.nan)
        col[has] = sv[pos[has]]
        out[:, j] = col
    nz = np.bincount(s, weights=(v != 0).astype(np.float64), minlength=S)
    out[:, 6] = np.where(has, nz / np.maximum(n, 1), np.nan)
    return out


def _runs(same_as_prev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run number of each row and each run's length, where a run continues while ``same_as_prev``."""
    starts = ~same_as_prev
    run = np.cumsum(starts) - 1
    length = np.bincount(run)
    return run, length


def _own_stats(
    f: Frame, ser: Series, contig: np.ndarray, prev: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Statistics of the reference rows, and the runs of equal non-zero values behind them."""
    s, v, ref = f.s, f.v, f.ok
    S = ser.size
    computed = group_stats(s[ref], v[ref], S)
    eq_pair = contig & f.actual & f.actual[prev] & (v == v[prev]) & (v != 0)
    run, run_len = _runs(eq_pair)
    long_run = run_len[run] >= ser.stuck_intervals[s]
    # "normally varies": equal consecutive readings apart from each series' longest run (a stuck
    # meter makes one long run; a coarse or steady meter makes many)
    longest = np.zeros(S, np.int64)
    np.maximum.at(longest, s, np.where(eq_pair, run_len[run], 0))
    in_longest = eq_pair & (run_len[run] == longest[s])
    pairs = np.bincount(s[contig & ref & ref[prev]], minlength=S).astype(np.float64)
    other_eq = np.bincount(s[eq_pair & ~in_longest & ref], minlength=S)
    computed[:, 7] = np.where(pairs > 0, other_eq / np.maximum(pairs, 1), np.nan)
    return computed, eq_pair, run, run_len, long_run


def series_stats(f: Frame, ser: Series) -> np.ndarray:
    """Statistics (STAT_FIELDS) of each series from the frame's reference rows."""
    n = len(f)
    if not n:
        return np.full((ser.size, len(STAT_FIELDS)), np.nan)
    has_prev = np.zeros(n, bool)
    has_prev[1:] = f.s[1:] == f.s[:-1]
    prev = np.maximum(np.arange(n) - 1, 0)
    contig = has_prev & (f.ts - f.ts[prev] == ser.step[f.s])
    return _own_stats(f, ser, contig, prev)[0]


def validate(
    f: Frame,
    ser: Series,
    received_at: float,
    outages: Outages | None = None,
    day_prior: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
) -> Verdict:
    """Run every enabled rule; ``day_prior`` = (series, local day, sum before the frame) for daily norms."""
    n, S = len(f), ser.size
    s, ts, v = f.s, f.ts, f.v
    bits = np.zeros(n, np.int64)
    notes: list[tuple[str, np.ndarray, dict[str, np.ndarray]]] = []
    en = ser.enabled[s]
    step = ser.step[s]

    def hit(rule: int, mask: np.ndarray, **numbers: np.ndarray) -> None:
        mask = mask & ((en & rule) != 0)
        idx = np.flatnonzero(mask)
        if not len(idx):
            return
        bits[idx] |= rule
        code = R.BY_BIT[rule.bit_length() - 1].code
        notes.append((code, idx, {k: np.broadcast_to(a, (n,))[idx] for k, a in numbers.items()}))

    first = np.ones(n, bool)
    first[1:] = s[1:] != s[:-1]
    has_prev = ~first
    prev = np.maximum(np.arange(n) - 1, 0)
    dt = np.where(has_prev, ts - ts[prev], 0)
    contig = has_prev & (dt == step)
    vp = v[prev]

    # --- statistics of the series' own history ------------------------------------------------
    ref = f.ok
    computed, eq_pair, run, run_len, long_run = _own_stats(f, ser, contig, prev)
    # the stored statistics of the series' own history first (they do not contain this batch),
    # else what the frame itself holds
    has_stored = ser.stored[:, 0] >= ser.min_reference
    use_computed = ~has_stored & (computed[:, 0] >= ser.min_reference)
    stats = np.where(has_stored[:, None], ser.stored, computed)
    enough = stats[:, 0] >= ser.min_reference
    q05, q25, q50, q75, q95, nonzero, equal = (stats[:, j] for j in range(1, 8))

    # --- single readings ----------------------------------------------------------------------
    batch = f.batch
    hit(R.DUPLICATE, batch & f.dup)
    hit(R.NOT_COMMERCIAL, batch & f.not_commercial)
    late_s = ts - received_at
    hit(
        R.FUTURE,
        batch & (late_s > ser.future_tolerance_s[s]),
        ahead_s=late_s,
        tolerance_s=ser.future_tolerance_s[s],
    )
    age_days = (received_at - ts) / 86400.0
    hit(
        R.TOO_OLD,
        batch & (age_days > ser.max_age_days[s]),
        age_days=age_days,
        max_age_days=ser.max_age_days[s],
    )
    hit(
        R.CLOCK_SKEW,
        batch & (np.abs(f.skew) > ser.clock_tolerance_s[s]),
        skew_s=f.skew,
        tolerance_s=ser.clock_tolerance_s[s],
    )
    hit(R.NEGATIVE, batch & f.actual & (v < -1e-9), value=v)
    cap = ser.cap[s]
    hit(R.CAPACITY, batch & f.actual & (np.abs(v) > cap), value=v, capacity=cap)
    exp_bad = (ser.export_q[s] & (v > 1e-9)) | (ser.signed[s] & (v < -1e-9))
    hit(R.EXPORT_IMPORT_ONLY, batch & f.actual & ser.import_only[s] & exp_bad, value=v)

    # --- spike: robust z-score against the point's own history --------------------------------
    si = s
    scale = np.maximum((q75 - q25) / 1.349, 1e-9 + 1e-6 * np.abs(q50))[si]
    dev = v - q50[si]
    z = np.abs(dev) / scale
    extreme = np.maximum(np.abs(q05), np.abs(q95))[si]
    # a spike stands out from the level of its neighbours too: a whole day at twice the usual
    # load is consumption above the norm, not a row of spikes
    nxt = np.minimum(np.arange(n) + 1, max(n - 1, 0))
    contig_next = np.zeros(n, bool)
    contig_next[:-1] = contig[1:]
    sides = contig.astype(np.float64) + contig_next
    near = (
        np.where(contig, np.abs(vp), 0.0) + np.where(contig_next, np.abs(v[nxt]), 0.0)
    ) / np.maximum(sides, 1)
    upward_ok = ~ser.nonneg_upward[si] | (dev > 0)
    spike = (
        batch
        & f.actual
        & enough[si]
        & (nonzero[si] >= 0.2)
        & (extreme > 0)
        & upward_ok
        & (z >= ser.spike_z[si])
        & (np.abs(v) >= ser.spike_ratio[si] * np.maximum(extreme, near))
    )
    hit(
        R.SPIKE,
        spike,
        value=v,
        median=q50[si],
        scale=scale,
        z=z,
        z_max=ser.spike_z[si],
        usual_extreme=extreme,
        neighbours=near,
        ratio_max=ser.spike_ratio[si],
    )

    # --- stuck value: a long run of one non-zero value on a point that normally varies --------
    run_has_batch = np.bincount(run, weights=batch.astype(np.float64)) > 0
    run_start_row = np.flatnonzero(~eq_pair)  # index = run number
    varies = enough & (equal < ser.stuck_equal_share) & (q75 > q25)
    stuck = long_run & run_has_batch[run] & varies[si] & f.actual
    hit(
        R.STUCK,
        stuck,
        value=v,
        run_length=run_len[run],
        run_from=ts[run_start_row[run]] - step,
        min_run=ser.stuck_intervals[si],
        equal_share=equal[si],
    )

    # --- zero consumption while the point normally consumes -----------------------------------
    zero_pair = contig & f.actual & f.actual[prev] & (v == 0) & (vp == 0)
    zrun, zlen = _runs(zero_pair)
    is_zero = f.actual & (v == 0)
    cand = is_zero & (zlen[zrun] >= ser.zero_intervals[si])
    cand &= (np.bincount(zrun, weights=batch.astype(np.float64)) > 0)[zrun]
    if outages is not None and len(outages.s) and cand.any():
        cand &= ~_covered(f, outages, step)
    if cand.any():
        # "normally non-zero": among the reference rows outside the candidate runs
        ref_out = ref & ~cand
        n_out = np.bincount(s[ref_out], minlength=S)
        nz_out = np.bincount(s[ref_out & (v != 0)], minlength=S)
        share = np.where(
            has_stored,
            ser.stored[:, 6],
            np.where(n_out >= ser.min_reference / 2, nz_out / np.maximum(n_out, 1), np.nan),
        )
        works = share >= ser.zero_working_share
        zstart = np.flatnonzero(~zero_pair)
        hit(
            R.ZERO,
            cand & works[si],
            run_length=zlen[zrun],
            run_from=ts[zstart[zrun]] - step,
            nonzero_share=share[si],
            min_share=ser.zero_working_share[si],
        )

    # --- registers: monotonic, rollover, and the sum check against the interval energy --------
    _registers(f, ser, hit, contig, prev)

    # --- voltage: range and fluctuation -----------------------------------------------------
    volt = ser.voltage[si] & f.actual
    if volt.any():
        u = ser.u_nom
        phase = u / math.sqrt(3)
        med = np.where(np.isnan(q50), computed[:, 3], q50)
        uref = np.where(np.abs(med / phase - 1) < np.abs(med / u - 1), phase, u)
        uref = np.where(np.isnan(uref), u, uref)[si]
        devu = v / uref - 1
        tol = ser.v_tol[si]
        out_range = volt & (np.abs(devu) > tol)
        hit(
            R.VOLTAGE_RANGE,
            batch & out_range,
            value=v,
            nominal=uref,
            deviation_pct=100 * devu,
            tolerance_pct=100 * tol,
        )
        step_pct = 100 * np.abs(v - vp) / uref
        # excessive for the standard (5 % of nominal) and for this point: a noisy point's usual
        # steps are not fluctuations; six times its median step (with at least 24 steps to judge)
        pairs = volt & contig & f.actual[prev] & ~out_range & ~out_range[prev]
        usual = np.zeros(S)
        if pairs.any():
            ps = s[pairs]
            order = np.lexsort((step_pct[pairs], ps))
            cnt = np.bincount(ps, minlength=S)
            start = np.cumsum(cnt) - cnt
            mid = start + cnt // 2
            sorted_steps = step_pct[pairs][order]
            usual = np.where(cnt >= 24, sorted_steps[np.minimum(mid, len(sorted_steps) - 1)], 0.0)
        fl = np.maximum(ser.voltage_fluctuation_pct[si], 6 * usual[si])
        fluct = (
            batch & volt & contig & f.actual[prev] & ~out_range & ~out_range[prev] & (step_pct > fl)
        )
        hit(
            R.VOLTAGE_FLUCTUATION,
            fluct,
            value=v,
            previous=vp,
            step_pct=step_pct,
            max_step_pct=fl,
            nominal=uref,
        )

    # --- consumption above the norm -----------------------------------------------------------
    niv = ser.norm_interval[si]
    hit(R.ABOVE_NORM, batch & (v > niv), value=v, norm=niv, period="interval")  # type: ignore[arg-type]
    nd = ser.norm_daily[si]
    daily = ~np.isnan(nd)
    if daily.any():
        rows = np.flatnonzero(daily)
        day = (ts[rows] - 1 + LOCAL_OFFSET_S) // 86400
        key = (s[rows] << 20) | (day - day.min())
        brk = np.ones(len(rows), bool)
        brk[1:] = key[1:] != key[:-1]
        cs = np.cumsum(v[rows])
        base = np.maximum.accumulate(np.where(brk, np.arange(len(rows)), 0))
        running = cs - cs[base] + v[rows][base]
        if day_prior is not None and len(day_prior[0]):
            pk = series_keys(day_prior[0], day_prior[1])
            order = np.argsort(pk)
            pk, pv = pk[order], np.asarray(day_prior[2], np.float64)[order]
            want = series_keys(s[rows], day)
            j = np.clip(np.searchsorted(pk, want), 0, len(pk) - 1)
            running = running + np.where(pk[j] == want, pv[j], 0.0)
        over = np.zeros(n, bool)
        run_day = np.zeros(n)
        over[rows] = running > nd[rows]
        run_day[rows] = running
        hit(R.ABOVE_NORM, batch & over, day_total=run_day, norm=nd, period="day")  # type: ignore[arg-type]

    # --- heat balance: supply against return coolant mass ----------------------------------
    hp = ser.heat_partner[si]
    sup = (hp >= 0) & f.actual
    if sup.any():
        rows = np.flatnonzero(sup)
        want = series_keys(hp[rows], ts[rows])
        key = f.key
        j = np.clip(np.searchsorted(key, want), 0, max(n - 1, 0))
        found = key[j] == want
        rows, j = rows[found], j[found]
        sv, rv = v[rows], v[j]
        imb = (sv - rv) / np.maximum(np.abs(sv), 1e-12)
        tol = ser.heat_tol[s[rows]]
        bad = (np.abs(imb) > tol) & (sv >= ser.heat_min_flow[s[rows]]) & (batch[rows] | batch[j])
        mask = np.zeros(n, bool)
        mask[rows[bad]] = True
        mask[j[bad]] = True
        other = np.zeros(n)
        other[rows[bad]] = rv[bad]
        other[j[bad]] = sv[bad]
        imb_all = np.zeros(n)
        imb_all[rows[bad]] = imb[bad]
        imb_all[j[bad]] = imb[bad]
        tol_all = np.zeros(n)
        tol_all[rows[bad]] = tol[bad]
        tol_all[j[bad]] = tol[bad]
        hit(
            R.HEAT_BALANCE,
            mask & batch,
            value=v,
            other_pipe=other,
            imbalance_pct=100 * imb_all,
            tolerance_pct=100 * tol_all,
        )

    # --- gaps ---------------------------------------------------------------------------------
    # not towards a reading stamped in the future: those intervals have not ended yet
    g = has_prev & (dt > step) & (batch | batch[prev]) & ((bits & R.FUTURE) == 0)
    gi = np.flatnonzero(g)
    gaps = Gaps(
        s=s[gi],
        left=gi - 1,
        right=gi,
        missing=np.rint(dt[gi] / step[gi]).astype(np.int64) - 1,
    )
    keep = (gaps.missing > 0) & ((ser.enabled[gaps.s] & R.GAP) != 0)
    gaps = Gaps(gaps.s[keep], gaps.left[keep], gaps.right[keep], gaps.missing[keep])
    return Verdict(bits=bits, notes=notes, gaps=gaps, stats=stats, computed=use_computed)


def _covered(f: Frame, o: Outages, step: np.ndarray) -> np.ndarray:
    """Rows whose interval overlaps an outage of their series."""
    order = np.lexsort((o.start, o.s))
    os_, ostart, oend = o.s[order], o.start[order], o.end[order]
    # for each row: the last outage of its series starting before the interval's end
    keys = series_keys(os_, ostart)
    want = f.key
    j = np.searchsorted(keys, want, side="right") - 1
    ok = j >= 0
    jj = np.maximum(j, 0)
    # an outage's end may be after a later-starting outage's end: take the running maximum per series
    brk = np.ones(len(os_), bool)
    brk[1:] = os_[1:] != os_[:-1]
    grp = np.cumsum(brk) - 1
    run_end = oend.copy()
    if len(run_end):
        # running max of end within each series
        offset = grp.astype(np.float64) * 1e12
        run_end = (np.maximum.accumulate(oend + offset) - offset).astype(np.int64)
    same = os_[jj] == f.s
    return ok & same & (run_end[jj] > f.ts - step)


def _registers(f: Frame, ser: Series, hit: object, contig: np.ndarray, prev: np.ndarray) -> None:
    """Register decrease, rollover and the sum check of interval energy against the register."""
    n = len(f)
    s, ts, v = f.s, f.ts, f.v
    reg = ser.is_register[s] & f.actual
    if not reg.any():
        return
    has_prev = np.zeros(n, bool)
    has_prev[1:] = s[1:] == s[:-1]
    pair = reg & has_prev & f.actual[prev]
    k = np.flatnonzero(pair)
    if not len(k):
        return
    kp = k - 1
    sk = s[k]
    delta = v[k] - v[kp]
    limit = ser.reg_limit[sk]
    # interval energy of the partner series over (t_prev, t]
    part = ser.partner[sk]
    has_part = part >= 0
    key = f.key
    csum = np.concatenate(([0.0], np.cumsum(np.where(f.actual, v, 0.0))))
    cact = np.concatenate(([0], np.cumsum(f.actual.astype(np.int64))))
    lo = np.searchsorted(key, series_keys(np.maximum(part, 0), ts[kp]), side="right")
    hi = np.searchsorted(key, series_keys(np.maximum(part, 0), ts[k]), side="right")
    total = csum[hi] - csum[lo]
    count = cact[hi] - cact[lo]
    pstep = ser.step[np.maximum(part, 0)]
    expected = (ts[k] - ts[kp]) // np.maximum(pstep, 1)
    complete = has_part & (count == expected) & (expected > 0) & (hi - lo == expected)
    tol_pct = ser.sum_tolerance_pct[sk] / 100
    tol = tol_pct * np.maximum(np.abs(total), np.abs(delta)) + 1e-3 * (expected + 1)
    # rollover: the register wrapped at 10^digits
    wrapped = delta + limit
    neg = delta < -tol
    roll_sum = complete & (
        np.abs(wrapped - total) <= tol_pct * np.abs(total) + 1e-3 * (expected + 1)
    )
    roll_guess = ~complete & (wrapped >= 0) & (wrapped <= 0.1 * limit)
    rollover = neg & ~np.isnan(limit) & (roll_sum | roll_guess)
    adv = np.where(rollover, wrapped, delta)
    mism = adv - total
    tol = tol_pct * np.maximum(np.abs(total), np.abs(adv)) + 1e-3 * (expected + 1)
    bad = complete & (np.abs(mism) > tol)
    # blame: two opposite mismatches in a row mean the register reading between them is wrong
    # (too high: the next advance is short or negative; too low: it reads less than before);
    # a lone mismatch means the interval readings of that span are wrong
    nb = len(k)
    nxt_same = np.zeros(nb, bool)
    nxt_same[:-1] = (sk[1:] == sk[:-1]) & (kp[1:] == k[:-1])
    pair_first = np.zeros(nb, bool)
    pair_first[:-1] = (
        bad[:-1] & bad[1:] & nxt_same[:-1] & (np.abs(mism[:-1] + mism[1:]) <= tol[:-1] + tol[1:])
    )
    pair_second = np.zeros(nb, bool)
    pair_second[1:] = pair_first[:-1]
    decrease = neg & ~rollover & ~pair_first & ~pair_second
    reg_bad = pair_first
    span_bad = bad & ~pair_first & ~pair_second & ~decrease

    def mark(mask: np.ndarray) -> np.ndarray:
        out = np.zeros(n, bool)
        out[k[mask]] = True
        return out

    def spread(values: np.ndarray) -> np.ndarray:
        out = np.zeros(n)
        out[k] = values
        return out

    h = hit  # type: ignore[assignment]
    h(
        R.ROLLOVER,
        f.batch & mark(rollover),
        value=v,
        previous=spread(v[kp]),
        limit=spread(limit),
        advance=spread(adv),
    )  # type: ignore[operator]
    h(
        R.REGISTER_DECREASE,
        f.batch & mark(decrease),
        value=v,
        previous=spread(v[kp]),
        advance=spread(delta),
    )  # type: ignore[operator]
    if not (reg_bad.any() or span_bad.any()):
        return
    flagged = mark(reg_bad)
    # the interval rows of the blamed spans
    if span_bad.any():
        diff = np.zeros(n + 1, np.int64)
        np.add.at(diff, lo[span_bad], 1)
        np.add.at(diff, hi[span_bad], -1)
        flagged |= np.cumsum(diff)[:n] > 0
    # numbers: for an interval row, those of the register span it lies in
    span_of = np.full(n, -1, np.int64)
    for j in np.flatnonzero(span_bad).tolist():  # per mismatching span, not per reading
        span_of[lo[j] : hi[j]] = j
    span_of[k[reg_bad]] = np.flatnonzero(reg_bad)
    sj = np.maximum(span_of, 0)
    h(  # type: ignore[operator]
        R.SUM_CHECK,
        f.batch & flagged,
        register_advance=adv[sj],
        interval_sum=total[sj],
        mismatch=mism[sj],
        tolerance=tol[sj],
        blamed=np.where(span_of >= 0, np.where(ser.is_register[s], "register", "intervals"), ""),
    )
