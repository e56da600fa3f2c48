"""Streaming reverse proxy to the services, the realm and the console."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import httpx
from fastapi import Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from egsu.core.errors import EgsuError, ServiceUnavailable

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
    }
)
# Safe to resend: idempotent and without a body to replay.
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS"})
RETRY_DELAYS = (0.1, 0.3, 0.6, 1.0, 1.5)  # about 3.5 s: enough for a restarted service to come back


class GatewayTimeout(EgsuError):
    status, code, title = 504, "upstream_timeout", "The service did not answer in time"


def forward_headers(request: Request, request_id: str, client_ip: str) -> dict[str, str]:
    headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
    headers["x-request-id"] = request_id
    headers["x-forwarded-for"] = client_ip
    headers["x-forwarded-proto"] = request.url.scheme
    headers["x-forwarded-host"] = request.headers.get("host", "")
    return headers


def response_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() not in HOP_BY_HOP}


async def forward(
    http: httpx.AsyncClient,
    request: Request,
    base_url: str,
    *,
    request_id: str,
    client_ip: str,
    timeout: float,
    service: str,
) -> Response:
    """Send the request on, streaming both bodies; retry idempotent requests that could not connect."""
    url = base_url.rstrip("/") + request.url.path
    if request.url.query:
        url += "?" + request.url.query
    streaming = "text/event-stream" in request.headers.get("accept", "")
    t = httpx.Timeout(connect=2.0, read=None if streaming else timeout, write=timeout, pool=5.0)
    headers = forward_headers(request, request_id, client_ip)
    method = request.method
    attempts = RETRY_DELAYS if method in IDEMPOTENT else ()
    body = request.stream() if method not in ("GET", "HEAD") else None
    for attempt in range(len(attempts) + 1):
        upstream_req = http.build_request(method, url, headers=headers, content=body, timeout=t)
        try:
            upstream = await http.send(upstream_req, stream=True)
            break
        except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as exc:
            # Nothing was answered: the service restarted, or dropped a kept-alive connection.
            if attempt < len(attempts):
                await asyncio.sleep(attempts[attempt])
                continue
            raise ServiceUnavailable(
                f"the {service} service is not reachable right now; try again in a few seconds",
                code="upstream_unavailable",
                retry_after=2,
            ) from exc
        except httpx.TimeoutException as exc:
            raise GatewayTimeout(
                f"the {service} service did not answer within {timeout:.0f} s"
            ) from exc
        except httpx.TransportError as exc:
            raise ServiceUnavailable(
                f"the connection to the {service} service failed; try again",
                code="upstream_unavailable",
                retry_after=1,
            ) from exc
    return StreamingResponse(
        upstream.aiter_raw(),
        status_code=upstream.status_code,
        headers=response_headers(upstream.headers),
        background=BackgroundTask(upstream.aclose),
    )
