"""The validation rules: stable codes, their bit in ``reading.rules``, and what a hit means.

The bit of a rule never changes once published: ``reading.rules`` is stored, exported and compared
across years. Add new rules at the next free bit; retire a rule by leaving its bit unused.

Severity decides the reading's quality:

- ``reject``: the value is physically impossible. The actual is kept as a version and, where the
  neighbours allow, an estimate becomes the current value (quality ``estimated``).
- ``suspect``: the value is doubtful; it stays current with quality ``suspect`` until someone
  corrects or confirms it.
- ``notice``: the value is right but the situation is abnormal (voltage out of range, consumption
  above the norm) or the rule only records a fact (a register rollover, a gap that was estimated);
  the quality stays as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["reject", "suspect", "notice"]


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    bit: int
    severity: Severity
    title_ru: str
    title_kk: str
    title_en: str

    @property
    def mask(self) -> int:
        return 1 << self.bit

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "bit": self.bit,
            "mask": self.mask,
            "severity": self.severity,
            "title": {"ru": self.title_ru, "kk": self.title_kk, "en": self.title_en},
        }


RULES: tuple[Rule, ...] = (
    Rule("gap", 0, "notice", "Пропуск интервалов", "Интервалдар өткізілген", "Missing intervals"),
    Rule(
        "duplicate",
        1,
        "suspect",
        "Дубликат с другим значением",
        "Басқа мәні бар қайталама",
        "Duplicate with a different value",
    ),
    Rule(
        "future",
        2,
        "suspect",
        "Метка времени в будущем",
        "Уақыт белгісі болашақта",
        "Timestamp in the future",
    ),
    Rule(
        "too_old",
        3,
        "suspect",
        "Слишком старые данные, нужна проверка",
        "Тым ескі деректер, тексеру қажет",
        "Too old to accept without review",
    ),
    Rule(
        "negative",
        4,
        "reject",
        "Отрицательное значение там, где оно невозможно",
        "Мүмкін емес жерде теріс мән",
        "Negative where impossible",
    ),
    Rule(
        "capacity",
        5,
        "reject",
        "Выше физической пропускной способности",
        "Физикалық өткізу қабілетінен жоғары",
        "Above the physical capacity",
    ),
    Rule(
        "spike",
        6,
        "reject",
        "Выброс относительно собственной истории",
        "Өз тарихына қатысты шығарынды",
        "Spike against the point's own history",
    ),
    Rule(
        "stuck",
        7,
        "suspect",
        "Зависшее значение",
        "Қатып қалған мән",
        "Stuck value",
    ),
    Rule(
        "zero_consumption",
        8,
        "suspect",
        "Нулевое потребление при работающем объекте",
        "Нысан жұмыс істеп тұрғанда нөлдік тұтыну",
        "Zero consumption while the facility works",
    ),
    Rule(
        "sum_check",
        9,
        "suspect",
        "Сумма интервалов не сходится с приращением счётчика",
        "Интервалдар қосындысы есептегіш өсімімен сәйкес келмейді",
        "Interval energy does not match the register advance",
    ),
    Rule(
        "register_decrease",
        10,
        "suspect",
        "Показание счётчика уменьшилось",
        "Есептегіш көрсеткіші азайды",
        "Register reading decreased",
    ),
    Rule(
        "rollover",
        11,
        "notice",
        "Переход счётчика через ноль",
        "Есептегіштің нөл арқылы өтуі",
        "Register rollover",
    ),
    Rule(
        "export_import_only",
        12,
        "suspect",
        "Выдача на точке только приёма",
        "Тек қабылдау нүктесінде беру",
        "Export on an import-only point",
    ),
    Rule(
        "voltage_range",
        13,
        "notice",
        "Напряжение вне допустимого отклонения от номинала",
        "Кернеу номиналдан рұқсат етілген ауытқудан тыс",
        "Voltage outside the allowed deviation from nominal",
    ),
    Rule(
        "voltage_fluctuation",
        14,
        "notice",
        "Чрезмерное колебание напряжения",
        "Кернеудің шамадан тыс ауытқуы",
        "Excessive voltage fluctuation",
    ),
    Rule(
        "above_norm",
        15,
        "notice",
        "Потребление выше нормы",
        "Тұтыну нормадан жоғары",
        "Consumption above the norm",
    ),
    Rule(
        "heat_balance",
        16,
        "suspect",
        "Небаланс массы теплоносителя (подача/обратка)",
        "Жылу тасығыш массасының теңгерімсіздігі (беру/қайтару)",
        "Coolant mass imbalance (supply vs return)",
    ),
    Rule(
        "clock_skew",
        17,
        "suspect",
        "Метка времени вне сетки интервалов",
        "Уақыт белгісі интервалдар торынан тыс",
        "Timestamp off the interval grid (clock skew)",
    ),
    Rule(
        "not_commercial",
        18,
        "suspect",
        "Некоммерческие данные (по статусу источника)",
        "Коммерциялық емес деректер (дереккөз мәртебесі бойынша)",
        "Not commercial (marked so by the source)",
    ),
)

BY_CODE: dict[str, Rule] = {r.code: r for r in RULES}
BY_BIT: dict[int, Rule] = {r.bit: r for r in RULES}
assert len(BY_CODE) == len(RULES) and len(BY_BIT) == len(RULES)

GAP = BY_CODE["gap"].mask
DUPLICATE = BY_CODE["duplicate"].mask
FUTURE = BY_CODE["future"].mask
TOO_OLD = BY_CODE["too_old"].mask
NEGATIVE = BY_CODE["negative"].mask
CAPACITY = BY_CODE["capacity"].mask
SPIKE = BY_CODE["spike"].mask
STUCK = BY_CODE["stuck"].mask
ZERO = BY_CODE["zero_consumption"].mask
SUM_CHECK = BY_CODE["sum_check"].mask
REGISTER_DECREASE = BY_CODE["register_decrease"].mask
ROLLOVER = BY_CODE["rollover"].mask
EXPORT_IMPORT_ONLY = BY_CODE["export_import_only"].mask
VOLTAGE_RANGE = BY_CODE["voltage_range"].mask
VOLTAGE_FLUCTUATION = BY_CODE["voltage_fluctuation"].mask
ABOVE_NORM = BY_CODE["above_norm"].mask
HEAT_BALANCE = BY_CODE["heat_balance"].mask
CLOCK_SKEW = BY_CODE["clock_skew"].mask
NOT_COMMERCIAL = BY_CODE["not_commercial"].mask

REJECT_MASK = sum(r.mask for r in RULES if r.severity == "reject")
SUSPECT_MASK = sum(r.mask for r in RULES if r.severity == "suspect")
FAILING_MASK = REJECT_MASK | SUSPECT_MASK
ALL_MASK = sum(r.mask for r in RULES)


def codes_of(mask: int) -> list[str]:
    """Rule codes of a ``rules`` bitmask, in bit order."""
    return [r.code for r in RULES if mask & r.mask]


def mask_of(codes: list[str] | tuple[str, ...] | frozenset[str]) -> int:
    """The bitmask of rule codes (unknown codes raise KeyError)."""
    m = 0
    for c in codes:
        m |= BY_CODE[c].mask
    return m
