"""Access tokens from the realm's token endpoint, cached and renewed shortly before they expire.

Three grants: :class:`ClientCredentials` (an integration client with its secret),
:class:`PrivateKeyJwt` (the same grant, the client proving itself with an RFC 7523 assertion
signed by its NCA RK key) and :class:`Password` (people, scripts and the demo). :class:`Bearer`
passes a token obtained elsewhere.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from egsu.client.errors import ApiError
from egsu.client.keys import CLIENT_ASSERTION_TYPE, SigningKey

# (token_url, form, basic auth) -> the token endpoint's JSON; retries and errors are the client's
TokenFetch = Callable[[str, dict[str, str], tuple[str, str] | None], Awaitable[dict[str, Any]]]

PUBLIC_CLIENT = "egsu-cli"  # the realm's public client for people and scripts


class Auth:
    """Something that gives the bearer token of the next request."""

    token_url: str | None = None

    async def token(
        self, fetch: TokenFetch, token_url: str, *, renew: bool = False, stale: str | None = None
    ) -> str:
        """The current token; with ``renew`` a new one, unless ``stale`` (the token a refused
        request carried) was already replaced by a concurrent renewal."""
        raise NotImplementedError


class Bearer(Auth):
    """A token obtained elsewhere, used as it is (never renewed)."""

    def __init__(self, access_token: str) -> None:
        self.access_token = access_token

    async def token(
        self, fetch: TokenFetch, token_url: str, *, renew: bool = False, stale: str | None = None
    ) -> str:
        return self.access_token


class TokenGrant(Auth):
    """An OAuth 2.0 grant whose access token is cached until shortly before it expires."""

    def __init__(self, *, token_url: str | None = None) -> None:
        self.token_url = token_url
        self._access: str | None = None
        self._refresh: str | None = None
        self._expires = 0.0
        self._refresh_expires = 0.0
        self._lock = asyncio.Lock()

    def grant(self, token_url: str) -> tuple[dict[str, str], tuple[str, str] | None]:
        """The token request's form and its HTTP basic credentials, if any."""
        raise NotImplementedError

    @property
    def expires_in(self) -> float:
        """Seconds the cached token still has (0 when there is none)."""
        return max(0.0, self._expires - time.monotonic()) if self._access else 0.0

    async def token(
        self, fetch: TokenFetch, token_url: str, *, renew: bool = False, stale: str | None = None
    ) -> str:
        url = self.token_url or token_url
        async with self._lock:
            now = time.monotonic()
            renew = renew and (stale is None or stale == self._access)
            if renew or self._access is None or now >= self._expires:
                body: dict[str, Any] | None = None
                if self._refresh and now < self._refresh_expires:
                    form, basic = self.grant(url)
                    form = {k: v for k, v in form.items() if k in ("client_id", "client_secret")}
                    form |= {"grant_type": "refresh_token", "refresh_token": self._refresh}
                    try:
                        body = await fetch(url, form, basic)
                    except ApiError:
                        body = None  # the session ended: a new grant below
                if body is None:
                    body = await fetch(url, *self.grant(url))
                self._store(body, time.monotonic())
            assert self._access is not None
            return self._access

    def _store(self, body: dict[str, Any], now: float) -> None:
        lifetime = float(body.get("expires_in", 60))
        # renew a fifth of the lifetime early (at most 30 s), so a request never carries a token
        # that expires on its way
        self._access = str(body["access_token"])
        self._expires = now + lifetime - max(1.0, min(30.0, lifetime / 5))
        self._refresh = body.get("refresh_token")
        refresh_life = float(body.get("refresh_expires_in") or 0)
        self._refresh_expires = now + refresh_life - max(1.0, min(30.0, refresh_life / 5))


class ClientCredentials(TokenGrant):
    """An integration client with a secret (``client_secret_basic``)."""

    def __init__(self, client_id: str, client_secret: str, *, token_url: str | None = None) -> None:
        super().__init__(token_url=token_url)
        self.client_id = client_id
        self.client_secret = client_secret

    def grant(self, token_url: str) -> tuple[dict[str, str], tuple[str, str] | None]:
        return {"grant_type": "client_credentials"}, (self.client_id, self.client_secret)


class PrivateKeyJwt(TokenGrant):
    """An integration client that signs an RFC 7523 assertion with its NCA RK RSA key.

    ``audience`` defaults to the token endpoint's URL, as RFC 7523 §3 asks; a new assertion (new
    ``jti``) is made for every token request.
    """

    def __init__(
        self,
        client_id: str,
        key: SigningKey,
        *,
        token_url: str | None = None,
        audience: str | None = None,
        lifetime: int = 60,
    ) -> None:
        super().__init__(token_url=token_url)
        self.client_id = client_id
        self.key = key
        self.audience = audience
        self.lifetime = lifetime

    def grant(self, token_url: str) -> tuple[dict[str, str], tuple[str, str] | None]:
        assertion = self.key.assertion(
            self.client_id, self.audience or token_url, lifetime=self.lifetime
        )
        return {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": assertion,
        }, None


class Password(TokenGrant):
    """A person's (or the demo's) username and password through a public client."""

    def __init__(
        self,
        username: str,
        password: str,
        *,
        client_id: str = PUBLIC_CLIENT,
        token_url: str | None = None,
    ) -> None:
        super().__init__(token_url=token_url)
        self.username = username
        self.password = password
        self.client_id = client_id

    def grant(self, token_url: str) -> tuple[dict[str, str], tuple[str, str] | None]:
        return {
            "grant_type": "password",
            "client_id": self.client_id,
            "username": self.username,
            "password": self.password,
        }, None
