"""Reports: order one (kind, level, scope, period, format), list them and download issued ones."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from egsu.web.console import Ctx, PageNotFound, check_csrf, screen
from egsu.web.gateway import ApiError

router = APIRouter(include_in_schema=False)
REP = "/api/v1/reports"


async def _page(ctx: Ctx, errors: dict[str, str] | None = None, status: int = 200) -> Response:
    res = await ctx.api.many(kinds=ctx.api.get(f"{REP}/kinds"), items=ctx.api.get(REP, limit=50))
    kinds = {k["kind"]: k for k in res["kinds"].items}
    today = date.today()
    return ctx.render(
        "reports.html",
        status,
        title=ctx._("Reports"),
        res=res,
        errors=errors or {},
        kinds=kinds,
        default_from=(today - timedelta(days=1)).isoformat(),
        default_to=(today - timedelta(days=1)).isoformat(),
    )


@router.get("/reports")
async def reports(ctx: Annotated[Ctx, screen("reports")]) -> Response:
    return await _page(ctx)


@router.post("/reports")
async def order(request: Request, ctx: Annotated[Ctx, screen("reports.order")]) -> Response:
    form = {k: str(v) for k, v in (await request.form()).items()}
    check_csrf(ctx, form.get("csrf"))
    level = form.get("level", "")
    if level == "regional":
        scope = form.get("region_kato") or None
    elif level == "local":
        scope = form.get("scope") or None
        if ctx.session is not None and not ctx.may("overview"):
            scope = scope or ctx.session.bin  # a subject's own reports
    else:
        scope = None
    body = {
        "kind": form.get("kind", ""),
        "level": level,
        "scope": scope,
        "period": {"from": form.get("from", ""), "to": form.get("to", "")},
        "format": form.get("format", "xlsx"),
        "language": ctx.lang.code,
    }
    try:
        await ctx.api.post(REP, body)
    except ApiError as exc:
        if exc.state != "invalid":
            raise
        errors = {
            k.split(".")[-1]: ctx._("This value is not accepted.") for k in exc.field_errors()
        } or {"kind": ctx._("This report cannot be made for this choice.")}
        return await _page(ctx, errors, 422)
    return RedirectResponse("/reports?ordered=1", status_code=303)


@router.get("/reports/{rid}/download")
async def download(rid: str, ctx: Annotated[Ctx, screen("reports")]) -> Response:
    resp = await ctx.api.request("GET", f"{REP}/{rid}/download")
    if resp.status_code == 404:
        raise PageNotFound()
    if resp.status_code >= 400:
        raise ApiError("error", resp.status_code, {})
    headers = {
        k: v
        for k, v in resp.headers.items()
        if k.lower() in ("content-type", "content-disposition", "x-content-sha256")
    }
    return Response(resp.content, headers=headers)
