"""Alembic migrations of the forecast service (schema ``forecast``)."""

SCHEMA = "forecast"
