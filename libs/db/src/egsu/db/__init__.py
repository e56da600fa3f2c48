"""PostgreSQL for the services: engine, sessions owned by the request, per-service schemas."""

from egsu.db.database import Database, async_url, make_metadata

__all__ = ["Database", "async_url", "make_metadata"]
