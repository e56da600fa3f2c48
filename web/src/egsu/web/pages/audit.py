"""The audit journal: search it and verify its chain (auditor, ministry)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter
from fastapi.responses import Response

from egsu.web.console import Ctx, screen
from egsu.web.i18n import KZ

router = APIRouter(include_in_schema=False)
A = "/api/v1/audit"
KINDS = ("access", "auth", "change", "control", "security", "abnormal")
OUTCOMES = ("success", "denied", "failure")


def _day(value: str | None, *, end: bool = False) -> str | None:
    """A local date from the form as the start (or the end) of that day, with its offset."""
    if not value:
        return None
    try:
        d = datetime.fromisoformat(value).date()
    except ValueError:
        return None
    moment = datetime.combine(d, time(0), KZ) + (timedelta(days=1) if end else timedelta())
    return moment.isoformat()


@router.get("/audit")
async def audit(
    ctx: Annotated[Ctx, screen("audit")],
    actor: str | None = None,
    action: str | None = None,
    object: str | None = None,
    kind: str | None = None,
    outcome: str | None = None,
    day_from: str | None = None,
    day_to: str | None = None,
    cursor: str | None = None,
    verify: int = 0,
) -> Response:
    filters = {
        "actor": actor or None,
        "action": action or None,
        "object": object or None,
        "kind": kind if kind in KINDS else None,
        "outcome": outcome if outcome in OUTCOMES else None,
        "from": _day(day_from),
        "to": _day(day_to, end=True),
    }
    calls = {"entries": ctx.api.get(f"{A}/entries", limit=50, cursor=cursor, **filters)}
    if verify:
        calls["verify"] = ctx.api.get(f"{A}/verify")
    res = await ctx.api.many(**calls)
    form = {
        "actor": actor or "",
        "action": action or "",
        "object": object or "",
        "kind": kind or "",
        "outcome": outcome or "",
        "day_from": day_from or "",
        "day_to": day_to or "",
    }
    return ctx.render(
        "audit.html",
        title=ctx._("Audit journal"),
        res=res,
        form=form,
        query=urlencode({k: v for k, v in form.items() if v}),
        kinds=KINDS,
        outcomes=OUTCOMES,
        verify=bool(verify),
    )
