"""The synthetic energy system: subjects, facilities, metering points, devices, systems, obligations.

Everything is drawn from one seed with numpy Generators (one child stream per part, so adding a
column to one part does not reshuffle another). Points are laid out as columns (numpy arrays and
lists), so 100,000 points take a second, and the physics of each point (base power, load class,
register digits, …) sits beside the registry fields that describe it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from egsu.simulator import geo

# --- vocabularies -------------------------------------------------------------------------------

TYPES = (
    # type, share of facilities, points per facility (lo, hi)
    ("tpp", 0.004, 24, 60),
    ("chp", 0.03, 10, 30),
    ("hpp", 0.012, 4, 12),
    ("wpp", 0.02, 3, 8),
    ("spp", 0.02, 2, 6),
    ("gas_turbine", 0.01, 4, 10),
    ("boiler_house", 0.2, 2, 5),
    ("substation", 0.3, 4, 14),
    ("power_line", 0.06, 2, 2),
    ("heat_network", 0.08, 4, 16),
    ("consumer_site", 0.264, 1, 8),
)
TYPE_NAMES = tuple(t[0] for t in TYPES)
T_IDX = {t: i for i, t in enumerate(TYPE_NAMES)}
GENERATING = {"tpp", "chp", "hpp", "wpp", "spp", "gas_turbine"}

# Point roles.
GEN, OWN, CONS, IC, HEAT_OUT, HEAT_CONS = range(6)
ROLE_NAMES = ("gen", "own", "cons", "ic", "heat_out", "heat_cons")
ROLE_POSITION = (
    "generation",
    "own_needs",
    "consumption",
    "interchange",
    "generation",
    "consumption",
)
ROLE_PROBS: dict[str, tuple[float, ...]] = {
    # gen, own, cons, ic, heat_out, heat_cons; the first point of a facility is its main role
    "tpp": (0.6, 0.3, 0, 0.1, 0, 0),
    "chp": (0.4, 0.2, 0, 0.1, 0.3, 0),
    "hpp": (0.7, 0.2, 0, 0.1, 0, 0),
    "wpp": (0.8, 0.1, 0, 0.1, 0, 0),
    "spp": (0.8, 0.1, 0, 0.1, 0, 0),
    "gas_turbine": (0.6, 0.3, 0, 0, 0.1, 0),
    "boiler_house": (0, 0.4, 0, 0, 0.6, 0),
    "substation": (0, 0, 0.4, 0.6, 0, 0),
    "power_line": (0, 0, 0, 1, 0, 0),
    "heat_network": (0, 0, 0, 0, 0, 1),
    "consumer_site": (0, 0, 0.85, 0, 0, 0.15),
}
MAIN_ROLE = {
    "tpp": GEN, "chp": GEN, "hpp": GEN, "wpp": GEN, "spp": GEN, "gas_turbine": GEN,
    "boiler_house": HEAT_OUT, "substation": IC, "power_line": IC, "heat_network": HEAT_CONS,
    "consumer_site": CONS,
}  # fmt: skip

# Load classes: how a point's power moves with the hour, the weekday, the season and the weather.
RES, COM, IND, FLAT, THERMAL, HYDRO, WIND, SOLAR, GRID, HEAT = range(10)
CLASS_NAMES = (
    "residential", "commercial", "industrial", "flat", "thermal", "hydro", "wind", "solar",
    "grid", "heat",
)  # fmt: skip
# Daily consumption norm as a multiple of the point's base power × 24 h: above every ordinary day.
NORM_FACTOR = {RES: 2.3, COM: 2.0, IND: 1.6, FLAT: 1.6}

SUBJECT_KIND = {
    "tpp": "generation", "chp": "generation", "hpp": "generation", "wpp": "generation",
    "spp": "generation", "gas_turbine": "generation", "boiler_house": "heat_supply",
    "heat_network": "heat_supply", "substation": "distribution", "power_line": "distribution",
    "consumer_site": "large_consumer",
}  # fmt: skip
JOIN_PROB = {
    "tpp": 0.0, "chp": 0.4, "hpp": 0.4, "gas_turbine": 0.4, "wpp": 0.3, "spp": 0.3,
    "boiler_house": 0.6, "heat_network": 0.7, "substation": 0.9, "power_line": 0.9,
    "consumer_site": 0.2,
}  # fmt: skip
STEMS = (
    "Энергия", "Қуат", "Жарық", "Самал", "Болашак", "Шуақ", "Арна", "Сарыарка", "Ертіс",
    "Алатау", "Каспий", "Есиль", "Тобол", "Нұр", "Алтын", "Дала", "Тау", "Сырдария", "Жайық",
    "Иле", "Көктем", "Берекет", "Сапа", "Байтерек", "Ақжол", "Жетісу", "Бирлик", "Кайнар",
)  # fmt: skip
KIND_WORD = {
    "generation": ("Энерго", "Энерго", "Energo"),
    "heat_supply": ("Теплосервис", "Жылу", "Heat"),
    "distribution": ("РЭК", "ӨЭК", "REC"),
    "transmission": ("Электросеть", "Электр желісі", "Grid"),
    "large_consumer": ("Металл", "Металл", "Metal"),
}
FORM_RU = {"jsc": "АО", "llp": "ТОО", "state_enterprise": "ГКП"}
FORM_KK = {"jsc": "АҚ", "llp": "ЖШС", "state_enterprise": "МКК"}
FORM_EN = {"jsc": "JSC", "llp": "LLP", "state_enterprise": "SOE"}

ELECTRICITY_METERS = (
    ("Инкотекс", "Меркурий 234 ARTM"),
    ("НПК Энергомера", "CE308"),
    ("Нижегородский завод им. Фрунзе", "СЭТ-4ТМ.03М"),
    ("Эльстер Метроника", "Альфа A1800"),
    ("Landis+Gyr", "E650"),
    ("Saiman", "Дала СА4-Э720"),
)
HEAT_METERS = (
    ("Логика", "СПТ-961"),
    ("Взлёт", "ТСРВ-043"),
    ("Kamstrup", "MULTICAL 603"),
    ("ТЭМ", "ТЭМ-104"),
)
ASKUE_VENDORS = (
    ("Прософт-Системы", "ЭКОМ", "DLMS/COSEM, IEC 60870-5-104"),
    ("Эльстер Метроника", "АльфаЦЕНТР", "DLMS/COSEM"),
    ("Энергомера", "Энергосфера", "IEC 60870-5-104"),
    ("Saiman", "Saiman АСКУЭ", "DLMS/COSEM"),
)
SCADA_VENDORS = (
    ("Siemens", "Spectrum Power", "IEC 60870-5-104, IEC 61850"),
    ("ABB", "MicroSCADA", "IEC 61850"),
    ("Schneider Electric", "EcoStruxure ADMS", "IEC 60870-5-104"),
    ("Прософт-Системы", "SCADA Телескоп+", "IEC 60870-5-104"),
)

# --- identifiers --------------------------------------------------------------------------------

_W1 = np.arange(1, 12)
_W2 = np.array([3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2])


def check_digits(first11: np.ndarray) -> np.ndarray:
    """Kazakhstan's BIN/IIN check digit for rows of eleven digits; -1 where none fits."""
    d = (first11 * _W1).sum(axis=1) % 11
    d2 = (first11 * _W2).sum(axis=1) % 11
    d = np.where(d == 10, d2, d)
    return np.where(d == 10, -1, d)


def make_bins(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct valid BINs of resident legal entities (fifth digit 4)."""
    year = rng.integers(1995, 2024, n) % 100
    month = rng.integers(1, 13, n)
    attr = rng.integers(0, 4, n)
    serial = rng.choice(100_000, size=n, replace=n > 100_000)
    if n > 100_000:
        serial = (np.arange(n) * 7919 + serial) % 100_000
    while True:
        digits = np.stack(
            [
                year // 10, year % 10, month // 10, month % 10, np.full(n, 4), attr,
                *(serial // 10**k % 10 for k in (4, 3, 2, 1, 0)),
            ],
            axis=1,
        )  # fmt: skip
        check = check_digits(digits)
        bad = check < 0
        if not bad.any():
            break
        attr = np.where(bad, (attr + 1) % 10, attr)
    full = np.concatenate([digits, check[:, None]], axis=1)
    return ["".join(map(str, row)) for row in full.tolist()]


# --- the system ---------------------------------------------------------------------------------


@dataclass
class EnergySystem:
    """A generated energy system. Lists are columns; row i of every point column is point i."""

    seed: int
    as_of: date
    subjects: dict[str, list[Any]]
    facilities: dict[str, list[Any]]
    points: dict[str, list[Any]]
    devices: dict[str, list[Any]]
    systems: dict[str, list[Any]]
    obligations: dict[str, list[Any]]
    # per-point physics (numpy, aligned with ``points``)
    p_facility: np.ndarray
    p_subject: np.ndarray
    p_region: np.ndarray
    p_role: np.ndarray
    p_class: np.ndarray
    p_base: np.ndarray  # kW for electricity, Gcal/h for heat (design load)
    p_interval: np.ndarray  # minutes
    p_pq: np.ndarray  # measures voltage, current, frequency
    p_tariff: np.ndarray  # three tariff zone registers
    p_pressure: np.ndarray
    p_scale: np.ndarray  # the meter reports in MWh/Mvarh (electricity) or GJ (heat)
    p_digits: np.ndarray  # register digits
    p_nominal_v: np.ndarray
    p_tan_phi: np.ndarray
    p_norm_kwh: np.ndarray  # daily norm (NaN if none)
    p_lat: np.ndarray
    f_type: np.ndarray
    f_region: np.ndarray

    @property
    def n_points(self) -> int:
        return len(self.p_role)

    @property
    def codes(self) -> list[str]:
        return self.points["code"]  # type: ignore[no-any-return]

    @property
    def bins(self) -> list[str]:
        return self.subjects["bin"]  # type: ignore[no-any-return]

    def electricity(self) -> np.ndarray:
        return self.p_role < HEAT_OUT

    def users(self) -> list[dict[str, Any]]:
        """The subject users of the development realm: ``subject-<BIN>``, password ``demo``."""
        return [
            {
                "username": f"subject-{b}",
                "password": "demo",
                "roles": ["subject"],
                "bin": b,
                "first_name": name[:60],
                "email": f"askue@{b}.kz",
            }
            for b, name in zip(self.subjects["bin"], self.subjects["name_ru"], strict=True)
        ]


def _logu(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    return np.exp(rng.uniform(math.log(lo), math.log(hi), n))


def build(n_points: int, seed: int, as_of: date) -> EnergySystem:
    """Generate an energy system with exactly ``n_points`` metering points."""
    if n_points < 1:
        raise ValueError("points: at least one")
    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(8)]
    r_fac, r_sub, r_pt, r_dev, r_sys, r_bin, _, _ = streams

    # facilities and how many points each has
    shares = np.array([t[1] for t in TYPES])
    lo = np.array([t[2] for t in TYPES])
    hi = np.array([t[3] for t in TYPES])
    n_est = n_points // 2 + 16
    ftype = r_fac.choice(len(TYPES), size=n_est, p=shares / shares.sum())
    if n_points >= 60:
        prefix = [T_IDX[t] for t in ("chp", "boiler_house", "substation", "consumer_site",
                                     "heat_network", "wpp", "spp", "hpp", "gas_turbine", "tpp",
                                     "power_line")]  # fmt: skip
        ftype[: len(prefix)] = prefix
    counts = r_fac.integers(lo[ftype], hi[ftype] + 1)
    counts = np.minimum(counts, max(2, n_points // 8))
    cum = np.cumsum(counts)
    n_fac = int(np.searchsorted(cum, n_points)) + 1
    ftype, counts = ftype[:n_fac], counts[:n_fac].copy()
    counts[-1] = n_points - (cum[n_fac - 2] if n_fac > 1 else 0)
    fregion = np.zeros(n_fac, dtype=np.int64)
    for t, name in enumerate(TYPE_NAMES):
        idx = np.flatnonzero(ftype == t)
        fregion[idx] = r_fac.choice(len(geo.KATOS), size=len(idx), p=geo.REGION_WEIGHTS[name])

    # capacities, voltage, criticality
    mw = np.zeros(n_fac)
    gcal = np.zeros(n_fac)
    kv = np.zeros(n_fac)
    crit = np.full(n_fac, 2)
    for t, name in enumerate(TYPE_NAMES):
        idx = np.flatnonzero(ftype == t)
        k = len(idx)
        if not k:
            continue
        if name == "tpp":
            mw[idx] = _logu(r_fac, 500, 4000, k)
            gcal[idx] = r_fac.uniform(0, 120, k)
            kv[idx] = np.where(mw[idx] > 1000, 500, 220)
        elif name == "chp":
            mw[idx] = _logu(r_fac, 40, 600, k)
            gcal[idx] = mw[idx] * r_fac.uniform(1.5, 3.0, k)
            kv[idx] = np.where(mw[idx] > 250, 220, 110)
        elif name in ("hpp", "wpp", "spp", "gas_turbine"):
            rng_ = {"hpp": (10, 700), "wpp": (5, 150), "spp": (2, 100), "gas_turbine": (20, 300)}
            mw[idx] = _logu(r_fac, *rng_[name], k)
            if name == "gas_turbine":
                gcal[idx] = mw[idx] * r_fac.uniform(0, 0.5, k)
            kv[idx] = np.where(mw[idx] > 300, 220, np.where(mw[idx] > 30, 110, 35))
        elif name == "boiler_house":
            gcal[idx] = _logu(r_fac, 2, 150, k)
            kv[idx] = r_fac.choice([0.4, 6, 10], k)
        elif name == "heat_network":
            gcal[idx] = _logu(r_fac, 20, 600, k)
        elif name in ("substation", "power_line"):
            kv[idx] = r_fac.choice([35, 110, 220, 500], k, p=[0.35, 0.45, 0.14, 0.06])
            base = np.select(
                [kv[idx] == 35, kv[idx] == 110, kv[idx] == 220], [5.0, 25.0, 100.0], 400.0
            )
            mw[idx] = base * r_fac.uniform(1, 4, k)
        elif name == "consumer_site":
            mw[idx] = _logu(r_fac, 1, 600, k)
            kv[idx] = np.where(
                mw[idx] > 100, 220, np.where(mw[idx] > 20, 110, np.where(mw[idx] > 3, 35, 10))
            )
    big = ((ftype == T_IDX["tpp"]) | (mw >= 300) & np.isin(ftype, [T_IDX["chp"], T_IDX["hpp"]])
           | (kv >= 500) & np.isin(ftype, [T_IDX["substation"], T_IDX["power_line"]]))  # fmt: skip
    small = (
        np.isin(ftype, [T_IDX["boiler_house"], T_IDX["consumer_site"], T_IDX["spp"]]) & (mw < 20)
        & (gcal < 30) | np.isin(ftype, [T_IDX["substation"], T_IDX["power_line"]]) & (kv <= 35)
    )  # fmt: skip
    crit[big] = 1
    crit[small & ~big] = 3
    lat = np.clip(geo.LAT[fregion] + r_fac.normal(0, 0.5, n_fac), 40.6, 55.4)
    lon = np.clip(geo.LON[fregion] + r_fac.normal(0, 0.7, n_fac), 46.5, 87.3)

    # subjects: facilities grouped into companies
    u = r_sub.random(n_fac)
    pick = r_sub.random(n_fac)
    forms = r_sub.random(n_fac)
    skey_of: dict[tuple[str, int], list[int]] = {}
    fsubject = np.zeros(n_fac, dtype=np.int64)
    s_kind: list[str] = []
    s_region: list[int] = []
    for i in range(n_fac):
        name = TYPE_NAMES[ftype[i]]
        kind = SUBJECT_KIND[name]
        if kind == "distribution" and kv[i] >= 220:
            kind = "transmission"
        region = int(fregion[i])
        key = (kind, -1 if kind == "transmission" else region)
        existing = skey_of.get(key, [])
        join = kind == "transmission" or u[i] < JOIN_PROB[name]
        if existing and join:
            fsubject[i] = existing[int(pick[i] * len(existing))]
        else:
            fsubject[i] = len(s_kind)
            s_kind.append(kind)
            s_region.append(geo.KATOS.index("710000000") if kind == "transmission" else region)
            skey_of.setdefault(key, []).append(fsubject[i])
    n_sub = len(s_kind)
    bins = make_bins(r_bin, n_sub)
    kind_counter: dict[str, int] = {}
    s_names_ru, s_names_kk, s_names_en, s_forms = [], [], [], []
    for j in range(n_sub):
        kind = s_kind[j]
        n = kind_counter[kind] = kind_counter.get(kind, 0) + 1
        stem = STEMS[(j * 7 + n) % len(STEMS)]
        w_ru, w_kk, w_en = KIND_WORD[kind]
        f = forms[j % n_fac]
        form = (
            "jsc" if kind in ("transmission", "distribution") or f < 0.4
            else "state_enterprise" if kind == "heat_supply" and f < 0.7 else "llp"
        )  # fmt: skip
        s_forms.append(form)
        s_names_ru.append(f"{FORM_RU[form]} «{stem} {w_ru}-{n}»")
        s_names_kk.append(f"«{stem} {w_kk}-{n}» {FORM_KK[form]}")
        s_names_en.append(f"{stem} {w_en}-{n} {FORM_EN[form]}")

    # facility names, unique within their region and type
    counter: dict[tuple[int, int], int] = {}
    f_name_ru, f_name_kk = [], []
    for i in range(n_fac):
        key2 = (int(fregion[i]), int(ftype[i]))
        n = counter[key2] = counter.get(key2, 0) + 1
        place = geo.PLACES[geo.KATOS[fregion[i]]]
        ru, kk = _facility_name(TYPE_NAMES[ftype[i]], n, place, kv[i])
        f_name_ru.append(ru)
        f_name_kk.append(kk)

    # points
    fidx = np.repeat(np.arange(n_fac), counts)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    j_in = np.arange(n_points) - starts[fidx]
    role = np.zeros(n_points, dtype=np.int64)
    for t, name in enumerate(TYPE_NAMES):
        idx = np.flatnonzero(ftype[fidx] == t)
        if len(idx):
            p = np.array(ROLE_PROBS[name])
            role[idx] = r_pt.choice(6, size=len(idx), p=p / p.sum())
    role[j_in == 0] = [MAIN_ROLE[TYPE_NAMES[t]] for t in ftype[fidx[j_in == 0]]]
    ptype = ftype[fidx]
    n_role = np.zeros((n_fac, 6))
    np.add.at(n_role, (fidx, role), 1)
    per = np.maximum(n_role[fidx, role], 1)
    weight = r_pt.uniform(0.6, 1.4, n_points)
    fmw, fgcal = mw[fidx], gcal[fidx]
    is_sub = ptype == T_IDX["substation"]
    is_site = ptype == T_IDX["consumer_site"]
    base = np.select(
        [
            role == GEN,
            (role == OWN) & (fmw > 0),
            role == OWN,
            (role == CONS) & is_site,
            role == CONS,
            (role == IC) & is_sub,
            role == IC,
            role == HEAT_OUT,
            (role == HEAT_CONS) & is_site,
            role == HEAT_CONS,
        ],
        [
            fmw * 1000 / per,
            fmw * 1000 * 0.07 / per,
            fgcal * 1163 * 0.02 / per,
            fmw * 1000 * 0.8 / per,
            fmw * 1000 * 0.5 / per,
            fmw * 1000 * 0.6 / per,
            fmw * 1000 * 0.3 / per,
            fgcal * 0.9 / per,
            r_pt.uniform(1, 20, n_points),
            fgcal * 0.9 / per,
        ],
    )
    base = np.maximum(base * weight, np.where(role >= HEAT_OUT, 0.05, 5.0))
    gen_class = {"tpp": THERMAL, "chp": THERMAL, "gas_turbine": THERMAL, "hpp": HYDRO,
                 "wpp": WIND, "spp": SOLAR}  # fmt: skip
    draw = r_pt.random(n_points)
    pclass = np.full(n_points, FLAT)
    for name, c in gen_class.items():
        pclass[(role == GEN) & (ptype == T_IDX[name])] = c
    pclass[(role == CONS) & is_sub] = np.where(draw < 0.5, RES, np.where(draw < 0.8, COM, IND))[
        (role == CONS) & is_sub
    ]
    pclass[(role == CONS) & is_site] = IND
    pclass[role == IC] = GRID
    pclass[role >= HEAT_OUT] = HEAT
    elec = role < HEAT_OUT
    pq = elec & (
        r_pt.random(n_points)
        < np.select([role == GEN, role == OWN, role == CONS], [0.5, 0.2, 0.25], 0.5)
    )
    tariff = ((role == CONS) & (r_pt.random(n_points) < 0.4)) | (
        (role == OWN) & (r_pt.random(n_points) < 0.2)
    )
    pressure = (role >= HEAT_OUT) & (r_pt.random(n_points) < 0.3)
    scale = np.where(
        elec, (role == GEN) & (fmw >= 100), (role >= HEAT_OUT) & (r_pt.random(n_points) < 0.2)
    )
    fkv = kv[fidx]
    lv = r_pt.random(n_points)
    nominal = np.where(
        (role == CONS) | (role == OWN),
        np.where((lv < 0.3) & (base < 400), 220.0, np.where(lv < 0.6, 6000.0, 10000.0)),
        np.maximum(fkv, 6) * 1000.0,
    )
    nominal = np.where(elec, nominal, np.nan)
    tan_phi = r_pt.uniform(0.2, 0.5, n_points)
    interval = np.where(crit[fidx] == 1, 5, 15)
    annual = base * 8760 * np.where(scale, 1e-3, 1.0)
    digits = np.clip(np.ceil(np.log10(np.maximum(annual, 1) * 4)), 6, 12).astype(np.int64)
    norm_f = np.array([NORM_FACTOR.get(c, np.nan) for c in range(10)])
    norm = np.where(elec & ((role == CONS) | (role == OWN)), base * 24 * norm_f[pclass], np.nan)
    heat_norm = np.where(role == HEAT_CONS, base * 24 * 1.6, np.nan)

    # point registry fields
    sub_of_point = fsubject[fidx]
    codes = [
        f"{'EL' if e else 'HT'}-{bins[s]}-{f:04d}-{j:03d}"
        for e, s, f, j in zip(
            elec.tolist(), sub_of_point.tolist(), fidx.tolist(), j_in.tolist(), strict=True
        )
    ]
    # 80020 codes (15 digits) of electricity points: the owner's BIN tail, facility, point
    codes_80020 = [
        f"{bins[s][-6:]}{f % 1_000_000:06d}{j % 1000:03d}" if e else None
        for e, s, f, j in zip(
            elec.tolist(), sub_of_point.tolist(), fidx.tolist(), j_in.tolist(), strict=True
        )
    ]
    quantities = [
        point_quantities(r, bool(q), bool(t), bool(pr))
        for r, q, t, pr in zip(
            role.tolist(), pq.tolist(), tariff.tolist(), pressure.tolist(), strict=True
        )
    ]
    units = [point_units(r, bool(s)) for r, s in zip(role.tolist(), scale.tolist(), strict=True)]
    p_phase = np.where(nominal < 1000, nominal, nominal / math.sqrt(3))
    peak_current = np.where(elec, base * 1000 * 2.0 / (3 * p_phase * 0.93), np.nan)
    rated = np.where(elec, np.clip(np.ceil(peak_current / 5) * 5, 5, 100_000), np.nan)
    points = {
        "code": codes,
        "name": [
            f"{f_name_ru[f]}: {_ROLE_RU[r]} №{j + 1}"[:300]
            for f, r, j in zip(fidx.tolist(), role.tolist(), j_in.tolist(), strict=True)
        ],
        "facility_key": [f"F{f:05d}" for f in fidx.tolist()],
        "subject_bin": [bins[s] for s in sub_of_point.tolist()],
        "region_kato": [geo.KATOS[r] for r in fregion[fidx].tolist()],
        "commodity": ["electricity" if e else "heat" for e in elec.tolist()],
        "position": [ROLE_POSITION[r] for r in role.tolist()],
        "role": [ROLE_NAMES[r] for r in role.tolist()],
        "load_class": [CLASS_NAMES[c] for c in pclass.tolist()],
        "quantities": quantities,
        "units": units,
        "interval_min": interval.tolist(),
        "nominal_voltage": _none(nominal),
        "rated_current": _none(rated),
        "max_power_kw": _none(np.where(elec, np.round(base * 2.5, 1), np.nan)),
        "register_digits": [
            int(d) if e else None for d, e in zip(digits.tolist(), elec.tolist(), strict=True)
        ],
        "import_only": ((role == CONS) | (role == OWN)).tolist(),
        "code_80020": codes_80020,
        "tariff_zones": np.where(tariff, 3, 1).tolist(),
        "daily_norm_kwh": _none(np.round(norm, 1)),
        "daily_norm_gcal": _none(np.round(heat_norm, 3)),
        "base_load": np.round(base, 4).tolist(),
        "system_key": [f"S{s:05d}-askue" for s in sub_of_point.tolist()],
    }

    # devices: one meter per point
    n = n_points
    months = np.where(elec, r_dev.choice([48, 72, 96, 120], n), 48)
    age = r_dev.uniform(0, 1.08, n) * months * 30.44
    verified = [as_of - timedelta(days=int(a)) for a in age.tolist()]
    model_pick = r_dev.integers(0, 1000, n)
    fw = r_dev.integers(0, 30, (n, 3))
    devices = {
        "point_code": codes,
        "subject_bin": points["subject_bin"],
        "type": ["electricity_meter" if e else "heat_meter" for e in elec.tolist()],
        "manufacturer": [],
        "model": [],
        "serial_number": [],
        "state_register_no": [
            f"KZ.02.03.{10000 + int(x):05d}-20{10 + int(x) % 15}"
            for x in r_dev.integers(0, 90000, n)
        ],
        "verification_date": verified,
        "verification_interval_months": months.tolist(),
        "firmware_version": [f"{a % 5 + 1}.{b}.{c}" for a, b, c in fw.tolist()],
        "installed_at": [datetime(v.year, v.month, v.day, 10, 0, tzinfo=UTC) for v in verified],
    }
    for i, e in enumerate(elec.tolist()):
        table = ELECTRICITY_METERS if e else HEAT_METERS
        man, mod = table[model_pick[i] % len(table)]
        devices["manufacturer"].append(man)
        devices["model"].append(mod)
        devices["serial_number"].append(f"{'E' if e else 'H'}{codes[i][3:15]}{i % 100000:05d}"[:64])

    # systems: an ASKUE per subject (all its facilities), a SCADA for generation and the grid
    systems: dict[str, list[Any]] = {k: [] for k in ("key", "subject_bin", "kind", "name", "vendor", "protocol", "channels", "facility_keys")}  # fmt: skip
    fac_of_sub: dict[int, list[int]] = {}
    for i, s in enumerate(fsubject.tolist()):
        fac_of_sub.setdefault(s, []).append(i)
    v_pick = r_sys.integers(0, 1000, (n_sub, 3))
    for s in range(n_sub):
        facs = fac_of_sub[s]
        vendor, product, proto = ASKUE_VENDORS[v_pick[s, 0] % len(ASKUE_VENDORS)]
        channels = [{"role": "main", "medium": "fiber", "address": f"askue.{bins[s]}.kz:2404"}]
        if v_pick[s, 2] % 100 >= 15:
            channels.append({"role": "reserve", "medium": "gsm", "address": f"+7 70{bins[s][-7:]}"})
        systems["key"].append(f"S{s:05d}-askue")
        systems["subject_bin"].append(bins[s])
        systems["kind"].append("askue")
        systems["name"].append(f"АСКУЭ {s_names_ru[s]}"[:500])
        systems["vendor"].append(f"{vendor} ({product})")
        systems["protocol"].append(proto)
        systems["channels"].append(channels)
        systems["facility_keys"].append([f"F{f:05d}" for f in facs])
        if s_kind[s] in ("generation", "transmission"):
            vendor, product, proto = SCADA_VENDORS[v_pick[s, 1] % len(SCADA_VENDORS)]
            systems["key"].append(f"S{s:05d}-scada")
            systems["subject_bin"].append(bins[s])
            systems["kind"].append("scada")
            systems["name"].append(f"SCADA {s_names_ru[s]}"[:500])
            systems["vendor"].append(f"{vendor} ({product})")
            systems["protocol"].append(proto)
            systems["channels"].append(
                [
                    {"role": "main", "medium": "fiber", "address": f"scada.{bins[s]}.kz:2404"},
                    {"role": "reserve", "medium": "vsat", "address": None},
                ]
            )
            systems["facility_keys"].append([f"F{f:05d}" for f in facs])

    # obligations: every subject submits readings every 15 minutes within an hour; critical
    # facilities every 5 minutes within 15 minutes; generation and grid send their event journals
    valid_from = as_of - timedelta(days=365)
    obligations: dict[str, list[Any]] = {k: [] for k in ("key", "subject_bin", "data_kind", "facility_key", "interval_min", "deadline_min", "valid_from", "note")}  # fmt: skip

    def oblige(
        key: str, s: int, kind: str, fkey: str | None, interval_min: int, deadline: int, note: str
    ) -> None:
        for k, v in zip(
            obligations,
            (key, bins[s], kind, fkey, interval_min, deadline, valid_from, note),
            strict=True,
        ):
            obligations[k].append(v)

    for s in range(n_sub):
        oblige(
            f"O{s:05d}-r", s, "readings", None, 15, 60, "Показания всех точек учёта каждые 15 минут"
        )
        if s_kind[s] in ("generation", "transmission"):
            oblige(
                f"O{s:05d}-e",
                s,
                "events",
                None,
                1440,
                120,
                "Журналы событий приборов учёта за сутки",
            )
        for f in fac_of_sub[s]:
            if crit[f] == 1:
                oblige(
                    f"O{s:05d}-f{f:05d}",
                    s,
                    "readings",
                    f"F{f:05d}",
                    5,
                    15,
                    "Объект 1-й категории: каждые 5 минут",
                )

    subjects = {
        "bin": bins,
        "name_ru": s_names_ru,
        "name_kk": s_names_kk,
        "name_en": s_names_en,
        "legal_form": s_forms,
        "kind": s_kind,
        "region_kato": [geo.KATOS[r] for r in s_region],
        "address": [
            f"г. {geo.PLACES[geo.KATOS[r]].city_ru}, ул. Энергетиков, {10 + j % 90}"
            for j, r in enumerate(s_region)
        ],
        "email": [f"info@{b}.kz" for b in bins],
        "phone": [f"+7 7{(int(b[:9]) % 90) + 10:02d} {b[-7:-4]} {b[-4:]}" for b in bins],
    }
    facilities = {
        "key": [f"F{f:05d}" for f in range(n_fac)],
        "subject_bin": [bins[s] for s in fsubject.tolist()],
        "name_ru": f_name_ru,
        "name_kk": f_name_kk,
        "type": [TYPE_NAMES[t] for t in ftype.tolist()],
        "region_kato": [geo.KATOS[r] for r in fregion.tolist()],
        "installed_electric_mw": _none(np.where(mw > 0, np.round(mw, 1), np.nan)),
        "installed_heat_gcal_h": _none(np.where(gcal > 0, np.round(gcal, 1), np.nan)),
        "voltage_kv": _none(np.where(kv > 0, kv, np.nan)),
        "latitude": np.round(lat, 4).tolist(),
        "longitude": np.round(lon, 4).tolist(),
        "criticality": crit.tolist(),
        "points": counts.tolist(),
    }
    return EnergySystem(
        seed=seed,
        as_of=as_of,
        subjects=subjects,
        facilities=facilities,
        points=points,
        devices=devices,
        systems=systems,
        obligations=obligations,
        p_facility=fidx,
        p_subject=sub_of_point,
        p_region=fregion[fidx],
        p_role=role,
        p_class=pclass,
        p_base=base,
        p_interval=interval,
        p_pq=pq,
        p_tariff=tariff,
        p_pressure=pressure,
        p_scale=scale,
        p_digits=digits,
        p_nominal_v=nominal,
        p_tan_phi=tan_phi,
        p_norm_kwh=np.where(np.isnan(norm), heat_norm, norm),
        p_lat=lat[fidx],
        f_type=ftype,
        f_region=fregion,
    )


_ROLE_RU = (
    "генерация",
    "собственные нужды",
    "потребление",
    "перетоки",
    "отпуск тепла",
    "потребление тепла",
)


def _none(a: np.ndarray) -> list[float | None]:
    return [None if math.isnan(x) else x for x in a.tolist()]


def _facility_name(t: str, n: int, place: geo.Place, kv: float) -> tuple[str, str]:
    c, ck = place.city_ru, place.city_kk
    kvs = f"{kv:g}"
    return {
        "tpp": (f"ГРЭС-{n} ({c})", f"МАЭС-{n} ({ck})"),
        "chp": (f"ТЭЦ-{n} г. {c}", f"{ck} ЖЭО-{n}"),
        "hpp": (f"ГЭС-{n} ({c})", f"СЭС-{n} ({ck})"),
        "wpp": (f"ВЭС «{c}-{n}»", f"«{ck}-{n}» ЖЭС"),
        "spp": (f"СЭС «{c}-{n}»", f"«{ck}-{n}» КЭС"),
        "gas_turbine": (f"ГТЭС-{n} ({c})", f"ГТЭС-{n} ({ck})"),
        "boiler_house": (f"Котельная №{n} г. {c}", f"{ck} №{n} қазандығы"),
        "substation": (f"ПС {kvs} кВ «{c}-{n}»", f"{kvs} кВ «{ck}-{n}» қосалқы станциясы"),
        "power_line": (f"ВЛ {kvs} кВ «{c}-{n}»", f"{kvs} кВ «{ck}-{n}» әуе желісі"),
        "heat_network": (f"Тепловые сети г. {c}, район {n}", f"{ck} жылу желілері, {n}-аудан"),
        "consumer_site": (f"Промплощадка №{n} ({c})", f"№{n} өнеркәсіптік алаң ({ck})"),
    }[t]


# --- quantities of a point ------------------------------------------------------------------------

PQ = (
    "voltage_l1",
    "voltage_l2",
    "voltage_l3",
    "current_l1",
    "current_l2",
    "current_l3",
    "frequency",
)
TARIFF_REGISTERS = (
    "active_import_register:t1",
    "active_import_register:t2",
    "active_import_register:t3",
)
HEAT_Q = (
    "heat_energy", "heat_power", "coolant_mass_supply", "coolant_mass_return",
    "coolant_volume_supply", "coolant_volume_return", "temp_supply", "temp_return",
)  # fmt: skip


def point_quantities(role: int, pq: bool, tariff: bool, pressure: bool) -> list[str]:
    if role == GEN:
        q = ["active_export", "reactive_export", "active_export_register", "active_power"]
    elif role in (OWN, CONS):
        q = ["active_import", "reactive_import", "active_import_register", "active_power"]
        if tariff:
            q += TARIFF_REGISTERS
    elif role == IC:
        q = ["active_import", "active_export", "reactive_import", "reactive_export",
             "active_import_register", "active_export_register", "active_power"]  # fmt: skip
    else:
        q = list(HEAT_Q) + (["pressure_supply", "pressure_return"] if pressure else [])
    if pq:
        q += PQ
    return q


def point_units(role: int, scaled: bool) -> dict[str, str]:
    """Units the meter reports in, where they differ from the canonical ones."""
    if not scaled:
        return {}
    if role == GEN:
        return {"active_export": "MWh", "active_export_register": "MWh", "reactive_export": "Mvarh"}
    if role >= HEAT_OUT:
        return {"heat_energy": "GJ", "heat_power": "GJ/h"}
    return {}
