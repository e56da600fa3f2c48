"""Alarms: the live list (server-sent events), filters, acknowledgement with a comment, history."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated
from urllib.parse import urlencode

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from egsu.contracts.regions import REGIONS
from egsu.web.console import Ctx, Denied, PageNotFound, check_csrf, screen
from egsu.web.gateway import ApiError
from egsu.web.i18n import N_

router = APIRouter(include_in_schema=False)
MON = "/api/v1/monitoring"
# the kinds of monitoring's alarm rules, for the filter (labels translated when shown)
KINDS = {
    "band": N_("Outside the band around nominal (voltage, frequency)"),
    "threshold": N_("Above or below a threshold"),
    "rate_of_change": N_("Changing too fast"),
    "above_norm": N_("Consumption above the norm"),
    "anomaly": N_("Unusual for the point"),
    "event": N_("Meter and SCADA events"),
    "comm_loss": N_("Point not reporting"),
    "system_comm_loss": N_("Whole system not reporting"),
    "verification_overdue": N_("Verification overdue"),
    "submission_overdue": N_("Submission overdue"),
}


@router.get("/alarms")
async def alarms(
    ctx: Annotated[Ctx, screen("alarms")],
    state: str = "active",
    severity: str | None = None,
    region_kato: str | None = None,
    kind: str | None = None,
    cursor: str | None = None,
) -> Response:
    state = state if state in ("active", "acknowledged", "cleared", "closed", "all") else "active"
    kind = kind if kind in KINDS else None
    res = await ctx.api.many(
        alarms=ctx.api.get(
            f"{MON}/alarms",
            state=state,
            severity=severity or None,
            region_kato=region_kato or None,
            kind=kind,
            limit=100,
            cursor=cursor,
        ),
    )
    filters = {"state": state, "severity": severity, "region_kato": region_kato, "kind": kind}
    return ctx.render(
        "alarms.html",
        title=ctx._("Alarms"),
        res=res,
        state=state,
        severity=severity or "",
        region_kato=region_kato or "",
        kind=kind or "",
        kinds=[(k, ctx._(label)) for k, label in KINDS.items()],
        next_base="/alarms?" + urlencode({k: v for k, v in filters.items() if v}),
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
        k: v
        for k, v in request.query_params.items()
        if k in ("severity", "region_kato", "kind") and v
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
