"""What an alarm says to people, in Russian, Kazakh and English."""

from __future__ import annotations

from typing import Any

EVENT_NAMES: dict[str, tuple[str, str, str]] = {
    "cover_opened": ("Вскрытие крышки прибора учёта", "Есептеу құралының қақпағы ашылды", "Meter cover opened"),
    "cover_closed": ("Закрытие крышки прибора учёта", "Есептеу құралының қақпағы жабылды", "Meter cover closed"),
    "magnetic_field": ("Воздействие магнитного поля", "Магнит өрісінің әсері", "Magnetic field on the meter"),
    "magnetic_field_end": ("Окончание воздействия магнитного поля", "Магнит өрісінің әсері аяқталды", "Magnetic field gone"),
    "power_loss": ("Пропадание питания прибора учёта", "Есептеу құралының қорегі жоғалды", "Meter power loss"),
    "power_restored": ("Восстановление питания", "Қорек қалпына келді", "Meter power restored"),
    "clock_set": ("Коррекция часов прибора учёта", "Есептеу құралының сағаты түзетілді", "Meter clock set"),
    "equipment_trip": ("Аварийное отключение оборудования", "Жабдықтың апаттық ажыратылуы", "Equipment trip"),
    "protection_trip": ("Срабатывание защиты", "Қорғаныстың іске қосылуы", "Protection trip"),
    "emergency_shutdown": ("Аварийный останов", "Апаттық тоқтату", "Emergency shutdown"),
    "channel_switch": ("Переключение канала связи", "Байланыс арнасын ауыстыру", "Communication channel switched"),
}  # fmt: skip

QUANTITY_NAMES: dict[str, tuple[str, str, str]] = {
    "voltage_l1": ("напряжение L1", "L1 кернеуі", "voltage L1"),
    "voltage_l2": ("напряжение L2", "L2 кернеуі", "voltage L2"),
    "voltage_l3": ("напряжение L3", "L3 кернеуі", "voltage L3"),
    "frequency": ("частота", "жиілік", "frequency"),
    "active_import": ("потребление активной энергии", "белсенді энергияны тұтыну", "active energy import"),
    "active_export": ("выдача активной энергии", "белсенді энергияны беру", "active energy export"),
    "heat_energy": ("тепловая энергия", "жылу энергиясы", "heat energy"),
}  # fmt: skip


def _q(code: str | None, lang: int) -> str:
    if code is None:
        return ""
    return QUANTITY_NAMES.get(code, (code, code, code))[lang]


def _n(v: Any) -> str:
    if v is None:
        return "—"
    f = float(v)
    return f"{f:.0f}" if abs(f) >= 100 else f"{f:.3g}"


def message(kind: str, obj: str, args: dict[str, Any]) -> dict[str, str]:
    """The alarm's text for people: ``{"ru": …, "kk": …, "en": …}``."""
    q = args.get("quantity")
    v, lim = _n(args.get("value")), _n(args.get("limit"))
    side = args.get("side")
    if kind == "band" and q and q.startswith("voltage"):
        if side == "low":
            return {
                "ru": f"Провал напряжения на точке {obj}: {_q(q, 0)} {v} В при допустимом минимуме {lim} В",
                "kk": f"{obj} нүктесінде кернеудің төмендеуі: {_q(q, 1)} {v} В, рұқсат етілген минимум {lim} В",
                "en": f"Voltage sag at {obj}: {_q(q, 2)} {v} V, below the allowed {lim} V",
            }
        return {
            "ru": f"Перенапряжение на точке {obj}: {_q(q, 0)} {v} В при допустимом максимуме {lim} В",
            "kk": f"{obj} нүктесінде кернеудің артуы: {_q(q, 1)} {v} В, рұқсат етілген максимум {lim} В",
            "en": f"Voltage swell at {obj}: {_q(q, 2)} {v} V, above the allowed {lim} V",
        }
    if kind in ("band", "threshold"):
        word = ("ниже", "төмен", "below") if side == "low" else ("выше", "жоғары", "above")
        return {
            "ru": f"Точка {obj}: {_q(q, 0)} {v} {word[0]} порога {lim}",
            "kk": f"{obj} нүктесі: {_q(q, 1)} {v}, шектен {lim} {word[1]}",
            "en": f"Point {obj}: {_q(q, 2)} {v} is {word[2]} the limit {lim}",
        }
    if kind == "rate_of_change":
        return {
            "ru": f"Точка {obj}: резкое изменение ({_q(q, 0)}) на {v} при допустимом {lim}",
            "kk": f"{obj} нүктесі: күрт өзгеріс ({_q(q, 1)}) {v}, рұқсат етілгені {lim}",
            "en": f"Point {obj}: {_q(q, 2)} changed by {v}, more than the allowed {lim}",
        }
    if kind == "above_norm":
        return {
            "ru": f"Точка {obj}: потребление {v} выше нормы {lim} ({args.get('period_ru', 'за сутки')})",
            "kk": f"{obj} нүктесі: тұтыну {v} нормадан {lim} жоғары ({args.get('period_kk', 'тәулігіне')})",
            "en": f"Point {obj}: consumption {v} above the norm {lim} ({args.get('period_en', 'per day')})",
        }
    if kind == "anomaly":
        return {
            "ru": f"Точка {obj}: {_q(q, 0)} {v} отклоняется от ожидаемого {_n(args.get('expected'))}",
            "kk": f"{obj} нүктесі: {_q(q, 1)} {v} күтілген мәннен {_n(args.get('expected'))} ауытқиды",
            "en": f"Point {obj}: {_q(q, 2)} {v} deviates from the expected {_n(args.get('expected'))}",
        }
    if kind == "event":
        code = str(args.get("code"))
        names = EVENT_NAMES.get(code, (code, code, code))
        text = args.get("text")
        tail = f" — {text}" if text else ""
        return {
            "ru": f"{names[0]} (точка {obj}){tail}",
            "kk": f"{names[1]} ({obj} нүктесі){tail}",
            "en": f"{names[2]} (point {obj}){tail}",
        }
    if kind == "comm_loss":
        n = args.get("missed")
        return {
            "ru": f"Точка {obj} не передаёт данные: пропущено интервалов {n}",
            "kk": f"{obj} нүктесі деректерді бермейді: {n} интервал өткізілді",
            "en": f"Point {obj} is not reporting: {n} intervals missed",
        }
    if kind == "system_comm_loss":
        name = args.get("name", obj)
        return {
            "ru": f"Система {name} не передаёт данные: молчат {args.get('silent')} из {args.get('total')} точек",
            "kk": f"{name} жүйесі деректерді бермейді: {args.get('total')} нүктенің {args.get('silent')} үнсіз",
            "en": f"System {name} is not reporting: {args.get('silent')} of {args.get('total')} points silent",
        }
    if kind == "verification_overdue":
        due = args.get("due")
        return {
            "ru": f"Просрочена поверка прибора {args.get('serial')} (срок {due})",
            "kk": f"{args.get('serial')} құралының тексеру мерзімі өтті (мерзімі {due})",
            "en": f"Verification of instrument {args.get('serial')} is overdue (due {due})",
        }
    if kind == "submission_overdue":
        return {
            "ru": f"Субъект {obj} не представил данные в срок: нет данных по {args.get('missing')} точкам",
            "kk": f"{obj} субъектісі деректерді мерзімінде бермеді: {args.get('missing')} нүкте бойынша дерек жоқ",
            "en": f"Subject {obj} is late with its data: {args.get('missing')} points missing",
        }
    return {"ru": f"Тревога: {obj}", "kk": f"Дабыл: {obj}", "en": f"Alarm: {obj}"}
