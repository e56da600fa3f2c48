"""The overview: the country by region — consumption, generation, alarms, devices, completeness."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter
from fastapi.responses import RedirectResponse, Response

from egsu.contracts.regions import REGIONS
from egsu.web import charts
from egsu.web.auth import home_of
from egsu.web.cache import SharedCache
from egsu.web.console import Anyone, Ctx, journal, screen
from egsu.web.gateway import Api, LoginRequired, Result

router = APIRouter(include_in_schema=False)
M = "/api/v1/measurements"


def iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


def hourly(r: Result) -> list[dict[str, Any]]:
    return [i for i in r.items if i.get("value") is not None]


def latest_full_hour(items: list[dict[str, Any]], now: datetime) -> dict[str, Any] | None:
    """The newest hour that has ended (the current hour is still filling)."""
    cutoff = now.replace(minute=0, second=0, microsecond=0)
    done = [i for i in items if datetime.fromisoformat(i["ts"]) < cutoff]
    return done[-1] if done else (items[-1] if items else None)


async def all_subjects(api: Api) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    for _ in range(20):
        page = await api.get("/api/v1/registry/subjects", limit=1000, cursor=cursor)
        out += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    return out


def region_rollups(results: dict[str, Result], now: datetime) -> dict[str, dict[str, Any]]:
    rows: dict[str, dict[str, Any]] = {}
    for r in REGIONS:
        cons = hourly(results[f"c{r.kato}"])
        gen = hourly(results[f"g{r.kato}"])
        lc, lg = latest_full_hour(cons, now), latest_full_hour(gen, now)
        rows[r.kato] = {
            "kato": r.kato,
            "consumption_24h": sum(i["value"] for i in cons) if cons else None,
            "generation_24h": sum(i["value"] for i in gen) if gen else None,
            "load_now": lc["value"] if lc else None,
            "gen_now": lg["value"] if lg else None,
            "quality": _share([*cons, *gen]),
            "ok": results[f"c{r.kato}"].ok,
        }
    return rows


def _share(items: list[dict[str, Any]]) -> float | None:
    total = sum(i.get("count") or 0 for i in items)
    if not total:
        return None
    valid = sum((i.get("quality_share") or 0) * (i.get("count") or 0) for i in items)
    return valid / total


def completeness_by_region(
    compliance: Result, subjects: Result
) -> tuple[dict[str, float], dict[str, Any]]:
    """Received / expected intervals per region and for the country, from ingest's compliance."""
    region_of = {s["bin"]: s["region_kato"] for s in (subjects.data or [])} if subjects.ok else {}
    exp: dict[str, int] = defaultdict(int)
    rec: dict[str, int] = defaultdict(int)
    late: list[str] = []
    for item in compliance.items:
        kato = region_of.get(item["subject_bin"], "")
        exp[kato] += item["expected"]
        rec[kato] += item["received"]
        if item["status"] != "ok":
            late.append(item["subject_bin"])
    by_region = {k: rec[k] / exp[k] for k in exp if exp[k]}
    total_exp, total_rec = sum(exp.values()), sum(rec.values())
    return by_region, {
        "share": (total_rec / total_exp) if total_exp else None,
        "subjects": len(compliance.items),
        "late": len(late),
    }


@router.get("/")
async def home(ctx: Anyone) -> Response:
    """The start page: the overview for those who may see it, else the user's own start page."""
    if ctx.session is None:
        raise LoginRequired()
    if not ctx.may("overview"):
        query = ctx.request.url.query
        return RedirectResponse(home_of(ctx.session) + (f"?{query}" if query else ""), 303)
    journal(ctx, "overview", "success")
    return await overview(ctx)


@router.get("/overview")
async def overview_page(ctx: Annotated[Ctx, screen("overview")]) -> Response:
    return await overview(ctx)


def overview_calls(
    api: Api, shared: SharedCache, now: datetime, *, refresh: bool = False
) -> dict[str, Awaitable[Any]]:
    """The overview's API calls, through the cache shared by the wide roles."""
    # whole hours only: the hour still filling would show as a dip at the end of every chart
    hour = now.replace(minute=0, second=0, microsecond=0)
    day = {"from": iso(hour - timedelta(hours=24)), "to": iso(hour), "resolution": "1h"}
    week = {"from": iso(hour - timedelta(days=7)), "to": iso(hour), "resolution": "1h"}

    def cached(key: str, fetch: Callable[[], Awaitable[Any]]) -> Awaitable[Any]:
        # the same answer for every user of the wide roles, who alone see this page
        return shared.get(key, fetch, refresh=refresh)

    calls: dict[str, Awaitable[Any]] = {}
    for r in REGIONS:
        for prefix, quantity in (("c", "active_import"), ("g", "active_export")):
            path = f"{M}/regions/{r.kato}/readings"
            calls[f"{prefix}{r.kato}"] = cached(
                f"{path}:{quantity}:day",
                lambda path=path, quantity=quantity: api.get(path, quantity=quantity, **day),
            )
    for key, quantity in (("country_c", "active_import"), ("country_g", "active_export")):
        calls[key] = cached(
            f"country:{quantity}:week",
            lambda quantity=quantity: api.get(f"{M}/country/readings", quantity=quantity, **week),
        )
    calls["compliance"] = cached("compliance", lambda: api.get("/api/v1/ingest/compliance"))
    calls["subjects"] = cached("subjects", lambda: all_subjects(api))
    calls["monitoring"] = cached(
        "monitoring", lambda: api.get("/api/v1/monitoring/summary", group_by="region")
    )
    calls["forecast"] = cached(
        "forecast",
        lambda: api.get(
            "/api/v1/forecast/country",
            quantity="active_import",
            horizon="day_ahead",
            resolution="1h",
            **{"from": week["from"], "to": iso(hour + timedelta(days=2))},
        ),
    )
    return calls


async def warm(api: Api, shared: SharedCache) -> None:
    """Fetch the overview's data ahead of the first page (the console's own service account)."""
    await api.many(**overview_calls(api, shared, datetime.now(UTC), refresh=True))


async def overview(ctx: Ctx) -> Response:
    _ = ctx._
    L = ctx.lang
    now = datetime.now(UTC)
    ctx.request.app.state.overview_seen = time.monotonic()
    calls = overview_calls(ctx.api, ctx.request.app.state.shared, now)
    res = await ctx.api.many(**calls)
    rows = region_rollups(res, now)
    completeness, comp_total = completeness_by_region(res["compliance"], res["subjects"])
    mon = res["monitoring"]
    mon_regions = {g["key"]: g for g in mon.data.get("items", [])} if mon.ok else {}
    for kato, row in rows.items():
        row["completeness"] = completeness.get(kato)
        g = mon_regions.get(kato)
        row["alarms"] = sum((g or {}).get("active_alarms", {}).values()) if g else None
        row["critical"] = (g or {}).get("active_alarms", {}).get("critical", 0) if g else 0
        if g and g.get("points"):
            row["active_share"] = g.get("by_status", {}).get("active", 0) / g["points"]
        else:
            row["active_share"] = None
    cons = hourly(res["country_c"])
    gen = hourly(res["country_g"])
    last24 = now - timedelta(hours=24)
    kpis = {
        "consumption_24h": sum(
            i["value"] for i in cons if datetime.fromisoformat(i["ts"]) >= last24
        )
        if cons
        else None,
        "generation_24h": sum(i["value"] for i in gen if datetime.fromisoformat(i["ts"]) >= last24)
        if gen
        else None,
        "load_now": (latest_full_hour(cons, now) or {}).get("value"),
        "gen_now": (latest_full_hour(gen, now) or {}).get("value"),
        "completeness": comp_total,
    }
    if mon.ok:
        kpis["alarms"] = mon.data.get("active_alarms", {})
        pts = mon.data.get("points") or 0
        kpis["active_share"] = (
            (mon.data.get("by_status", {}).get("active", 0) / pts) if pts else None
        )
    traces = [
        charts.line(
            _("Consumption"),
            [i["ts"] for i in cons],
            [i["value"] / 1000 for i in cons],
            charts.PALETTE["consumption"],
        ),
        charts.line(
            _("Generation"),
            [i["ts"] for i in gen],
            [i["value"] / 1000 for i in gen],
            charts.PALETTE["generation"],
        ),
    ]
    fc = res["forecast"]
    if fc.ok:
        traces += forecast_traces(ctx, fc.data)
    fig = charts.figure(traces, charts.layout(L, y_title=L.unit("MW")))
    regions_sorted = sorted(rows.values(), key=lambda r: -(r["consumption_24h"] or 0))
    return ctx.render(
        "overview.html",
        title=_("Overview"),
        res=res,
        rows=regions_sorted,
        kpis=kpis,
        figure=fig,
        has_series=bool(cons or gen),
        updated=now,
    )


def forecast_traces(ctx: Ctx, data: dict[str, Any], scale: float = 1000.0) -> list[dict[str, Any]]:
    """Median forecast with its 10–90 % band, if the forecast service answered; values per hour
    divided by ``scale`` (kWh per hour to MW by default)."""
    items = data.get("items", [])
    if not items:
        return []
    xs = [i["ts"] for i in items]
    q = lambda key: [(i.get(key) or 0) / scale for i in items]  # noqa: E731
    return [
        charts.line("p90", xs, q("p90"), "rgba(0,0,0,0)", showlegend=False, hoverinfo="skip"),
        charts.line(
            ctx._("Forecast band 10–90 %"),
            xs,
            q("p10"),
            "rgba(0,0,0,0)",
            fill="tonexty",
            fillcolor=charts.PALETTE["band"],
        ),
        charts.line(
            ctx._("Day-ahead forecast"),
            xs,
            q("p50"),
            charts.PALETTE["forecast"],
            line={"color": charts.PALETTE["forecast"], "dash": "dash", "width": 2},
        ),
    ]
