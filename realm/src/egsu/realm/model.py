"""The realm definition: roles, clients and users from YAML (plus a file of added users)."""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFINITION = Path(__file__).with_name("egsu-realm.yaml")
_NS = uuid.UUID("6b0c1d1e-6c8f-4b7e-9a8e-3f1e2d4c5b6a")


def user_id(username: str) -> str:
    """A stable user id (the token's ``sub``) derived from the username."""
    return str(uuid.uuid5(_NS, username))


def client_uuid(client_id: str) -> str:
    """A stable internal id for a client defined in the realm file (Keycloak's ``id``)."""
    return str(uuid.uuid5(_NS, f"client:{client_id}"))


def secret_hash(secret: str) -> str:
    """The stored form of a generated client secret (256 random bits: a plain SHA-256 suffices)."""
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class Client:
    client_id: str
    public: bool = False
    secret: str | None = None  # clients of the realm file: the development secret itself
    name: str | None = None
    direct_access_grants: bool = False
    standard_flow: bool = False
    redirect_uris: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    service_account_roles: tuple[str, ...] = ()
    # client roles of the service account, e.g. {"realm-management": ("manage-clients",)}
    service_account_client_roles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # clients created through the admin API
    id: str = ""
    managed: bool = False
    enabled: bool = True
    description: str = ""
    secret_hash: str | None = None
    authenticator: str = "client-secret"  # or "client-jwt" (RFC 7523 private_key_jwt)
    service_accounts_enabled: bool = False
    attributes: dict[str, str] = field(default_factory=dict)
    protocol_mappers: tuple[dict[str, Any], ...] = ()
    created_at: int = 0

    @property
    def service_account(self) -> bool:
        return self.service_accounts_enabled or bool(self.service_account_roles)

    @property
    def uuid(self) -> str:
        return self.id or client_uuid(self.client_id)

    @property
    def service_account_username(self) -> str:
        return f"service-account-{self.client_id}"

    @property
    def certificate(self) -> str | None:
        """The base64 DER certificate whose key signs this client's assertions."""
        return self.attributes.get("jwt.credential.certificate") or None

    def secret_matches(self, secret: str | None) -> bool:
        if not secret:
            return False
        if self.secret is not None:
            return hmac.compare_digest(secret.encode(), self.secret.encode())
        if self.secret_hash is not None:
            return hmac.compare_digest(secret_hash(secret), self.secret_hash)
        return False

    def hardcoded_claims(self) -> dict[str, Any]:
        """Claims of the client's hard-coded claim mappers (Keycloak's ``oidc-hardcoded-claim-mapper``)."""
        out: dict[str, Any] = {}
        for m in self.protocol_mappers:
            cfg = m.get("config") or {}
            if m.get("protocolMapper") != "oidc-hardcoded-claim-mapper":
                continue
            if str(cfg.get("access.token.claim", "true")) != "true" or not cfg.get("claim.name"):
                continue
            out[str(cfg["claim.name"])] = cfg.get("claim.value")
        return out

    @property
    def token_lifespan(self) -> int | None:
        raw = self.attributes.get("access.token.lifespan")
        return int(raw) if raw and raw.isdigit() and int(raw) > 0 else None

    def redirect_allowed(self, uri: str, *, logout: bool = False) -> bool:
        patterns = self.post_logout_redirect_uris if logout else self.redirect_uris
        return any(fnmatch.fnmatchcase(uri, p) for p in patterns)


@dataclass(frozen=True)
class User:
    username: str
    password: str
    roles: tuple[str, ...]
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    attributes: dict[str, str] = field(default_factory=dict)
    enabled: bool = True

    @property
    def id(self) -> str:
        return user_id(self.username)

    @property
    def bin(self) -> str | None:
        return self.attributes.get("bin")


@dataclass
class RealmDefinition:
    realm: str
    display_name: str
    access_token_lifespan: int
    sso_session_idle_timeout: int
    sso_session_max_lifespan: int
    audience: str
    locales: list[str]
    default_locale: str
    roles: list[dict[str, str]]
    clients: dict[str, Client]
    users: dict[str, User]

    @classmethod
    def load(cls, path: Path = DEFINITION) -> RealmDefinition:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        clients = {}
        for c in raw.get("clients", []):
            c = dict(c)
            for k in ("redirect_uris", "post_logout_redirect_uris", "service_account_roles"):
                c[k] = tuple(c.get(k, ()))
            c["service_account_client_roles"] = {
                k: tuple(v) for k, v in (c.get("service_account_client_roles") or {}).items()
            }
            clients[c["client_id"]] = Client(**c)
        return cls(
            realm=raw["realm"],
            display_name=raw.get("display_name", raw["realm"]),
            access_token_lifespan=int(raw.get("access_token_lifespan", 300)),
            sso_session_idle_timeout=int(raw.get("sso_session_idle_timeout", 1800)),
            sso_session_max_lifespan=int(raw.get("sso_session_max_lifespan", 36000)),
            audience=raw.get("audience", "egsu-api"),
            locales=list(raw.get("locales", ["ru", "kk", "en"])),
            default_locale=raw.get("default_locale", "ru"),
            roles=list(raw.get("roles", [])),
            clients=clients,
            users={u.username: u for u in (parse_user(x) for x in raw.get("users", []))},
        )


def parse_user(raw: dict[str, Any]) -> User:
    attrs = {str(k): str(v) for k, v in (raw.get("attributes") or {}).items()}
    if raw.get("bin"):
        attrs["bin"] = str(raw["bin"])
    return User(
        username=str(raw["username"]),
        password=str(raw.get("password", "")),
        roles=tuple(raw.get("roles", ())),
        first_name=str(raw.get("first_name", "")),
        last_name=str(raw.get("last_name", "")),
        email=str(raw.get("email", "")),
        attributes=attrs,
        enabled=bool(raw.get("enabled", True)),
    )


class UserDirectory:
    """The definition's users plus those in the added-users file, re-read when it changes."""

    def __init__(self, definition: RealmDefinition, extra_file: Path | None) -> None:
        self.definition = definition
        self.extra_file = extra_file
        self._extra: dict[str, User] = {}
        self._mtime: float | None = None
        self._lock = threading.Lock()

    def _reload(self) -> None:
        if self.extra_file is None:
            return
        try:
            mtime = self.extra_file.stat().st_mtime
        except FileNotFoundError:
            self._extra, self._mtime = {}, None
            return
        if mtime == self._mtime:
            return
        raw = yaml.safe_load(self.extra_file.read_text(encoding="utf-8")) or {}
        self._extra = {u.username: u for u in (parse_user(x) for x in raw.get("users", []))}
        self._mtime = mtime

    def get(self, username: str) -> User | None:
        with self._lock:
            self._reload()
            return self.definition.users.get(username) or self._extra.get(username)

    def all(self) -> list[User]:
        with self._lock:
            self._reload()
            return [*self.definition.users.values(), *self._extra.values()]


def add_users(extra_file: Path, users: list[dict[str, Any]]) -> None:
    """Add or replace users in the added-users file (used by the simulator and tests)."""
    extra_file.parent.mkdir(parents=True, exist_ok=True)
    try:
        raw = yaml.safe_load(extra_file.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raw = {}
    by_name = {u["username"]: u for u in raw.get("users", [])}
    for u in users:
        by_name[u["username"]] = u
    tmp = extra_file.with_suffix(".tmp")
    tmp.write_text(
        yaml.safe_dump({"users": list(by_name.values())}, allow_unicode=True), encoding="utf-8"
    )
    tmp.replace(extra_file)
