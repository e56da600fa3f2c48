"""The open-data portal: the public catalogue of datasets, previews and downloads (no login)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from egsu.web.console import Anyone, PageNotFound

router = APIRouter(include_in_schema=False)
OPEN = "/api/v1/open"


@router.get("/open")
async def catalogue(ctx: Anyone) -> Response:
    res = await ctx.api.many(datasets=ctx.api.get(f"{OPEN}/datasets"))
    return ctx.render("open.html", title=ctx._("Open data"), res=res, section="open")


@router.get("/open/{dataset}")
async def dataset(dataset: str, ctx: Anyone) -> Response:
    res = await ctx.api.many(
        meta=ctx.api.get(f"{OPEN}/datasets/{dataset}"),
    )
    if res["meta"].state == "not_found":
        raise PageNotFound()
    return ctx.render("open_dataset.html", title=ctx._("Open data"), res=res, dataset=dataset)
