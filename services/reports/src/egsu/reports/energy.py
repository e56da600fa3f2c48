"""Energy reports: the daily electricity balance, the daily heat supply, the monthly report.

``gather_*`` reads everything a report needs into plain JSON (the report's inputs, archived with
it); ``build_*`` turns those inputs into a document in one language without reading anything else,
so an archived report can be made again, in any format and language, with the same numbers.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from egsu.core.time import KZ
from egsu.reports.context import Period, Scope, Sources, names_of, scope_name
from egsu.reports.document import Chart, Column, Document, Table
from egsu.reports.i18n import t
from egsu.reports.sources import Planner, Series, local_day, window

ELECTRICITY = ("active_export", "active_import")
HEAT = ("heat_energy",)
POSITIONS = ("generation", "own_needs", "consumption", "interchange")


def pack(series: Series) -> list[list[float]]:
    return [[ts, *cell] for ts, cell in sorted(series.items())]


def unpack(rows: list[list[float]]) -> Series:
    return {int(r[0]): [r[1], r[2], r[3]] for r in rows}


def key_of(q: str, pos: str, part: str = "") -> str:
    return f"{q}|{pos}|{part}"


async def fetch(
    src: Sources,
    scope: Scope,
    points: list[Any],
    quantities: Iterable[str],
    period: Period,
    resolution: str,
    *,
    breakdown: bool,
) -> dict[str, list[list[float]]]:
    """Totals per (quantity, position[, part]) over the period."""
    start, end = window(period.start, period.end)
    out: dict[str, list[list[float]]] = {}

    async def one(q: str) -> None:
        plan = Planner(points, q).plan(scope.contains, scope.keyed(breakdown=breakdown))
        got = await src.historian.collect(plan, q, start, end, resolution)
        for (pos, part), s in got.items():  # type: ignore[misc]
            out[key_of(q, pos, part)] = pack(s)

    await asyncio.gather(*(one(q) for q in quantities))
    return out


class Data:
    """Sums over the packed series of a report's inputs."""

    def __init__(self, raw: dict[str, list[list[float]]]) -> None:
        self.series: dict[tuple[str, str, str], Series] = {}
        for k, rows in raw.items():
            q, pos, part = k.split("|", 2)
            self.series[(q, pos, part)] = unpack(rows)

    def parts(self) -> list[str]:
        return sorted({p for _, _, p in self.series if p})

    def stamps(self) -> list[int]:
        return sorted({ts for s in self.series.values() for ts in s})

    def total(
        self, q: str, pos: str, part: str | None = None, stamps: set[int] | None = None
    ) -> float:
        out = 0.0
        for (qq, pp, pa), s in self.series.items():
            if qq == q and pp == pos and (part is None or pa == part):
                out += sum(c[0] for ts, c in s.items() if stamps is None or ts in stamps)
        return out

    def by_stamp(self, q: str, pos: str, part: str | None = None) -> dict[int, float]:
        out: dict[int, float] = defaultdict(float)
        for (qq, pp, pa), s in self.series.items():
            if qq == q and pp == pos and (part is None or pa == part):
                for ts, c in s.items():
                    out[ts] += c[0]
        return out

    def counts(self, part: str | None = None) -> tuple[float, float]:
        n = v = 0.0
        for (_, _, pa), s in self.series.items():
            if part is None or pa == part:
                for c in s.values():
                    n += c[1]
                    v += c[2]
        return n, v


def electricity(
    data: Data, part: str | None = None, stamps: set[int] | None = None
) -> dict[str, float]:
    """The balance items (MWh) of a part (or the whole scope) over the given buckets."""

    def tot(q: str, pos: str) -> float:
        return data.total(q, pos, part, stamps) / 1000.0

    gen = tot("active_export", "generation") - tot("active_import", "generation")
    own = tot("active_import", "own_needs") - tot("active_export", "own_needs")
    cons = tot("active_import", "consumption") - tot("active_export", "consumption")
    ic_in, ic_out = tot("active_import", "interchange"), tot("active_export", "interchange")
    net = gen - own
    losses = net + ic_in - ic_out - cons
    inflow = net + ic_in
    return {
        "generation": gen,
        "own_needs": own,
        "net_supply": net,
        "ic_in": ic_in,
        "ic_out": ic_out,
        "ic_net": ic_in - ic_out,
        "consumption": cons,
        "losses": losses,
        "losses_pct": losses / inflow * 100 if inflow > 0 else None,  # type: ignore[dict-item]
    }


def heat(data: Data, part: str | None = None, stamps: set[int] | None = None) -> dict[str, float]:
    supply = data.total("heat_energy", "generation", part, stamps)
    own = data.total("heat_energy", "own_needs", part, stamps)
    cons = data.total("heat_energy", "consumption", part, stamps)
    losses = supply - own - cons
    return {
        "heat_supply": supply,
        "heat_own": own,
        "heat_consumption": cons,
        "heat_losses": losses,
        "losses_pct": losses / supply * 100 if supply > 0 else None,  # type: ignore[dict-item]
    }


def change(now: float | None, before: float | None) -> float | None:
    if now is None or before is None or abs(before) < 1e-9:
        return None
    return (now - before) / abs(before) * 100


def hours_of(period: Period) -> list[int]:
    start, end = window(period.start, period.end)
    return list(range(int(start.timestamp()), int(end.timestamp()), 3600))


def days_of(period: Period) -> list[date]:
    return [period.start + timedelta(days=i) for i in range(period.days)]


def local(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, UTC).astimezone(KZ)


# --- gathering -----------------------------------------------------------------------------------


async def gather_energy(src: Sources, scope: Scope, period: Period, kind: str) -> dict[str, Any]:
    """The inputs of an energy report: historian series, names, roll-ups, forecast."""
    d = await (
        src.registry.directory(subject_bin=scope.subject_bin)
        if scope.type in ("subject", "facility")
        else src.registry.directory()
    )
    monthly = kind == "monthly_consumption_generation"
    quantities = {
        "daily_electricity_balance": ELECTRICITY,
        "daily_heat_supply": HEAT,
        "monthly_consumption_generation": ELECTRICITY + HEAT,
    }[kind]
    prev, last = period.previous(monthly), period.last_year()
    jobs = {
        "hourly": fetch(src, scope, d.points, quantities, period, "1h", breakdown=not monthly),
        "previous": fetch(src, scope, d.points, quantities, prev, "1d", breakdown=False),
        "last_year": fetch(src, scope, d.points, quantities, last, "1d", breakdown=False),
    }
    if monthly:
        jobs["daily"] = fetch(src, scope, d.points, quantities, period, "1d", breakdown=True)
    results = dict(zip(jobs, await asyncio.gather(*jobs.values()), strict=True))
    start, end = window(period.start, period.end)
    rollups = await asyncio.gather(
        *(src.historian.series(scope.node, q, start, end, "1d") for q in quantities)
    )
    parts = sorted({k.split("|", 2)[2] for k in results.get("daily", results["hourly"])} - {""})
    forecast = {}
    for q in ("active_import", "heat_energy"):
        if q in quantities:
            f = await src.forecasts.hourly(*_forecast_level(scope), q, start, end)
            forecast[q] = sorted(f.items()) if f else None
    return {
        "scope_name": scope_name(scope, d),
        "names": names_of(scope, d, parts),
        "periods": {
            "current": [period.start.isoformat(), period.end.isoformat()],
            "previous": [prev.start.isoformat(), prev.end.isoformat()],
            "last_year": [last.start.isoformat(), last.end.isoformat()],
        },
        "series": results,
        "rollup": {
            q: sum(c[0] for c in s.values()) for q, s in zip(quantities, rollups, strict=True)
        },
        "quantities": list(quantities),
        "forecast": forecast,
        "directory": {
            "facilities": {
                fid: {
                    k: f.get(k)
                    for k in (
                        "name_ru",
                        "name_kk",
                        "type",
                        "region_kato",
                        "subject_bin",
                        "installed_electric_mw",
                        "installed_heat_gcal_h",
                    )
                }
                for fid, f in d.facilities.items()
                if fid in parts or scope.breakdown != "facility"
            }
            if scope.type in ("subject", "facility")
            else {},
        },
    }


def _forecast_level(scope: Scope) -> tuple[str, str]:
    return {
        "country": ("country", "KZ"),
        "region": ("regions", scope.key),
        "subject": ("subjects", scope.key),
        "facility": ("facilities", scope.key),
    }[scope.type]


# --- building ------------------------------------------------------------------------------------

ELECTRICITY_ITEMS = (
    "generation",
    "own_needs",
    "net_supply",
    "ic_in",
    "ic_out",
    "ic_net",
    "consumption",
    "losses",
    "losses_pct",
)
HEAT_ITEMS = ("heat_supply", "heat_own", "heat_consumption", "heat_losses", "losses_pct")


def _meta(inputs: dict[str, Any], req: dict[str, Any], lang: str) -> list[tuple[str, str, Any]]:
    period = inputs["periods"]["current"]
    label = period[0] if period[0] == period[1] else f"{period[0]} — {period[1]}"
    return [
        ("_sheet", t("meta.sheet", lang), None),
        ("kind", t("meta.kind", lang), t(f"kind.{req['kind']}", lang)),
        ("level", t("meta.level", lang), t(f"level.{req['level']}", lang)),
        ("scope", t("meta.scope", lang), inputs["scope_name"][lang]),
        ("period", t("meta.period", lang), label),
        ("time_zone", t("meta.time_zone", lang), t("meta.time_zone_value", lang)),
        ("report_id", t("meta.report_id", lang), req.get("id")),
        (
            "generated_at",
            t("meta.generated_at", lang),
            datetime.fromisoformat(req["generated_at"]) if req.get("generated_at") else None,
        ),
        ("inputs_sha256", t("meta.inputs", lang), req.get("inputs_sha256")),
    ]


def _comparison_table(
    lang: str,
    items: tuple[str, ...],
    now: dict[str, float],
    prev: dict[str, float],
    last: dict[str, float],
    forecast: dict[str, float | None],
    unit: str,
) -> Table:
    cols = [
        Column("item", t("col.item", lang), "text"),
        Column("key", "key", "text"),
        Column("actual", t("col.actual", lang), unit=unit),
        Column("previous", t("col.previous", lang), unit=unit),
        Column("previous_change_pct", t("col.previous_change", lang), "percent"),
        Column("last_year", t("col.last_year", lang), unit=unit),
        Column("last_year_change_pct", t("col.last_year_change", lang), "percent"),
        Column("forecast", t("col.forecast", lang), unit=unit),
        Column("forecast_deviation_pct", t("col.forecast_dev", lang), "percent"),
    ]
    rows = []
    for it in items:
        pct = it == "losses_pct"
        caption = t(f"item.{it}", lang)
        f = forecast.get(it)
        rows.append(
            [
                caption,
                it,
                now.get(it),
                prev.get(it),
                None if pct else change(now.get(it), prev.get(it)),
                last.get(it),
                None if pct else change(now.get(it), last.get(it)),
                f,
                change(now.get(it), f) if f is not None else None,
            ]
        )
    return Table("balance", t("table.balance", lang), cols, rows)


def _extremes(
    lang: str, series: dict[str, dict[int, float]], unit: str, captions: dict[str, str]
) -> Table:
    cols = [
        Column("item", t("col.item", lang), "text"),
        Column("key", "key", "text"),
        Column("max", t("col.max", lang), unit=unit),
        Column("max_at", t("col.max_at", lang), "datetime"),
        Column("min", t("col.min", lang), unit=unit),
        Column("min_at", t("col.min_at", lang), "datetime"),
        Column("average", t("col.average", lang), unit=unit),
    ]
    rows = []
    for k, s in series.items():
        if not s:
            continue
        hi = max(s, key=lambda ts: s[ts])
        lo = min(s, key=lambda ts: s[ts])
        rows.append([captions[k], k, s[hi], local(hi), s[lo], local(lo), sum(s.values()) / len(s)])
    return Table("extremes", t("table.extremes", lang), cols, rows)


def _reconciliation(
    lang: str, data: Data, rollup: dict[str, float], factor: float, unit: str
) -> tuple[Table, bool]:
    cols = [
        Column("quantity", t("col.quantity", lang), "text"),
        Column("parts_sum", t("col.parts_sum", lang), unit=unit),
        Column("historian", t("col.historian", lang), unit=unit),
        Column("difference", t("col.difference", lang), unit=unit),
    ]
    rows, ok = [], True
    for q, hist in rollup.items():
        parts = sum(data.total(q, pos) for pos in POSITIONS) / factor
        h = hist / factor
        diff = parts - h
        ok = ok and abs(diff) <= max(1e-6, abs(h) * 1e-9)
        rows.append([q, parts, h, diff])
    return Table(
        "reconciliation",
        t("table.reconciliation", lang),
        cols,
        rows,
        note=t("note.reconciled" if ok else "note.not_reconciled", lang),
    ), ok


def _breakdown_table(
    lang: str,
    scope_breakdown: str,
    inputs: dict[str, Any],
    data: Data,
    items: tuple[str, ...],
    fn: Any,
    unit: str,
) -> Table:
    key_caption = {
        "region": "col.kato",
        "subject": "col.bin",
        "facility": "col.facility",
        "point": "col.point",
    }[scope_breakdown]
    name_caption = {
        "region": "col.region",
        "subject": "col.subject",
        "facility": "col.facility",
        "point": "col.point",
    }[scope_breakdown]
    cols = [
        Column("id", t(key_caption, lang), "text"),
        Column("name", t(name_caption, lang), "text"),
    ]
    cols += [
        Column(
            it,
            t(f"item.{it}", lang),
            "percent" if it == "losses_pct" else "number",
            None if it == "losses_pct" else unit,
        )
        for it in items
    ]
    rows = []
    for part in data.parts():
        v = fn(data, part)
        rows.append([part, inputs["names"].get(part, {}).get(lang, part), *(v[it] for it in items)])
    rows.sort(
        key=lambda r: (
            -(
                r[2 + items.index("consumption" if "consumption" in items else "heat_consumption")]
                or 0
            )
        )
    )
    total = fn(data)
    rows.append(["", t("col.total", lang), *(total[it] for it in items)])
    return Table(f"by_{scope_breakdown}", t(f"table.breakdown.{scope_breakdown}", lang), cols, rows)


def _forecast_sum(inputs: dict[str, Any], q: str, stamps: set[int] | None = None) -> float | None:
    f = (inputs.get("forecast") or {}).get(q)
    if not f:
        return None
    return sum(v for ts, v in f if stamps is None or int(ts) in stamps)


def build_energy(inputs: dict[str, Any], req: dict[str, Any], lang: str) -> Document:
    kind = req["kind"]
    if kind == "monthly_consumption_generation":
        return build_monthly(inputs, req, lang)
    is_heat = kind == "daily_heat_supply"
    data = Data(inputs["series"]["hourly"])
    prev = Data(inputs["series"]["previous"])
    last = Data(inputs["series"]["last_year"])
    fn = heat if is_heat else electricity
    items = HEAT_ITEMS if is_heat else ELECTRICITY_ITEMS
    unit = t("unit.gcal" if is_heat else "unit.mwh", lang)
    factor = 1.0 if is_heat else 1000.0
    scope = req["scope"]
    now = fn(data)
    fq = "heat_energy" if is_heat else "active_import"
    fsum = _forecast_sum(inputs, fq)
    fkey = "heat_consumption" if is_heat else "consumption"
    doc = Document(
        title=t(f"kind.{kind}", lang),
        subtitle=inputs["scope_name"][lang] + " · " + t("level." + req["level"], lang),
        language=lang,
        meta=_meta(inputs, req, lang),
    )
    doc.tables.append(
        _comparison_table(
            lang,
            items,
            now,
            fn(prev),
            fn(last),
            {fkey: fsum / factor if fsum is not None else None},
            unit,
        )
    )
    period = Period(
        date.fromisoformat(inputs["periods"]["current"][0]),
        date.fromisoformat(inputs["periods"]["current"][1]),
    )
    hours = hours_of(period)
    # hourly profile
    hourly_cols = [Column("hour", t("col.hour", lang), "datetime")]
    show = (
        ("heat_supply", "heat_consumption", "heat_losses")
        if is_heat
        else ("generation", "own_needs", "consumption", "ic_net", "losses")
    )
    hourly_cols += [Column(it, t(f"item.{it}", lang), unit=unit) for it in show]
    forecast = dict((int(ts), v) for ts, v in ((inputs.get("forecast") or {}).get(fq) or []))
    if forecast:
        hourly_cols.append(
            Column("forecast", t("col.forecast", lang) + " · " + t(f"item.{fkey}", lang), unit=unit)
        )
    rows, curves = [], defaultdict(dict)
    for h in hours:
        v = fn(data, None, {h})
        row: list[Any] = [local(h), *(v[it] for it in show)]
        if forecast:
            row.append(forecast[h] / factor if h in forecast else None)
        rows.append(row)
        for it in show:
            curves[it][h] = v[it]
    doc.tables.append(Table("hourly", t("table.hourly", lang), hourly_cols, rows))
    ext_items = (
        ("heat_supply", "heat_consumption") if is_heat else ("generation", "consumption", "ic_net")
    )
    has = set(data.stamps())
    doc.tables.append(
        _extremes(
            lang,
            {it: {h: curves[it][h] for h in hours if h in has} for it in ext_items},
            t("unit.gcal_h" if is_heat else "unit.mw", lang),
            {it: t(f"item.{it}", lang) for it in ext_items},
        )
    )
    doc.tables.append(_breakdown_table(lang, scope["breakdown"], inputs, data, items, fn, unit))
    recon, ok = _reconciliation(lang, data, inputs["rollup"], factor, unit)
    doc.tables.append(recon)
    if req.get("recommendations") is not None:
        doc.tables.append(recommendation_table(lang, req["recommendations"]))
    labels = [
        local(h).strftime("%H:%M") if period.days == 1 else local(h).strftime("%m-%d %H")
        for h in hours
    ]
    chart_items = ("heat_supply", "heat_consumption") if is_heat else ("generation", "consumption")
    series = [
        (t(f"item.{it}", lang), [curves[it].get(h) if h in has else None for h in hours])
        for it in chart_items
    ]
    if forecast:
        series.append(
            (
                t("col.forecast", lang),
                [forecast[h] / factor if h in forecast else None for h in hours],
            )
        )
    doc.charts.append(
        Chart(
            "hourly",
            t("chart.heat_hourly" if is_heat else "chart.hourly", lang),
            "line",
            labels,
            series,
            unit,
        )
    )
    bd = doc.tables[3]
    top = bd.rows[:-1][:15]
    doc.charts.append(
        Chart(
            "breakdown",
            f"{t('chart.breakdown', lang)}: {bd.caption}",
            "bar",
            [str(r[1])[:24] for r in top],
            [(t(f"item.{fkey}", lang), [r[2 + items.index(fkey)] for r in top])],
            unit,
        )
    )
    doc.notes.append(t("note.heat_losses" if is_heat else "note.losses", lang))
    doc.notes.append(t("note.forecast" if fsum is not None else "note.no_forecast", lang))
    if not has:
        doc.notes.append(t("note.no_data", lang))
    n, valid = data.counts()
    doc.summary = {
        **{it: now[it] for it in items},
        "forecast_available": fsum is not None,
        "reconciled": ok,
        "readings": n,
        "valid_share": valid / n if n else None,
    }
    return doc


def build_monthly(inputs: dict[str, Any], req: dict[str, Any], lang: str) -> Document:
    data_h = Data(inputs["series"]["hourly"])
    data_d = Data(inputs["series"]["daily"])
    prev = Data(inputs["series"]["previous"])
    last = Data(inputs["series"]["last_year"])
    mwh, gcal = t("unit.mwh", lang), t("unit.gcal", lang)
    doc = Document(
        title=t("kind.monthly_consumption_generation", lang),
        subtitle=inputs["scope_name"][lang] + " · " + t("level." + req["level"], lang),
        language=lang,
        meta=_meta(inputs, req, lang),
    )
    fsum = _forecast_sum(inputs, "active_import")
    table = _comparison_table(
        lang,
        ELECTRICITY_ITEMS,
        electricity(data_d),
        electricity(prev),
        electricity(last),
        {"consumption": fsum / 1000 if fsum is not None else None},
        mwh,
    )
    heat_table = _comparison_table(lang, HEAT_ITEMS, heat(data_d), heat(prev), heat(last), {}, gcal)
    table.rows += heat_table.rows
    doc.tables.append(table)
    period = Period(
        date.fromisoformat(inputs["periods"]["current"][0]),
        date.fromisoformat(inputs["periods"]["current"][1]),
    )
    # by day, with each day's peak hour
    hourly_cons = {h: electricity(data_h, None, {h})["consumption"] for h in data_h.stamps()}
    by_day_hours: dict[date, list[int]] = defaultdict(list)
    for h in hours_of(period):
        by_day_hours[local_day(h)].append(h)
    cols = [
        Column("date", t("col.date", lang), "date"),
        Column("generation", t("item.generation", lang), unit=mwh),
        Column("own_needs", t("item.own_needs", lang), unit=mwh),
        Column("consumption", t("item.consumption", lang), unit=mwh),
        Column("ic_net", t("item.ic_net", lang), unit=mwh),
        Column("losses", t("item.losses", lang), unit=mwh),
        Column("heat_supply", t("item.heat_supply", lang), unit=gcal),
        Column("heat_consumption", t("item.heat_consumption", lang), unit=gcal),
        Column(
            "peak_load",
            t("col.peak_hour_load", lang) + " · " + t("item.consumption", lang),
            unit=t("unit.mw", lang),
        ),
        Column("peak_at", t("col.max_at", lang), "datetime"),
    ]
    rows = []
    daily: dict[str, dict[int, float]] = defaultdict(dict)
    for day in days_of(period):
        stamps = {int(datetime(day.year, day.month, day.day, tzinfo=KZ).timestamp())}
        e, h = electricity(data_d, None, stamps), heat(data_d, None, stamps)
        hs = [x for x in by_day_hours[day] if x in hourly_cons]
        peak = max(hs, key=lambda x: hourly_cons[x]) if hs else None
        rows.append(
            [
                day,
                e["generation"],
                e["own_needs"],
                e["consumption"],
                e["ic_net"],
                e["losses"],
                h["heat_supply"],
                h["heat_consumption"],
                hourly_cons[peak] if peak else None,
                local(peak) if peak else None,
            ]
        )
        ts = next(iter(stamps))
        if any(ts in s for s in data_d.series.values()):
            daily["consumption"][ts] = e["consumption"]
            daily["generation"][ts] = e["generation"]
            daily["heat_consumption"][ts] = h["heat_consumption"]
    doc.tables.append(Table("daily", t("table.daily", lang), cols, rows))
    ext = _extremes(
        lang, {k: v for k, v in daily.items()}, "", {k: t(f"item.{k}", lang) for k in daily}
    )
    for r in ext.rows:
        r[3] = r[3].date() if r[3] else None
        r[5] = r[5].date() if r[5] else None
    ext.columns[3].kind = ext.columns[5].kind = "date"
    ext.columns[2].unit = ext.columns[4].unit = ext.columns[6].unit = f"{mwh} / {gcal}"
    if hourly_cons:
        peak = max(hourly_cons, key=lambda x: hourly_cons[x])
        low = min(hourly_cons, key=lambda x: hourly_cons[x])
        ext.rows.append(
            [
                t("col.peak_hour_load", lang) + ", " + t("unit.mw", lang),
                "peak_hour_consumption",
                hourly_cons[peak],
                local(peak),
                hourly_cons[low],
                local(low),
                sum(hourly_cons.values()) / len(hourly_cons),
            ]
        )
    doc.tables.append(ext)
    bd = _breakdown_table(
        lang, req["scope"]["breakdown"], inputs, data_d, ELECTRICITY_ITEMS, electricity, mwh
    )
    heat_parts = {p: heat(data_d, p) for p in data_d.parts()}
    bd.columns += [
        Column("heat_supply", t("item.heat_supply", lang), unit=gcal),
        Column("heat_consumption", t("item.heat_consumption", lang), unit=gcal),
    ]
    total_heat = heat(data_d)
    for r in bd.rows:
        hv = heat_parts.get(r[0], total_heat) if r[0] else total_heat
        r += [hv["heat_supply"], hv["heat_consumption"]]
    doc.tables.append(bd)
    recon_e, ok1 = _reconciliation(
        lang, data_d, {q: v for q, v in inputs["rollup"].items() if q != "heat_energy"}, 1000.0, mwh
    )
    recon_h, ok2 = _reconciliation(
        lang, data_d, {q: v for q, v in inputs["rollup"].items() if q == "heat_energy"}, 1.0, gcal
    )
    recon_e.rows += recon_h.rows
    ok = ok1 and ok2
    recon_e.note = t("note.reconciled" if ok else "note.not_reconciled", lang)
    doc.tables.append(recon_e)
    if req.get("recommendations") is not None:
        doc.tables.append(recommendation_table(lang, req["recommendations"]))
    labels = [r[0].strftime("%m-%d") for r in rows]
    doc.charts.append(
        Chart(
            "daily",
            t("chart.daily", lang),
            "bar",
            labels,
            [
                (t("item.generation", lang), [r[1] for r in rows]),
                (t("item.consumption", lang), [r[3] for r in rows]),
            ],
            mwh,
        )
    )
    doc.notes += [
        t("note.losses", lang),
        t("note.forecast" if fsum is not None else "note.no_forecast", lang),
    ]
    now = electricity(data_d)
    doc.summary = {
        **now,
        **{k: v for k, v in heat(data_d).items() if k != "losses_pct"},
        "forecast_available": fsum is not None,
        "reconciled": ok,
    }
    return doc


def recommendation_table(lang: str, recs: list[dict[str, Any]]) -> Table:
    cols = [
        Column("id", "id", "text"),
        Column("kind", t("col.kind", lang), "text"),
        Column("target", t("col.facility", lang) + " / " + t("col.region", lang), "text"),
        Column("recommendation", t("col.recommendation", lang), "text"),
        Column("status", t("col.status", lang), "text"),
    ]
    rows = [
        [
            r["id"],
            t(f"rec.{r['kind']}", lang),
            r.get("target_name") or r["target_id"],
            r["text"][lang],
            t(f"recstatus.{r['status']}", lang),
        ]
        for r in recs
    ]
    return Table(
        "recommendations",
        t("table.recommendations", lang),
        cols,
        rows,
        note=None if recs else t("note.recommendations_none", lang),
    )
