"""The open-data portal: the public catalogue of datasets, previews, charts and downloads."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from egsu.web import charts
from egsu.web.console import Anyone, Ctx, PageNotFound
from egsu.web.gateway import ApiError

router = APIRouter(include_in_schema=False)
OPEN = "/api/v1/open"


def tr(ctx: Ctx, value: Any) -> str:
    """A text the API gives in ru/kk/en, in the page's language."""
    if isinstance(value, dict):
        return str(value.get(ctx.lang.code) or value.get("ru") or "")
    return "" if value is None else str(value)


@router.get("/open")
async def catalogue(ctx: Anyone) -> Response:
    res = await ctx.api.many(datasets=ctx.api.get(f"{OPEN}/datasets"))
    return ctx.render(
        "open.html", title=ctx._("Open data"), res=res, tr=lambda v: tr(ctx, v), section="open"
    )


def preview_figure(ctx: Ctx, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Totals per date and measure of the rows shown (the withheld cells count as nothing)."""
    value_key = next((k for k in (rows[0] if rows else {}) if k.startswith("value")), None)
    if not rows or "date" not in rows[0] or value_key is None:
        return None
    sums: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in rows:
        if r.get(value_key) is not None:
            sums[str(r.get("measure") or value_key)][r["date"]] += float(r[value_key])
    names = {"generation": ctx._("Generation"), "consumption": ctx._("Consumption")}
    colours = [charts.PALETTE["generation"], charts.PALETTE["consumption"], "#8e6cc4", "#c28a00"]
    traces = [
        charts.bars(names.get(m, m), sorted(d), [d[k] for k in sorted(d)], colours[i % 4])
        for i, (m, d) in enumerate(sorted(sums.items()))
    ]
    if not traces:
        return None
    lay = charts.layout(ctx.lang, y_title=ctx.lang.unit("MWh") if "mwh" in value_key else "")
    lay["xaxis"]["tickformat"] = "%d.%m.%Y"
    return charts.figure(traces, lay)


@router.get("/open/{name}")
async def dataset(name: str, ctx: Anyone) -> Response:
    res = await ctx.api.many(
        meta=ctx.api.get(f"{OPEN}/datasets/{name}/meta"),
        rows=ctx.api.get(f"{OPEN}/datasets/{name}", count=500),
    )
    if res["meta"].state in ("not_found", "invalid"):
        raise PageNotFound()
    rows = res["rows"].data if res["rows"].ok else None
    if isinstance(rows, dict):
        rows = rows.get("items") or rows.get("data") or []
    rows = rows or []
    return ctx.render(
        "open_dataset.html",
        title=tr(ctx, res["meta"].data.get("title")) if res["meta"].ok else ctx._("Open data"),
        res=res,
        name=name,
        rows=rows[:50],
        total=len(rows),
        figure=preview_figure(ctx, rows),
        tr=lambda v: tr(ctx, v),
        section="open",
    )


@router.get("/open/{name}/download")
async def download(
    name: str, ctx: Anyone, format: str = Query("csv", pattern="^(csv|json)$")
) -> Response:
    resp = await ctx.api.request("GET", f"{OPEN}/datasets/{name}", params={"format": format})
    if resp.status_code == 404:
        raise PageNotFound()
    if resp.status_code >= 400:
        raise ApiError("error", resp.status_code, {})
    ctype = "text/csv; charset=utf-8" if format == "csv" else "application/json"
    return Response(
        resp.content,
        media_type=ctype,
        headers={"Content-Disposition": f'attachment; filename="{name}.{format}"'},
    )
