"""Alembic migrations of the reports service (schema ``reports``)."""

SCHEMA = "reports"
