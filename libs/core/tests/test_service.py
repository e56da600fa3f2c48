"""The service skeleton: problem+json for every error, health, and declared access on every API route."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, Field

from egsu.core.errors import Conflict, FieldError, Unprocessable, field_name
from egsu.core.service import add_ready_check, create_service_app
from egsu.core.settings import Settings


class _Open:
    __egsu_access__ = {"public": True}

    async def __call__(self) -> None:
        return None


class _Ops:
    __egsu_access__ = {"roles": ["operator", "ministry"]}

    async def __call__(self) -> None:
        return None


class Item(BaseModel):
    name: str = Field(min_length=1)
    qty: int


def make_app() -> FastAPI:
    r = APIRouter(prefix="/api/v1/things")

    @r.post("", summary="Create")
    async def create(item: Item, _: Annotated[None, Depends(_Open())]) -> Item:
        if item.name == "dup":
            raise Conflict("a thing with this name exists", code="thing_exists")
        if item.name == "bad":
            raise Unprocessable(
                "qty must be even", errors=[FieldError("qty", "odd", "must be even")]
            )
        if item.name == "boom":
            raise RuntimeError("unexpected")
        return item

    @r.get("/secret", summary="Operators only")
    async def secret(_: Annotated[None, Depends(_Ops())]) -> dict[str, str]:
        return {"ok": "yes"}

    return create_service_app(
        settings=Settings(service_name="t"), title="t", description="t", routers=[r]
    )


@pytest.fixture
async def client() -> httpx.AsyncClient:
    app = make_app()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


async def test_validation_error_is_problem_naming_the_field(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/things", json={"name": "", "qty": "many"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["code"] == "validation_error"
    assert {e["field"] for e in body["errors"]} == {"name", "qty"}


async def test_domain_errors_keep_their_status_and_code(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/things", json={"name": "dup", "qty": 1})
    assert (r.status_code, r.json()["code"]) == (409, "thing_exists")
    r = await client.post("/api/v1/things", json={"name": "bad", "qty": 1})
    assert r.json()["errors"] == [{"field": "qty", "code": "odd", "message": "must be even"}]


async def test_unexpected_error_is_a_problem_without_internals(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/things", json={"name": "boom", "qty": 1})
    assert r.status_code == 500
    assert r.headers["content-type"] == "application/problem+json"
    assert "unexpected" not in r.text


async def test_unknown_route_is_problem(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/nothing")
    assert (r.status_code, r.json()["code"]) == (404, "not_found")


async def test_openapi_carries_declared_access(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["paths"]["/api/v1/things"]["post"]["x-egsu-public"] is True
    assert spec["paths"]["/api/v1/things/secret"]["get"]["x-egsu-roles"] == ["ministry", "operator"]


def test_a_route_without_declared_access_is_refused_at_start() -> None:
    r = APIRouter(prefix="/api/v1/x")

    @r.get("/open-by-accident")
    async def oops() -> dict[str, str]:
        return {}

    with pytest.raises(RuntimeError, match="open-by-accident"):
        create_service_app(settings=Settings(), title="x", description="x", routers=[r])


async def test_readyz_reports_failing_dependency() -> None:
    app = make_app()

    async def broken() -> None:
        raise ConnectionError("database down")

    async def fine() -> None:
        return None

    add_ready_check(app, "database", broken)
    add_ready_check(app, "bus", fine)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        assert (await c.get("/healthz")).status_code == 200
        r = await c.get("/readyz")
    assert r.status_code == 503
    assert r.json()["checks"]["bus"] == "ok"
    assert "database down" in r.json()["checks"]["database"]


async def test_metrics_count_requests_by_route(client: httpx.AsyncClient) -> None:
    await client.get("/api/v1/things/secret")
    text = (await client.get("/metrics")).text
    assert 'route="/api/v1/things/secret"' in text


def test_field_names_read_like_the_request() -> None:
    assert field_name(("body", "readings", 3, "ts")) == "readings[3].ts"
    assert field_name(("query", "limit")) == "limit"
