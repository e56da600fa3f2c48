"""The object store: raw payloads, documents, reports, audit archives, models."""

from egsu.storage.store import BUCKETS, ObjectStore, StoredObject, StoreUnavailable

__all__ = ["BUCKETS", "ObjectStore", "StoreUnavailable", "StoredObject"]
