"""Corrections of readings: propose, review, confirm or reject (the author cannot confirm)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from egsu.web.console import Ctx, PageNotFound, check_csrf, screen
from egsu.web.gateway import ApiError

router = APIRouter(include_in_schema=False)
C = "/api/v1/measurements/corrections"


@router.get("/corrections")
async def corrections(
    ctx: Annotated[Ctx, screen("corrections")], status: str = "pending", cursor: str | None = None
) -> Response:
    res = await ctx.api.many(
        items=ctx.api.get(C, status=status if status != "all" else None, limit=100, cursor=cursor)
    )
    return ctx.render("corrections.html", title=ctx._("Corrections"), res=res, status=status)


@router.get("/corrections/new")
async def new(
    ctx: Annotated[Ctx, screen("corrections")],
    point: str = "",
    quantity: str = "",
    ts: str = "",
    value: str = "",
) -> Response:
    res = await ctx.api.many(reasons=ctx.api.get(f"{C}/reasons"))
    return ctx.render(
        "correction_new.html",
        title=ctx._("Propose a correction"),
        res=res,
        values={"point": point, "quantity": quantity, "ts": ts, "value": value},
        errors={},
        section="corrections",
    )


@router.post("/corrections/new")
async def create(request: Request, ctx: Annotated[Ctx, screen("corrections")]) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_csrf(ctx, form.get("csrf"))
    errors: dict[str, str] = {}
    try:
        ts = datetime.fromisoformat(form.get("ts", ""))
        if ts.tzinfo is None:
            raise ValueError
    except ValueError:
        errors["ts"] = ctx._(
            "Give the interval end with its offset, e.g. 2026-01-15T10:15:00+05:00."
        )
        ts = None
    try:
        value = float(form.get("value", "").replace(",", ".").replace(" ", ""))
    except ValueError:
        errors["value"] = ctx._("Give a number.")
        value = None
    if not errors and ts is not None:
        # the period is the interval that ends at ts (its start is exclusive)
        minutes = await _interval_min(ctx, form.get("point", ""))
        body = {
            "point": form.get("point", ""),
            "quantity": form.get("quantity", ""),
            "from": (ts - timedelta(minutes=minutes)).isoformat(),
            "to": ts.isoformat(),
            "values": [{"ts": ts.isoformat(), "value": value}],
            "reason_code": form.get("reason_code", ""),
            "comment": form.get("comment", ""),
        }
        try:
            created = await ctx.api.post(C, body)
            return RedirectResponse(f"/corrections/{created['id']}", status_code=303)
        except ApiError as exc:
            if exc.state not in ("invalid", "not_found"):
                raise
            for k in exc.field_errors() or {"comment": ""}:
                key = k.split(".")[0].split("[")[0]
                errors[{"from": "ts", "to": "ts", "values": "value"}.get(key, key)] = ctx._(
                    "This value is not accepted."
                )
    res = await ctx.api.many(reasons=ctx.api.get(f"{C}/reasons"))
    return ctx.render(
        "correction_new.html",
        422,
        title=ctx._("Propose a correction"),
        res=res,
        values=form,
        errors=errors,
        section="corrections",
    )


async def _interval_min(ctx: Ctx, code: str) -> int:
    """The point's interval from the registry; a minute when it cannot be told (the API then
    judges the point itself)."""
    try:
        found = await ctx.api.get("/api/v1/registry/metering-points", code=code, limit=1)
    except ApiError:
        return 1
    items = found.get("items") or [] if isinstance(found, dict) else []
    return int(items[0].get("interval_min") or 1) if items else 1


@router.get("/corrections/{cid}")
async def correction(cid: str, ctx: Annotated[Ctx, screen("corrections")]) -> Response:
    res = await ctx.api.many(item=ctx.api.get(f"{C}/{cid}"), reasons=ctx.api.get(f"{C}/reasons"))
    if res["item"].state == "not_found":
        raise PageNotFound()
    return ctx.render(
        "correction.html",
        title=ctx._("Correction"),
        res=res,
        cid=cid,
        reasons={r["code"]: r for r in res["reasons"].items},
        section="corrections",
    )


@router.post("/corrections/{cid}/{decision}")
async def decide(
    cid: str, decision: str, request: Request, ctx: Annotated[Ctx, screen("corrections.review")]
) -> Response:
    form = await request.form()
    check_csrf(ctx, str(form.get("csrf", "")))
    if decision not in ("confirm", "reject"):
        raise PageNotFound()
    comment = str(form.get("comment", "")).strip() or None
    try:
        await ctx.api.post(f"{C}/{cid}/{decision}", {"comment": comment})
    except ApiError as exc:
        if exc.state == "not_found":
            raise PageNotFound() from None
        if exc.state not in ("invalid", "forbidden"):
            raise
        return RedirectResponse(f"/corrections/{cid}?refused={exc.code}", status_code=303)
    return RedirectResponse(f"/corrections/{cid}", status_code=303)
