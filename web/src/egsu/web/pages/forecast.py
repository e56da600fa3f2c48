"""Forecasts and scenarios: forecast against actual with quantile bands; what-if scenarios."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from egsu.web import charts
from egsu.web.console import Ctx, check_csrf, screen
from egsu.web.gateway import ApiError
from egsu.web.pages.overview import forecast_traces

router = APIRouter(include_in_schema=False)
F = "/api/v1/forecast"
QUANTITIES = ("active_import", "heat_energy")


def _quantity(value: str | None) -> str:
    return value if value in QUANTITIES else "active_import"


async def _page(
    ctx: Ctx,
    region_kato: str | None,
    quantity: str,
    *,
    form: dict[str, str] | None = None,
    scenario: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    # whole hours of actuals (the hour still filling would show as a dip); the day-ahead
    # forecasts issued for the same week next to them, and the one for tomorrow
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    week = (hour - timedelta(days=7)).isoformat()
    scope = f"regions/{region_kato}" if region_kato else "country"
    res = await ctx.api.many(
        forecast=ctx.api.get(
            f"{F}/{scope}",
            quantity=quantity,
            horizon="day_ahead",
            resolution="1h",
            **{"from": week, "to": (hour + timedelta(days=2)).isoformat()},
        ),
        actual=ctx.api.get(
            f"/api/v1/measurements/{scope}/readings",
            quantity=quantity,
            resolution="1h",
            **{"from": week, "to": hour.isoformat()},
        ),
    )
    heat = quantity == "heat_energy"
    y_title = ctx.lang.unit("Gcal/h") if heat else ctx.lang.unit("MW")
    scale = 1.0 if heat else 1000.0
    fig = None
    if res["forecast"].ok:
        act = res["actual"].items
        traces = [
            charts.line(
                ctx._("Actual consumption"),
                [i["ts"] for i in act],
                [(i.get("value") or 0) / scale for i in act],
                charts.PALETTE["consumption"],
            ),
            *forecast_traces(ctx, res["forecast"].data, scale),
        ]
        fig = charts.figure(traces, charts.layout(ctx.lang, y_title=y_title))
    tomorrow = (datetime.now(UTC) + timedelta(hours=5) + timedelta(days=1)).date()
    return ctx.render(
        "forecast.html",
        status,
        title=ctx._("Forecasts"),
        res=res,
        figure=fig,
        region_kato=region_kato or "",
        quantity=quantity,
        form=form or {"day": tomorrow.isoformat(), "temperature_delta_c": "-10"},
        scenario=scenario,
        scenario_figure=_scenario_figure(ctx, scenario, y_title, scale) if scenario else None,
        scale=scale,
        errors=errors or {},
    )


@router.get("/forecast")
async def forecast(
    ctx: Annotated[Ctx, screen("forecast")],
    region_kato: str | None = None,
    quantity: str | None = None,
) -> Response:
    return await _page(ctx, region_kato, _quantity(quantity))


def _number(text: str | None) -> float | None:
    text = (text or "").replace(",", ".").replace("\u2212", "-").strip()
    return float(text) if text else None


@router.post("/forecast/scenario")
async def scenario(request: Request, ctx: Annotated[Ctx, screen("forecast.scenario")]) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_csrf(ctx, form.get("csrf"))
    quantity = _quantity(form.get("quantity"))
    region = form.get("region_kato") or None
    errors: dict[str, str] = {}
    body: dict[str, Any] = {"quantity": quantity, "regions": [region] if region else None}
    try:
        body["day"] = date.fromisoformat(form.get("day", "")).isoformat()
    except ValueError:
        errors["day"] = ctx._("Give a date.")
    for name in ("temperature_delta_c", "demand_growth_pct"):
        try:
            body[name] = _number(form.get(name)) or 0.0
        except ValueError:
            errors[name] = ctx._("Give a number.")
    body["outage_facility_ids"] = [
        x.strip() for x in form.get("outage_facility_ids", "").split(",") if x.strip()
    ]
    result = None
    if not errors:
        try:
            result = await ctx.api.post(f"{F}/scenarios", body)
        except ApiError as exc:
            if exc.state not in ("invalid", "not_found", "conflict"):
                raise
            if exc.state == "invalid":
                errors = {
                    k.split(".")[0].split("[")[0]: ctx._("This value is not accepted.")
                    for k in exc.field_errors()
                } or {"day": ctx._("This value is not accepted.")}
            else:
                errors = {"day": ctx._("There is no forecast for this day to start from yet.")}
    return await _page(
        ctx,
        region,
        quantity,
        form=form,
        scenario=result,
        errors=errors,
        status=422 if errors else 200,
    )


def _scenario_figure(
    ctx: Ctx, result: dict[str, Any], y_title: str, scale: float
) -> dict[str, Any]:
    """The baseline and the scenario (with its 10–90 % band) of the first affected region, or of
    the country when the scenario applies to all of it."""
    regions = result.get("regions") or []
    affected = [r for r in regions if r.get("affected")]
    node = affected[0] if len(affected) == 1 else result["country"]
    xs = result["ts"]

    def q(series: dict[str, list[float]], key: str) -> list[float]:
        return [(v or 0) / scale for v in series[key]]

    traces = [
        charts.line(
            "p90",
            xs,
            q(node["scenario"], "p90"),
            "rgba(0,0,0,0)",
            showlegend=False,
            hoverinfo="skip",
        ),
        charts.line(
            ctx._("Scenario band 10–90 %"),
            xs,
            q(node["scenario"], "p10"),
            "rgba(0,0,0,0)",
            fill="tonexty",
            fillcolor=charts.PALETTE["band"],
        ),
        charts.line(
            ctx._("Baseline forecast"),
            xs,
            q(node["baseline"], "p50"),
            charts.PALETTE["consumption"],
        ),
        charts.line(
            ctx._("Scenario"),
            xs,
            q(node["scenario"], "p50"),
            charts.PALETTE["forecast"],
            line={"color": charts.PALETTE["forecast"], "dash": "dash", "width": 2},
        ),
    ]
    return charts.figure(traces, charts.layout(ctx.lang, y_title=y_title))
