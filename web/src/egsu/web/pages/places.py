"""Region, subject, facility and metering point pages: readings as charts with quality marked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from egsu.contracts.regions import REGIONS_BY_KATO
from egsu.web import charts
from egsu.web.console import Ctx, PageNotFound, screen
from egsu.web.gateway import ApiError, Result
from egsu.web.vocab import adds_up, quantity_name, unit_of

router = APIRouter(include_in_schema=False)
M = "/api/v1/measurements"
R = "/api/v1/registry"
GROUP_WINDOWS = {"1h": timedelta(days=3), "1d": timedelta(days=31), "1mo": timedelta(days=366)}
POINT_WINDOWS = {
    "native": timedelta(days=1),
    "15m": timedelta(days=2),
    "30m": timedelta(days=3),
    "1h": timedelta(days=7),
    "1d": timedelta(days=62),
    "1mo": timedelta(days=366),
}
Resolution = Annotated[str, Query(pattern="^(1h|1d|1mo)$")]


def window(span: timedelta, end: datetime | None = None) -> dict[str, str]:
    end = end or datetime.now(UTC)
    return {"from": (end - span).isoformat(), "to": end.isoformat()}


def group_values(items: list[dict[str, Any]], resolution: str) -> list[float | None]:
    key = "value" if resolution == "1h" else "sum"
    return [i.get(key) for i in items]


def group_figure(ctx: Ctx, cons: Result, gen: Result, resolution: str) -> dict[str, Any] | None:
    """Consumption and generation of a group (region, subject, facility) per bucket, in MWh."""
    _ = ctx._
    traces = []
    for r, name, colour in (
        (cons, _("Consumption"), charts.PALETTE["consumption"]),
        (gen, _("Generation"), charts.PALETTE["generation"]),
    ):
        items = r.items
        if items:
            ys = [(v or 0) / 1000 for v in group_values(items, resolution)]
            traces.append(charts.bars(name, [i["ts"] for i in items], ys, colour))
    if not traces:
        return None
    lay = charts.layout(ctx.lang, y_title=ctx.lang.unit("MWh"))
    if resolution != "1h":
        lay["xaxis"]["tickformat"] = "%d.%m.%Y" if resolution == "1d" else "%m.%Y"
    return charts.figure(traces, lay)


def totals(r: Result, resolution: str) -> dict[str, Any]:
    vals = [v for v in group_values(r.items, resolution) if v is not None]
    counts = sum(i.get("count") or 0 for i in r.items)
    valid = sum((i.get("quality_share") or 0) * (i.get("count") or 0) for i in r.items)
    return {
        "sum": sum(vals) if vals else None,
        "max": max(vals) if vals else None,
        "quality": (valid / counts) if counts else None,
    }


async def _group_page(
    ctx: Ctx, kind: str, path: str, resolution: str
) -> tuple[dict[str, Result], dict[str, Any]]:
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)  # whole hours
    if resolution != "1h":
        end += timedelta(hours=1)
    w = {**window(GROUP_WINDOWS[resolution], end), "resolution": resolution}
    res = await ctx.api.many(
        cons=ctx.api.get(f"{M}/{path}/readings", quantity="active_import", **w),
        gen=ctx.api.get(f"{M}/{path}/readings", quantity="active_export", **w),
    )
    fig = group_figure(ctx, res["cons"], res["gen"], resolution)
    return res, {
        "figure": fig,
        "cons_total": totals(res["cons"], resolution),
        "gen_total": totals(res["gen"], resolution),
        "resolution": resolution,
    }


@router.get("/regions/{kato}")
async def region(
    kato: str, ctx: Annotated[Ctx, screen("region")], resolution: Resolution = "1h"
) -> Response:
    if kato not in REGIONS_BY_KATO:
        raise PageNotFound()
    series, view = await _group_page(ctx, "region", f"regions/{kato}", resolution)
    more = await ctx.api.many(
        subjects=ctx.api.get(f"{R}/subjects", region_kato=kato, limit=200, sort="name"),
        facilities=ctx.api.get(f"{R}/facilities", region_kato=kato, limit=200),
        alarms=ctx.api.get("/api/v1/monitoring/alarms", region_kato=kato, state="active", limit=20),
        quality=ctx.api.get(f"{M}/quality/regions/{kato}"),
    )
    return ctx.render(
        "region.html",
        title=ctx.region_name(kato),
        kato=kato,
        series=series,
        more=more,
        section="overview",
        **view,
    )


@router.get("/subjects/{bin}")
async def subject(
    bin: str, ctx: Annotated[Ctx, screen("subject")], resolution: Resolution = "1d"
) -> Response:
    subj = await ctx.api.result(ctx.api.get(f"{R}/subjects/{bin}"))
    if subj.state == "not_found" or subj.state == "invalid":
        raise PageNotFound()
    series, view = await _group_page(ctx, "subject", f"subjects/{bin}", resolution)
    more = await ctx.api.many(
        facilities=ctx.api.get(f"{R}/facilities", subject_bin=bin, limit=200),
        points=ctx.api.get(f"{R}/metering-points", subject_bin=bin, limit=500),
        compliance=ctx.api.get("/api/v1/ingest/compliance", subject_bin=bin),
        receipts=ctx.api.get("/api/v1/ingest/receipts", subject_bin=bin, limit=10),
        alarms=ctx.api.get("/api/v1/monitoring/alarms", subject_bin=bin, state="active", limit=20),
    )
    return ctx.render(
        "subject.html",
        title=ctx.name_of(subj.data) if subj.ok else bin,
        bin=bin,
        subj=subj,
        series=series,
        more=more,
        section="overview",
        **view,
    )


@router.get("/facilities/{fid}")
async def facility(
    fid: str, ctx: Annotated[Ctx, screen("facility")], resolution: Resolution = "1h"
) -> Response:
    fac = await ctx.api.result(ctx.api.get(f"{R}/facilities/{fid}"))
    if fac.state in ("not_found", "invalid"):
        raise PageNotFound()
    series, view = await _group_page(ctx, "facility", f"facilities/{fid}", resolution)
    more = await ctx.api.many(
        points=ctx.api.get(f"{R}/metering-points", facility_id=fid, limit=500),
        subject=ctx.api.get(f"{R}/subjects/{fac.data['subject_bin']}") if fac.ok else _none(),
        live=ctx.api.get(f"/api/v1/monitoring/facilities/{fid}"),
        alarms=ctx.api.get("/api/v1/monitoring/alarms", facility_id=fid, state="active", limit=20),
    )
    return ctx.render(
        "facility.html",
        title=ctx.name_of(fac.data) if fac.ok else fid,
        fac=fac,
        series=series,
        more=more,
        section="cabinet" if ctx.may("cabinet") else "overview",
        **view,
    )


async def _none() -> None:
    raise ApiError("not_found", 404, {})


def point_figure(
    ctx: Ctx, items: list[dict[str, Any]], quantity: str, resolution: str
) -> dict[str, Any] | None:
    if not items:
        return None
    L = ctx.lang
    unit = unit_of(quantity)
    name = quantity_name(L, quantity)
    xs = [i["ts"] for i in items]
    if resolution == "native":
        ys = [i.get("value") for i in items]
        traces = [
            charts.line(
                name, xs, ys, charts.PALETTE["valid"], mode="lines+markers", marker={"size": 3}
            )
        ]
        for q in ("estimated", "edited", "suspect"):
            sel = [i for i in items if i.get("quality") == q]
            if sel:
                traces.append(
                    {
                        "type": "scatter",
                        "mode": "markers",
                        "name": L.gettext(q),
                        "x": [charts.local_ts(i["ts"]) for i in sel],
                        "y": [i.get("value") for i in sel],
                        "marker": {
                            "color": charts.PALETTE[q],
                            "size": 9,
                            "symbol": charts.QUALITY_SYMBOL[q],
                            "line": {"width": 1, "color": "#fff"},
                        },
                    }
                )
    else:
        key = "sum" if adds_up(quantity) else "avg"
        ys = [i.get(key) for i in items]
        traces = [charts.bars(name, xs, ys, charts.PALETTE["valid"])]
        if not adds_up(quantity):
            traces = [
                charts.line(L.gettext("maximum"), xs, [i.get("max") for i in items], "#9bb7d4"),
                charts.line(name, xs, ys, charts.PALETTE["valid"]),
                charts.line(L.gettext("minimum"), xs, [i.get("min") for i in items], "#9bb7d4"),
            ]
    lay = charts.layout(L, y_title=L.unit(unit))
    if not adds_up(quantity):
        lay["yaxis"]["rangemode"] = "normal"
    if resolution in ("1d", "1mo"):
        lay["xaxis"]["tickformat"] = "%d.%m.%Y" if resolution == "1d" else "%m.%Y"
    return charts.figure(traces, lay)


@router.get("/points/{code}")
async def point(
    code: str,
    ctx: Annotated[Ctx, screen("point")],
    quantity: str | None = None,
    resolution: Annotated[str, Query(pattern="^(native|15m|30m|1h|1d|1mo)$")] = "native",
    to: str | None = None,
) -> Response:
    pt = await ctx.api.result(ctx.api.get(f"{R}/metering-points/by-code/{code}"))
    if pt.state in ("not_found", "invalid"):
        raise PageNotFound()
    if not pt.ok:
        return ctx.render("point.html", title=code, pt=pt, code=code, section="overview")
    p = pt.data
    quantity = quantity if quantity in p["quantities"] else p["quantities"][0]
    end = None
    if to:
        try:
            end = datetime.fromisoformat(to)
            end = end if end.tzinfo else end.replace(tzinfo=UTC)
        except ValueError:
            end = None
    w = window(POINT_WINDOWS[resolution], end)
    res = await ctx.api.many(
        readings=ctx.api.get(
            f"{M}/points/{code}/readings", quantity=quantity, resolution=resolution, **w
        ),
        devices=ctx.api.get(f"{R}/devices", point_id=p["id"], limit=20),
        installations=ctx.api.get(f"{R}/metering-points/{p['id']}/installations"),
        facility=ctx.api.get(f"{R}/facilities/{p['facility_id']}"),
        events=ctx.api.get(f"{M}/points/{code}/events", limit=50, **window(timedelta(days=7))),
        live=ctx.api.get(f"/api/v1/monitoring/points/{code}"),
        quality=ctx.api.get(f"{M}/quality/points/{code}"),
    )
    items = res["readings"].items
    return ctx.render(
        "point.html",
        title=p.get("name") or code,
        pt=pt,
        p=p,
        code=code,
        quantity=quantity,
        quantity_name=lambda q: quantity_name(ctx.lang, q),
        unit=unit_of(quantity),
        resolution=resolution,
        res=res,
        items=list(reversed(items))[:500],
        figure=point_figure(ctx, items, quantity, resolution),
        adds_up=adds_up(quantity),
        section="cabinet" if ctx.may("cabinet") else "overview",
    )


@router.get("/points/{code}/history")
async def history(
    code: str, ctx: Annotated[Ctx, screen("point")], quantity: str, ts: str
) -> Response:
    res = await ctx.api.many(
        history=ctx.api.get(f"{M}/points/{code}/readings/history", quantity=quantity, ts=ts),
        point=ctx.api.get(f"{R}/metering-points/by-code/{code}"),
    )
    if res["point"].state in ("not_found",) or res["history"].state == "not_found":
        raise PageNotFound()
    return ctx.render(
        "history.html",
        title=ctx._("Version history"),
        code=code,
        quantity=quantity,
        quantity_name=quantity_name(ctx.lang, quantity),
        unit=unit_of(quantity),
        ts=ts,
        res=res,
        section="cabinet" if ctx.may("cabinet") else "overview",
    )
