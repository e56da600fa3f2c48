"""The console's calls to the System's API, made through the gateway with the user's token.

Every page asks for several things at once; each answer comes back as a ``Result`` so that a part
of a page whose service is not deployed yet (or is down) shows a clear panel instead of failing
the page.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx

from egsu.auth.client import ServiceToken
from egsu.web.oidc import LoginFailed, OidcClient
from egsu.web.sessions import Session, Sessions

State = Literal["ok", "unavailable", "forbidden", "not_found", "invalid", "error"]


class LoginRequired(Exception):
    """The session is gone or its tokens cannot be renewed."""


@dataclass
class ApiError(Exception):
    state: State
    status: int
    problem: dict[str, Any] = field(default_factory=dict)

    @property
    def detail(self) -> str:
        return str(self.problem.get("detail") or self.problem.get("title") or "")

    @property
    def code(self) -> str:
        return str(self.problem.get("code") or "")

    def field_errors(self) -> dict[str, str]:
        return {
            str(e.get("field")): str(e.get("message", ""))
            for e in self.problem.get("errors", [])
            if isinstance(e, dict)
        }


@dataclass
class Result:
    """One answer for one part of a page."""

    state: State
    data: Any = None
    error: ApiError | None = None

    @property
    def ok(self) -> bool:
        return self.state == "ok"

    @property
    def items(self) -> list[Any]:
        if self.ok and isinstance(self.data, dict):
            return list(self.data.get("items", []))
        return []


def _state_of(resp: httpx.Response) -> State:
    s = resp.status_code
    if s == 404 and _is_area_missing(resp):
        return "unavailable"
    if s == 404:
        return "not_found"
    if s == 403:
        return "forbidden"
    if s in (400, 409, 413, 415, 422):
        return "invalid"
    if s in (502, 503, 504):
        return "unavailable"
    return "error"


def _code(resp: httpx.Response) -> str:
    try:
        return str(resp.json().get("code", ""))
    except ValueError:
        return ""


def _is_area_missing(resp: httpx.Response) -> bool:
    """A 404 that means "this API is not deployed", not "this object does not exist"."""
    code = _code(resp)
    if code == "unknown_area":
        return True
    # FastAPI's own 404 for a path the service does not have (an older version of a service).
    return code == "not_found" and "Not Found" in resp.text


class Api:
    """The gateway, as one user."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        session: Session | None,
        sessions: Sessions,
        oidc: OidcClient,
        lang: str,
    ) -> None:
        self.http = http
        self.session = session
        self.sessions = sessions
        self.oidc = oidc
        self.lang = lang
        self._refresh_lock = asyncio.Lock()

    async def token(self) -> str | None:
        s = self.session
        if s is None:
            return None
        if s.expires_at - time.time() > 20:
            return s.access_token
        async with self._refresh_lock:
            if s.expires_at - time.time() > 20:
                return s.access_token
            await self._refresh()
            return s.access_token

    async def _refresh(self) -> None:
        s = self.session
        assert s is not None
        if not s.refresh_token:
            raise LoginRequired()
        try:
            t = await self.oidc.refresh(s.refresh_token)
        except LoginFailed:
            await self.sessions.end(s.id)
            raise LoginRequired() from None
        s.access_token, s.refresh_token, s.id_token = (
            t.access_token,
            t.refresh_token,
            t.id_token or s.id_token,
        )
        s.expires_at, s.refresh_expires_at = t.expires_at, t.refresh_expires_at
        s.roles = sorted(t.principal.roles)
        await self.sessions.save(s)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        files: Any = None,
        data: Any = None,
    ) -> httpx.Response:
        """The gateway's answer; renews the token once if the gateway says it expired."""
        params = {k: v for k, v in (params or {}).items() if v is not None and v != ""}
        for attempt in (0, 1):
            token = await self.token()
            h = {"Accept-Language": self.lang, **(headers or {})}
            if token:
                h["Authorization"] = f"Bearer {token}"
            try:
                resp = await self.http.request(
                    method,
                    path,
                    params=params,
                    json=json,
                    content=content,
                    headers=h,
                    files=files,
                    data=data,
                )
            except httpx.HTTPError as exc:
                raise ApiError("unavailable", 503, {"detail": str(exc)}) from exc
            if resp.status_code == 401 and self.session is not None and attempt == 0:
                async with self._refresh_lock:
                    await self._refresh()
                continue
            if resp.status_code == 401:
                raise LoginRequired()
            return resp
        raise LoginRequired()

    async def call(self, method: str, path: str, **kw: Any) -> Any:
        """The decoded answer, or ``ApiError``."""
        resp = await self.request(method, path, **kw)
        if resp.status_code >= 400:
            try:
                problem = resp.json()
            except ValueError:
                problem = {"detail": resp.text[:300]}
            if not isinstance(problem, dict):
                problem = {"detail": str(problem)[:300]}
            raise ApiError(_state_of(resp), resp.status_code, problem)
        if resp.status_code == 204 or not resp.content:
            return None
        ctype = resp.headers.get("content-type", "")
        return resp.json() if "json" in ctype else resp.content

    async def get(self, path: str, **params: Any) -> Any:
        return await self.call("GET", path, params=params)

    async def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        return await self.call("POST", path, json=body, **kw)

    async def patch(self, path: str, body: Any) -> Any:
        return await self.call("PATCH", path, json=body)

    async def result(self, coro: Awaitable[Any]) -> Result:
        """Run one call for a part of a page; failures become states, not exceptions."""
        try:
            return Result("ok", await coro)
        except ApiError as exc:
            return Result(exc.state, None, exc)

    async def many(self, **calls: Awaitable[Any]) -> dict[str, Result]:
        """Several calls at once, each its own ``Result``."""
        names = list(calls)
        results = await asyncio.gather(*(self.result(calls[n]) for n in names))
        return dict(zip(names, results, strict=True))


class ServiceApi(Api):
    """The gateway as the console's own service account (client credentials), for warm-ups."""

    def __init__(self, http: httpx.AsyncClient, token: ServiceToken) -> None:
        super().__init__(http, None, None, None, "ru")  # type: ignore[arg-type]
        self._service_token = token

    async def token(self) -> str | None:
        return await self._service_token.get()
