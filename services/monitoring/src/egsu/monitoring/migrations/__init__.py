"""Alembic migrations of monitoring (schema ``monitoring``)."""

SCHEMA = "monitoring"
