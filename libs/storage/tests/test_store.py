"""Object store lib against the session's real S3 endpoint (SeaweedFS), through the minio client."""

from __future__ import annotations

import uuid

import pytest

from egsu.core.errors import NotFound
from egsu.core.settings import Settings
from egsu.infra import InfraUrls
from egsu.storage import ObjectStore, StoreUnavailable


@pytest.fixture
async def store(infra: InfraUrls) -> ObjectStore:
    s = ObjectStore(
        Settings(
            s3_endpoint=infra.s3_endpoint,
            s3_access_key=infra.s3_access_key,
            s3_secret_key=infra.s3_secret_key,
        )
    )
    await s.ensure_buckets()
    return s


async def test_put_get_stat_list_remove(store: ObjectStore) -> None:
    key = f"t/{uuid.uuid4().hex}/a.json"
    etag = await store.put(
        "raw", key, b'{"a": 1}', content_type="application/json", metadata={"sha256": "abc"}
    )
    assert etag
    assert await store.get("raw", key) == b'{"a": 1}'
    st = await store.stat("raw", key)
    assert st.size == 8 and st.content_type == "application/json" and st.metadata["sha256"] == "abc"
    assert key in await store.list("raw", key.rsplit("/", 1)[0])
    await store.remove("raw", key)
    with pytest.raises(NotFound):
        await store.get("raw", key)


async def test_buckets_exist_after_start(store: ObjectStore) -> None:
    await store.ensure_buckets()  # twice is fine
    await store.ping()


async def test_unreachable_store_is_a_503_error() -> None:
    s = ObjectStore(Settings(s3_endpoint="http://127.0.0.1:9"))
    with pytest.raises(StoreUnavailable):
        await s.ping()
