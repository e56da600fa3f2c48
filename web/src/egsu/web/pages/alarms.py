"""Alarms: the live list (server-sent events), filters, acknowledgement with a comment, history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from egsu.contracts.regions import REGIONS
from egsu.web.console import Ctx, Denied, PageNotFound, check_csrf, screen
from egsu.web.gateway import ApiError

router = APIRouter(include_in_schema=False)
MON = "/api/v1/monitoring"


@router.get("/alarms")
async def alarms(
    ctx: Annotated[Ctx, screen("alarms")],
    state: str = "active",
    severity: str | None = None,
    region_kato: str | None = None,
    cursor: str | None = None,
) -> Response:
    state = state if state in ("active", "acknowledged", "cleared", "closed", "all") else "active"
    res = await ctx.api.many(
        alarms=ctx.api.get(
            f"{MON}/alarms",
            state=state,
            severity=severity or None,
            region_kato=region_kato or None,
            limit=100,
            cursor=cursor,
        ),
    )
    return ctx.render(
        "alarms.html",
        title=ctx._("Alarms"),
        res=res,
        state=state,
        severity=severity or "",
        region_kato=region_kato or "",
        regions_map={r.kato: r.name(ctx.lang.code) for r in REGIONS},
    )


@router.get("/alarms/stream")
async def stream(request: Request, ctx: Annotated[Ctx, screen("alarms")]) -> Response:
    """The monitoring service's alarm events, passed on to the browser as they come."""
    token = await ctx.api.token()
    http = request.app.state.http
    headers = {"Accept": "text/event-stream", "Authorization": f"Bearer {token}"}
    if request.headers.get("last-event-id"):
        headers["Last-Event-ID"] = request.headers["last-event-id"]
    params = {
        k: v for k, v in request.query_params.items() if k in ("severity", "region_kato") and v
    }
    req = http.build_request(
        "GET", f"{MON}/alarms/stream", headers=headers, params=params, timeout=None
    )
    try:
        resp = await http.send(req, stream=True)
    except httpx.HTTPError:
        return Response("event: unavailable\ndata: {}\n\n", media_type="text/event-stream")
    if resp.status_code != 200:
        await resp.aclose()
        return Response("event: unavailable\ndata: {}\n\n", media_type="text/event-stream")

    async def body() -> AsyncIterator[bytes]:
        try:
            async for chunk in resp.aiter_raw():
                yield chunk
        finally:
            await resp.aclose()

    return StreamingResponse(
        body(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


@router.get("/alarms/{aid}")
async def alarm(aid: str, ctx: Annotated[Ctx, screen("alarms")]) -> Response:
    res = await ctx.api.many(
        alarm=ctx.api.get(f"{MON}/alarms/{aid}"),
        history=ctx.api.get(f"{MON}/alarms/{aid}/history"),
    )
    if res["alarm"].state == "not_found":
        raise PageNotFound()
    return ctx.render("alarm.html", title=ctx._("Alarm"), res=res, aid=aid, section="alarms")


@router.post("/alarms/{aid}/{action}")
async def act(
    aid: str, action: str, request: Request, ctx: Annotated[Ctx, screen("alarms.act")]
) -> Response:
    form = await request.form()
    check_csrf(ctx, str(form.get("csrf", "")))
    if action not in ("acknowledge", "comments", "clear", "close"):
        raise PageNotFound()
    if action in ("clear", "close") and not ctx.may("alarms.control"):
        raise Denied("alarms.control")
    comment = str(form.get("comment", "")).strip() or None
    try:
        await ctx.api.post(f"{MON}/alarms/{aid}/{action}", {"comment": comment})
    except ApiError as exc:
        if exc.state == "not_found":
            raise PageNotFound() from None
        if exc.state not in ("invalid", "forbidden"):
            raise
    return RedirectResponse(f"/alarms/{aid}", status_code=303)
