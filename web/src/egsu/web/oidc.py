"""The console's OpenID Connect client: authorization code with PKCE, refresh, logout.

Discovery and the token endpoint are reached at the realm's internal address (EGSU_OIDC_INTERNAL_URL
when set); the browser is sent to the public authorization and end-session endpoints.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from egsu.auth import Principal, TokenVerifier
from egsu.core.errors import ServiceUnavailable
from egsu.web.config import WebSettings


class LoginFailed(Exception):
    """The realm refused the code or the refresh token (the user has to log in again)."""


def pkce_pair() -> tuple[str, str]:
    """A code verifier and its S256 challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


@dataclass
class Endpoints:
    authorization: str
    token: str
    end_session: str | None


@dataclass
class Tokens:
    access_token: str
    refresh_token: str | None
    id_token: str | None
    expires_at: float
    refresh_expires_at: float
    principal: Principal


class OidcClient:
    def __init__(self, settings: WebSettings, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.issuer = (settings.oidc_issuer or "").rstrip("/")
        self.base = (settings.oidc_base_url or self.issuer).rstrip("/")
        self.client_id = settings.console_client_id
        self.secret = settings.console_secret()
        self.http = http
        self.verifier = TokenVerifier(
            self.issuer, audience=settings.oidc_audience, base_url=self.base, http=http
        )
        self._endpoints: Endpoints | None = None
        self._lock = asyncio.Lock()

    def internal(self, url: str) -> str:
        if self.base != self.issuer and url.startswith(self.issuer):
            return self.base + url[len(self.issuer) :]
        return url

    async def endpoints(self) -> Endpoints:
        async with self._lock:
            if self._endpoints is None:
                try:
                    resp = await self.http.get(f"{self.base}/.well-known/openid-configuration")
                    resp.raise_for_status()
                    doc = resp.json()
                except (httpx.HTTPError, ValueError) as exc:
                    raise ServiceUnavailable(
                        "the identity provider cannot be reached", code="identity_unavailable"
                    ) from exc
                self._endpoints = Endpoints(
                    authorization=doc["authorization_endpoint"],
                    token=self.internal(doc["token_endpoint"]),
                    end_session=doc.get("end_session_endpoint"),
                )
            return self._endpoints

    async def authorization_url(
        self, redirect_uri: str, state: str, challenge: str, nonce: str, lang: str
    ) -> str:
        ep = await self.endpoints()
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": "openid profile email",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "ui_locales": lang,
        }
        return f"{ep.authorization}?{urlencode(query)}"

    async def _token_request(self, form: dict[str, str]) -> Tokens:
        ep = await self.endpoints()
        try:
            resp = await self.http.post(ep.token, data=form, auth=(self.client_id, self.secret))
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                "the identity provider cannot be reached", code="identity_unavailable"
            ) from exc
        if resp.status_code >= 500:
            raise ServiceUnavailable("the identity provider failed", code="identity_unavailable")
        if resp.status_code != 200:
            raise LoginFailed(resp.text[:300])
        body: dict[str, Any] = resp.json()
        claims = await self.verifier.verify(body["access_token"])
        now = time.time()
        return Tokens(
            access_token=body["access_token"],
            refresh_token=body.get("refresh_token") or form.get("refresh_token"),
            id_token=body.get("id_token"),
            expires_at=now + float(body.get("expires_in", 60)),
            refresh_expires_at=now + float(body.get("refresh_expires_in") or 0),
            principal=Principal.from_claims(claims),
        )

    async def exchange(self, code: str, redirect_uri: str, verifier: str) -> Tokens:
        return await self._token_request(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            }
        )

    async def refresh(self, refresh_token: str) -> Tokens:
        return await self._token_request(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )

    async def logout_url(self, id_token: str | None, redirect: str) -> str | None:
        ep = await self.endpoints()
        if not ep.end_session:
            return None
        query = {"client_id": self.client_id, "post_logout_redirect_uri": redirect}
        if id_token:
            query["id_token_hint"] = id_token
        return f"{ep.end_session}?{urlencode(query)}"
