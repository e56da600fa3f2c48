"""The service skeleton starts with the System's conventions."""

from __future__ import annotations

import httpx

from egsu.forecast.app import create_app


async def test_the_app_answers_health_and_documents_itself() -> None:
    transport = httpx.ASGITransport(app=create_app())  # no lifespan: health needs no bus
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        document = (await client.get("/openapi.json")).json()
    assert document["info"]["title"] == "EGSU TEK forecast"
