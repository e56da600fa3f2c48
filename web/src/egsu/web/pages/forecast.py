"""Forecasts and scenarios: forecast against actual with quantile bands; what-if scenarios."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import Response

from egsu.web import charts
from egsu.web.console import Ctx, screen
from egsu.web.pages.overview import forecast_traces

router = APIRouter(include_in_schema=False)


@router.get("/forecast")
async def forecast(
    ctx: Annotated[Ctx, screen("forecast")], region_kato: str | None = None
) -> Response:
    # whole hours of actuals (the hour still filling would show as a dip); the day-ahead
    # forecasts issued for the same week next to them, and the one for tomorrow
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    week = (hour - timedelta(days=7)).isoformat()
    scope = f"regions/{region_kato}" if region_kato else "country"
    res = await ctx.api.many(
        forecast=ctx.api.get(
            f"/api/v1/forecast/{scope}",
            quantity="active_import",
            horizon="day_ahead",
            resolution="1h",
            **{"from": week, "to": (hour + timedelta(days=2)).isoformat()},
        ),
        actual=ctx.api.get(
            f"/api/v1/measurements/{scope}/readings",
            quantity="active_import",
            resolution="1h",
            **{"from": week, "to": hour.isoformat()},
        ),
    )
    fig = None
    if res["forecast"].ok:
        act = res["actual"].items
        traces = [
            charts.line(
                ctx._("Actual consumption"),
                [i["ts"] for i in act],
                [(i.get("value") or 0) / 1000 for i in act],
                charts.PALETTE["consumption"],
            ),
            *forecast_traces(ctx, res["forecast"].data),
        ]
        fig = charts.figure(traces, charts.layout(ctx.lang, y_title=ctx.lang.unit("MW")))
    return ctx.render(
        "forecast.html",
        title=ctx._("Forecasts"),
        res=res,
        figure=fig,
        region_kato=region_kato or "",
    )
