"""Login (authorization code + PKCE), the callback, logout."""

from __future__ import annotations

import logging
import secrets
import time
from urllib.parse import urlencode, urlsplit

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from egsu.web.console import Anyone
from egsu.web.oidc import LoginFailed, OidcClient, pkce_pair
from egsu.web.sessions import PendingLogin, Session, Sessions

log = logging.getLogger("egsu.web.auth")
router = APIRouter(include_in_schema=False)


def public_base(request: Request) -> str:
    """The console's address as the browser sees it (behind the gateway or an ingress)."""
    configured = request.app.state.settings.public_url
    if configured:
        return str(configured).rstrip("/")
    host = request.headers.get("x-forwarded-host") or request.headers.get("host")
    proto = request.headers.get("x-forwarded-proto") or request.url.scheme
    if host:
        return f"{proto}://{host}"
    return str(request.base_url).rstrip("/")


def safe_next(value: str | None) -> str:
    """Only a path on this site (no open redirect)."""
    if not value or not value.startswith("/") or value.startswith("//"):
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc:
        return "/"
    return value


def home_of(session: Session) -> str:
    if session.has_any("ministry", "operator", "government"):
        return "/"
    if session.has_any("subject"):
        return "/cabinet"
    if session.has_any("auditor"):
        return "/audit"
    return "/open"


@router.get("/login")
async def login(request: Request, ctx: Anyone, next: str | None = None) -> Response:
    """Send the browser to the realm's login page."""
    oidc: OidcClient = request.app.state.oidc
    sessions: Sessions = request.app.state.sessions
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(16)
    await sessions.put_pending(PendingLogin(state, verifier, nonce, safe_next(next), ctx.lang.code))
    url = await oidc.authorization_url(
        f"{public_base(request)}/auth/callback", state, challenge, nonce, ctx.lang.code
    )
    return RedirectResponse(url, status_code=303)


@router.get("/auth/callback")
async def callback(
    request: Request,
    ctx: Anyone,
    state: str = "",
    code: str = "",
    error: str | None = None,
) -> Response:
    """The realm sends the browser back here with a code; the code becomes the session's tokens."""
    sessions: Sessions = request.app.state.sessions
    pending = await sessions.take_pending(state)
    if pending is None or error or not code:
        return ctx.render(
            "message.html",
            400,
            title=ctx._("Sign-in did not complete"),
            message=ctx._("The sign-in took too long or was cancelled. Please try again."),
            action=("/login", ctx._("Sign in")),
        )
    oidc: OidcClient = request.app.state.oidc
    try:
        tokens = await oidc.exchange(
            code, f"{public_base(request)}/auth/callback", pending.verifier
        )
    except LoginFailed as exc:
        log.warning("code exchange refused: %s", exc)
        return ctx.render(
            "message.html",
            400,
            title=ctx._("Sign-in did not complete"),
            message=ctx._("The identity provider refused the sign-in. Please try again."),
            action=("/login", ctx._("Sign in")),
        )
    p = tokens.principal
    claims = p.claims
    session = Session(
        id=sessions.new_id(),
        username=p.username,
        name=str(claims.get("name") or p.username),
        roles=sorted(p.roles),
        bin=p.bin,
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        id_token=tokens.id_token,
        expires_at=tokens.expires_at,
        refresh_expires_at=tokens.refresh_expires_at,
        user_id=p.user_id,
    )
    await sessions.save(session)
    target = pending.next if pending.next != "/" else home_of(session)
    resp = RedirectResponse(target, status_code=303)
    settings = request.app.state.settings
    resp.set_cookie(
        settings.session_cookie,
        session.id,
        httponly=True,
        samesite="lax",
        secure=public_base(request).startswith("https://"),
        max_age=settings.session_max_seconds,
        path="/",
    )
    resp.set_cookie("egsu_lang", pending.lang, max_age=365 * 86400, samesite="lax")
    return resp


@router.post("/logout")
async def logout(request: Request, ctx: Anyone) -> Response:
    """End the console session and the realm's session."""
    oidc: OidcClient = request.app.state.oidc
    sessions: Sessions = request.app.state.sessions
    settings = request.app.state.settings
    target = f"{public_base(request)}/open?{urlencode({'lang': ctx.lang.code})}"
    s = ctx.session
    url = None
    form = await request.form()
    if s is not None and not secrets.compare_digest(str(form.get("csrf", "")), s.csrf):
        return RedirectResponse("/", status_code=303)  # not a form of ours: stay signed in
    if s is not None:
        await sessions.end(s.id)
        if s.refresh_token and s.refresh_expires_at > time.time():
            await _backchannel_logout(request, oidc, s.refresh_token)
        url = await oidc.logout_url(s.id_token, target)
    resp = RedirectResponse(url or target, status_code=303)
    resp.delete_cookie(settings.session_cookie, path="/")
    return resp


async def _backchannel_logout(request: Request, oidc: OidcClient, refresh_token: str) -> None:
    """Tell the realm directly too, so its session ends even if the browser stops here."""
    ep = await oidc.endpoints()
    if not ep.end_session:
        return
    try:
        await request.app.state.http_idp.post(
            oidc.internal(ep.end_session),
            data={"refresh_token": refresh_token},
            auth=(oidc.client_id, oidc.secret),
        )
    except httpx.HTTPError as exc:  # the browser's redirect still ends the session
        log.info("back-channel logout failed: %s", exc)
