"""Talking to the System as a subject's metering system would: ``egsu-client`` with the demo users."""

from __future__ import annotations

import httpx

from egsu.client import EgsuClient, Password, Retry

DEMO_PASSWORD = "demo"  # noqa: S105 - development realm


class IngestUnavailable(RuntimeError):
    """The System has no ingest API (yet), or it kept refusing for longer than we wait."""


def pool() -> httpx.AsyncClient:
    """One connection pool for every user the simulator posts as."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(120.0, connect=10.0), limits=httpx.Limits(max_connections=32)
    )


def api(
    http: httpx.AsyncClient,
    gateway: str,
    username: str,
    password: str = DEMO_PASSWORD,
    *,
    max_wait: float = 600.0,
    base_url: str | None = None,
) -> EgsuClient:
    """A client logged in as ``username`` through the gateway's realm; ``base_url`` sends the API
    calls elsewhere (a service's own port) while the token still comes from the gateway."""
    gw = EgsuClient(gateway, http=http)
    return EgsuClient(
        base_url or gateway,
        Password(username, password),
        token_url=gw.token_url,
        retry=Retry(max_wait=max_wait),
        http=http,
    )
