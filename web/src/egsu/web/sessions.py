"""Console sessions: the user's tokens kept on the server, the browser holds only a random id.

With NATS configured the sessions live in a JetStream key-value bucket, so every replica of the
console sees them and a restart logs nobody out; without it (a console run alone) in memory.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import nats.js.errors
from nats.js.api import KeyValueConfig

from egsu.bus import Bus

log = logging.getLogger("egsu.web.sessions")
BUCKET = "egsu-web-sessions"


@dataclass
class Session:
    id: str
    username: str
    name: str
    roles: list[str]
    bin: str | None
    access_token: str
    refresh_token: str | None
    id_token: str | None
    expires_at: float
    refresh_expires_at: float
    created_at: float = field(default_factory=time.time)
    seen_at: float = field(default_factory=time.time)
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    user_id: str = ""

    def has_any(self, *roles: str) -> bool:
        return bool(set(self.roles) & set(roles))

    @property
    def role(self) -> str:
        for r in ("ministry", "operator", "government", "auditor", "subject"):
            if r in self.roles:
                return r
        return "none"

    def dumps(self) -> bytes:
        return json.dumps(asdict(self)).encode()

    @classmethod
    def loads(cls, raw: bytes) -> Session:
        return cls(**json.loads(raw))


@dataclass
class PendingLogin:
    """What the callback needs to finish a login the browser started."""

    state: str
    verifier: str
    nonce: str
    next: str
    lang: str
    created_at: float = field(default_factory=time.time)


class Store(Protocol):
    async def get(self, key: str) -> bytes | None: ...
    async def put(self, key: str, value: bytes) -> None: ...
    async def delete(self, key: str) -> None: ...


class MemoryStore:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.data: dict[str, tuple[float, bytes]] = {}

    async def get(self, key: str) -> bytes | None:
        hit = self.data.get(key)
        if hit is None or hit[0] < time.monotonic():
            self.data.pop(key, None)
            return None
        return hit[1]

    async def put(self, key: str, value: bytes) -> None:
        if len(self.data) > 100_000:
            now = time.monotonic()
            self.data = {k: v for k, v in self.data.items() if v[0] > now}
        self.data[key] = (time.monotonic() + self.ttl, value)

    async def delete(self, key: str) -> None:
        self.data.pop(key, None)


class KvStore:
    """A JetStream key-value bucket whose entries expire after the realm's longest session."""

    def __init__(self, bus: Bus, ttl: float, replicas: int) -> None:
        self.bus, self.ttl, self.replicas = bus, ttl, replicas
        self._kv: Any = None
        self._lock = asyncio.Lock()

    async def _bucket(self) -> Any:
        if self._kv is None:
            async with self._lock:
                if self._kv is None:
                    await self.bus.wait_connected()
                    self._kv = await self.bus.js.create_key_value(
                        KeyValueConfig(bucket=BUCKET, ttl=self.ttl, replicas=self.replicas)
                    )
        return self._kv

    async def get(self, key: str) -> bytes | None:
        kv = await self._bucket()
        try:
            entry = await kv.get(key)
        except nats.js.errors.KeyNotFoundError:
            return None
        return entry.value or None

    async def put(self, key: str, value: bytes) -> None:
        await (await self._bucket()).put(key, value)

    async def delete(self, key: str) -> None:
        kv = await self._bucket()
        try:
            await kv.purge(key)
        except nats.js.errors.KeyNotFoundError:
            pass

    async def ping(self) -> None:
        await self._bucket()


class Sessions:
    def __init__(self, store: Store, idle_seconds: int, max_seconds: int) -> None:
        self.store = store
        self.idle, self.max = idle_seconds, max_seconds

    @staticmethod
    def new_id() -> str:
        return secrets.token_urlsafe(32)

    async def get(self, sid: str | None) -> Session | None:
        if not sid or len(sid) > 64 or not _valid(sid):
            return None
        raw = await self.store.get(f"s.{_key(sid)}")
        if raw is None:
            return None
        s = Session.loads(raw)
        now = time.time()
        if now - s.seen_at > self.idle or now - s.created_at > self.max:
            await self.end(sid)
            return None
        return s

    async def save(self, s: Session) -> None:
        s.seen_at = time.time()
        await self.store.put(f"s.{_key(s.id)}", s.dumps())

    async def touch(self, s: Session) -> None:
        """Record activity at most once a minute (writes are not free)."""
        if time.time() - s.seen_at > 60:
            await self.save(s)

    async def end(self, sid: str) -> None:
        await self.store.delete(f"s.{_key(sid)}")

    async def put_pending(self, p: PendingLogin) -> None:
        await self.store.put(f"p.{_key(p.state)}", json.dumps(asdict(p)).encode())

    async def take_pending(self, state: str) -> PendingLogin | None:
        if not state or len(state) > 128 or not _valid(state):
            return None
        key = f"p.{_key(state)}"
        raw = await self.store.get(key)
        if raw is None:
            return None
        await self.store.delete(key)
        p = PendingLogin(**json.loads(raw))
        return p if time.time() - p.created_at < 600 else None


def _key(token: str) -> str:
    """The token as a key; URL-safe tokens are valid NATS keys ([-/_=.a-zA-Z0-9])."""
    if not _valid(token):
        raise ValueError("not a URL-safe token")
    return token


def _valid(token: str) -> bool:
    return token.replace("-", "").replace("_", "").isalnum() and token.isascii()
