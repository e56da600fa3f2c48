"""The shared vocabulary of quantities and units (ARCHITECTURE.md, "Shared vocabulary").

Codes are used in every API. OBIS codes are accepted as aliases on input. A value given in
another scale of the same dimension is converted to the canonical unit; a unit of another
dimension is an error.

Register (cumulative) energy has its own codes, ``active_import_register`` and so on, because
the historian keeps interval energy and register readings side by side for the sum check.
"""

from __future__ import annotations

from dataclasses import dataclass

GCAL_PER_MWH = 1 / 1.163  # 1 Gcal = 1.163 MWh = 4.1868 GJ
GCAL_PER_GJ = 1 / 4.1868

# dimension -> {unit: factor to the canonical unit}
UNITS: dict[str, dict[str, float]] = {
    "energy_active": {"Wh": 1e-3, "kWh": 1.0, "MWh": 1e3, "GWh": 1e6},
    "energy_reactive": {"varh": 1e-3, "kvarh": 1.0, "Mvarh": 1e3},
    "power_active": {"W": 1e-3, "kW": 1.0, "MW": 1e3},
    "power_reactive": {"var": 1e-3, "kvar": 1.0, "Mvar": 1e3},
    "voltage": {"V": 1.0, "kV": 1e3},
    "current": {"A": 1.0, "kA": 1e3},
    "frequency": {"Hz": 1.0},
    "heat_energy": {
        "Gcal": 1.0,
        "Mcal": 1e-3,
        "kcal": 1e-6,
        "GJ": GCAL_PER_GJ,
        "MJ": GCAL_PER_GJ / 1e3,
        "kJ": GCAL_PER_GJ / 1e6,
        "MWh": GCAL_PER_MWH,
        "kWh": GCAL_PER_MWH / 1e3,
    },
    "heat_power": {
        "Gcal/h": 1.0,
        "Mcal/h": 1e-3,
        "GJ/h": GCAL_PER_GJ,
        "MW": GCAL_PER_MWH,
        "kW": GCAL_PER_MWH / 1e3,
    },
    "volume": {"m3": 1.0, "m³": 1.0, "l": 1e-3},
    "mass": {"t": 1.0, "kg": 1e-3},
    "temperature": {"°C": 1.0, "degC": 1.0, "C": 1.0},
    "pressure": {"MPa": 1.0, "kPa": 1e-3, "bar": 0.1, "kgf/cm2": 0.0980665},
}
CANONICAL_UNIT = {
    "energy_active": "kWh",
    "energy_reactive": "kvarh",
    "power_active": "kW",
    "power_reactive": "kvar",
    "voltage": "V",
    "current": "A",
    "frequency": "Hz",
    "heat_energy": "Gcal",
    "heat_power": "Gcal/h",
    "volume": "m³",
    "mass": "t",
    "temperature": "°C",
    "pressure": "MPa",
}


@dataclass(frozen=True, slots=True)
class Quantity:
    code: str
    dimension: str
    commodity: str  # electricity | heat
    kind: str  # interval (summable per interval) | register (cumulative) | instant (mean/state)
    description: str
    obis: tuple[str, ...] = ()

    @property
    def unit(self) -> str:
        return CANONICAL_UNIT[self.dimension]

    @property
    def summable(self) -> bool:
        return self.kind == "interval"


def _q(code: str, dim: str, com: str, kind: str, desc: str, *obis: str) -> Quantity:
    return Quantity(code, dim, com, kind, desc, tuple(obis))


_BASE = [
    _q(
        "active_import",
        "energy_active",
        "electricity",
        "interval",
        "Active energy import per interval",
        "1.29.0",
    ),
    _q(
        "active_export",
        "energy_active",
        "electricity",
        "interval",
        "Active energy export per interval",
        "2.29.0",
    ),
    _q(
        "reactive_import",
        "energy_reactive",
        "electricity",
        "interval",
        "Reactive energy import per interval",
        "3.29.0",
        "3.8.0",
    ),
    _q(
        "reactive_export",
        "energy_reactive",
        "electricity",
        "interval",
        "Reactive energy export per interval",
        "4.29.0",
        "4.8.0",
    ),
    _q(
        "active_import_register",
        "energy_active",
        "electricity",
        "register",
        "Active energy import register",
        "1.8.0",
    ),
    _q(
        "active_export_register",
        "energy_active",
        "electricity",
        "register",
        "Active energy export register",
        "2.8.0",
    ),
    _q(
        "active_power",
        "power_active",
        "electricity",
        "instant",
        "Mean active power over the interval",
        "1.7.0",
    ),
    _q(
        "reactive_power",
        "power_reactive",
        "electricity",
        "instant",
        "Mean reactive power over the interval",
        "3.7.0",
    ),
    _q("voltage_l1", "voltage", "electricity", "instant", "Voltage, phase L1", "32.7.0"),
    _q("voltage_l2", "voltage", "electricity", "instant", "Voltage, phase L2", "52.7.0"),
    _q("voltage_l3", "voltage", "electricity", "instant", "Voltage, phase L3", "72.7.0"),
    _q("current_l1", "current", "electricity", "instant", "Current, phase L1", "31.7.0"),
    _q("current_l2", "current", "electricity", "instant", "Current, phase L2", "51.7.0"),
    _q("current_l3", "current", "electricity", "instant", "Current, phase L3", "71.7.0"),
    _q("frequency", "frequency", "electricity", "instant", "Network frequency", "14.7.0"),
    _q("heat_energy", "heat_energy", "heat", "interval", "Heat delivered per interval"),
    _q("heat_power", "heat_power", "heat", "instant", "Mean heat power over the interval"),
    _q("coolant_volume", "volume", "heat", "interval", "Coolant volume per interval"),
    _q("coolant_volume_supply", "volume", "heat", "interval", "Coolant volume, supply pipe"),
    _q("coolant_volume_return", "volume", "heat", "interval", "Coolant volume, return pipe"),
    _q("coolant_mass", "mass", "heat", "interval", "Coolant mass per interval"),
    _q("coolant_mass_supply", "mass", "heat", "interval", "Coolant mass, supply pipe"),
    _q("coolant_mass_return", "mass", "heat", "interval", "Coolant mass, return pipe"),
    _q("temp_supply", "temperature", "heat", "instant", "Coolant temperature, supply"),
    _q("temp_return", "temperature", "heat", "instant", "Coolant temperature, return"),
    _q("pressure_supply", "pressure", "heat", "instant", "Coolant pressure, supply"),
    _q("pressure_return", "pressure", "heat", "instant", "Coolant pressure, return"),
]
TARIFFED = (
    "active_import",
    "active_export",
    "reactive_import",
    "reactive_export",
    "active_import_register",
    "active_export_register",
)

QUANTITIES: dict[str, Quantity] = {q.code: q for q in _BASE}
for _base in TARIFFED:
    _b = QUANTITIES[_base]
    for _t in range(1, 5):
        _obis = tuple(o.rsplit(".", 1)[0] + f".{_t}" for o in _b.obis if o.endswith(".8.0"))
        QUANTITIES[f"{_base}:t{_t}"] = Quantity(
            f"{_base}:t{_t}",
            _b.dimension,
            _b.commodity,
            _b.kind,
            f"{_b.description}, tariff zone {_t}",
            _obis,
        )

OBIS_ALIASES: dict[str, str] = {}
for _q_ in QUANTITIES.values():
    for _o in _q_.obis:
        OBIS_ALIASES.setdefault(_o, _q_.code)
        OBIS_ALIASES.setdefault(f"1-0:{_o}", _q_.code)


def resolve_quantity(code: str) -> Quantity | None:
    """The quantity for a code or an OBIS alias, or None if unknown."""
    q = QUANTITIES.get(code)
    if q is None:
        alias = OBIS_ALIASES.get(code.strip())
        q = QUANTITIES.get(alias) if alias else None
    return q


def unit_factor(quantity: Quantity, unit: str | None) -> float | None:
    """Factor that converts ``unit`` to the quantity's canonical unit; None if it does not fit."""
    if unit is None or unit == "":
        return 1.0
    return UNITS[quantity.dimension].get(unit.strip())
