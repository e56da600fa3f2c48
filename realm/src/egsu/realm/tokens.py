"""Tokens shaped like Keycloak's: access, ID and refresh tokens, and the SSO sessions behind them."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt

from egsu.realm.keys import SigningKey
from egsu.realm.model import Client, RealmDefinition, User, user_id


@dataclass
class Session:
    id: str
    username: str
    client_ids: set[str]
    started: float
    last_seen: float
    scope: str = "openid profile email"


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    session_id: str
    code_challenge: str | None
    code_challenge_method: str | None
    nonce: str | None
    scope: str
    expires: float
    used: bool = False


@dataclass
class Sessions:
    """SSO sessions and authorization codes, in memory (the development realm is one process)."""

    sessions: dict[str, Session] = field(default_factory=dict)
    codes: dict[str, AuthCode] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, username: str, client_id: str, scope: str) -> Session:
        now = time.time()
        s = Session(uuid.uuid4().hex, username, {client_id}, now, now, scope)
        with self.lock:
            self.sessions[s.id] = s
        return s

    def get(self, sid: str | None, realm: RealmDefinition) -> Session | None:
        if not sid:
            return None
        with self.lock:
            s = self.sessions.get(sid)
            if s is None:
                return None
            now = time.time()
            if (
                now - s.last_seen > realm.sso_session_idle_timeout
                or now - s.started > realm.sso_session_max_lifespan
            ):
                del self.sessions[sid]
                return None
            return s

    def end(self, sid: str | None) -> bool:
        with self.lock:
            return self.sessions.pop(sid or "", None) is not None

    def new_code(self, code: AuthCode) -> str:
        value = secrets.token_urlsafe(32)
        with self.lock:
            now = time.time()
            for k in [k for k, c in self.codes.items() if c.expires < now]:
                del self.codes[k]
            self.codes[value] = code
        return value

    def take_code(self, value: str) -> AuthCode | None:
        with self.lock:
            code = self.codes.pop(value, None)
        if code is None or code.expires < time.time():
            return None
        return code


def _at_hash(access_token: str) -> str:
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).decode().rstrip("=")


class TokenIssuer:
    def __init__(self, realm: RealmDefinition, key: SigningKey, issuer: str) -> None:
        self.realm = realm
        self.key = key
        self.issuer = issuer.rstrip("/")

    def _sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(
            claims,
            self.key.private_key,
            algorithm="RS256",
            headers={"kid": self.key.kid, "typ": "JWT"},
        )

    def decode(
        self, token: str, *, typ: str | None = None, verify_exp: bool = True
    ) -> dict[str, Any]:
        claims: dict[str, Any] = jwt.decode(
            token,
            self.key.public_key,
            algorithms=["RS256"],
            issuer=self.issuer,
            options={"verify_aud": False, "verify_exp": verify_exp},
        )
        if typ and claims.get("typ") != typ:
            raise jwt.InvalidTokenError(f"not a {typ} token")
        return claims

    def _user_claims(self, user: User) -> dict[str, Any]:
        claims: dict[str, Any] = {
            "email_verified": bool(user.email),
            "preferred_username": user.username,
        }
        name = " ".join(p for p in (user.first_name, user.last_name) if p)
        if name:
            claims["name"] = name
        if user.first_name:
            claims["given_name"] = user.first_name
        if user.last_name:
            claims["family_name"] = user.last_name
        if user.email:
            claims["email"] = user.email
        if user.bin:
            claims["bin"] = user.bin
        return claims

    def user_tokens(
        self,
        user: User,
        client: Client,
        session: Session,
        *,
        nonce: str | None = None,
        scope: str | None = None,
    ) -> dict[str, Any]:
        """The token response for a user session, as Keycloak's token endpoint answers it."""
        now = int(time.time())
        scope = scope or session.scope
        exp = now + self.realm.access_token_lifespan
        access = {
            "exp": exp,
            "iat": now,
            "auth_time": int(session.started),
            "jti": str(uuid.uuid4()),
            "iss": self.issuer,
            "aud": [self.realm.audience, "account"],
            "sub": user.id,
            "typ": "Bearer",
            "azp": client.client_id,
            "sid": session.id,
            "session_state": session.id,
            "acr": "1",
            "realm_access": {"roles": list(user.roles)},
            "scope": scope,
            **self._user_claims(user),
        }
        access_token = self._sign(access)
        refresh_exp = min(
            now + self.realm.sso_session_idle_timeout,
            int(session.started) + self.realm.sso_session_max_lifespan,
        )
        refresh = {
            "exp": refresh_exp,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "iss": self.issuer,
            "aud": self.issuer,
            "sub": user.id,
            "typ": "Refresh",
            "azp": client.client_id,
            "sid": session.id,
            "session_state": session.id,
            "scope": scope,
        }
        body: dict[str, Any] = {
            "access_token": access_token,
            "expires_in": self.realm.access_token_lifespan,
            "refresh_expires_in": refresh_exp - now,
            "refresh_token": self._sign(refresh),
            "token_type": "Bearer",
            "not-before-policy": 0,
            "session_state": session.id,
            "scope": scope,
        }
        if "openid" in scope.split():
            id_claims = {
                "exp": exp,
                "iat": now,
                "auth_time": int(session.started),
                "jti": str(uuid.uuid4()),
                "iss": self.issuer,
                "aud": client.client_id,
                "sub": user.id,
                "typ": "ID",
                "azp": client.client_id,
                "sid": session.id,
                "session_state": session.id,
                "acr": "1",
                "at_hash": _at_hash(access_token),
                **self._user_claims(user),
            }
            if nonce:
                id_claims["nonce"] = nonce
            body["id_token"] = self._sign(id_claims)
        return body

    def service_tokens(self, client: Client) -> dict[str, Any]:
        """A client-credentials token for a service account (no refresh token, as Keycloak)."""
        now = int(time.time())
        lifespan = client.token_lifespan or self.realm.access_token_lifespan
        username = client.service_account_username
        access: dict[str, Any] = {
            "exp": now + lifespan,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "iss": self.issuer,
            "aud": [self.realm.audience, "account"],
            "sub": user_id(username),
            "typ": "Bearer",
            "azp": client.client_id,
            "acr": "1",
            "scope": "profile email",
            "realm_access": {"roles": list(client.service_account_roles)},
            "preferred_username": username,
            "client_id": client.client_id,
            "email_verified": False,
        }
        if client.service_account_client_roles:
            access["resource_access"] = {
                k: {"roles": list(v)} for k, v in client.service_account_client_roles.items()
            }
        for k, v in client.hardcoded_claims().items():
            access.setdefault(k, v)  # a mapper adds claims, it never replaces the realm's own
        return {
            "access_token": self._sign(access),
            "expires_in": lifespan,
            "refresh_expires_in": 0,
            "token_type": "Bearer",
            "not-before-policy": 0,
            "scope": "profile email",
        }
