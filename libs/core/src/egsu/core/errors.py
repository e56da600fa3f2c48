"""One error hierarchy for the whole System, rendered as RFC 9457 ``application/problem+json``.

Domain code raises these; exactly one set of handlers (``install_error_handlers``) turns them,
FastAPI's validation errors and anything unexpected into problem documents with a stable ``code``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
PROBLEM_TYPE_PREFIX = "urn:egsu:problem:"

log = logging.getLogger("egsu.errors")


@dataclass(frozen=True, slots=True)
class FieldError:
    """One field that failed, named as the caller wrote it (``readings[3].ts``)."""

    field: str
    code: str
    message: str
    index: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}


class EgsuError(Exception):
    """Base of every domain error; subclasses fix the HTTP status and a default code."""

    status: int = 500
    code: str = "internal_error"
    title: str = "Internal error"

    def __init__(
        self,
        detail: str | None = None,
        *,
        code: str | None = None,
        title: str | None = None,
        errors: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        self.detail = detail or self.title
        if code:
            self.code = code
        if title:
            self.title = title
        self.errors = list(errors)
        self.headers = dict(headers or {})
        self.extra = extra
        super().__init__(self.detail)


class BadRequest(EgsuError):
    status, code, title = 400, "bad_request", "Bad request"


class Unauthorized(EgsuError):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str | None = None, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": 'Bearer realm="egsu"'})
        super().__init__(detail, **kw)


class Forbidden(EgsuError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(EgsuError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(EgsuError):
    status, code, title = 409, "conflict", "Conflict"


class PayloadTooLarge(EgsuError):
    status, code, title = 413, "payload_too_large", "Payload too large"


class UnsupportedMediaType(EgsuError):
    status, code, title = 415, "unsupported_media_type", "Unsupported media type"


class Unprocessable(EgsuError):
    status, code, title = 422, "validation_error", "The request is not valid"


class TooManyRequests(EgsuError):
    status, code, title = 429, "rate_limited", "Too many requests"


class ServiceUnavailable(EgsuError):
    status, code, title = 503, "service_unavailable", "Service unavailable"

    def __init__(self, detail: str | None = None, *, retry_after: int = 5, **kw: Any) -> None:
        kw.setdefault("headers", {"Retry-After": str(retry_after)})
        super().__init__(detail, **kw)


def problem(
    status: int,
    code: str,
    title: str,
    detail: str | None = None,
    *,
    instance: str | None = None,
    errors: Sequence[FieldError] = (),
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem+json response with the System's stable ``code``."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_PREFIX + code,
        "title": title,
        "status": status,
        "code": code,
    }
    if detail:
        body["detail"] = detail
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = [e.as_dict() for e in errors]
    body.update(extra)
    return JSONResponse(
        body, status_code=status, headers=dict(headers or {}), media_type=PROBLEM_JSON
    )


def field_name(loc: Sequence[str | int]) -> str:
    """Turn a pydantic location like ('body', 'readings', 3, 'ts') into ``readings[3].ts``."""
    parts = list(loc)
    if parts and parts[0] in ("body", "query", "path", "header", "cookie"):
        parts = parts[1:]
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            out += ("." if out else "") + str(p)
    return out or "body"


_NAMED = re.compile(r"^([A-Za-z_][\w.\[\]]*): (.+)$", re.S)


def validation_field_errors(exc: RequestValidationError) -> list[FieldError]:
    """Field errors from pydantic's; a model-level check names its field as ``"field: reason"``."""
    errs = []
    for e in exc.errors():
        loc = tuple(e.get("loc", ()))
        msg = (
            str(e.get("msg", "invalid"))
            .removeprefix("Value error, ")
            .removeprefix("Assertion failed, ")
        )
        field = field_name(loc)
        named = _NAMED.match(msg)
        if named:
            prefix = "" if field == "body" else field + "."
            field, msg = prefix + named.group(1), named.group(2)
        idx = next((p for p in loc if isinstance(p, int)), None)
        errs.append(FieldError(field, str(e.get("type", "invalid")), msg, idx))
    return errs


_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
}


def install_error_handlers(app: FastAPI) -> None:
    """Render every error of the app as problem+json (the one place that does so)."""

    @app.exception_handler(EgsuError)
    async def _egsu(request: Request, exc: EgsuError) -> JSONResponse:
        return problem(
            exc.status,
            exc.code,
            exc.title,
            exc.detail,
            instance=request.url.path,
            errors=exc.errors,
            headers=exc.headers,
            **exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_field_errors(exc)
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        return problem(
            422,
            "validation_error",
            "The request is not valid",
            detail,
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _STATUS_CODES.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else None
        return problem(
            exc.status_code,
            code,
            detail or code.replace("_", " ").capitalize(),
            detail,
            instance=request.url.path,
            headers=exc.headers,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(
            500,
            "internal_error",
            "Internal error",
            "The server failed to handle the request; it has been logged. Try again later.",
            instance=request.url.path,
        )
