"""Recommendations (§47) with the numbers that justify them.

* Peak shift: which of the largest consumers (regions in a national report, subjects in a regional
  one) should move how much load out of the peak hours — of the forecast for the next day when
  there is one, of the report's day otherwise — into the valley hours, and how far the peak falls.
* Equipment operation: facilities whose load factor, own-needs share or losses share deviate from
  their peers of the same type (robust z-score) or from their own recent history, with the likely
  cause taken from the share of invalid readings (VEE), meter events and alarms.
"""

from __future__ import annotations

import asyncio
import statistics
from collections import Counter, defaultdict
from datetime import date, timedelta
from typing import Any

from egsu.reports.context import Period, Scope, Sources
from egsu.reports.energy import Data, electricity, local
from egsu.reports.i18n import LANGUAGES, t
from egsu.reports.sources import window

PEAK_BAND = 0.97  # hours within 3 % of the maximum are peak hours
MIN_REDUCTION = 0.005  # propose a shift only when it lowers the peak by at least 0.5 %
HISTORY_CHANGE = 0.3  # a metric 30 % off the facility's own mean is a deviation
PEER_Z = 3.0
MIN_PEERS = 4
MIN_HISTORY_DAYS = 5


def _hours(ts: list[int]) -> str:
    return ", ".join(local(h).strftime("%H:%M") for h in sorted(ts))


def peak_shift(
    parts: dict[str, dict[int, float]],
    names: dict[str, dict[str, str]],
    forecast: dict[int, float] | None,
    share: float,
    target_type: str,
) -> list[dict[str, Any]]:
    """Shift proposals for the largest contributors to the peak (hourly MWh in, MW out)."""
    total: dict[int, float] = defaultdict(float)
    for s in parts.values():
        for h, v in s.items():
            total[h] += v
    if len(total) < 6:
        return []
    basis = "history"
    base = dict(total)
    if forecast and len(forecast) >= 6:
        # the forecast's hours of day, with the contributors' shares of each hour from history
        basis = "forecast"
        by_hod = {local(h).hour: h for h in total}
        base = {}
        for fh, fv in forecast.items():
            hh = by_hod.get(local(fh).hour)
            if hh is not None:
                base[hh] = fv / 1000.0
        if len(base) < 6:
            base, basis = dict(total), "history"
    peak = max(base.values())
    if peak <= 0:
        return []
    peak_hours = sorted(
        (h for h, v in base.items() if v >= PEAK_BAND * peak), key=lambda h: -base[h]
    )[:4]
    valley = sorted(base, key=lambda h: base[h])[: max(2, 2 * len(peak_hours))]
    valley = [h for h in valley if h not in peak_hours]
    scale = {h: base[h] / total[h] if total.get(h) else 1.0 for h in base}
    load_at_peak = {c: sum(s.get(h, 0.0) * scale[h] for h in peak_hours) for c, s in parts.items()}
    whole = sum(load_at_peak.values())
    largest = sorted(
        (c for c in load_at_peak if load_at_peak[c] > 0), key=lambda c: -load_at_peak[c]
    )[:3]
    largest = [c for c in largest if load_at_peak[c] >= 0.05 * whole]

    def after(shifters: list[str]) -> float:
        new = dict(base)
        for c in shifters:
            moved = 0.0
            for h in peak_hours:
                x = share * parts[c].get(h, 0.0) * scale[h]
                new[h] -= x
                moved += x
            for h in valley:
                new[h] += moved / len(valley)
        return max(new.values())

    combined = after(largest)
    out = []
    for c in largest:
        alone = after([c])
        reduction = peak - alone
        if reduction < MIN_REDUCTION * peak:
            continue
        moved = share * load_at_peak[c]
        numbers = {
            "basis": basis,
            "peak_mw": round(peak, 3),
            "peak_hours": [local(h).isoformat() for h in peak_hours],
            "valley_hours": [local(h).isoformat() for h in valley],
            "contributor_peak_load_mwh": round(load_at_peak[c], 3),
            "share_shifted": share,
            "shift_mwh": round(moved, 3),
            "peak_after_mw": round(alone, 3),
            "peak_reduction_mw": round(reduction, 3),
            "peak_reduction_pct": round(reduction / peak * 100, 2),
            "peak_after_all_mw": round(combined, 3),
            "peak_reduction_all_mw": round(peak - combined, 3),
        }
        name = names.get(c, {})
        text = {
            "ru": (
                f"{name.get('ru', c)}: перенести {moved:.1f} МВт·ч ({share:.0%} нагрузки) из часов максимума "
                f"{_hours(peak_hours)} на часы минимума {_hours(valley)}. Максимум снизится с {peak:.1f} до "
                f"{alone:.1f} МВт (−{reduction / peak * 100:.1f} %); вместе с остальными рекомендациями — до {combined:.1f} МВт. "
                f"Основа: {'прогноз' if basis == 'forecast' else 'фактический профиль'}."
            ),
            "kk": (
                f"{name.get('kk', c)}: ең жоғары жүктеме сағаттарынан ({_hours(peak_hours)}) {moved:.1f} МВт·сағ "
                f"({share:.0%} жүктеме) ең төменгі сағаттарға ({_hours(valley)}) ауыстыру. Ең жоғары мән {peak:.1f}-ден "
                f"{alone:.1f} МВт-қа төмендейді (−{reduction / peak * 100:.1f} %); барлық ұсыныстармен бірге — {combined:.1f} МВт. "
                f"Негізі: {'болжам' if basis == 'forecast' else 'нақты бейін'}."
            ),
            "en": (
                f"{name.get('en', c)}: move {moved:.1f} MWh ({share:.0%} of its load) out of the peak hours "
                f"{_hours(peak_hours)} into the valley hours {_hours(valley)}. The peak falls from {peak:.1f} to "
                f"{alone:.1f} MW (−{reduction / peak * 100:.1f} %); with the other proposals, to {combined:.1f} MW. "
                f"Basis: {'forecast' if basis == 'forecast' else 'actual profile'}."
            ),
        }
        out.append(
            {
                "kind": "peak_shift",
                "target_type": target_type,
                "target_id": c,
                "target_name": name.get("ru", c),
                "numbers": numbers,
                "text": text,
            }
        )
    return out


# --- equipment -----------------------------------------------------------------------------------

METRIC_TEXT = {
    "load_factor": (
        "коэффициент использования мощности",
        "қуатты пайдалану коэффициенті",
        "load factor",
    ),
    "own_needs_share": ("доля собственных нужд", "меншікті қажеттіліктер үлесі", "own-needs share"),
    "losses_share": ("доля потерь", "шығындар үлесі", "losses share"),
}
ADVICE = {
    "load_factor": (
        "Проверьте готовность агрегатов и ограничения выдачи мощности.",
        "Агрегаттардың дайындығын және қуат беру шектеулерін тексеріңіз.",
        "Check unit availability and output constraints.",
    ),
    "own_needs_share": (
        "Проверьте режим работы вспомогательного оборудования.",
        "Көмекші жабдықтың жұмыс режимін тексеріңіз.",
        "Check how the auxiliary equipment runs.",
    ),
    "losses_share": (
        "Проверьте схему сети, загрузку трансформаторов и учёт на границах.",
        "Желі сұлбасын, трансформаторлардың жүктемесін және шекаралардағы есепті тексеріңіз.",
        "Check the network configuration, transformer loading and metering at the boundaries.",
    ),
}


def facility_metrics(
    data: Data, fid: str, stamps: set[int], installed_mw: float | None, hours: int
) -> dict[str, float]:
    v = electricity(data, fid, stamps)
    out: dict[str, float] = {}
    if v["generation"] > 0:
        if installed_mw:
            out["load_factor"] = v["generation"] / (installed_mw * hours)
        out["own_needs_share"] = v["own_needs"] / v["generation"]
    inflow = v["net_supply"] + v["ic_in"]
    outflow = v["ic_out"] + v["consumption"]
    if inflow > 0 and outflow > 0 and (v["ic_in"] > 0 or v["ic_out"] > 0):
        out["losses_share"] = v["losses"] / inflow
    return out


async def gather_equipment(src: Sources, scope: Scope, period: Period) -> dict[str, Any]:
    """Per facility and position, daily totals over the period and the history before it."""
    d = await src.registry.directory()
    hist = Period(period.start - timedelta(days=src.settings.reports_history_days), period.end)
    key_scope = Scope(scope.level, scope.type, scope.key)
    series = {}
    for q in ("active_export", "active_import"):
        from egsu.reports.sources import Planner

        plan = Planner(d.points, q).plan(key_scope.contains, lambda p: (p.position, p.facility_id))
        start, end = window(hist.start, hist.end)
        got = await src.historian.collect(plan, q, start, end, "1d")
        for (pos, fid), s in got.items():  # type: ignore[misc]
            series[f"{q}|{pos}|{fid}"] = [[ts, *c] for ts, c in sorted(s.items())]
    fids = {k.split("|")[2] for k in series}
    facilities = {
        fid: {
            k: d.facilities.get(fid, {}).get(k)
            for k in (
                "name_ru",
                "name_kk",
                "type",
                "region_kato",
                "subject_bin",
                "installed_electric_mw",
            )
        }
        for fid in fids
    }
    points = defaultdict(list)
    for p in d.points:
        if p.facility_id in fids:
            points[p.facility_id].append(p.code)
    return {
        "series": series,
        "facilities": facilities,
        "points": dict(points),
        "history": [hist.start.isoformat(), hist.end.isoformat()],
    }


def equipment_candidates(eq: dict[str, Any], period: Period) -> list[dict[str, Any]]:
    """(facility, metric) pairs that deviate from peers or from their own history."""
    data = Data(eq["series"])
    from datetime import datetime

    from egsu.core.time import KZ

    def stamp(d: date) -> int:
        return int(datetime(d.year, d.month, d.day, tzinfo=KZ).timestamp())

    cur = {stamp(period.start + timedelta(days=i)) for i in range(period.days)}
    hist_start = date.fromisoformat(eq["history"][0])
    hist_days = [hist_start + timedelta(days=i) for i in range((period.start - hist_start).days)]
    now: dict[str, dict[str, float]] = {}
    past: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    present = set(data.stamps())
    for fid, f in eq["facilities"].items():
        if not cur & present:
            continue
        now[fid] = facility_metrics(
            data, fid, cur, f.get("installed_electric_mw"), 24 * period.days
        )
        for d in hist_days:
            s = stamp(d)
            if s in present:
                for m, v in facility_metrics(
                    data, fid, {s}, f.get("installed_electric_mw"), 24
                ).items():
                    past[fid][m].append(v)
    peers: dict[tuple[str, str], list[float]] = defaultdict(list)
    for fid, ms in now.items():
        for m, v in ms.items():
            peers[(eq["facilities"][fid].get("type") or "other", m)].append(v)
    out = []
    for fid, ms in now.items():
        ftype = eq["facilities"][fid].get("type") or "other"
        for m, v in ms.items():
            hist = past[fid][m]
            hist_mean = statistics.fmean(hist) if len(hist) >= MIN_HISTORY_DAYS else None
            dev_hist = (v - hist_mean) / abs(hist_mean) if hist_mean else None
            group = peers[(ftype, m)]
            z = median = None
            if len(group) > MIN_PEERS:
                median = statistics.median(group)
                mad = statistics.median(abs(x - median) for x in group) * 1.4826
                z = (v - median) / mad if mad > 1e-12 else None
            bad_hist = dev_hist is not None and (
                dev_hist > HISTORY_CHANGE if m != "load_factor" else abs(dev_hist) > HISTORY_CHANGE
            )
            bad_peer = z is not None and (z > PEER_Z if m != "load_factor" else abs(z) > PEER_Z)
            if bad_hist or bad_peer:
                n, valid = data.counts(fid)
                out.append(
                    {
                        "facility_id": fid,
                        "metric": m,
                        "value": v,
                        "history_mean": hist_mean,
                        "history_days": len(hist),
                        "history_change": dev_hist,
                        "peer_median": median,
                        "peers": len(group),
                        "peer_z": z,
                        "readings": n,
                        "valid_share": valid / n if n else None,
                    }
                )
    return out


async def gather_causes(
    src: Sources, eq: dict[str, Any], candidates: list[dict[str, Any]], period: Period
) -> dict[str, Any]:
    """Meter events and alarms of the deviating facilities over the period."""
    start, end = window(period.start, period.end)
    causes: dict[str, Any] = {}

    async def one(fid: str) -> None:
        codes = eq["points"].get(fid, [])[:20]
        events = await asyncio.gather(*(src.historian.events(c, start, end) for c in codes))
        counter = Counter(e["code"] for es in events for e in es)
        alarms = await src.alarms.of_facility(fid, start, end)
        causes[fid] = {
            "events": dict(counter.most_common(5)),
            "alarms": dict(
                Counter(
                    str(a.get("kind") or a.get("rule_kind") or a.get("type") or "alarm")
                    for a in alarms
                ).most_common(5)
            )
            if alarms is not None
            else None,
        }

    await asyncio.gather(*(one(fid) for fid in {c["facility_id"] for c in candidates}))
    return causes


def equipment(
    eq: dict[str, Any], candidates: list[dict[str, Any]], causes: dict[str, Any]
) -> list[dict[str, Any]]:
    out = []
    for c in candidates:
        fid, m = c["facility_id"], c["metric"]
        f = eq["facilities"][fid]
        cause = causes.get(fid, {})
        texts = {}
        for i, lang in enumerate(LANGUAGES):
            name = (f.get("name_kk") if lang == "kk" else f.get("name_ru")) or fid
            parts = [f"{name}: {METRIC_TEXT[m][i]} {c['value'] * 100:.1f} %"]
            if c["history_mean"] is not None:
                parts.append(
                    {
                        "ru": f"против {c['history_mean'] * 100:.1f} % в среднем за {c['history_days']} сут ({c['history_change'] * 100:+.0f} %)",
                        "kk": f"{c['history_days']} тәуліктегі орташа {c['history_mean'] * 100:.1f} %-ға қарсы ({c['history_change'] * 100:+.0f} %)",
                        "en": f"against {c['history_mean'] * 100:.1f} % on average over {c['history_days']} days ({c['history_change'] * 100:+.0f} %)",
                    }[lang]
                )
            if c["peer_median"] is not None:
                ft = t(f"ft.{f.get('type') or 'other'}", lang)
                parts.append(
                    {
                        "ru": f"медиана по {c['peers']} объектам типа «{ft}» — {c['peer_median'] * 100:.1f} %",
                        "kk": f"«{ft}» түріндегі {c['peers']} нысан бойынша медиана — {c['peer_median'] * 100:.1f} %",
                        "en": f"the median of {c['peers']} facilities of type '{ft}' is {c['peer_median'] * 100:.1f} %",
                    }[lang]
                )
            why = []
            if c["valid_share"] is not None and c["valid_share"] < 0.95:
                why.append(
                    {
                        "ru": f"{(1 - c['valid_share']) * 100:.0f} % показаний недостоверны (VEE) — возможна ошибка учёта",
                        "kk": f"көрсеткіштердің {(1 - c['valid_share']) * 100:.0f} %-ы сенімсіз (VEE) — есепке алу қатесі болуы мүмкін",
                        "en": f"{(1 - c['valid_share']) * 100:.0f} % of the readings are not valid (VEE) — possibly a metering fault",
                    }[lang]
                )
            if cause.get("events"):
                ev = ", ".join(f"{k} ×{v}" for k, v in cause["events"].items())
                why.append(
                    {
                        "ru": f"события счётчиков: {ev}",
                        "kk": f"есептегіш оқиғалары: {ev}",
                        "en": f"meter events: {ev}",
                    }[lang]
                )
            if cause.get("alarms"):
                al = ", ".join(f"{k} ×{v}" for k, v in cause["alarms"].items())
                why.append(
                    {"ru": f"тревоги: {al}", "kk": f"дабылдар: {al}", "en": f"alarms: {al}"}[lang]
                )
            label = {"ru": "Вероятная причина", "kk": "Ықтимал себебі", "en": "Likely cause"}[lang]
            none = {
                "ru": "не установлена по данным VEE и тревог",
                "kk": "VEE және дабыл деректері бойынша анықталмады",
                "en": "not evident from VEE and alarm history",
            }[lang]
            texts[lang] = (
                "; ".join(parts) + f". {label}: {'; '.join(why) if why else none}. {ADVICE[m][i]}"
            )
        numbers = {
            k: (round(v, 6) if isinstance(v, float) else v)
            for k, v in c.items()
            if k != "facility_id"
        }
        numbers["causes"] = cause
        out.append(
            {
                "kind": "equipment",
                "target_type": "facility",
                "target_id": fid,
                "target_name": f.get("name_ru") or fid,
                "numbers": numbers,
                "text": texts,
                "metric": m,
            }
        )
    return out
