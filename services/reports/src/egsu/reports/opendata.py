"""Open data (§20): public, anonymous, aggregated datasets in the style of data.egov.kz.

A cell (a region and day, or a region and facility type) is published only when at least
``min_subjects`` subjects stand behind it and no single subject holds ``dominance`` or more of it;
otherwise its value is withheld (``suppressed: true``). No totals are published, so a withheld
cell cannot be worked out from the others.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from egsu.contracts.regions import REGIONS_BY_KATO
from egsu.core.errors import FieldError, Unprocessable
from egsu.core.time import KZ, utcnow
from egsu.reports.context import Period, Sources
from egsu.reports.i18n import LANGUAGES, all_languages, t
from egsu.reports.sources import Planner, window

VERSION = "v1"
LICENCE = {
    "ru": "Открытая лицензия: свободное использование с указанием источника (ЕГСУ ТЭК)",
    "kk": "Ашық лицензия: дереккөзді (ОЭК БМБЖ) көрсете отырып еркін пайдалану",
    "en": "Open licence: free use with attribution to EGSU TEK",
}
OWNER = {
    "ru": "Министерство энергетики Республики Казахстан",
    "kk": "Қазақстан Республикасы Энергетика министрлігі",
    "en": "Ministry of Energy of the Republic of Kazakhstan",
}


def _f(name: str, typ: str, ru: str, kk: str, en: str) -> dict[str, Any]:
    return {"name": name, "type": typ, "description": {"ru": ru, "kk": kk, "en": en}}


REGION_FIELDS = [
    _f("region_kato", "string", "Код КАТО региона", "Өңірдің ӘАОЖ коды", "KATO code of the region"),
    _f("region_ru", "string", "Регион (рус.)", "Өңір (орыс.)", "Region (Russian)"),
    _f("region_kk", "string", "Регион (каз.)", "Өңір (қаз.)", "Region (Kazakh)"),
    _f("region_en", "string", "Регион (англ.)", "Өңір (ағыл.)", "Region (English)"),
]
SUPPRESSED = _f(
    "suppressed",
    "boolean",
    "Значение скрыто: менее 3 субъектов или доминирование одного",
    "Мәні жасырылған: 3 субъектіден аз немесе біреуінің басымдығы",
    "Value withheld: fewer than 3 subjects or one dominates",
)
SUBJECTS = _f(
    "subjects",
    "integer",
    "Число субъектов в ячейке (скрыто вместе со значением)",
    "Ұяшықтағы субъектілер саны (мәнімен бірге жасырылады)",
    "Subjects in the cell (withheld with the value)",
)

DATASETS: dict[str, dict[str, Any]] = {
    "electricity_by_region_day": {
        "title": {
            "ru": "Производство и потребление электроэнергии по регионам и дням",
            "kk": "Өңірлер мен күндер бойынша электр энергиясын өндіру және тұтыну",
            "en": "Electricity generation and consumption by region and day",
        },
        "description": {
            "ru": "Суточная выработка и потребление электрической энергии по регионам (КАТО), МВт·ч, по данным коммерческого учёта субъектов.",
            "kk": "Субъектілердің коммерциялық есепке алу деректері бойынша өңірлер (ӘАОЖ) бойынша электр энергиясын тәуліктік өндіру және тұтыну, МВт·сағ.",
            "en": "Daily electricity generation and consumption by region (KATO), MWh, from the subjects' commercial metering.",
        },
        "frequency": {"ru": "ежедневно", "kk": "күн сайын", "en": "daily"},
        "fields": [
            _f(
                "date",
                "date",
                "Дата (местное время)",
                "Күні (жергілікті уақыт)",
                "Date (local time)",
            ),
            *REGION_FIELDS,
            _f(
                "measure",
                "string",
                "Показатель: generation | consumption",
                "Көрсеткіш: generation | consumption",
                "Measure: generation | consumption",
            ),
            _f("value_mwh", "number", "Значение, МВт·ч", "Мәні, МВт·сағ", "Value, MWh"),
            SUBJECTS,
            SUPPRESSED,
        ],
    },
    "heat_by_region_day": {
        "title": {
            "ru": "Отпуск и потребление тепловой энергии по регионам и дням",
            "kk": "Өңірлер мен күндер бойынша жылу энергиясын босату және тұтыну",
            "en": "Heat supply and consumption by region and day",
        },
        "description": {
            "ru": "Суточный отпуск и потребление тепловой энергии по регионам (КАТО), Гкал.",
            "kk": "Өңірлер (ӘАОЖ) бойынша жылу энергиясын тәуліктік босату және тұтыну, Гкал.",
            "en": "Daily heat supplied and consumed by region (KATO), Gcal.",
        },
        "frequency": {"ru": "ежедневно", "kk": "күн сайын", "en": "daily"},
        "fields": [
            _f(
                "date",
                "date",
                "Дата (местное время)",
                "Күні (жергілікті уақыт)",
                "Date (local time)",
            ),
            *REGION_FIELDS,
            _f(
                "measure",
                "string",
                "Показатель: supply | consumption",
                "Көрсеткіш: supply | consumption",
                "Measure: supply | consumption",
            ),
            _f("value_gcal", "number", "Значение, Гкал", "Мәні, Гкал", "Value, Gcal"),
            SUBJECTS,
            SUPPRESSED,
        ],
    },
    "installed_capacity_by_region_type": {
        "title": {
            "ru": "Установленная мощность по регионам и типам объектов",
            "kk": "Өңірлер және нысан түрлері бойынша белгіленген қуат",
            "en": "Installed capacity by region and facility type",
        },
        "description": {
            "ru": "Установленная электрическая (МВт) и тепловая (Гкал/ч) мощность действующих объектов по регионам и типам, по данным реестра.",
            "kk": "Тізілім деректері бойынша өңірлер мен түрлер бойынша жұмыс істеп тұрған нысандардың белгіленген электр (МВт) және жылу (Гкал/сағ) қуаты.",
            "en": "Installed electric (MW) and heat (Gcal/h) capacity of active facilities by region and type, from the registry.",
        },
        "frequency": {"ru": "ежедневно", "kk": "күн сайын", "en": "daily"},
        "fields": [
            *REGION_FIELDS,
            _f("facility_type", "string", "Тип объекта", "Нысан түрі", "Facility type"),
            _f(
                "facility_type_ru",
                "string",
                "Тип объекта (рус.)",
                "Нысан түрі (орыс.)",
                "Facility type (Russian)",
            ),
            _f(
                "facility_type_kk",
                "string",
                "Тип объекта (каз.)",
                "Нысан түрі (қаз.)",
                "Facility type (Kazakh)",
            ),
            _f(
                "facility_type_en",
                "string",
                "Тип объекта (англ.)",
                "Нысан түрі (ағыл.)",
                "Facility type (English)",
            ),
            _f(
                "electric_mw",
                "number",
                "Электрическая мощность, МВт",
                "Электр қуаты, МВт",
                "Electric capacity, MW",
            ),
            _f(
                "heat_gcal_h",
                "number",
                "Тепловая мощность, Гкал/ч",
                "Жылу қуаты, Гкал/сағ",
                "Heat capacity, Gcal/h",
            ),
            _f("facilities", "integer", "Число объектов", "Нысандар саны", "Facilities"),
            SUBJECTS,
            SUPPRESSED,
        ],
    },
    "data_quality_by_region_day": {
        "title": {
            "ru": "Показатели качества данных по регионам и дням",
            "kk": "Өңірлер мен күндер бойынша деректер сапасының көрсеткіштері",
            "en": "Data-quality indicators by region and day",
        },
        "description": {
            "ru": "Доля достоверных показаний и полнота передачи данных субъектами по регионам, %.",
            "kk": "Өңірлер бойынша сенімді көрсеткіштердің үлесі және субъектілердің деректерді жіберу толықтығы, %.",
            "en": "Share of valid readings and completeness of the subjects' submissions by region, %.",
        },
        "frequency": {"ru": "ежедневно", "kk": "күн сайын", "en": "daily"},
        "fields": [
            _f(
                "date",
                "date",
                "Дата (местное время)",
                "Күні (жергілікті уақыт)",
                "Date (local time)",
            ),
            *REGION_FIELDS,
            _f("readings", "integer", "Число показаний", "Көрсеткіштер саны", "Readings"),
            _f(
                "valid_share_pct",
                "number",
                "Доля достоверных показаний, %",
                "Сенімді көрсеткіштер үлесі, %",
                "Valid readings, %",
            ),
            _f(
                "completeness_pct",
                "number",
                "Полнота передачи, %",
                "Жіберу толықтығы, %",
                "Completeness of submissions, %",
            ),
            SUBJECTS,
            SUPPRESSED,
        ],
    },
}


def _region(kato: str) -> dict[str, str]:
    r = REGIONS_BY_KATO.get(kato)
    return {
        "region_kato": kato,
        **{f"region_{lang}": (r.name(lang) if r else kato) for lang in LANGUAGES},
    }


class Suppressor:
    def __init__(self, min_subjects: int, dominance: float) -> None:
        self.min_subjects, self.dominance = min_subjects, dominance

    def cell(self, per_subject: dict[str, float]) -> tuple[float | None, int | None, bool]:
        """(value, subjects, suppressed) of a cell from its subjects' contributions."""
        n = len(per_subject)
        total = sum(per_subject.values())
        largest = max((abs(v) for v in per_subject.values()), default=0.0)
        mass = sum(abs(v) for v in per_subject.values())
        if n < self.min_subjects or (mass > 0 and largest / mass >= self.dominance):
            return None, None, True
        return total, n, False


def _local_date(ts: int) -> date:
    return datetime.fromtimestamp(ts, KZ).date()


async def build_energy_rows(
    src: Sources, period: Period, sup: Suppressor
) -> dict[str, list[dict[str, Any]]]:
    d = await src.registry.directory()
    start, end = window(period.start, period.end)
    # contributions per (quantity, position, region, subject, day)
    contrib: dict[tuple[str, str, str, str, date], list[float]] = {}
    for q in ("active_export", "active_import", "heat_energy"):
        plan = Planner(d.points, q).plan(
            lambda p: True, lambda p: (p.position, p.region_kato, p.subject_bin)
        )
        got = await src.historian.collect(plan, q, start, end, "1d")
        for (pos, kato, bin_), s in got.items():  # type: ignore[misc]
            for ts, cell in s.items():
                contrib[(q, pos, kato, bin_, _local_date(ts))] = cell

    def measure(
        q_plus: str, q_minus: str | None, pos: str
    ) -> dict[tuple[date, str], dict[str, float]]:
        out: dict[tuple[date, str], dict[str, float]] = defaultdict(dict)
        for (q, p, kato, bin_, day), cell in contrib.items():
            if p != pos or cell[1] <= 0:
                continue
            if q == q_plus:
                out[(day, kato)][bin_] = out[(day, kato)].get(bin_, 0.0) + cell[0]
            elif q == q_minus:
                out[(day, kato)][bin_] = out[(day, kato)].get(bin_, 0.0) - cell[0]
        return out

    rows: dict[str, list[dict[str, Any]]] = {
        "electricity_by_region_day": [],
        "heat_by_region_day": [],
        "data_quality_by_region_day": [],
    }
    for name, q_plus, q_minus, pos, divisor, field in (
        ("generation", "active_export", "active_import", "generation", 1000.0, "value_mwh"),
        ("consumption", "active_import", "active_export", "consumption", 1000.0, "value_mwh"),
        ("supply", "heat_energy", None, "generation", 1.0, "value_gcal"),
        ("consumption", "heat_energy", None, "consumption", 1.0, "value_gcal"),
    ):
        dataset = "heat_by_region_day" if field == "value_gcal" else "electricity_by_region_day"
        for (day, kato), per_subject in sorted(measure(q_plus, q_minus, pos).items()):
            value, n, hidden = sup.cell(per_subject)
            rows[dataset].append(
                {
                    "key": f"{day.isoformat()}|{kato}|{name}",
                    "day": day,
                    "data": {
                        "date": day.isoformat(),
                        **_region(kato),
                        "measure": name,
                        field: round(value / divisor, 3) if value is not None else None,
                        "subjects": n,
                        "suppressed": hidden,
                    },
                }
            )
    # data quality: valid share of readings per region and day, completeness from ingest
    counts: dict[tuple[date, str], dict[str, list[float]]] = defaultdict(
        lambda: defaultdict(lambda: [0.0, 0.0])
    )
    for (_, _, kato, bin_, day), cell in contrib.items():
        acc = counts[(day, kato)][bin_]
        acc[0] += cell[1]
        acc[1] += cell[2]
    region_of = {b: s.get("region_kato") for b, s in d.subjects.items()}
    completeness: dict[tuple[date, str], dict[str, tuple[int, int]]] = defaultdict(dict)
    day = period.start
    while day <= period.end:
        for c in await src.ingest.compliance(day, day):
            kato = region_of.get(c["subject_bin"])
            if kato and c["expected"]:
                completeness[(day, kato)][c["subject_bin"]] = (c["expected"], c["received"])
        day += timedelta(days=1)
    for (day, kato), per_subject in sorted(counts.items()):
        n_total = {b: v[0] for b, v in per_subject.items() if v[0] > 0}
        value, n, hidden = sup.cell(n_total)
        comp = completeness.get((day, kato), {})
        exp = sum(e for e, _ in comp.values())
        rec = sum(r for _, r in comp.values())
        readings = sum(v[0] for v in per_subject.values())
        valid = sum(v[1] for v in per_subject.values())
        rows["data_quality_by_region_day"].append(
            {
                "key": f"{day.isoformat()}|{kato}",
                "day": day,
                "data": {
                    "date": day.isoformat(),
                    **_region(kato),
                    "readings": None if hidden else int(readings),
                    "valid_share_pct": None
                    if hidden
                    else round(valid / readings * 100, 2)
                    if readings
                    else None,
                    "completeness_pct": None
                    if hidden or len(comp) < sup.min_subjects or not exp
                    else round(rec / exp * 100, 2),
                    "subjects": n,
                    "suppressed": hidden,
                },
            }
        )
    return rows


async def build_capacity_rows(src: Sources, sup: Suppressor) -> list[dict[str, Any]]:
    d = await src.registry.directory()
    cells: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for f in d.facilities.values():
        if f.get("status", "active") == "active":
            cells[(f["region_kato"], f["type"])].append(f)
    rows = []
    for (kato, ftype), fs in sorted(cells.items()):
        per_subject: dict[str, float] = defaultdict(float)
        for f in fs:
            per_subject[f["subject_bin"]] += (f.get("installed_electric_mw") or 0.0) + (
                f.get("installed_heat_gcal_h") or 0.0
            ) / 0.86
        _, n, hidden = sup.cell(dict(per_subject))
        if not hidden:
            heat_share = defaultdict(float)
            for f in fs:
                heat_share[f["subject_bin"]] += f.get("installed_heat_gcal_h") or 0.0
            hidden = sup.cell(dict(heat_share))[2] and sum(heat_share.values()) > 0
        rows.append(
            {
                "key": f"{kato}|{ftype}",
                "day": None,
                "data": {
                    **_region(kato),
                    "facility_type": ftype,
                    **{f"facility_type_{lang}": t(f"ft.{ftype}", lang) for lang in LANGUAGES},
                    "electric_mw": None
                    if hidden
                    else round(sum(f.get("installed_electric_mw") or 0.0 for f in fs), 3),
                    "heat_gcal_h": None
                    if hidden
                    else round(sum(f.get("installed_heat_gcal_h") or 0.0 for f in fs), 3),
                    "facilities": None if hidden else len(fs),
                    "subjects": None if hidden else n,
                    "suppressed": hidden,
                },
            }
        )
    return rows


# --- serving -------------------------------------------------------------------------------------


def meta(
    name: str, entry: dict[str, Any] | None, min_subjects: int, dominance: float
) -> dict[str, Any]:
    spec = DATASETS[name]
    rule = {
        "ru": f"Значение ячейки скрывается, если за ней стоит менее {min_subjects} субъектов или один субъект даёт {dominance:.0%} и более; итоги не публикуются, чтобы скрытое значение нельзя было вычислить.",
        "kk": f"Ұяшықтың артында {min_subjects} субъектіден аз болса немесе бір субъект {dominance:.0%} және одан көп үлес берсе, мәні жасырылады; жасырылған мәнді есептеп шығаруға болмайтындай қорытындылар жарияланбайды.",
        "en": f"A cell's value is withheld when fewer than {min_subjects} subjects stand behind it or one subject holds {dominance:.0%} or more; no totals are published, so a withheld value cannot be worked out.",
    }
    return {
        "name": name,
        "version": VERSION,
        "title": spec["title"],
        "description": spec["description"],
        "owner": OWNER,
        "update_frequency": spec["frequency"],
        "last_update": entry["refreshed_at"].isoformat() if entry else None,
        "licence": LICENCE,
        "formats": ["json", "csv"],
        "fields": spec["fields"],
        "suppression": {"min_subjects": min_subjects, "dominance_share": dominance, "rule": rule},
        "rows": entry["rows"] if entry else 0,
        "suppressed_rows": entry["suppressed"] if entry else 0,
        "coverage": {
            "from": entry["coverage_from"].isoformat()
            if entry and entry["coverage_from"]
            else None,
            "to": entry["coverage_to"].isoformat() if entry and entry["coverage_to"] else None,
        },
        "source": all_languages("meta.system"),
    }


def _bad(field: str, msg: str) -> Unprocessable:
    return Unprocessable(f"{field}: {msg}", errors=[FieldError(field, "invalid", msg)])


def parse_source(
    raw: str | None,
) -> tuple[int | None, int | None, list[tuple[str, str, Any]], list[tuple[str, bool]]]:
    """data.egov.kz's ``source`` (a subset of Elasticsearch's query DSL): from, size, match/term/range, sort."""
    if not raw:
        return None, None, [], []
    try:
        src = json.loads(raw)
    except ValueError:
        raise _bad(
            "source",
            'not JSON; e.g. {"from":0,"size":100,"query":{"bool":{"must":[{"match":{"region_kato":"550000000"}}]}}}',
        ) from None
    if not isinstance(src, dict):
        raise _bad("source", "must be a JSON object")
    conds: list[tuple[str, str, Any]] = []

    def clause(c: Any) -> None:
        if not isinstance(c, dict) or len(c) != 1:
            raise _bad("source", "each clause is one of match, term, range")
        ((op, body),) = c.items()
        if op in ("match", "term", "match_phrase") and isinstance(body, dict):
            for f, v in body.items():
                conds.append(
                    (f, "eq", v.get("query", v.get("value")) if isinstance(v, dict) else v)
                )
        elif op == "range" and isinstance(body, dict):
            for f, r in body.items():
                if not isinstance(r, dict):
                    raise _bad("source", "range needs gte/gt/lte/lt")
                for k, v in r.items():
                    if k not in ("gte", "gt", "lte", "lt"):
                        raise _bad("source", f"unknown range operator {k}")
                    conds.append((f, k, v))
        elif op == "bool" and isinstance(body, dict):
            for part in ("must", "filter"):
                items = body.get(part, [])
                for x in items if isinstance(items, list) else [items]:
                    clause(x)
            if set(body) - {"must", "filter"}:
                raise _bad("source", "bool supports must and filter")
        elif op == "match_all":
            return
        else:
            raise _bad("source", f"unsupported query clause {op!r}")

    if "query" in src:
        clause(src["query"])
    sort: list[tuple[str, bool]] = []
    for s in src.get("sort", []) if isinstance(src.get("sort", []), list) else [src["sort"]]:
        if isinstance(s, str):
            sort.append((s, False))
        elif isinstance(s, dict):
            for f, o in s.items():
                order = o.get("order") if isinstance(o, dict) else o
                sort.append((f, str(order).lower() == "desc"))
    frm, size = src.get("from"), src.get("size")
    for n, v in (("from", frm), ("size", size)):
        if v is not None and (not isinstance(v, int) or v < 0):
            raise _bad("source", f"{n} must be a non-negative integer")
    return frm, size, conds, sort


def _match(row: dict[str, Any], field: str, op: str, value: Any) -> bool:
    v = row.get(field)
    if op == "eq":
        return str(v) == str(value) if not isinstance(value, bool) else v is value
    if v is None:
        return False
    try:
        a, b = (float(v), float(value)) if isinstance(v, (int, float)) else (str(v), str(value))
    except (TypeError, ValueError):
        return False
    return {"gte": a >= b, "gt": a > b, "lte": a <= b, "lt": a < b}[op]  # type: ignore[operator]


def select_rows(
    name: str,
    rows: list[dict[str, Any]],
    params: dict[str, str],
    source: str | None,
    page: int | None,
    count: int | None,
) -> tuple[list[dict[str, Any]], int]:
    fields = {f["name"] for f in DATASETS[name]["fields"]}
    frm, size, conds, sort = parse_source(source)
    for k, v in params.items():
        if k in ("date_from", "date_to") and "date" in fields:
            conds.append(("date", "gte" if k == "date_from" else "lte", v))
        elif k in fields:
            conds.append((k, "eq", v))
        else:
            raise _bad(k, f"not a field of {name}; fields: {', '.join(sorted(fields))}")
    for f, _, _ in conds:
        if f not in fields:
            raise _bad("source", f"{f!r} is not a field of {name}")
    out = [r for r in rows if all(_match(r, f, op, v) for f, op, v in conds)]
    for f, desc in reversed(sort):
        if f not in fields:
            raise _bad("source", f"cannot sort by {f!r}")
        out.sort(
            key=lambda r: (r.get(f) is None, r.get(f) if r.get(f) is not None else 0), reverse=desc
        )
    total = len(out)
    if page is not None or count is not None:
        c = count or 100
        frm, size = ((page or 1) - 1) * c, c
    frm = frm or 0
    size = 100 if size is None else min(size, 10_000)
    return out[frm : frm + size], total


def to_csv(name: str, rows: list[dict[str, Any]]) -> bytes:
    cols = [f["name"] for f in DATASETS[name]["fields"]]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(cols)
    for r in rows:
        w.writerow(
            [
                ""
                if r.get(c) is None
                else ("true" if r.get(c) is True else "false" if r.get(c) is False else r.get(c))
                for c in cols
            ]
        )
    return ("\ufeff" + buf.getvalue()).encode()


def refreshed() -> dict[str, Any]:
    return {"refreshed_at": utcnow()}
