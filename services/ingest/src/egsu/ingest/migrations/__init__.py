"""Alembic migrations of ingest (schema ``ingest``)."""

SCHEMA = "ingest"
