"""A thin async face on the ``minio`` client: buckets created on start, bytes in and out.

The minio client is synchronous; calls run in worker threads so the event loop never blocks.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlparse

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error

from egsu.core.errors import NotFound, ServiceUnavailable
from egsu.core.settings import Settings

# Logical bucket names; the physical name carries the configured prefix (``egsu-raw`` …).
BUCKETS = ("raw", "docs", "reports", "audit", "models", "open")


class StoreUnavailable(ServiceUnavailable):
    code = "store_unavailable"
    title = "The object store is unavailable"


@dataclass(frozen=True, slots=True)
class StoredObject:
    bucket: str
    key: str
    size: int
    etag: str
    content_type: str | None
    last_modified: datetime | None
    metadata: dict[str, str]


class ObjectStore:
    """Bytes in and out of the System's buckets."""

    def __init__(self, settings: Settings) -> None:
        if not settings.s3_endpoint:
            raise RuntimeError("set EGSU_S3_ENDPOINT (for example http://127.0.0.1:9000)")
        url = urlparse(settings.s3_endpoint)
        self.prefix = settings.s3_bucket_prefix
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=3, read=30),
            retries=urllib3.Retry(
                total=2, backoff_factor=0.2, status_forcelist=(500, 502, 503, 504)
            ),
            maxsize=16,
        )
        self.client = Minio(
            url.netloc,
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key.get_secret_value(),
            secure=url.scheme == "https",
            region=settings.s3_region,
            http_client=http,
        )

    def bucket(self, name: str) -> str:
        return f"{self.prefix}{name}"

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchBucket", "NoSuchObject"):
                raise NotFound(
                    f"no object {exc.object_name or ''} in the store", code="object_not_found"
                ) from exc
            raise StoreUnavailable(f"the object store refused the request: {exc.code}") from exc
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise StoreUnavailable(f"the object store cannot be reached: {exc}") from exc

    async def ensure_buckets(self, names: Iterable[str] = BUCKETS) -> None:
        for name in names:
            b = self.bucket(name)
            if not await self._call(self.client.bucket_exists, b):
                try:
                    await self._call(self.client.make_bucket, b)
                except StoreUnavailable:
                    if not await self._call(self.client.bucket_exists, b):  # lost a race: fine
                        raise

    async def put(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        metadata: dict[str, str] | None = None,
    ) -> str:
        """Store ``data`` and return its ETag."""
        result = await self._call(
            self.client.put_object,
            self.bucket(bucket),
            key,
            io.BytesIO(data),
            len(data),
            content_type=content_type,
            metadata=metadata or None,
        )
        return str(result.etag)

    async def get(self, bucket: str, key: str) -> bytes:
        def _read() -> bytes:
            resp = self.client.get_object(self.bucket(bucket), key)
            try:
                return resp.read()
            finally:
                resp.close()
                resp.release_conn()

        return await self._call(_read)  # type: ignore[no-any-return]

    async def stat(self, bucket: str, key: str) -> StoredObject:
        st = await self._call(self.client.stat_object, self.bucket(bucket), key)
        meta = {
            k.lower().removeprefix("x-amz-meta-"): v
            for k, v in (st.metadata or {}).items()
            if k.lower().startswith("x-amz-meta-")
        }
        return StoredObject(
            bucket, key, st.size or 0, st.etag or "", st.content_type, st.last_modified, meta
        )

    async def list(self, bucket: str, prefix: str = "") -> list[str]:
        def _list() -> list[str]:
            return [
                o.object_name
                for o in self.client.list_objects(
                    self.bucket(bucket), prefix=prefix, recursive=True
                )
            ]

        return await self._call(_list)  # type: ignore[no-any-return]

    async def remove(self, bucket: str, key: str) -> None:
        await self._call(self.client.remove_object, self.bucket(bucket), key)

    async def ping(self) -> None:
        await self._call(self.client.bucket_exists, self.bucket(BUCKETS[0]))
