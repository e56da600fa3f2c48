"""Where the trust store's entries come from, and how every replica keeps the same set.

- The configured folder (``EGSU_VALIDATION_TRUST_DIR``): read at start; read-only through the API.
- The object store (bucket ``docs``, prefix ``validation/trust/``): what the ministry adds via the
  API. Each replica re-lists it every ``validation_trust_reload_seconds``, so an anchor added or
  removed on one replica reaches the others within that time (at once on the replica that did it).
- CRL URLs (``EGSU_VALIDATION_CRL_URLS``, and the distribution points if enabled): fetched at start
  and every ``validation_crl_refresh_seconds``, or sooner when the newest CRL has passed its
  nextUpdate; the last good copy is kept when a fetch fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import httpx

from egsu.core.errors import Conflict, NotFound
from egsu.storage import ObjectStore
from egsu.validation.certificate import Certificate
from egsu.validation.config import ValidationSettings
from egsu.validation.der import Malformed
from egsu.validation.ocsp import OcspClient
from egsu.validation.trust import (
    Anchor,
    CrlEntry,
    TrustStore,
    anchor_from_bytes,
    decode_pem_or_der,
    parse_crl,
)
from egsu.validation.verify import Limits, Verifier

log = logging.getLogger("egsu.validation")
T = TypeVar("T")
BUCKET = "docs"
MAX_CDP_URLS = 64
CERT_SUFFIXES = {".cer", ".crt", ".pem", ".der"}


@dataclass
class _Loaded:
    anchors: dict[str, Anchor]
    crls: dict[str, CrlEntry]


def read_folder(folder: Path) -> _Loaded:
    """Every certificate and CRL under ``folder`` (bad files are logged and skipped)."""
    out = _Loaded({}, {})
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        suffix = path.suffix.lower()
        try:
            if suffix == ".crl":
                crl = parse_crl(decode_pem_or_der(path.read_bytes(), "crl", ("X509 CRL",)))
                out.crls[crl.sha256] = CrlEntry(crl, "folder", url=str(path))
            elif suffix in CERT_SUFFIXES:
                der = decode_pem_or_der(path.read_bytes(), "certificate", ("CERTIFICATE",))
                anchor = anchor_from_bytes(der, "folder")
                out.anchors[anchor.cert.sha256] = anchor
        except Malformed as exc:
            log.warning("trust folder: %s skipped: %s", path, exc.detail)
    return out


class TrustService:
    """Keeps the trust store filled from the folder, the object store and CRL URLs."""

    def __init__(self, settings: ValidationSettings, store: ObjectStore | None) -> None:
        self.settings = settings
        self.store = store
        self.trust = TrustStore()
        self.folder = _Loaded({}, {})
        self.stored = _Loaded({}, {})
        self.fetched: dict[str, CrlEntry] = {}
        self._crl_fetched_at: dict[str, float] = {}
        self._http = httpx.AsyncClient(timeout=30.0, follow_redirects=True)
        self._task: asyncio.Task[None] | None = None
        self._limiter = anyio.CapacityLimiter(settings.validation_workers)
        self._cdp_urls: dict[str, None] = {}  # distribution points seen on verified certificates
        self.ocsp = None
        if settings.validation_ocsp_url or settings.validation_ocsp_use_aia:
            self.ocsp = OcspClient(
                url=settings.validation_ocsp_url,
                use_aia=settings.validation_ocsp_use_aia,
                timeout=settings.validation_ocsp_timeout,
                cache_seconds=settings.validation_ocsp_cache_seconds,
            )
        self.verifier = Verifier(
            self.trust,
            revocation_unknown_fatal=settings.validation_revocation_unknown_fatal,
            ocsp=self.ocsp,
            on_missing_crl=self._want_crl if settings.validation_crl_fetch_cdp else None,
            limits=Limits(
                max_signers=settings.validation_max_signers,
                max_certificates=settings.validation_max_certificates,
            ),
        )

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run CPU-bound work in a small pool of its own, so requests queue instead of thrashing."""
        return await anyio.to_thread.run_sync(fn, *args, limiter=self._limiter)

    # --- life cycle -----------------------------------------------------------------------------
    async def start(self) -> None:
        if self.settings.validation_trust_dir is not None:
            self.folder = await asyncio.to_thread(read_folder, self.settings.validation_trust_dir)
        await self.reload_store()
        self._rebuild()
        self._task = asyncio.create_task(self._run(), name="validation-trust")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._http.aclose()
        if self.ocsp is not None:
            self.ocsp.close()

    async def _run(self) -> None:
        await self.refresh_crls()
        last_reload = time.monotonic()
        while True:
            await asyncio.sleep(min(5.0, self.settings.validation_trust_reload_seconds))
            try:
                if time.monotonic() - last_reload >= self.settings.validation_trust_reload_seconds:
                    last_reload = time.monotonic()
                    await self.reload_store()
                await self.refresh_crls()
            except Exception:  # the loop must outlive any one failure; it is logged with its cause
                log.exception("trust store refresh failed")

    def _rebuild(self) -> None:
        anchors = {**self.folder.anchors, **self.stored.anchors}
        crls = {
            **self.folder.crls,
            **self.stored.crls,
            **{e.crl.sha256: e for e in self.fetched.values()},
        }
        self.trust.replace(anchors.values(), crls.values())

    # --- the object store -----------------------------------------------------------------------
    def _key(self, kind: str, sha: str) -> str:
        ext = "cer" if kind == "certificates" else "crl"
        return f"{self.settings.validation_store_prefix}{kind}/{sha}.{ext}"

    async def reload_store(self) -> None:
        """Bring this replica's copy in line with the object store (read new, drop gone)."""
        if self.store is None:
            return
        prefix = self.settings.validation_store_prefix
        keys = await self.store.list(BUCKET, prefix)
        anchors: dict[str, Anchor] = {}
        crls: dict[str, CrlEntry] = {}
        for key in keys:
            kind, _, name = key[len(prefix) :].partition("/")
            sha = name.rsplit(".", 1)[0]
            try:
                if kind == "certificates":
                    known = self.stored.anchors.get(sha)
                    if known is None:
                        st = await self.store.stat(BUCKET, key)
                        known = anchor_from_bytes(
                            await self.store.get(BUCKET, key), "store", st.last_modified
                        )
                    anchors[sha] = known
                elif kind == "crls":
                    known_crl = self.stored.crls.get(sha)
                    if known_crl is None:
                        st = await self.store.stat(BUCKET, key)
                        der = await self.store.get(BUCKET, key)
                        known_crl = CrlEntry(
                            await asyncio.to_thread(parse_crl, der),
                            "store",
                            fetched_at=st.last_modified,
                        )
                    crls[sha] = known_crl
            except NotFound:
                continue  # removed between the listing and the read
            except Malformed as exc:
                log.warning("object store: %s skipped: %s", key, exc.detail)
        changed = set(anchors) != set(self.stored.anchors) or set(crls) != set(self.stored.crls)
        self.stored = _Loaded(anchors, crls)
        if changed:
            self._rebuild()

    async def add_certificate(self, der: bytes, added_by: str) -> tuple[Anchor, bool]:
        """Trust a CA certificate; (the anchor, whether it is new)."""
        anchor = anchor_from_bytes(der, "store", datetime.now(UTC))
        sha = anchor.cert.sha256
        existing = self.trust.snapshot.anchors.get(sha)
        if existing is not None:
            return existing, False
        if self.store is not None:
            await self.store.put(
                BUCKET,
                self._key("certificates", sha),
                der,
                content_type="application/pkix-cert",
                metadata={"added-by": added_by},
            )
        self.stored.anchors[sha] = anchor
        self._rebuild()
        return anchor, True

    async def remove_certificate(self, sha: str) -> Anchor:
        if sha in self.folder.anchors:
            raise Conflict(
                "this anchor comes from the configured trust folder; remove the file there",
                code="configured_anchor",
            )
        anchor = self.stored.anchors.get(sha)
        if anchor is None:
            raise NotFound("no such trusted certificate", code="trust_certificate_not_found")
        if self.store is not None:
            await self.store.remove(BUCKET, self._key("certificates", sha))
        self.stored.anchors.pop(sha, None)
        self._rebuild()
        return anchor

    async def add_crl(self, der: bytes, added_by: str) -> tuple[CrlEntry, bool]:
        crl = await asyncio.to_thread(parse_crl, der)
        existing = self.trust.snapshot.crls.get(crl.sha256)
        if existing is not None:
            return existing, False
        entry = CrlEntry(crl, "store", fetched_at=datetime.now(UTC))
        if self.store is not None:
            await self.store.put(
                BUCKET,
                self._key("crls", crl.sha256),
                der,
                content_type="application/pkix-crl",
                metadata={"added-by": added_by},
            )
        self.stored.crls[crl.sha256] = entry
        self._rebuild()
        return entry, True

    async def remove_crl(self, sha: str) -> CrlEntry:
        if sha in self.folder.crls:
            raise Conflict("this CRL comes from the configured trust folder", code="configured_crl")
        if any(e.crl.sha256 == sha for e in self.fetched.values()):
            raise Conflict("this CRL is fetched from a configured URL", code="configured_crl")
        entry = self.stored.crls.get(sha)
        if entry is None:
            raise NotFound("no such CRL", code="crl_not_found")
        if self.store is not None:
            await self.store.remove(BUCKET, self._key("crls", sha))
        self.stored.crls.pop(sha, None)
        self._rebuild()
        return entry

    def _want_crl(self, cert: Certificate) -> None:
        """Remember a certificate's CRL distribution points (from a worker thread; bounded)."""
        for url in cert.crl_urls[:2]:
            if url not in self._cdp_urls and len(self._cdp_urls) < MAX_CDP_URLS:
                self._cdp_urls[url] = None

    # --- CRL URLs -------------------------------------------------------------------------------
    def crl_urls(self) -> list[str]:
        urls = list(self.settings.validation_crl_urls)
        if self.settings.validation_crl_fetch_cdp:
            for a in self.trust.snapshot.anchors.values():
                urls += a.cert.crl_urls
            urls += list(self._cdp_urls)
        return list(dict.fromkeys(u for u in urls if u.startswith(("http://", "https://"))))

    async def refresh_crls(self, *, force: bool = False) -> dict[str, str]:
        """Fetch CRLs that are due (or all if ``force``); the outcome per URL."""
        now = datetime.now(UTC)
        outcome: dict[str, str] = {}
        changed = False
        for url in self.crl_urls():
            entry = self.fetched.get(url)
            age = time.monotonic() - self._crl_fetched_at.get(url, -1e9)
            expired = (
                entry is not None
                and entry.crl.next_update is not None
                and entry.crl.next_update < now
            )
            due = (
                force
                or entry is None
                or age >= self.settings.validation_crl_refresh_seconds
                or (expired and age >= 60)
            )
            if not due:
                continue
            self._crl_fetched_at[url] = time.monotonic()
            try:
                der = await self._download(url)
                crl = await asyncio.to_thread(
                    parse_crl, decode_pem_or_der(der, "crl", ("X509 CRL",))
                )
            except (httpx.HTTPError, Malformed, ValueError) as exc:
                log.warning("CRL %s not refreshed: %s", url, exc)
                outcome[url] = f"failed: {exc}"
                continue
            if entry is None or entry.crl.sha256 != crl.sha256:
                self.fetched[url] = CrlEntry(crl, "url", url=url, fetched_at=now)
                changed = True
            outcome[url] = "ok"
        if changed:
            self._rebuild()
        return outcome

    async def _download(self, url: str) -> bytes:
        limit = self.settings.validation_crl_max_bytes
        async with self._http.stream("GET", url) as resp:
            resp.raise_for_status()
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise ValueError(f"the CRL is larger than {limit} bytes")
                chunks.append(chunk)
        return b"".join(chunks)
