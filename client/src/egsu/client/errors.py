"""What can go wrong, as one exception hierarchy: the System's problem+json answers and the rest.

Every refusal of the API is an :class:`ApiError` (a subclass chosen by the HTTP status) carrying
the problem document's ``status``, stable ``code``, ``detail``, the first failing ``field`` and
all field ``errors``; a System that could not be reached is :class:`Unreachable`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx


class EgsuClientError(Exception):
    """Base of everything this library raises."""

    transient = False  # whether the same request may succeed later (keep it queued, send again)


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One field the System refused, named as the caller wrote it (``readings[3].ts``)."""

    field: str
    code: str
    message: str
    index: int | None = None


class ApiError(EgsuClientError):
    """The System answered with an error (RFC 9457 problem+json, or an OAuth error)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        title: str | None = None,
        errors: list[FieldProblem] | None = None,
        problem: dict[str, Any] | None = None,
        response: httpx.Response | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.detail = detail
        self.title = title
        self.errors = errors or []
        self.problem = problem or {}
        self.response = response
        where = f" {response.request.method} {response.request.url.path}" if response else ""
        super().__init__(f"{status} {code}{where}: {detail}")

    @property
    def transient(self) -> bool:  # type: ignore[override]
        return self.status in (408, 429) or self.status >= 500

    @property
    def field(self) -> str | None:
        """The first field named by the problem, if any."""
        return self.errors[0].field if self.errors else None


class BadRequest(ApiError):
    """400."""


class Unauthorized(ApiError):
    """401: no valid token (after one renewal), or the token endpoint refused the credentials."""


class Forbidden(ApiError):
    """403: the role or the subject scope does not allow it."""


class NotFound(ApiError):
    """404 (also what another subject's data looks like)."""


class Conflict(ApiError):
    """409: e.g. an Idempotency-Key reused for another body."""


class PayloadTooLarge(ApiError):
    """413."""


class UnsupportedMediaType(ApiError):
    """415."""


class Unprocessable(ApiError):
    """422: the request names the field and the reason."""


class RateLimited(ApiError):
    """429 that outlasted the retries."""


class ServerError(ApiError):
    """5xx."""


class ServiceUnavailable(ServerError):
    """503 that outlasted the retries."""


class Unreachable(EgsuClientError):
    """No answer from the System (connection refused, timeouts) for as long as the retries wait."""

    transient = True


class WaitTimeout(EgsuClientError, TimeoutError):
    """Something awaited (a stored batch, a finished report) did not happen in time."""


class ReportFailed(EgsuClientError):
    """The report job finished with an error."""

    def __init__(self, report_id: str, error: str | None) -> None:
        self.report_id = report_id
        self.error = error
        super().__init__(f"report {report_id} failed: {error}")


_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: Unprocessable,
    429: RateLimited,
    503: ServiceUnavailable,
}


def error_from(response: httpx.Response) -> ApiError:
    """The exception for an error answer: problem+json, an OAuth error body, or plain text."""
    status = response.status_code
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else ApiError)
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        text = response.text.strip()[:500] or response.reason_phrase
        return cls(status, f"http_{status}", text, response=response)
    if "error" in body and "code" not in body:  # OAuth 2.0 token endpoint (RFC 6749 §5.2)
        return cls(
            status,
            str(body["error"]),
            str(body.get("error_description") or body["error"]),
            problem=body,
            response=response,
        )
    errors = [
        FieldProblem(
            str(e.get("field", "")),
            str(e.get("code", "")),
            str(e.get("message", "")),
            e.get("index"),
        )
        for e in body.get("errors") or []
        if isinstance(e, dict)
    ]
    return cls(
        status,
        str(body.get("code") or f"http_{status}"),
        str(body.get("detail") or body.get("title") or response.reason_phrase),
        title=body.get("title"),
        errors=errors,
        problem=body,
        response=response,
    )
