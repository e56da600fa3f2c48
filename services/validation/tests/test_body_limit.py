"""Request bodies over the limit are refused before they are read into memory."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, Request

from egsu.core.errors import install_error_handlers
from egsu.validation.app import BodyLimit


def _app(limit: int) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    app.add_middleware(BodyLimit, limit=limit)  # type: ignore[arg-type]
    return app


async def test_declared_and_streamed_bodies_over_the_limit() -> None:
    transport = httpx.ASGITransport(app=_app(1000))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        assert (await c.post("/echo", content=b"x" * 1000)).json() == {"size": 1000}
        declared = await c.post("/echo", content=b"x" * 1001)
        assert declared.status_code == 413 and declared.json()["code"] == "payload_too_large"

        async def chunks():  # no Content-Length: counted as it arrives
            for _ in range(10):
                yield b"x" * 200

        streamed = await c.post("/echo", content=chunks())
        assert streamed.status_code == 413
