"""The object store: raw payloads, documents, reports, audit archives, models."""

from egsu.storage.store import BUCKETS, ObjectStore, StoreUnavailable, StoredObject

__all__ = ["BUCKETS", "ObjectStore", "StoreUnavailable", "StoredObject"]
