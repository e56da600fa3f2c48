"""Talking to the System as a subject's metering system would: tokens, retries, idempotent posts."""

from __future__ import annotations

import asyncio
import email.utils
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger("egsu.simulator")
CLIENT_ID = "egsu-cli"
RETRY_STATUS = {429, 502, 503, 504}


class IngestUnavailable(RuntimeError):
    """The System has no ingest API (yet), or it kept refusing for longer than we wait."""


class Refused(RuntimeError):
    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        super().__init__(
            f"{response.request.method} {response.request.url.path}: {response.status_code} {response.text[:300]}"
        )


@dataclass
class Token:
    """An access token of one user of the realm, renewed shortly before it expires."""

    gateway: str
    username: str
    password: str = "demo"  # noqa: S105 - development realm
    realm: str = "egsu"
    _value: str | None = None
    _expires: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def url(self) -> str:
        return f"{self.gateway.rstrip('/')}/realms/{self.realm}/protocol/openid-connect/token"

    async def get(self, http: httpx.AsyncClient, *, renew: bool = False) -> str:
        async with self._lock:
            if renew or self._value is None or time.monotonic() > self._expires - 30:
                body = {"grant_type": "password", "client_id": CLIENT_ID,
                        "username": self.username, "password": self.password}  # fmt: skip
                r = await send(http, "POST", self.url, data=body, max_wait=120)
                if r.status_code != 200:
                    raise Refused(r)
                data = r.json()
                self._value = str(data["access_token"])
                self._expires = time.monotonic() + float(data.get("expires_in", 300))
            return self._value


def retry_after(r: httpx.Response | None, attempt: int) -> float:
    """Seconds to wait before the next attempt: the server's Retry-After, else exponential."""
    if r is not None and (value := r.headers.get("retry-after")):
        try:
            return max(0.0, min(float(value), 120.0))
        except ValueError:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, min(when.timestamp() - time.time(), 120.0))
    return min(0.25 * 2**attempt, 15.0) * (0.75 + 0.5 * random.random())


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    token: Token | None = None,
    max_wait: float = 600.0,
    headers: dict[str, str] | None = None,
    **kw: Any,
) -> httpx.Response:
    """One request, repeated unchanged (same headers, so the same Idempotency-Key) while the
    server answers 429/502/503/504 or cannot be reached, for at most ``max_wait`` seconds."""
    deadline = time.monotonic() + max_wait
    attempt = 0
    renewed = False
    while True:
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {await token.get(http)}"
        r: httpx.Response | None = None
        try:
            r = await http.request(method, url, headers=h, **kw)
        except httpx.TransportError as exc:
            log.debug("%s %s: %s", method, url, exc)
        else:
            if r.status_code == 401 and token is not None and not renewed:
                await token.get(http, renew=True)
                renewed = True
                continue
            if r.status_code not in RETRY_STATUS:
                return r
        wait = retry_after(r, attempt)
        attempt += 1
        if time.monotonic() + wait > deadline:
            if r is not None:
                return r
            raise IngestUnavailable(f"{method} {url}: no answer for {max_wait:.0f} s")
        if attempt in (1, 5, 20):
            log.warning(
                "%s %s: %s, retrying in %.1f s",
                method,
                url,
                r.status_code if r is not None else "unreachable",
                wait,
            )
        await asyncio.sleep(wait)
