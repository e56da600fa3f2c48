"""Injected defects: what can go wrong, how often, and the ground-truth label of each occurrence.

Every defect the simulator injects is written to the labels with its type, point, quantity (empty
when it concerns every quantity of the point), system (for a communication loss), and the span of
affected intervals as the stamps (interval ends) of the first and the last one.

Two families: *data* defects change only what the meter reports (gap, spike, stuck value, negative
value, duplicate with a different value, clock skew, communication loss), so the register and the
interval energy disagree exactly there; *physical* ones change what happens (consumption above the
norm, power loss, magnetic tampering, voltage sags and swells, drift and failure), so the registers
follow. Counter rollover is not a fault of the data but a wrap of the register that the sum check
must understand; it is labelled too.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

DATA_TYPES = ("gap", "spike", "stuck", "negative", "duplicate", "clock_skew")
PHYSICAL_TYPES = (
    "above_norm", "power_loss", "cover_opened", "magnetic_field", "clock_set",
    "voltage_sag", "voltage_swell", "failure",
)  # fmt: skip
LABEL_TYPES = (
    "gap", "spike", "stuck", "negative", "duplicate", "clock_skew", "rollover", "voltage_sag",
    "voltage_swell", "above_norm", "power_loss", "cover_opened", "magnetic_field", "clock_set",
    "comm_loss", "failure_drift", "equipment_failure",
)  # fmt: skip

EVENT_TEXT = {
    "power_loss": "Пропадание питания прибора учёта",
    "power_restored": "Восстановление питания прибора учёта",
    "cover_opened": "Вскрытие крышки клеммной колодки",
    "cover_closed": "Закрытие крышки клеммной колодки",
    "magnetic_field": "Воздействие сильного магнитного поля",
    "magnetic_field_end": "Окончание воздействия магнитного поля",
    "clock_set": "Коррекция времени прибора учёта",
    "equipment_trip": "Аварийное отключение оборудования",
}
EVENT_CODES = tuple(EVENT_TEXT)


@dataclass(frozen=True)
class Rates:
    """How often each defect happens: the probability per point and day (comm_loss: per system
    and day; rollover: the share of points whose energy register wraps within the first days)."""

    gap: float = 0.02
    spike: float = 0.01
    stuck: float = 0.006
    negative: float = 0.006
    duplicate: float = 0.01
    clock_skew: float = 0.004
    above_norm: float = 0.01
    power_loss: float = 0.004
    cover_opened: float = 0.002
    magnetic_field: float = 0.002
    clock_set: float = 0.002
    voltage_sag: float = 0.03
    voltage_swell: float = 0.015
    failure: float = 0.003
    comm_loss: float = 0.02
    rollover: float = 0.01

    def scaled(self, factor: float) -> Rates:
        """All rates multiplied by ``factor`` (0 turns every defect off)."""
        return replace(self, **{f.name: getattr(self, f.name) * factor for f in fields(self)})

    def with_overrides(self, overrides: dict[str, float]) -> Rates:
        known = {f.name for f in fields(self)}
        for k, v in overrides.items():
            if k not in known:
                raise ValueError(f"unknown defect {k!r}; known: {', '.join(sorted(known))}")
            if not 0 <= v <= 1:
                raise ValueError(f"defect rate {k}={v}: must be between 0 and 1")
        return replace(self, **overrides)

    def as_dict(self) -> dict[str, float]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def parse_rates(items: list[str]) -> dict[str, float]:
    """``["gap=0.05", "spike=0"]`` → ``{"gap": 0.05, "spike": 0.0}``."""
    out = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"{item!r}: use NAME=RATE, e.g. gap=0.05")
        out[name.strip()] = float(value)
    return out
