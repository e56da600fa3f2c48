"""Texts meant for people, in Russian, Kazakh and English."""

from __future__ import annotations

from typing import Any

TEXTS: dict[str, tuple[str, str, str]] = {
    "level.low": ("Низкий риск", "Төмен тәуекел", "Low risk"),
    "level.elevated": ("Повышенный риск", "Жоғарылаған тәуекел", "Elevated risk"),
    "level.high": ("Высокий риск", "Жоғары тәуекел", "High risk"),
    "level.critical": ("Критический риск", "Сыни тәуекел", "Critical risk"),
    "risk.drift": (
        "Отпуск за последнюю неделю изменился на {change_pct} % к трём предыдущим "
        "(тренд {slope_pct_per_day} % в сутки)",
        "Соңғы аптадағы жіберу алдыңғы үш аптамен салыстырғанда {change_pct} %-ға өзгерді "
        "(тренд тәулігіне {slope_pct_per_day} %)",
        "Output over the last week changed by {change_pct} % against the three weeks before "
        "(trend {slope_pct_per_day} % a day)",
    ),
    "risk.voltage": (
        "Среднее напряжение отклоняется от номинала на {deviation_pct} % "
        "(изменение {change_pct} %)",
        "Орташа кернеу номиналдан {deviation_pct} %-ға ауытқиды (өзгеріс {change_pct} %)",
        "Mean voltage deviates from nominal by {deviation_pct} % (change {change_pct} %)",
    ),
    "risk.events": (
        "Событий в журналах счётчиков и SCADA: {count}",
        "Есептегіштер мен SCADA журналдарындағы оқиғалар: {count}",
        "Events in the meter and SCADA journals: {count}",
    ),
    "risk.alarms": (
        "Тревог мониторинга: {count}",
        "Мониторинг дабылдары: {count}",
        "Monitoring alarms: {count}",
    ),
    "risk.verification": (
        "Поверка средства измерений до {due} (осталось дней: {days_left})",
        "Өлшеу құралын салыстырып тексеру мерзімі {due} (қалған күндер: {days_left})",
        "Verification of the instrument due {due} ({days_left} days left)",
    ),
    "cause.event": (
        "Событие «{code}» на {object} за {lead_h} ч до инцидента",
        "Оқиғаға дейін {lead_h} сағ бұрын {object} нысанында «{code}» оқиғасы",
        "Event “{code}” on {object} {lead_h} h before the incident",
    ),
    "cause.anomaly": (
        "Аномалия ({kind}) {quantity} на {object} за {lead_h} ч до инцидента",
        "Оқиғаға дейін {lead_h} сағ бұрын {object} нысанында {quantity} аномалиясы ({kind})",
        "Anomaly ({kind}) of {quantity} on {object} {lead_h} h before the incident",
    ),
    "cause.alarm": (
        "Тревога «{code}» ({severity}) на {object} за {lead_h} ч до инцидента",
        "Оқиғаға дейін {lead_h} сағ бұрын {object} нысанында «{code}» дабылы ({severity})",
        "Alarm “{code}” ({severity}) on {object} {lead_h} h before the incident",
    ),
    "monitoring.unavailable": (
        "История тревог недоступна: служба мониторинга не развёрнута или не отвечает",
        "Дабылдар тарихы қолжетімсіз: мониторинг қызметі орнатылмаған немесе жауап бермейді",
        "Alarm history is not available: the monitoring service is not deployed or not answering",
    ),
}


def message(key: str, **params: Any) -> dict[str, str]:
    """The text in ru, kk and en with ``params`` filled in."""
    ru, kk, en = TEXTS[key]
    safe = {k: v for k, v in params.items() if isinstance(v, (str, int, float))}

    def fill(template: str) -> str:
        try:
            return template.format(**safe)
        except (KeyError, IndexError, ValueError):
            return template

    return {"ru": fill(ru), "kk": fill(kk), "en": fill(en)}
