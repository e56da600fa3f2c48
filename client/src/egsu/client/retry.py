"""When and how long to wait before sending a request again."""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

import httpx

# Statuses that mean "not now": the request may be sent again unchanged.
RETRY_STATUSES = frozenset({429, 502, 503, 504})
# Of those, the ones that prove the request was not carried out (safe for any method).
REFUSED_STATUSES = frozenset({429, 503})


@dataclass(frozen=True)
class Retry:
    """Exponential back-off with jitter, bounded by ``max_wait`` seconds in all (and ``attempts``).

    A request with an Idempotency-Key (every submission) is retried on connection errors and on
    429/502/503/504, with the same key and body. A request without one is retried only when the
    server cannot have carried it out: the connection was never made, or it answered 429/503.
    ``Retry-After`` is honoured, capped at ``max_delay``.
    """

    max_wait: float = 120.0
    attempts: int | None = None
    base: float = 0.25
    max_delay: float = 15.0
    max_retry_after: float = 120.0

    def delay(self, attempt: int, response: httpx.Response | None = None) -> float:
        """Seconds before attempt ``attempt + 1``: the server's Retry-After, else exponential."""
        if response is not None and (after := retry_after(response)) is not None:
            return min(after, self.max_retry_after)
        return float(min(self.base * 2**attempt, self.max_delay)) * (0.5 + random.random())

    def allows(self, attempt: int, started: float, wait: float) -> bool:
        """Whether another attempt fits the budget."""
        if self.attempts is not None and attempt + 1 >= self.attempts:
            return False
        return time.monotonic() + wait - started <= self.max_wait


NO_RETRY = Retry(max_wait=0.0, attempts=1)


def retry_after(response: httpx.Response) -> float | None:
    """The Retry-After header in seconds (delta-seconds or an HTTP date), if there is one."""
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def retryable(
    response: httpx.Response | None, error: httpx.TransportError | None, idempotent: bool
) -> bool:
    """Whether this outcome may be retried for a request that is (or is not) idempotent."""
    if error is not None:
        # a connect error never reached the server; other transport errors might have
        return idempotent or isinstance(error, httpx.ConnectError | httpx.ConnectTimeout)
    assert response is not None
    statuses = RETRY_STATUSES if idempotent else REFUSED_STATUSES
    return response.status_code in statuses
