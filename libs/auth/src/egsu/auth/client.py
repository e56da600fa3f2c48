"""Calls from one service to another with a client-credentials token of the caller's own client."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from egsu.core.errors import ServiceUnavailable
from egsu.core.settings import Settings


class ServiceToken:
    """A cached client-credentials access token, renewed shortly before it expires."""

    def __init__(
        self, token_url: str, client_id: str, client_secret: str, http: httpx.AsyncClient
    ) -> None:
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self._http = http
        self._token: str | None = None
        self._expires = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> str:
        async with self._lock:
            if self._token is None or time.monotonic() > self._expires - 30:
                try:
                    resp = await self._http.post(
                        self.token_url,
                        data={"grant_type": "client_credentials"},
                        auth=(self.client_id, self.client_secret),
                    )
                    resp.raise_for_status()
                except httpx.HTTPError as exc:
                    raise ServiceUnavailable(
                        f"cannot get a service token for {self.client_id}",
                        code="identity_unavailable",
                    ) from exc
                body = resp.json()
                self._token = body["access_token"]
                self._expires = time.monotonic() + float(body.get("expires_in", 60))
            return self._token


class _BearerAuth(httpx.Auth):
    def __init__(self, token: ServiceToken) -> None:
        self.token = token

    async def async_auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = f"Bearer {await self.token.get()}"
        yield request


def service_client(settings: Settings, service: str, *, timeout: float = 10.0) -> httpx.AsyncClient:
    """An HTTP client for another service's API, authenticated as this service's client."""
    if not (settings.client_id and settings.client_secret and settings.oidc_base_url):
        raise RuntimeError(
            "set EGSU_CLIENT_ID, EGSU_CLIENT_SECRET and EGSU_OIDC_ISSUER to call other services"
        )
    client = httpx.AsyncClient(base_url=settings.service_url(service), timeout=timeout)
    token = ServiceToken(
        f"{settings.oidc_base_url}/protocol/openid-connect/token",
        settings.client_id,
        settings.client_secret.get_secret_value(),
        client,  # the token request carries its own basic auth, so it does not recurse
    )
    client.auth = _BearerAuth(token)
    return client
