"""The development realm: Keycloak's OIDC endpoints for realm ``egsu`` (embedded setup only).

Paths are Keycloak's own (``/realms/egsu/...``), so ``python-keycloak``, the gateway and the
console work unchanged against it and against a real Keycloak in production.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import jwt
from fastapi import APIRouter, FastAPI, Form, Header, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from egsu.core.service import create_service_app
from egsu.core.settings import get_settings
from egsu.realm.admin import admin_router, install_handlers
from egsu.realm.assertion import (
    JWT_BEARER,
    AssertionRefused,
    UsedAssertions,
    unverified_client_id,
    verify_assertion,
)
from egsu.realm.clients import ClientDirectory
from egsu.realm.config import RealmSettings
from egsu.realm.events import EventLog
from egsu.realm.i18n import LANGUAGES, TEXT, pick_language
from egsu.realm.keys import SigningKey
from egsu.realm.model import DEFINITION, Client, RealmDefinition, UserDirectory, user_id
from egsu.realm.tokens import AuthCode, Sessions, TokenIssuer

SSO_COOKIE = "EGSU_REALM_SESSION"
templates = Jinja2Templates(directory=str(Path(__file__).with_name("templates")))


class OAuthError(Exception):
    def __init__(
        self,
        error: str,
        description: str,
        status: int = 400,
        *,
        reason: str | None = None,
        client_id: str | None = None,
    ) -> None:
        self.error, self.description, self.status = error, description, status
        self.reason = reason or error  # the event log's error code (Keycloak's names)
        self.client_id = client_id


BAD_CREDENTIALS = "Invalid client or Invalid client credentials"


def refused(
    client_id: str | None,
    reason: str = "invalid_client_credentials",
    description: str = BAD_CREDENTIALS,
    error: str = "unauthorized_client",
) -> OAuthError:
    """A client authentication that failed (401), with the event log's reason."""
    return OAuthError(error, description, 401, reason=reason, client_id=client_id)


class Realm:
    def __init__(self, settings: RealmSettings) -> None:
        self.definition = RealmDefinition.load(settings.realm_definition or DEFINITION)
        self.users = UserDirectory(self.definition, settings.users_file)
        self.clients = ClientDirectory(self.definition, settings.clients_file)
        self.events = EventLog(self.definition.realm, settings.events_file)
        self.key = SigningKey.load_or_create(settings.key_file)
        self.issuer = settings.realm_issuer.rstrip("/")
        self.tokens = TokenIssuer(self.definition, self.key, self.issuer)
        self.sessions = Sessions()
        self.used_assertions = UsedAssertions()

    @property
    def token_endpoint(self) -> str:
        return f"{self.issuer}/protocol/openid-connect/token"

    def client(self, client_id: str | None) -> Client:
        c = self.clients.get(client_id)
        if c is None:
            raise refused(client_id, "client_not_found", error="invalid_client")
        if not c.enabled:
            raise refused(client_id, "client_disabled", error="invalid_client")
        return c

    def authenticate_client(self, form: dict[str, str], authorization: str | None) -> Client:
        """client_secret_basic, client_secret_post or private_key_jwt; a public client sends its id."""
        if form.get("client_assertion") or form.get("client_assertion_type"):
            return self._assertion_client(form)
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.lower().startswith("basic "):
            try:
                raw = base64.b64decode(authorization[6:]).decode()
            except ValueError:
                raise OAuthError("invalid_client", "Malformed client credentials", 401) from None
            client_id, _, secret = raw.partition(":")
        client = self.client(client_id)
        if client.public:
            return client
        if client.authenticator != "client-secret" or not client.secret_matches(secret):
            raise refused(client_id)
        return client

    def _assertion_client(self, form: dict[str, str]) -> Client:
        assertion = form.get("client_assertion", "")
        if form.get("client_assertion_type") != JWT_BEARER or not assertion:
            raise refused(
                form.get("client_id"),
                description=f"client_assertion_type must be {JWT_BEARER} with a client_assertion",
                error="invalid_client",
            )
        client_id = unverified_client_id(assertion)
        if form.get("client_id") and form["client_id"] != client_id:
            raise refused(
                form["client_id"],
                description="client_id differs from the assertion's sub",
                error="invalid_client",
            )
        client = self.client(client_id)
        if client.authenticator != "client-jwt" or not client.certificate:
            raise refused(
                client_id,
                description="Client authentication with signed JWT failed: no certificate",
            )
        try:
            verify_assertion(
                assertion,
                client_id=client.client_id,
                certificate_b64=client.certificate,
                audiences=[self.token_endpoint, self.issuer],
                used=self.used_assertions,
            )
        except AssertionRefused as exc:
            raise refused(
                client_id, description=f"Client authentication with signed JWT failed: {exc}"
            ) from None
        return client


def _oauth_error(exc: OAuthError) -> JSONResponse:
    return JSONResponse(
        {"error": exc.error, "error_description": exc.description}, status_code=exc.status
    )


def router(realm_name: str) -> APIRouter:
    base = f"/realms/{realm_name}"
    oidc = f"{base}/protocol/openid-connect"
    r = APIRouter()

    def realm_of(request: Request) -> Realm:
        return request.app.state.realm  # type: ignore[no-any-return]

    @r.get(base, summary="Realm information (public key), as Keycloak serves it")
    async def realm_info(request: Request) -> dict[str, Any]:
        realm = realm_of(request)
        return {
            "realm": realm.definition.realm,
            "public_key": realm.key.public_der_b64,
            "token-service": f"{realm.issuer}/protocol/openid-connect",
            "account-service": f"{realm.issuer}/account",
            "tokens-not-before": 0,
        }

    @r.get(f"{base}/.well-known/openid-configuration", summary="OpenID Connect discovery")
    async def discovery(request: Request) -> dict[str, Any]:
        iss = realm_of(request).issuer
        ep = f"{iss}/protocol/openid-connect"
        return {
            "issuer": iss,
            "authorization_endpoint": f"{ep}/auth",
            "token_endpoint": f"{ep}/token",
            "introspection_endpoint": f"{ep}/token/introspect",
            "userinfo_endpoint": f"{ep}/userinfo",
            "end_session_endpoint": f"{ep}/logout",
            "jwks_uri": f"{ep}/certs",
            "grant_types_supported": [
                "authorization_code",
                "refresh_token",
                "password",
                "client_credentials",
            ],
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "private_key_jwt",
            ],
            "token_endpoint_auth_signing_alg_values_supported": [
                "RS256",
                "RS384",
                "RS512",
                "PS256",
            ],
            "code_challenge_methods_supported": ["S256", "plain"],
            "scopes_supported": ["openid", "profile", "email", "roles"],
            "claims_supported": [
                "sub",
                "iss",
                "aud",
                "exp",
                "iat",
                "preferred_username",
                "email",
                "name",
                "bin",
            ],
            "ui_locales_supported": realm_of(request).definition.locales,
        }

    @r.get(f"{oidc}/certs", summary="The realm's signing keys (JWKS)")
    async def certs(request: Request) -> dict[str, Any]:
        return {"keys": [realm_of(request).key.jwk()]}

    @r.post(
        f"{oidc}/token",
        summary="Token endpoint: password, client credentials, refresh, authorization code",
    )
    async def token(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> Response:
        realm = realm_of(request)
        form = {k: str(v) for k, v in (await request.form()).items()}
        grant = form.get("grant_type")
        try:
            client = realm.authenticate_client(form, authorization)
            if grant == "password":
                return JSONResponse(_password_grant(realm, client, form))
            if grant == "client_credentials":
                return JSONResponse(_client_credentials_grant(realm, client, form, request))
            if grant == "refresh_token":
                return JSONResponse(_refresh_grant(realm, client, form))
            if grant == "authorization_code":
                return JSONResponse(_code_grant(realm, client, form))
            raise OAuthError("unsupported_grant_type", f"Unsupported grant_type {grant!r}")
        except OAuthError as exc:
            if grant == "client_credentials":
                realm.events.add(
                    "CLIENT_LOGIN_ERROR",
                    client_id=exc.client_id,
                    ip=_caller_ip(request),
                    error=exc.reason,
                    grant_type=grant,
                    client_auth_method=_auth_method(form, authorization),
                    reason=exc.description,
                )
            return _oauth_error(exc)

    @r.post(f"{oidc}/token/introspect", summary="Token introspection (confidential clients)")
    async def introspect(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> Response:
        realm = realm_of(request)
        form = {k: str(v) for k, v in (await request.form()).items()}
        try:
            client = realm.authenticate_client(form, authorization)
            if client.public:
                raise OAuthError("invalid_request", "Client not allowed.", 403)
        except OAuthError as exc:
            return _oauth_error(exc)
        try:
            claims = realm.tokens.decode(form.get("token", ""))
        except jwt.PyJWTError:
            return JSONResponse({"active": False})
        sid = claims.get("sid")
        if sid and realm.sessions.get(sid, realm.definition) is None:
            return JSONResponse({"active": False})
        return JSONResponse(
            {
                **claims,
                "active": True,
                "client_id": claims.get("azp"),
                "username": claims.get("preferred_username"),
                "token_type": claims.get("typ"),
            }
        )

    @r.api_route(f"{oidc}/userinfo", methods=["GET", "POST"], summary="Claims of the token's user")
    async def userinfo(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> Response:
        realm = realm_of(request)
        tok = (
            (authorization or "")[7:] if (authorization or "").lower().startswith("bearer ") else ""
        )
        try:
            claims = realm.tokens.decode(tok, typ="Bearer")
        except jwt.PyJWTError:
            return JSONResponse(
                {"error": "invalid_token", "error_description": "Token verification failed"},
                status_code=401,
            )
        if claims.get("sid") and realm.sessions.get(claims["sid"], realm.definition) is None:
            return JSONResponse(
                {"error": "invalid_token", "error_description": "User session not found"},
                status_code=401,
            )
        keep = (
            "sub",
            "email_verified",
            "name",
            "preferred_username",
            "given_name",
            "family_name",
            "email",
            "bin",
        )
        return JSONResponse({k: claims[k] for k in keep if k in claims})

    @r.get(f"{oidc}/auth", summary="Authorization endpoint (code flow with PKCE)")
    async def authorize(request: Request) -> Response:
        realm = realm_of(request)
        q = dict(request.query_params)
        lang = _lang(request, q)
        client = realm.clients.get(q.get("client_id", ""))
        redirect_uri = q.get("redirect_uri", "")
        if client is None or not client.standard_flow or not client.redirect_allowed(redirect_uri):
            return _message(
                request, lang, TEXT[lang]["bad_request"], "invalid client or redirect_uri", 400
            )
        if q.get("response_type") != "code":
            return _redirect_error(redirect_uri, q, "unsupported_response_type")
        session = realm.sessions.get(request.cookies.get(SSO_COOKIE), realm.definition)
        if session is not None and q.get("prompt") != "login":
            return _issue_code(realm, client, session, q)
        return _login_page(request, realm, q, lang)

    @r.post(f"{base}/login-actions/authenticate", summary="The login form's post")
    async def login(
        request: Request,
        q: Annotated[str, Form()] = "",
        username: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
    ) -> Response:
        realm = realm_of(request)
        from urllib.parse import parse_qsl

        params = dict(parse_qsl(q))
        lang = _lang(request, params)
        client = realm.clients.get(params.get("client_id", ""))
        if (
            client is None
            or not client.standard_flow
            or not client.redirect_allowed(params.get("redirect_uri", ""))
        ):
            return _message(
                request, lang, TEXT[lang]["bad_request"], "invalid client or redirect_uri", 400
            )
        user = realm.users.get(username.strip())
        if (
            user is None
            or not user.enabled
            or not hmac.compare_digest(user.password.encode(), password.encode())
        ):
            return _login_page(
                request,
                realm,
                params,
                lang,
                error=TEXT[lang]["bad_credentials"],
                username=username,
                status=401,
            )
        session = realm.sessions.start(
            user.username, client.client_id, params.get("scope", "openid")
        )
        resp = _issue_code(realm, client, session, params)
        resp.set_cookie(SSO_COOKIE, session.id, httponly=True, samesite="lax", path=base)
        return resp

    @r.api_route(f"{oidc}/logout", methods=["GET", "POST"], summary="End the SSO session")
    async def logout(
        request: Request, authorization: Annotated[str | None, Header()] = None
    ) -> Response:
        realm = realm_of(request)
        if request.method == "POST":
            form = {k: str(v) for k, v in (await request.form()).items()}
            if "refresh_token" in form:  # back-channel logout by a client (python-keycloak)
                try:
                    client = realm.authenticate_client(form, authorization)
                    claims = realm.tokens.decode(
                        form["refresh_token"], typ="Refresh", verify_exp=False
                    )
                except OAuthError as exc:
                    return _oauth_error(exc)
                except jwt.PyJWTError:
                    return _oauth_error(OAuthError("invalid_grant", "Invalid refresh token"))
                if claims.get("azp") != client.client_id:
                    return _oauth_error(
                        OAuthError("invalid_grant", "Token was not issued to this client")
                    )
                realm.sessions.end(claims.get("sid"))
                return Response(status_code=204)
            params = form
        else:
            params = dict(request.query_params)
        lang = _lang(request, params)
        sid = request.cookies.get(SSO_COOKIE)
        hint = params.get("id_token_hint")
        if hint:
            try:
                sid = realm.tokens.decode(hint, verify_exp=False).get("sid") or sid
            except jwt.PyJWTError:
                pass
        realm.sessions.end(sid)
        target = params.get("post_logout_redirect_uri")
        client = realm.clients.get(params.get("client_id", ""))
        if target and client and client.redirect_allowed(target, logout=True):
            if params.get("state"):
                target += ("&" if "?" in target else "?") + urlencode({"state": params["state"]})
            resp: Response = RedirectResponse(target, status_code=302)
        else:
            resp = _message(request, lang, TEXT[lang]["logged_out"], "", 200)
        resp.delete_cookie(SSO_COOKIE, path=base)
        return resp

    return r


def _lang(request: Request, params: dict[str, str]) -> str:
    return pick_language(
        params.get("kc_locale"),
        params.get("ui_locales"),
        request.cookies.get("egsu_lang"),
        accept_language=request.headers.get("accept-language"),
    )


def _login_page(
    request: Request,
    realm: Realm,
    params: dict[str, str],
    lang: str,
    *,
    error: str | None = None,
    username: str = "",
    status: int = 200,
) -> HTMLResponse:
    base = f"/realms/{realm.definition.realm}"
    links = {
        code: f"{base}/protocol/openid-connect/auth?{urlencode({**params, 'kc_locale': code})}"
        for code, _ in LANGUAGES
    }
    return templates.TemplateResponse(
        request,
        "login.html",
        {
            "lang": lang,
            "t": TEXT[lang],
            "q": urlencode(params),
            "error": error,
            "username": username,
            "action": f"{base}/login-actions/authenticate",
            "languages": LANGUAGES,
            "lang_links": links,
        },
        status_code=status,
    )


def _message(request: Request, lang: str, title: str, message: str, status: int) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        "message.html",
        {"lang": lang, "title": title, "message": message},
        status_code=status,
    )


def _redirect_error(redirect_uri: str, params: dict[str, str], error: str) -> RedirectResponse:
    q = {"error": error}
    if params.get("state"):
        q["state"] = params["state"]
    return RedirectResponse(
        redirect_uri + ("&" if "?" in redirect_uri else "?") + urlencode(q), status_code=302
    )


def _issue_code(
    realm: Realm, client: Client, session: Any, params: dict[str, str]
) -> RedirectResponse:
    method = params.get("code_challenge_method") or (
        "plain" if params.get("code_challenge") else None
    )
    code = realm.sessions.new_code(
        AuthCode(
            client_id=client.client_id,
            redirect_uri=params["redirect_uri"],
            session_id=session.id,
            code_challenge=params.get("code_challenge"),
            code_challenge_method=method,
            nonce=params.get("nonce"),
            scope=params.get("scope", "openid"),
            expires=time.time() + 60,
        )
    )
    session.client_ids.add(client.client_id)
    q = {"code": code, "session_state": session.id, "iss": realm.issuer}
    if params.get("state"):
        q["state"] = params["state"]
    uri = params["redirect_uri"]
    return RedirectResponse(uri + ("&" if "?" in uri else "?") + urlencode(q), status_code=302)


def _caller_ip(request: Request) -> str | None:
    """The caller's address: the gateway in front of the realm names it in X-Forwarded-For."""
    forwarded = request.headers.get("x-forwarded-for", "").split(",")[-1].strip()
    return forwarded or (request.client.host if request.client else None)


def _auth_method(form: dict[str, str], authorization: str | None) -> str:
    if form.get("client_assertion"):
        return "private_key_jwt"
    if authorization and authorization.lower().startswith("basic "):
        return "client_secret_basic"
    return "client_secret_post" if form.get("client_secret") else "none"


def _client_credentials_grant(
    realm: Realm, client: Client, form: dict[str, str], request: Request
) -> dict[str, Any]:
    if not client.service_account:
        raise OAuthError(
            "unauthorized_client",
            "Client not enabled to retrieve service account",
            reason="invalid_client",
            client_id=client.client_id,
        )
    body = realm.tokens.service_tokens(client)
    realm.events.add(
        "CLIENT_LOGIN",
        client_id=client.client_id,
        user_id=user_id(client.service_account_username),
        ip=_caller_ip(request),
        grant_type="client_credentials",
        client_auth_method=_auth_method(form, request.headers.get("authorization")),
        username=client.service_account_username,
    )
    return body


def _password_grant(realm: Realm, client: Client, form: dict[str, str]) -> dict[str, Any]:
    if not client.direct_access_grants:
        raise OAuthError("unauthorized_client", "Client not allowed for direct access grants")
    user = realm.users.get(form.get("username", ""))
    if (
        user is None
        or not user.enabled
        or not hmac.compare_digest(user.password.encode(), form.get("password", "").encode())
    ):
        raise OAuthError("invalid_grant", "Invalid user credentials", 401)
    scope = " ".join(
        dict.fromkeys(["openid", *form.get("scope", "openid").split(), "profile", "email"])
    )
    session = realm.sessions.start(user.username, client.client_id, scope)
    return realm.tokens.user_tokens(user, client, session, scope=scope)


def _refresh_grant(realm: Realm, client: Client, form: dict[str, str]) -> dict[str, Any]:
    try:
        claims = realm.tokens.decode(form.get("refresh_token", ""), typ="Refresh")
    except jwt.PyJWTError:
        raise OAuthError("invalid_grant", "Invalid refresh token") from None
    if claims.get("azp") != client.client_id:
        raise OAuthError(
            "invalid_grant", "Invalid refresh token. Token client and authorized client don't match"
        )
    session = realm.sessions.get(claims.get("sid"), realm.definition)
    if session is None:
        raise OAuthError("invalid_grant", "Session not active")
    user = realm.users.get(session.username)
    if user is None or not user.enabled:
        raise OAuthError("invalid_grant", "User disabled or removed")
    session.last_seen = time.time()
    return realm.tokens.user_tokens(user, client, session, scope=claims.get("scope"))


def _code_grant(realm: Realm, client: Client, form: dict[str, str]) -> dict[str, Any]:
    code = realm.sessions.take_code(form.get("code", ""))
    if code is None or code.client_id != client.client_id:
        raise OAuthError("invalid_grant", "Code not valid")
    if form.get("redirect_uri") != code.redirect_uri:
        raise OAuthError("invalid_grant", "Incorrect redirect_uri")
    if code.code_challenge:
        verifier = form.get("code_verifier", "")
        if code.code_challenge_method == "S256":
            computed = (
                base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                .decode()
                .rstrip("=")
            )
        else:
            computed = verifier
        if not verifier or not secrets.compare_digest(computed, code.code_challenge):
            raise OAuthError("invalid_grant", "PKCE verification failed: Code mismatch")
    session = realm.sessions.get(code.session_id, realm.definition)
    if session is None:
        raise OAuthError("invalid_grant", "Session not active")
    user = realm.users.get(session.username)
    if user is None:
        raise OAuthError("invalid_grant", "User not found")
    return realm.tokens.user_tokens(user, client, session, nonce=code.nonce, scope=code.scope)


def create_app() -> FastAPI:
    """The development realm's ASGI app."""
    settings = get_settings(RealmSettings)
    realm = Realm(settings)
    app = create_service_app(
        settings=settings,
        title="EGSU TEK development realm",
        description="Keycloak-compatible OIDC endpoints of realm `egsu` for the embedded setup.",
        routers=[router(realm.definition.realm), admin_router(realm.definition.realm)],
    )
    app.state.realm = realm
    install_handlers(app)
    return app
