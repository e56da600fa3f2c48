"""Verify Keycloak access tokens: discovery, cached JWKS (refreshed on an unknown key), RS256."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import jwt
from jwt import PyJWK

from egsu.core.errors import ServiceUnavailable, Unauthorized

ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256"]


class TokenVerifier:
    """Checks signature, issuer, audience and expiry of bearer tokens for one realm."""

    def __init__(
        self,
        issuer: str,
        *,
        audience: str | None,
        base_url: str | None = None,
        http: httpx.AsyncClient | None = None,
        leeway: int = 10,
        min_refresh_interval: float = 5.0,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.base_url = (base_url or issuer).rstrip("/")
        self._http = http or httpx.AsyncClient(timeout=5.0)
        self._keys: dict[str, PyJWK] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self.leeway = leeway
        self.min_refresh_interval = min_refresh_interval
        # integration clients revoked lately: client id -> when (Unix seconds); see revoke_client
        self.revoked_clients: dict[str, float] = {}

    def revoke_client(self, client_id: str, revoked_at: float) -> None:
        """Refuse from now on every token of ``client_id`` issued up to ``revoked_at``."""
        self.revoked_clients[client_id] = max(revoked_at, self.revoked_clients.get(client_id, 0))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _refresh(self, *, force: bool) -> None:
        async with self._lock:
            if not force and self._keys:
                return
            if force and time.monotonic() - self._fetched_at < self.min_refresh_interval:
                return
            try:
                disc = await self._http.get(f"{self.base_url}/.well-known/openid-configuration")
                disc.raise_for_status()
                jwks_uri = disc.json()["jwks_uri"]
                # The discovery document names public URLs; fetch keys from the address we use.
                if jwks_uri.startswith(self.issuer) and self.base_url != self.issuer:
                    jwks_uri = self.base_url + jwks_uri[len(self.issuer) :]
                resp = await self._http.get(jwks_uri)
                resp.raise_for_status()
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                raise ServiceUnavailable(
                    f"the identity provider at {self.base_url} cannot be reached to verify tokens",
                    code="identity_unavailable",
                ) from exc
            keys = {}
            for jwk in resp.json().get("keys", []):
                if jwk.get("use", "sig") != "sig" or "kid" not in jwk:
                    continue
                try:
                    keys[jwk["kid"]] = PyJWK(jwk)
                except jwt.PyJWTError:
                    continue
            self._keys = keys
            self._fetched_at = time.monotonic()

    async def _key(self, kid: str) -> PyJWK:
        await self._refresh(force=False)
        if kid not in self._keys:
            await self._refresh(force=True)
        try:
            return self._keys[kid]
        except KeyError:
            raise Unauthorized(
                "the token was signed with an unknown key", code="invalid_token"
            ) from None

    async def verify(self, token: str) -> dict[str, Any]:
        """The token's claims if it is valid; ``Unauthorized`` with a precise code if not."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized("the bearer token is not a JWT", code="invalid_token") from None
        if header.get("alg") not in ALGORITHMS:
            raise Unauthorized("the token's algorithm is not accepted", code="invalid_token")
        key = await self._key(str(header.get("kid", "")))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=ALGORITHMS,
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={
                    "require": ["exp", "iat", "iss", "sub"],
                    "verify_aud": bool(self.audience),
                },
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized(
                "the token has expired; get a new one", code="token_expired"
            ) from None
        except jwt.InvalidIssuerError:
            raise Unauthorized(
                "the token was issued by another realm", code="invalid_token"
            ) from None
        except jwt.InvalidAudienceError:
            raise Unauthorized(
                "the token is not meant for this API", code="invalid_token"
            ) from None
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"the token is not valid: {exc}", code="invalid_token") from None
        if claims.get("typ", "Bearer") != "Bearer":
            raise Unauthorized("only access tokens are accepted", code="invalid_token")
        revoked = self.revoked_clients.get(str(claims.get("azp", "")))
        if revoked is not None and float(claims["iat"]) <= revoked + self.leeway:
            raise Unauthorized(
                "the client this token was issued to has been revoked", code="client_revoked"
            )
        return claims
