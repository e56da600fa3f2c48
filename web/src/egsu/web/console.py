"""What every page shares: the request's context (user, language, API), access rules, rendering.

Each screen declares who may see it with ``screen(NAME)``; the roles are in ``SCREENS``. A user
without one of them gets the 403 page in their language; an anonymous visitor is sent to log in.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from egsu.contracts.audit import Actor
from egsu.contracts.regions import REGIONS, REGIONS_BY_KATO
from egsu.web.gateway import Api, LoginRequired
from egsu.web.i18n import LANG_COOKIE, LANGUAGES, N_, Lang, pick_language
from egsu.web.sessions import Session
from egsu.web.vocab import quantity_name, term, unit_of

templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))
templates.env.add_extension("jinja2.ext.do")

WIDE = ("ministry", "operator", "government")

# Who may see each screen. The navigation shows a user only the screens they may open.
SCREENS: dict[str, tuple[str, ...]] = {
    "overview": WIDE,
    "region": WIDE,
    "subject": WIDE,
    "facility": (*WIDE, "subject"),
    "point": (*WIDE, "subject"),
    "receipt": (*WIDE, "subject"),
    "alarms": (*WIDE, "subject"),
    "alarms.act": ("ministry", "operator", "subject"),
    "alarms.control": ("ministry", "operator"),
    "corrections": ("ministry", "operator", "subject"),
    "corrections.review": ("ministry", "operator"),
    "registry": WIDE,
    "registry.edit": ("ministry",),
    "reports": (*WIDE, "subject"),
    "reports.order": ("ministry", "operator", "government", "subject"),
    "forecast": WIDE,
    "forecast.scenario": ("ministry", "operator"),
    "audit": ("auditor", "ministry"),
    "cabinet": ("subject",),
}

NAV: tuple[tuple[str, str, str], ...] = (
    ("overview", "/", N_("Overview")),
    ("cabinet", "/cabinet", N_("My cabinet")),
    ("alarms", "/alarms", N_("Alarms")),
    ("corrections", "/corrections", N_("Corrections")),
    ("registry", "/registry", N_("Registry")),
    ("reports", "/reports", N_("Reports")),
    ("forecast", "/forecast", N_("Forecasts")),
    ("audit", "/audit", N_("Audit")),
)

ROLE_NAMES = {
    "ministry": N_("Ministry of Energy"),
    "operator": N_("System operator"),
    "government": N_("State body"),
    "subject": N_("Energy company"),
    "auditor": N_("Security auditor"),
}


class Denied(Exception):
    """The user may not see this screen."""

    def __init__(self, screen: str) -> None:
        self.screen = screen


class PageNotFound(Exception):
    """The object a page is about does not exist (or is not the user's)."""

    def __init__(self, what: str = "") -> None:
        self.what = what


@dataclass
class Ctx:
    """One request as a page sees it."""

    request: Request
    lang: Lang
    session: Session | None
    api: Api
    flash: list[tuple[str, str]] = field(default_factory=list)

    @property
    def _(self) -> Any:
        return self.lang.gettext

    def may(self, screen: str) -> bool:
        return self.session is not None and self.session.has_any(*SCREENS[screen])

    def region_name(self, kato: str | None) -> str:
        r = REGIONS_BY_KATO.get(kato or "")
        return r.name(self.lang.code) if r else (kato or "—")

    def name_of(self, obj: dict[str, Any] | None) -> str:
        """The name of a subject or facility in this language (Kazakh, else Russian)."""
        if not obj:
            return "—"
        if self.lang.code == "kk":
            return str(obj.get("name_kk") or obj.get("name_ru") or "")
        if self.lang.code == "en":
            return str(obj.get("name_en") or obj.get("name_ru") or "")
        return str(obj.get("name_ru") or "")

    def render(self, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        return render(self, template, status_code, **values)


async def context(request: Request) -> Ctx:
    state = request.state
    if getattr(state, "ctx", None) is not None:
        return state.ctx  # type: ignore[no-any-return]
    app = request.app
    lang = Lang(pick_language(request))
    session = await app.state.sessions.get(request.cookies.get(app.state.settings.session_cookie))
    if session is not None:
        await app.state.sessions.touch(session)
    api = Api(app.state.http, session, app.state.sessions, app.state.oidc, lang.code)
    ctx = Ctx(request, lang, session, api)
    state.ctx = ctx
    return ctx


def screen(name: str) -> Any:
    """A page dependency: the context of a logged-in user who may see screen ``name``."""
    roles = SCREENS[name]

    async def dep(request: Request) -> Ctx:
        ctx = await context(request)
        if ctx.session is None:
            raise LoginRequired()
        if not ctx.session.has_any(*roles):
            journal(ctx, name, "denied")
            raise Denied(name)
        if request.method == "GET":
            journal(ctx, name, "success")
        return ctx

    dep.__egsu_screen__ = roles  # type: ignore[attr-defined]
    return Depends(dep)


async def _anyone(request: Request) -> Ctx:
    return await context(request)


Anyone = Annotated[Ctx, Depends(_anyone)]


def journal(ctx: Ctx, screen_name: str, outcome: str) -> None:
    """One access record per page a user opens (or is refused), with who it was."""
    audit = getattr(ctx.request.app.state, "audit", None)
    s = ctx.session
    if audit is None or s is None:
        return
    audit.record_nowait(
        "access",
        f"view {screen_name}",
        actor=Actor(
            user_id=s.user_id or None,
            username=s.username,
            role=s.role,
            roles=s.roles,
            subject_bin=s.bin,
            client_id="egsu-console",
        ),
        outcome=outcome,
        object_type="page",
        object_id=ctx.request.url.path,
        request_id=ctx.request.headers.get("x-request-id"),
        source_ip=ctx.request.headers.get("x-forwarded-for"),
    )


def check_csrf(ctx: Ctx, token: str | None) -> None:
    if ctx.session is None or not token or not secrets.compare_digest(token, ctx.session.csrf):
        raise Denied("csrf")


def lang_links(request: Request) -> list[tuple[str, str, str]]:
    out = []
    for code, label in LANGUAGES:
        q = dict(request.query_params)
        q["lang"] = code
        out.append((code, label, f"{request.url.path}?{urlencode(q)}"))
    return out


def render(ctx: Ctx, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    request = ctx.request
    _ = ctx.lang.gettext
    nav = [
        (key, href, _(label))
        for key, href, label in NAV
        if ctx.session is not None and ctx.session.has_any(*SCREENS[key])
    ]
    resp = templates.TemplateResponse(
        request,
        template,
        {
            "ctx": ctx,
            "_": _,
            "ngettext": ctx.lang.ngettext,
            "L": ctx.lang,
            "lang": ctx.lang.code,
            "user": ctx.session,
            "role_name": _(ROLE_NAMES.get(ctx.session.role, "")) if ctx.session else "",
            "nav": nav,
            "path": request.url.path,
            "lang_links": lang_links(request),
            "csrf": ctx.session.csrf if ctx.session else "",
            "regions": REGIONS,
            "term": lambda code: term(ctx.lang, code),
            "qname": lambda code: quantity_name(ctx.lang, code),
            "unit_of": unit_of,
            **values,
        },
        status_code=status_code,
    )
    if request.query_params.get("lang") == ctx.lang.code:
        resp.set_cookie(
            LANG_COOKIE, ctx.lang.code, max_age=365 * 86400, samesite="lax", httponly=False
        )
    resp.headers["Cache-Control"] = "no-store"
    return resp
