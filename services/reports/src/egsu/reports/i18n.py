"""Every caption of the reports and open data in Russian, Kazakh and English."""

from __future__ import annotations

from typing import Any

LANGUAGES = ("ru", "kk", "en")

# key: (ru, kk, en)
TEXT: dict[str, tuple[str, str, str]] = {
    # kinds
    "kind.daily_electricity_balance": (
        "Суточный баланс электрической энергии",
        "Электр энергиясының тәуліктік балансы",
        "Daily electricity balance",
    ),
    "kind.daily_heat_supply": (
        "Суточный отпуск тепловой энергии",
        "Жылу энергиясын тәуліктік босату",
        "Daily heat supply",
    ),
    "kind.monthly_consumption_generation": (
        "Месячное потребление и производство энергии",
        "Энергияны айлық тұтыну және өндіру",
        "Monthly consumption and generation",
    ),
    "kind.data_quality": (
        "Качество, полнота и своевременность данных",
        "Деректердің сапасы, толықтығы және уақтылығы",
        "Data quality and compliance",
    ),
    "kind.emergency": ("Аварийный отчёт", "Апаттық есеп", "Emergency report"),
    "kinddesc.daily_electricity_balance": (
        "Выработка, собственные нужды, потребление, перетоки и потери за сутки; почасовой профиль, максимумы и минимумы, динамика и прогноз",
        "Тәулік ішіндегі өндіру, меншікті қажеттіліктер, тұтыну, ағындар және шығындар; сағаттық бейін, ең жоғары және ең төменгі мәндер, серпін және болжам",
        "Generation, own needs, consumption, interchange and losses over a day; hourly profile, maxima and minima, dynamics and forecast",
    ),
    "kinddesc.daily_heat_supply": (
        "Отпуск и потребление тепловой энергии за сутки, потери в сетях, почасовой профиль и динамика",
        "Тәулік ішіндегі жылу энергиясын босату және тұтыну, желідегі шығындар, сағаттық бейін және серпін",
        "Heat supplied and consumed over a day, network losses, hourly profile and dynamics",
    ),
    "kinddesc.monthly_consumption_generation": (
        "Потребление и производство электрической и тепловой энергии за месяц по дням, максимумы с датами и временем, динамика",
        "Электр және жылу энергиясын айлық тұтыну және өндіру күндер бойынша, ең жоғары мәндер күні мен уақытымен, серпін",
        "Electricity and heat consumed and generated over a month by day, maxima with dates and times, dynamics",
    ),
    "kinddesc.data_quality": (
        "Кто что передал, с опозданием или не полностью; доля достоверных показаний",
        "Кім не жіберді, кешіктіріп немесе толық емес; сенімді көрсеткіштердің үлесі",
        "Who submitted what, late or incomplete; share of valid readings",
    ),
    "kinddesc.emergency": (
        "Что произошло, где, затронутые потребители и нагрузка, хронология событий и показаний, текущее состояние",
        "Не болды, қайда, зардап шеккен тұтынушылар мен жүктеме, оқиғалар мен көрсеткіштер хронологиясы, ағымдағы жағдай",
        "What happened, where, affected consumers and load, timeline of events and readings, current state",
    ),
    # levels
    "level.local": ("местный уровень", "жергілікті деңгей", "local level"),
    "level.regional": ("региональный уровень", "өңірлік деңгей", "regional level"),
    "level.national": ("республиканский уровень", "республикалық деңгей", "national level"),
    "scope.national": ("Республика Казахстан", "Қазақстан Республикасы", "Republic of Kazakhstan"),
    # meta
    "meta.kind": ("Вид отчёта", "Есеп түрі", "Report kind"),
    "meta.level": ("Уровень", "Деңгей", "Level"),
    "meta.scope": ("Объект отчёта", "Есеп нысаны", "Scope"),
    "meta.period": ("Период", "Кезең", "Period"),
    "meta.generated_at": ("Сформирован", "Жасалған уақыты", "Generated at"),
    "meta.inputs": (
        "Версия входных данных (SHA-256)",
        "Кіріс деректер нұсқасы (SHA-256)",
        "Inputs version (SHA-256)",
    ),
    "meta.report_id": ("Идентификатор отчёта", "Есеп сәйкестендіргіші", "Report id"),
    "meta.units": ("Единицы", "Бірліктер", "Units"),
    "meta.time_zone": ("Время", "Уақыт", "Times"),
    "meta.time_zone_value": ("местное (UTC+05:00)", "жергілікті (UTC+05:00)", "local (UTC+05:00)"),
    "meta.system": ("ЕГСУ ТЭК", "ОЭК БМБЖ", "EGSU TEK"),
    "meta.sheet": ("Сводка", "Жиынтық", "Summary"),
    "meta.caption": ("Показатель", "Көрсеткіш", "Item"),
    "meta.value": ("Значение", "Мәні", "Value"),
    # balance items
    "item.generation": ("Выработка", "Өндіру", "Generation"),
    "item.own_needs": ("Собственные нужды", "Меншікті қажеттіліктер", "Own needs"),
    "item.net_supply": ("Отпуск с шин", "Шинадан босату", "Net supply"),
    "item.ic_in": ("Приём по перетокам", "Ағындар бойынша қабылдау", "Interchange received"),
    "item.ic_out": ("Отдача по перетокам", "Ағындар бойынша беру", "Interchange delivered"),
    "item.ic_net": ("Сальдо перетоков", "Ағындар сальдосы", "Net interchange"),
    "item.consumption": ("Потребление", "Тұтыну", "Consumption"),
    "item.losses": ("Потери", "Шығындар", "Losses"),
    "item.losses_pct": ("Потери, % от поступления", "Шығындар, түсімнен %", "Losses, % of input"),
    "item.heat_supply": ("Отпуск тепловой энергии", "Жылу энергиясын босату", "Heat supplied"),
    "item.heat_consumption": (
        "Потребление тепловой энергии",
        "Жылу энергиясын тұтыну",
        "Heat consumed",
    ),
    "item.heat_losses": (
        "Потери в тепловых сетях",
        "Жылу желілеріндегі шығындар",
        "Heat network losses",
    ),
    "item.heat_own": (
        "Собственные нужды (тепло)",
        "Меншікті қажеттіліктер (жылу)",
        "Own needs (heat)",
    ),
    # columns
    "col.item": ("Статья баланса", "Баланс бабы", "Balance item"),
    "col.actual": ("Факт", "Нақты", "Actual"),
    "col.previous": ("Предыдущий период", "Алдыңғы кезең", "Previous period"),
    "col.previous_change": (
        "Изменение к предыдущему, %",
        "Алдыңғыға өзгеріс, %",
        "Change vs previous, %",
    ),
    "col.last_year": (
        "Тот же период прошлого года",
        "Өткен жылдың сол кезеңі",
        "Same period last year",
    ),
    "col.last_year_change": (
        "Изменение к прошлому году, %",
        "Өткен жылға өзгеріс, %",
        "Change vs last year, %",
    ),
    "col.forecast": ("Прогноз", "Болжам", "Forecast"),
    "col.forecast_dev": (
        "Отклонение от прогноза, %",
        "Болжамнан ауытқу, %",
        "Deviation from forecast, %",
    ),
    "col.hour": ("Час (начало)", "Сағат (басы)", "Hour (start)"),
    "col.date": ("Дата", "Күні", "Date"),
    "col.region": ("Регион", "Өңір", "Region"),
    "col.kato": ("КАТО", "ӘАОЖ", "KATO"),
    "col.subject": ("Субъект", "Субъект", "Subject"),
    "col.bin": ("БИН", "БСН", "BIN"),
    "col.facility": ("Объект", "Нысан", "Facility"),
    "col.facility_type": ("Тип объекта", "Нысан түрі", "Facility type"),
    "col.point": ("Точка учёта", "Есепке алу нүктесі", "Metering point"),
    "col.max": ("Максимум", "Ең жоғары мән", "Maximum"),
    "col.max_at": ("Время максимума", "Ең жоғары мән уақыты", "Time of maximum"),
    "col.min": ("Минимум", "Ең төменгі мән", "Minimum"),
    "col.min_at": ("Время минимума", "Ең төменгі мән уақыты", "Time of minimum"),
    "col.total": ("Итого", "Барлығы", "Total"),
    "col.average": ("Среднее", "Орташа", "Average"),
    "col.quantity": ("Величина", "Шама", "Quantity"),
    "col.parts_sum": ("Сумма статей", "Баптар сомасы", "Sum of items"),
    "col.historian": ("Свод хранилища", "Қойма жиынтығы", "Historian roll-up"),
    "col.difference": ("Расхождение", "Айырма", "Difference"),
    "col.valid_share": ("Доля достоверных, %", "Сенімділер үлесі, %", "Valid readings, %"),
    "col.readings": ("Показаний", "Көрсеткіштер", "Readings"),
    "col.expected": ("Ожидалось интервалов", "Күтілген интервалдар", "Intervals expected"),
    "col.received": ("Получено", "Алынды", "Received"),
    "col.missing": ("Не получено", "Алынбады", "Missing"),
    "col.late": ("С опозданием", "Кешіктірілген", "Late"),
    "col.completeness": ("Полнота, %", "Толықтық, %", "Completeness, %"),
    "col.late_share": ("Доля опозданий, %", "Кешігу үлесі, %", "Late share, %"),
    "col.status": ("Статус", "Мәртебе", "Status"),
    "col.receipts": ("Пакетов", "Пакеттер", "Batches"),
    "col.accepted": ("Принято показаний", "Қабылданған көрсеткіштер", "Readings accepted"),
    "col.rejected": ("Отклонено показаний", "Қабылданбаған көрсеткіштер", "Readings rejected"),
    "col.time": ("Время", "Уақыт", "Time"),
    "col.event": ("Событие", "Оқиға", "Event"),
    "col.source": ("Источник", "Дереккөз", "Source"),
    "col.text": ("Описание", "Сипаттама", "Description"),
    "col.severity": ("Важность", "Маңыздылық", "Severity"),
    "col.value": ("Значение", "Мәні", "Value"),
    "col.load_before": ("Нагрузка до события", "Оқиғаға дейінгі жүктеме", "Load before the event"),
    "col.load_after": (
        "Нагрузка после события",
        "Оқиғадан кейінгі жүктеме",
        "Load after the event",
    ),
    "col.recommendation": ("Рекомендация", "Ұсыныс", "Recommendation"),
    "col.justification": ("Обоснование", "Негіздеме", "Justification"),
    "col.kind": ("Вид", "Түрі", "Kind"),
    "col.peak_hour_load": (
        "Нагрузка в час максимума",
        "Ең жоғары сағаттағы жүктеме",
        "Peak-hour load",
    ),
    # tables
    "table.balance": ("Баланс", "Баланс", "Balance"),
    "table.hourly": ("Почасовой профиль", "Сағаттық бейін", "Hourly profile"),
    "table.daily": ("По дням", "Күндер бойынша", "By day"),
    "table.extremes": (
        "Максимумы и минимумы",
        "Ең жоғары және ең төменгі мәндер",
        "Maxima and minima",
    ),
    "table.breakdown.region": ("По регионам", "Өңірлер бойынша", "By region"),
    "table.breakdown.subject": ("По субъектам", "Субъектілер бойынша", "By subject"),
    "table.breakdown.facility": ("По объектам", "Нысандар бойынша", "By facility"),
    "table.breakdown.point": (
        "По точкам учёта",
        "Есепке алу нүктелері бойынша",
        "By metering point",
    ),
    "table.reconciliation": (
        "Сверка со сводами хранилища",
        "Қойма жиынтықтарымен салыстыру",
        "Reconciliation with the historian's roll-ups",
    ),
    "table.recommendations": ("Рекомендации", "Ұсыныстар", "Recommendations"),
    "table.compliance": (
        "Полнота и своевременность передачи",
        "Жіберудің толықтығы мен уақтылығы",
        "Completeness and timeliness",
    ),
    "table.receipts": ("Принятые пакеты", "Қабылданған пакеттер", "Accepted batches"),
    "table.quality": (
        "Достоверность показаний",
        "Көрсеткіштердің сенімділігі",
        "Validity of readings",
    ),
    "table.event": ("Событие", "Оқиға", "Event"),
    "table.affected": (
        "Затронутые потребители и нагрузка",
        "Зардап шеккен тұтынушылар және жүктеме",
        "Affected consumers and load",
    ),
    "table.timeline": ("Хронология событий", "Оқиғалар хронологиясы", "Timeline of events"),
    "table.readings_around": (
        "Показания до и после события",
        "Оқиғаға дейінгі және кейінгі көрсеткіштер",
        "Readings around the event",
    ),
    "table.current_state": ("Текущее состояние", "Ағымдағы жағдай", "Current state"),
    "table.related": (
        "Связанные события того же инцидента",
        "Сол оқиғаның байланысты оқиғалары",
        "Related events of the same incident",
    ),
    # charts
    "chart.hourly": (
        "Почасовая выработка и потребление",
        "Сағаттық өндіру және тұтыну",
        "Hourly generation and consumption",
    ),
    "chart.heat_hourly": (
        "Почасовой отпуск и потребление тепла",
        "Жылуды сағаттық босату және тұтыну",
        "Hourly heat supply and consumption",
    ),
    "chart.daily": (
        "Выработка и потребление по дням",
        "Күндер бойынша өндіру және тұтыну",
        "Generation and consumption by day",
    ),
    "chart.breakdown": (
        "Потребление по разрезу",
        "Бөлім бойынша тұтыну",
        "Consumption by breakdown",
    ),
    "chart.readings_around": (
        "Показания вокруг события",
        "Оқиға маңындағы көрсеткіштер",
        "Readings around the event",
    ),
    "chart.completeness": (
        "Полнота передачи по субъектам",
        "Субъектілер бойынша жіберу толықтығы",
        "Completeness by subject",
    ),
    # notes
    "note.no_forecast": (
        "Прогноз на этот период недоступен: сервис прогнозирования не ответил или не имеет прогноза.",
        "Осы кезеңге болжам қолжетімсіз: болжау қызметі жауап бермеді немесе болжамы жоқ.",
        "No forecast is available for this period: the forecast service did not answer or has none.",
    ),
    "note.forecast": (
        "Прогноз: медианный (P50) прогноз сервиса прогнозирования.",
        "Болжам: болжау қызметінің медианалық (P50) болжамы.",
        "Forecast: the forecast service's median (P50) forecast.",
    ),
    "note.losses": (
        "Потери = выработка − собственные нужды + приём по перетокам − отдача по перетокам − потребление (по точкам учёта в границах объекта отчёта).",
        "Шығындар = өндіру − меншікті қажеттіліктер + ағындар бойынша қабылдау − ағындар бойынша беру − тұтыну (есеп нысаны шегіндегі есепке алу нүктелері бойынша).",
        "Losses = generation − own needs + interchange received − interchange delivered − consumption (over the metering points within the report's scope).",
    ),
    "note.heat_losses": (
        "Потери в тепловых сетях = отпуск − собственные нужды − потребление по точкам учёта в границах объекта отчёта.",
        "Жылу желілеріндегі шығындар = босату − меншікті қажеттіліктер − есеп нысаны шегіндегі есепке алу нүктелері бойынша тұтыну.",
        "Heat network losses = supplied − own needs − consumed, over the metering points within the report's scope.",
    ),
    "note.reconciled": (
        "Сумма статей совпадает со сводами хранилища.",
        "Баптар сомасы қойма жиынтықтарымен сәйкес келеді.",
        "The items add up to the historian's roll-ups.",
    ),
    "note.not_reconciled": (
        "Сумма статей расходится со сводами хранилища (данные поступали во время формирования отчёта).",
        "Баптар сомасы қойма жиынтықтарынан өзгеше (есеп жасалу кезінде деректер түсті).",
        "The items differ from the historian's roll-ups (data arrived while the report was being made).",
    ),
    "note.no_data": ("Нет данных за период.", "Кезеңге деректер жоқ.", "No data for the period."),
    "note.compliance_scope": (
        "Полнота считается по обязательствам передачи, установленным в реестре.",
        "Толықтық тізілімде белгіленген жіберу міндеттемелері бойынша есептеледі.",
        "Completeness is counted against the submission obligations set in the registry.",
    ),
    "note.recommendations_none": (
        "Отклонений, требующих рекомендаций, не выявлено.",
        "Ұсыныстарды қажет ететін ауытқулар анықталған жоқ.",
        "No deviations that call for a recommendation were found.",
    ),
    "note.emergency_auto": (
        "Отчёт сформирован автоматически по аварийному событию.",
        "Есеп апаттық оқиға бойынша автоматты түрде жасалды.",
        "This report was made automatically on an emergency event.",
    ),
    "note.alarm_state_unknown": (
        "Состояние тревоги недоступно: сервис мониторинга не ответил.",
        "Дабыл күйі қолжетімсіз: мониторинг қызметі жауап бермеді.",
        "The alarm's state is not available: the monitoring service did not answer.",
    ),
    # units
    "unit.mwh": ("МВт·ч", "МВт·сағ", "MWh"),
    "unit.mw": ("МВт", "МВт", "MW"),
    "unit.gcal": ("Гкал", "Гкал", "Gcal"),
    "unit.gcal_h": ("Гкал/ч", "Гкал/сағ", "Gcal/h"),
    "unit.pct": ("%", "%", "%"),
    # emergency fields
    "em.what": ("Что произошло", "Не болды", "What happened"),
    "em.where": ("Где", "Қайда", "Where"),
    "em.when": ("Когда", "Қашан", "When"),
    "em.source": ("Источник сигнала", "Сигнал көзі", "Raised by"),
    "em.severity": ("Важность", "Маңыздылық", "Severity"),
    "em.subject": ("Субъект", "Субъект", "Subject"),
    "em.region": ("Регион", "Өңір", "Region"),
    "em.point": ("Точка учёта", "Есепке алу нүктесі", "Metering point"),
    "em.alarm_state": ("Состояние тревоги", "Дабыл күйі", "Alarm state"),
    "em.last_reading": ("Последнее показание", "Соңғы көрсеткіш", "Last reading"),
    "em.last_reading_at": (
        "Время последнего показания",
        "Соңғы көрсеткіш уақыты",
        "Time of the last reading",
    ),
    "em.source.alarm": ("тревога мониторинга", "мониторинг дабылы", "monitoring alarm"),
    "em.source.scada": (
        "аварийное событие SCADA",
        "SCADA апаттық оқиғасы",
        "SCADA emergency event",
    ),
    "em.consumers": (
        "Точки потребления объекта",
        "Нысанның тұтыну нүктелері",
        "Consumption points of the facility",
    ),
    "em.generation": ("Выработка объекта", "Нысанның өндіруі", "Generation of the facility"),
    "em.total": ("Итого по объекту", "Нысан бойынша барлығы", "Facility total"),
    # statuses
    "status.ok": ("в норме", "қалыпты", "ok"),
    "status.late": ("с опозданием", "кешіктірілген", "late"),
    "status.incomplete": ("неполно", "толық емес", "incomplete"),
    # recommendations
    "rec.peak_shift": (
        "Перенос нагрузки из часов максимума",
        "Жүктемені ең жоғары сағаттардан ауыстыру",
        "Shift load out of peak hours",
    ),
    "rec.equipment": ("Режим работы оборудования", "Жабдықтың жұмыс режимі", "Equipment operation"),
    "recstatus.new": ("новая", "жаңа", "new"),
    "recstatus.accepted": ("принята", "қабылданды", "accepted"),
    "recstatus.rejected": ("отклонена", "қабылданбады", "rejected"),
    "recstatus.done": ("выполнена", "орындалды", "done"),
    # facility types
    "ft.tpp": ("ГРЭС", "МАЭС", "Thermal power plant"),
    "ft.chp": ("ТЭЦ", "ЖЭО", "Combined heat and power plant"),
    "ft.hpp": ("ГЭС", "СЭС", "Hydropower plant"),
    "ft.wpp": ("ВЭС", "ЖЭС", "Wind power plant"),
    "ft.spp": ("СЭС", "КЭС", "Solar power plant"),
    "ft.gas_turbine": ("ГТЭС", "ГТЭС", "Gas turbine plant"),
    "ft.boiler_house": ("Котельная", "Қазандық", "Boiler house"),
    "ft.substation": ("Подстанция", "Қосалқы станция", "Substation"),
    "ft.power_line": ("ЛЭП", "ЭБЖ", "Power line"),
    "ft.heat_network": ("Тепловые сети", "Жылу желілері", "Heat network"),
    "ft.consumer_site": ("Площадка потребителя", "Тұтынушы алаңы", "Consumer site"),
    "ft.other": ("Прочее", "Басқа", "Other"),
}


def t(key: str, lang: str, **kw: Any) -> str:
    """The caption ``key`` in ``lang`` (ru, kk, en), with ``{name}`` fields filled in."""
    row = TEXT.get(key)
    if row is None:
        return key
    text = row[LANGUAGES.index(lang) if lang in LANGUAGES else 0]
    return text.format(**kw) if kw else text


def all_languages(key: str, **kw: Any) -> dict[str, str]:
    return {lang: t(key, lang, **kw) for lang in LANGUAGES}
