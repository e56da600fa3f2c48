"""The audit journal: search it and verify its chain (auditor, ministry)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import Response

from egsu.web.console import Ctx, screen

router = APIRouter(include_in_schema=False)
A = "/api/v1/audit"


@router.get("/audit")
async def audit(
    ctx: Annotated[Ctx, screen("audit")],
    q: str | None = None,
    kind: str | None = None,
    actor: str | None = None,
    cursor: str | None = None,
    verify: int = 0,
) -> Response:
    calls = {
        "entries": ctx.api.get(
            f"{A}/entries",
            q=q or None,
            kind=kind or None,
            actor=actor or None,
            limit=50,
            cursor=cursor,
        )
    }
    if verify:
        calls["verify"] = ctx.api.get(f"{A}/verify")
    res = await ctx.api.many(**calls)
    return ctx.render(
        "audit.html",
        title=ctx._("Audit"),
        res=res,
        q=q or "",
        kind=kind or "",
        actor=actor or "",
        verify=bool(verify),
    )
