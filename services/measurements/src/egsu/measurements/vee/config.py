"""Which rules apply to which commodity and quantity, and with what thresholds.

The defaults follow from the quantity's kind and dimension in the shared vocabulary (a register
gets the monotonicity and rollover checks, a voltage the ±10 % and fluctuation checks, …).
Settings can switch rules off and change thresholds per commodity, per quantity or per
``commodity:quantity``; the most specific key wins::

    EGSU_VEE_RULES_OFF='{"heat": ["stuck"], "electricity:frequency": ["stuck"]}'
    EGSU_VEE_THRESHOLDS='{"*": {"spike_z": 7}, "active_import": {"stuck_intervals": 12}}'

Point-specific limits (capacity, nominal voltage, norms, register digits, import-only) come from
the registry's metering-point index; see ``egsu.measurements.points``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from egsu.contracts.vocabulary import QUANTITIES, Quantity
from egsu.measurements.vee import rules as R


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Thresholds of the rules; every one can be overridden per commodity and quantity."""

    spike_z: float = 6.0  # robust z-score (median, IQR/1.349) above which a value is a spike …
    spike_ratio: float = 2.0  # … and only if it is also this many times the usual extreme (p5/p95)
    min_reference: int = 24  # readings of the point's own history needed before spike/stuck/zero
    stuck_intervals: int = 8  # equal consecutive non-zero readings that make a stuck value …
    stuck_equal_share: float = 0.3  # … on a point whose readings otherwise repeat less often
    zero_intervals: int = 4  # consecutive zero readings on a point that is otherwise non-zero …
    zero_working_share: float = 0.98  # … in at least this share of its other readings
    clock_tolerance_s: float = 15.0  # sender's time off the grid by more than this is clock skew
    future_tolerance_s: float = 300.0  # an interval ending this long after receipt is in the future
    max_age_days: float = 366.0  # older readings need review (closed annual reporting period)
    capacity_margin: float = 1.2  # allowed overload above the rated capacity
    voltage_tolerance_pct: float = 10.0  # default if the point's norms do not say
    voltage_fluctuation_pct: float = 5.0  # step between consecutive intervals, % of nominal
    sum_tolerance_pct: float = 1.0  # interval energy vs register advance
    heat_balance_tolerance_pct: float = 3.0  # default if the point's norms do not say
    heat_min_flow: float = (
        0.001  # below this supply mass (t per interval) the balance is not judged
    )
    linear_max_minutes: float = 120.0  # gaps up to this long are interpolated linearly …
    estimate_max_hours: float = (
        48.0  # … longer ones from a similar day, up to this; beyond stays missing
    )

    def replace(self, **changes: Any) -> Thresholds:
        known = {f.name for f in dataclasses.fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown VEE thresholds {sorted(unknown)}; known: {sorted(known)}")
        return dataclasses.replace(self, **changes)


SIGNED_DIMENSIONS = frozenset({"power_active", "power_reactive"})  # import minus export
NON_NEGATIVE_DIMENSIONS = frozenset(
    {
        "energy_active",
        "energy_reactive",
        "voltage",
        "current",
        "frequency",
        "heat_energy",
        "heat_power",
        "volume",
        "mass",
        "pressure",
    }
)
EXPORT_QUANTITIES = frozenset(
    c
    for c in QUANTITIES
    if c.split(":")[0] in ("active_export", "reactive_export", "active_export_register")
)
CONSUMPTION_QUANTITIES = frozenset({"active_import", "heat_energy"})  # zero consumption, norms
VOLTAGE_QUANTITIES = frozenset({"voltage_l1", "voltage_l2", "voltage_l3"})
HEAT_PAIRS = {"coolant_mass_supply": "coolant_mass_return"}
# interval energy and its register, for the sum check (tariff zones pair up the same way)
REGISTER_OF: dict[str, str] = {}
for _code in QUANTITIES:
    _base, _, _zone = _code.partition(":")
    if _base in ("active_import", "active_export"):
        REGISTER_OF[_code] = f"{_base}_register" + (f":{_zone}" if _zone else "")
INTERVAL_OF = {v: k for k, v in REGISTER_OF.items()}


def default_rules(q: Quantity) -> int:
    """The rule mask that applies to a quantity before any settings."""
    m = R.GAP | R.DUPLICATE | R.FUTURE | R.TOO_OLD | R.CLOCK_SKEW | R.NOT_COMMERCIAL
    base = q.code.split(":")[0]
    tariff = ":" in q.code
    if q.dimension in NON_NEGATIVE_DIMENSIONS:
        m |= R.NEGATIVE
    if q.code in EXPORT_QUANTITIES or q.dimension == "power_active":
        m |= R.EXPORT_IMPORT_ONLY
    if q.kind == "register":
        m |= R.REGISTER_DECREASE | R.ROLLOVER
        if q.code in INTERVAL_OF:
            m |= R.SUM_CHECK
        return m
    if q.kind == "interval":
        if not tariff:  # tariff zones are zero outside their hours by design
            m |= R.SPIKE | R.STUCK
        if q.dimension in ("energy_active", "energy_reactive", "heat_energy"):
            m |= R.CAPACITY
        if q.code in REGISTER_OF:
            m |= R.SUM_CHECK
        if q.code in CONSUMPTION_QUANTITIES:
            m |= R.ZERO | R.ABOVE_NORM
        if base in HEAT_PAIRS or base in HEAT_PAIRS.values():
            m |= R.HEAT_BALANCE
        return m
    # instantaneous quantities
    if q.dimension in ("power_active", "power_reactive", "current", "heat_power"):
        m |= R.SPIKE | R.STUCK | R.CAPACITY
    elif q.dimension == "voltage":
        m |= R.VOLTAGE_RANGE | R.VOLTAGE_FLUCTUATION | R.STUCK
    elif q.dimension in ("frequency", "temperature", "pressure"):
        m |= R.STUCK
    return m


class RuleBook:
    """Enabled rules and thresholds per commodity and quantity, from defaults and settings."""

    def __init__(
        self,
        rules_off: dict[str, list[str]] | None = None,
        thresholds: dict[str, dict[str, float]] | None = None,
    ) -> None:
        self.rules_off = {k: R.mask_of(v) for k, v in (rules_off or {}).items()}
        self.thresholds = thresholds or {}
        for key, values in self.thresholds.items():
            Thresholds().replace(**values)  # fail early on a misspelt threshold
            self._check_key(key)
        for key in self.rules_off:
            self._check_key(key)
        self.for_quantity = lru_cache(maxsize=4096)(self._for_quantity)

    @staticmethod
    def _check_key(key: str) -> None:
        if key in ("*", "electricity", "heat") or key in QUANTITIES:
            return
        com, _, code = key.partition(":")
        if com in ("electricity", "heat") and code in QUANTITIES:
            return
        raise ValueError(
            f"VEE setting key {key!r}: use *, a commodity, a quantity or commodity:quantity"
        )

    def _keys(self, commodity: str, code: str) -> list[str]:
        base = code.split(":")[0]
        return ["*", commodity, base, code, f"{commodity}:{base}", f"{commodity}:{code}"]

    def _for_quantity(self, commodity: str, code: str) -> tuple[int, Thresholds]:
        q = QUANTITIES.get(code)
        mask = (
            default_rules(q)
            if q is not None
            else (R.GAP | R.DUPLICATE | R.FUTURE | R.TOO_OLD | R.NOT_COMMERCIAL)
        )
        th = Thresholds()
        for key in self._keys(commodity, code):
            mask &= ~self.rules_off.get(key, 0)
            if key in self.thresholds:
                th = th.replace(**self.thresholds[key])
        return mask, th
