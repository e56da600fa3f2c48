"""``EgsuClient``: the System's public API over one HTTP connection pool."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import inspect
import logging
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Self, TypeVar

import httpx
import orjson
from pydantic import BaseModel

from egsu.client import batching, sse
from egsu.client.auth import Auth
from egsu.client.errors import (
    ApiError,
    EgsuClientError,
    NotFound,
    ReportFailed,
    Unreachable,
    WaitTimeout,
    error_from,
)
from egsu.client.models import (
    BatchStored,
    Receipt,
    ReceiptSummary,
    Report,
    SignedDocumentRead,
)
from egsu.client.retry import Retry, retryable
from egsu.contracts.alarms import AlarmEvent

log = logging.getLogger("egsu.client")
M = TypeVar("M", bound=BaseModel)

INGEST = "/api/v1/ingest"
REPORTS = "/api/v1/reports"
MONITORING = "/api/v1/monitoring"
MEASUREMENTS = "/api/v1/measurements"
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
XML_80020 = "application/xml"


@dataclass(frozen=True)
class ReportFile:
    """A downloaded report: its bytes (checked against the System's SHA-256) and file name."""

    content: bytes
    filename: str
    content_type: str
    sha256: str

    def save(self, folder: str | os.PathLike[str] = ".") -> Path:
        path = Path(folder) / self.filename
        path.write_bytes(self.content)
        return path


class EgsuClient:
    """An async client of the System's API.

    ``base_url`` is the gateway; tokens come from ``{base_url}/realms/{realm}/…/token`` unless
    ``token_url`` (or the grant's own) says otherwise. Pass ``http`` to share a connection pool
    (it is then not closed here); :meth:`with_auth` makes a sibling with other credentials.
    """

    def __init__(
        self,
        base_url: str,
        auth: Auth | None = None,
        *,
        realm: str = "egsu",
        token_url: str | None = None,
        retry: Retry | None = None,
        http: httpx.AsyncClient | None = None,
        timeout: float | httpx.Timeout = httpx.Timeout(60.0, connect=10.0),
        max_batch: int = batching.MAX_BATCH,
        max_bytes: int = batching.MAX_BYTES,
        poll_interval: float = 0.25,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.auth = auth
        self.token_url = (
            token_url or f"{self.base_url}/realms/{realm}/protocol/openid-connect/token"
        )
        self.retry = retry or Retry()
        self._own_http = http is None
        self.http = http or httpx.AsyncClient(timeout=timeout)
        self.max_batch = max_batch
        self.max_bytes = max_bytes
        self.poll_interval = poll_interval

    def with_auth(self, auth: Auth | None, *, retry: Retry | None = None) -> EgsuClient:
        """The same System and connection pool with other credentials (and retry budget)."""
        return EgsuClient(
            self.base_url,
            auth,
            token_url=self.token_url,
            retry=retry or self.retry,
            http=self.http,
            max_batch=self.max_batch,
            max_bytes=self.max_bytes,
            poll_interval=self.poll_interval,
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_http:
            await self.http.aclose()

    # --- the request core ------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return path if re.match(r"^https?://", path) else self.base_url + path

    async def _fetch_token(
        self, url: str, form: dict[str, str], basic: tuple[str, str] | None
    ) -> dict[str, Any]:
        r = await self.request(
            "POST", url, data=form, basic=basic, authenticated=False, idempotent=True
        )
        return r.json()  # type: ignore[no-any-return]

    async def access_token(self, *, renew: bool = False, stale: str | None = None) -> str:
        """The bearer token the next request carries (obtained or renewed if needed)."""
        if self.auth is None:
            raise EgsuClientError("this client has no credentials")
        return await self.auth.token(self._fetch_token, self.token_url, renew=renew, stale=stale)

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        content: bytes | None = None,
        data: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotency_key: str | None = None,
        idempotent: bool | None = None,
        authenticated: bool = True,
        basic: tuple[str, str] | None = None,
        retry: Retry | None = None,
        stream: bool = False,
        timeout: httpx.Timeout | None = None,
    ) -> httpx.Response:
        """Send one request, repeated unchanged (same body, same Idempotency-Key) while the System
        is unreachable or answers 429/502/503/504 and the retry budget lasts; a 401 renews the
        token once. An error answer raises :class:`ApiError`; no answer at all :class:`Unreachable`.
        With ``stream`` the caller reads and closes the response."""
        method = method.upper()
        h = dict(headers or {})
        if idempotency_key is not None:
            h["Idempotency-Key"] = idempotency_key
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS or idempotency_key is not None
        policy = retry or self.retry
        use_token = authenticated and self.auth is not None
        extra: dict[str, Any] = {"timeout": timeout} if timeout is not None else {}
        started = time.monotonic()
        attempt, renewed, token = 0, False, ""
        while True:
            if use_token:
                token = await self.access_token()
                h["Authorization"] = f"Bearer {token}"
            req = self.http.build_request(
                method, self._url(path), params=params, json=json, content=content, data=data,
                headers=h, **extra,
            )  # fmt: skip
            if basic is not None:
                req = next(httpx.BasicAuth(*basic).auth_flow(req))
            response: httpx.Response | None = None
            error: httpx.TransportError | None = None
            try:
                response = await self.http.send(req, stream=stream)
            except httpx.TransportError as exc:
                error = exc
            if response is not None:
                if response.status_code == 401 and use_token and not renewed:
                    renewed = True
                    await response.aclose()
                    await self.access_token(renew=True, stale=token)
                    continue
                if response.status_code < 400:
                    return response
            if not retryable(response, error, idempotent):
                return await self._fail(response, error)
            wait = policy.delay(attempt, response)
            if not policy.allows(attempt, started, wait):
                return await self._fail(response, error)
            attempt += 1
            if attempt in (1, 5, 20) or attempt % 100 == 0:
                log.warning(
                    "%s %s: %s; attempt %d in %.1f s", method, req.url.path,
                    response.status_code if response is not None else error, attempt + 1, wait,
                )  # fmt: skip
            if response is not None:
                await response.aclose()
            await asyncio.sleep(wait)

    async def _fail(
        self, response: httpx.Response | None, error: httpx.TransportError | None
    ) -> httpx.Response:
        if response is None:
            assert error is not None
            raise Unreachable(f"{self.base_url}: {type(error).__name__}: {error}") from error
        await response.aread()
        raise error_from(response)

    async def get(self, path: str, **params: Any) -> Any:
        """GET a JSON answer (query parameters as keywords; None values are left out)."""
        r = await self.request("GET", path, params=_params(params))
        return r.json()

    async def post(self, path: str, body: Any = None, *, idempotency_key: str | None = None) -> Any:
        """POST JSON and return the JSON answer."""
        r = await self.request("POST", path, json=body, idempotency_key=idempotency_key)
        return r.json() if r.content else None

    async def paginate(
        self, path: str, *, page_size: int | None = None, **params: Any
    ) -> AsyncIterator[dict[str, Any]]:
        """Every item of a list (``{"items": [...], "next_cursor": …}``), page after page."""
        query = _params(params)
        if page_size is not None:
            query["limit"] = page_size
        while True:
            body = await self.get(path, **query)
            for item in body["items"]:
                yield item
            cursor = body.get("next_cursor")
            if not cursor:
                return
            query["cursor"] = cursor

    async def _typed(
        self, model: type[M], path: str, page_size: int | None, params: dict[str, Any]
    ) -> AsyncIterator[M]:
        async for item in self.paginate(path, page_size=page_size, **params):
            yield model.model_validate(item)

    @contextlib.asynccontextmanager
    async def stream(self, method: str, path: str, **kw: Any) -> AsyncIterator[httpx.Response]:
        """A streamed response (closed on exit)."""
        r = await self.request(method, path, stream=True, **kw)
        try:
            yield r
        finally:
            await r.aclose()

    # --- submissions ----------------------------------------------------------------------------

    async def _submit(
        self,
        path: str,
        body: bytes,
        content_type: str,
        key: str,
        params: Mapping[str, Any] | None = None,
    ) -> Receipt:
        r = await self.request(
            "POST", path, content=body, params=_params(dict(params or {})),
            headers={"Content-Type": content_type}, idempotency_key=key,
        )  # fmt: skip
        return Receipt.model_validate(r.json())

    async def _submit_all(
        self,
        parts: list[tuple[int, bytes]],
        content_type: str,
        key: str | None,
        params: Mapping[str, Any] | None = None,
    ) -> list[Receipt]:
        keys = batching.chunk_keys(key, [b for _, b in parts])
        receipts = []
        for (offset, body), k in zip(parts, keys, strict=True):
            receipt = await self._submit(f"{INGEST}/readings", body, content_type, k, params)
            if offset:
                receipt = Receipt.model_validate(
                    batching.shift_rejected(receipt.model_dump(mode="json"), offset)
                )
            receipts.append(receipt)
        return receipts

    async def post_readings(
        self,
        readings: Sequence[BaseModel | Mapping[str, Any]],
        *,
        subject_bin: str | None = None,
        events: Sequence[BaseModel | Mapping[str, Any]] = (),
        idempotency_key: str | None = None,
    ) -> list[Receipt]:
        """Submit readings (``Reading`` models or dicts) as JSON, in as many batches as ingest's
        limits ask; one receipt per batch, rejected indexes counted over the whole sequence."""
        parts = batching.json_batches(
            readings, subject_bin=subject_bin, events=events,
            max_batch=self.max_batch, max_bytes=self.max_bytes,
        )  # fmt: skip
        return await self._submit_all(parts, "application/json", idempotency_key)

    async def post_readings_json(
        self, body: bytes, *, idempotency_key: str | None = None
    ) -> Receipt:
        """Submit one ready-made JSON batch (``{"subject_bin", "readings", "events"}``) as it is."""
        key = idempotency_key or batching.body_key(body)
        return await self._submit(f"{INGEST}/readings", body, "application/json", key)

    async def post_csv(
        self,
        data: bytes | str | os.PathLike[str],
        *,
        subject_bin: str | None = None,
        idempotency_key: str | None = None,
    ) -> list[Receipt]:
        """Submit CSV (``point,quantity,ts,value,unit``; bytes, text or a file path), split into
        batches under ingest's limits with the header repeated."""
        raw = _bytes(data)
        parts = batching.csv_batches(raw, max_batch=self.max_batch, max_bytes=self.max_bytes)
        params = {"subject_bin": subject_bin}
        return await self._submit_all(parts, "text/csv", idempotency_key, params)

    async def post_80020(
        self,
        data: bytes | os.PathLike[str],
        *,
        subject_bin: str | None = None,
        idempotency_key: str | None = None,
    ) -> Receipt:
        """Submit an 80020 XML exchange file (bytes or a path) as it is, in its own encoding."""
        raw = _bytes(data)
        key = idempotency_key or batching.body_key(raw)
        return await self._submit(
            f"{INGEST}/readings", raw, XML_80020, key, {"subject_bin": subject_bin}
        )

    async def post_document(
        self,
        cms: bytes,
        data: bytes | None = None,
        *,
        subject_bin: str | None = None,
        idempotency_key: str | None = None,
    ) -> Receipt:
        """Submit a signed document: a CMS (DER) holding the batch, or a detached CMS with it."""
        body = {
            "cms": base64.b64encode(cms).decode(),
            "data": base64.b64encode(data).decode() if data is not None else None,
        }
        raw = orjson.dumps(body)
        key = idempotency_key or batching.body_key(raw)
        return await self._submit(
            f"{INGEST}/documents", raw, "application/json", key, {"subject_bin": subject_bin}
        )

    async def get_document(self, receipt_id: str, *, reverify: bool = False) -> SignedDocumentRead:
        """A signed document as submitted; with ``reverify`` its signature checked again now."""
        body = await self.get(f"{INGEST}/documents/{receipt_id}", reverify=reverify or None)
        return SignedDocumentRead.model_validate(body)

    # --- receipts -------------------------------------------------------------------------------

    async def get_receipt(self, receipt_id: str) -> Receipt:
        return Receipt.model_validate(await self.get(f"{INGEST}/receipts/{receipt_id}"))

    def receipts(
        self, *, page_size: int | None = None, **filters: Any
    ) -> AsyncIterator[ReceiptSummary]:
        """Receipts, newest first (filters: subject_bin, status, source, from, to)."""
        return self._typed(ReceiptSummary, f"{INGEST}/receipts", page_size, filters)

    async def wait_stored(self, receipt_id: str, *, timeout: float = 60.0) -> BatchStored:
        """Wait until the historian has stored the receipt's batch."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                body = await self.get(f"{MEASUREMENTS}/batches/{receipt_id}")
                return BatchStored.model_validate(body)
            except NotFound as exc:
                if exc.code != "batch_not_stored":
                    raise
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"receipt {receipt_id} not stored within {timeout:.0f} s")
            await asyncio.sleep(self.poll_interval)

    # --- reports --------------------------------------------------------------------------------

    async def order_report(
        self,
        kind: str,
        *,
        level: str,
        period_from: date,
        period_to: date,
        scope: str | None = None,
        format: str = "xlsx",
        language: str = "ru",
    ) -> str:
        """Ask for a report; returns its id (a job makes it)."""
        body = {
            "kind": kind,
            "level": level,
            "scope": scope,
            "period": {"from": period_from.isoformat(), "to": period_to.isoformat()},
            "format": format,
            "language": language,
        }
        return str((await self.post(REPORTS, body))["id"])

    async def get_report(self, report_id: str) -> Report:
        return Report.model_validate(await self.get(f"{REPORTS}/{report_id}"))

    def reports(self, *, page_size: int | None = None, **filters: Any) -> AsyncIterator[Report]:
        """Reports, newest first (filters: kind, level, scope, status, origin, format, from, to)."""
        return self._typed(Report, f"{REPORTS}", page_size, filters)

    async def wait_report(
        self,
        report_id: str,
        *,
        timeout: float = 300.0,
        on_progress: Callable[[Report], Any] | None = None,
    ) -> Report:
        """Wait until the report is done; ``on_progress`` hears every change of its status.
        A failed report raises :class:`ReportFailed`."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            report = await self.get_report(report_id)
            if report.status != last:
                last = report.status
                if on_progress is not None:
                    await _maybe_await(on_progress(report))
            if report.status == "done":
                return report
            if report.status == "failed":
                raise ReportFailed(report_id, report.error)
            if time.monotonic() >= deadline:
                raise WaitTimeout(f"report {report_id} still {report.status} after {timeout:.0f} s")
            await asyncio.sleep(self.poll_interval)

    async def download_report(self, report_id: str) -> ReportFile:
        """A finished report's file, its SHA-256 checked against the one the System gives."""
        r = await self.request("GET", f"{REPORTS}/{report_id}/download")
        want = r.headers.get("x-content-sha256", "")
        got = hashlib.sha256(r.content).hexdigest()
        if want and want != got:
            raise EgsuClientError(
                f"report {report_id}: the download's SHA-256 is {got}, not {want}"
            )
        match = re.search(r'filename="([^"]+)"', r.headers.get("content-disposition", ""))
        return ReportFile(
            r.content,
            match.group(1) if match else f"{report_id}",
            r.headers.get("content-type", "application/octet-stream"),
            got,
        )

    # --- alarms ---------------------------------------------------------------------------------

    async def alarms(
        self,
        *,
        severity: Sequence[str] | None = None,
        kind: str | None = None,
        subject_bin: str | None = None,
        region_kato: str | None = None,
        last_event_id: str | None = None,
        on_ready: Callable[[], Any] | None = None,
        reconnect: bool = True,
    ) -> AsyncIterator[AlarmEvent]:
        """The live alarm stream (server-sent events) in the caller's scope, as ``AlarmEvent``.

        ``on_ready`` is called once the subscription stands (after every reconnection): events
        from then on are delivered. A dropped stream is resumed where it stopped (Last-Event-ID).
        """
        params = _params({"severity": list(severity) if severity else None, "kind": kind,
                          "subject_bin": subject_bin, "region_kato": region_kato})  # fmt: skip
        delay = 2.0
        no_read_timeout = httpx.Timeout(30.0, read=None)
        while True:
            headers = {"Accept": "text/event-stream"}
            if last_event_id:
                headers["Last-Event-ID"] = last_event_id
            try:
                async with self.stream(
                    "GET", f"{MONITORING}/alarms/stream", params=params, headers=headers,
                    timeout=no_read_timeout,
                ) as r:  # fmt: skip
                    async for ev in sse.events(r.aiter_lines()):
                        if ev.retry is not None:
                            delay = ev.retry / 1000
                        if ev.event == "ready":
                            if on_ready is not None:
                                await _maybe_await(on_ready())
                            continue
                        if ev.id:
                            last_event_id = ev.id
                        yield AlarmEvent.model_validate_json(ev.data)
            except (httpx.TransportError, EgsuClientError) as exc:
                if not reconnect or not getattr(exc, "transient", True):
                    raise
                log.warning("alarm stream dropped (%s); reconnecting in %.1f s", exc, delay)
            else:
                if not reconnect:
                    return
            await asyncio.sleep(delay)


def _params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Query parameters without the None values; dates as ISO text."""
    return {
        k: v.isoformat() if isinstance(v, date) else v for k, v in params.items() if v is not None
    }


def _bytes(data: bytes | str | os.PathLike[str]) -> bytes:
    """Bytes as they are; a str that holds a line break is text; anything else is a path."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, str) and "\n" in data:
        return data.encode()
    return Path(data).read_bytes()


async def _maybe_await(value: Any) -> None:
    if inspect.isawaitable(value):
        await value


__all__ = ["ApiError", "EgsuClient", "ReportFile"]
