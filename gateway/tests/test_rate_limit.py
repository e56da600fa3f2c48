"""The gateway limits each client's rate and says so with a 429 problem."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest

from egsu.core.settings import get_settings
from egsu.gateway.app import create_app
from egsu.gateway.config import GatewaySettings
from egsu.testing.stack import Stack
from egsu.testing.world import World

pytestmark = pytest.mark.stack


@pytest.fixture
async def limited_gateway(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[httpx.AsyncClient]:
    """A second gateway in this process, in front of the same services, with tight limits."""
    monkeypatch.setenv("EGSU_RATE_LIMIT", "5/minute")
    monkeypatch.setenv("EGSU_RATE_LIMIT_ANONYMOUS", "3/minute")
    monkeypatch.setenv("EGSU_OIDC_ISSUER", stack.issuer)
    monkeypatch.setenv("EGSU_OIDC_INTERNAL_URL", f"{stack.service_url('realm')}/realms/egsu")
    monkeypatch.setenv("EGSU_SERVICES", json.dumps({"registry": stack.service_url("registry")}))
    get_settings.cache_clear()
    app = create_app()
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
                yield c
    finally:
        get_settings.cache_clear()


async def test_too_many_requests_is_429_with_retry_after(
    stack: Stack, limited_gateway: httpx.AsyncClient
) -> None:
    statuses = [
        (await limited_gateway.get("/api/v1/registry/regions")).status_code for _ in range(5)
    ]
    assert statuses == [200, 200, 200, 429, 429]
    r = await limited_gateway.get("/api/v1/registry/regions")
    assert (
        r.headers["content-type"] == "application/problem+json"
        and r.json()["code"] == "rate_limited"
    )
    assert int(r.headers["retry-after"]) > 0
    # an authenticated client has its own, larger budget
    token = {"Authorization": f"Bearer {stack.token('operator')}"}
    ok = [
        (await limited_gateway.get("/api/v1/registry/subjects", headers=token)).status_code
        for _ in range(6)
    ]
    assert ok[:5] == [200] * 5 and ok[5] == 429
    assert get_settings(GatewaySettings).rate_limit == "5/minute"


def client_token(stack: Stack, client_id: str, secret: str) -> dict[str, str]:
    r = httpx.post(
        stack.token_url,
        data={"grant_type": "client_credentials"},
        auth=(client_id, secret),
    )
    r.raise_for_status()
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_an_integration_client_has_its_own_budget(
    stack: Stack, limited_gateway: httpx.AsyncClient
) -> None:
    world = World(stack)
    made = []
    with stack.sync_client("ministry") as c:
        for name in ("АСКУЭ", "SCADA"):
            r = c.post(
                "/api/v1/registry/clients",
                json={"kind": "subject", "subject_bin": world.bin, "name": name},
            )
            assert r.status_code == 201, r.text
            made.append(r.json())
    first = [client_token(stack, m["client_id"], m["client_secret"]) for m in made]
    again = client_token(stack, made[0]["client_id"], made[0]["client_secret"])
    url = f"/api/v1/registry/subjects/{world.bin}"
    one = [(await limited_gateway.get(url, headers=first[0])).status_code for _ in range(3)]
    two = [(await limited_gateway.get(url, headers=again)).status_code for _ in range(3)]
    assert one + two == [200] * 5 + [429]  # a new token of the same client shares its budget
    assert (await limited_gateway.get(url, headers=first[1])).status_code == 200
