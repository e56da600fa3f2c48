"""Alembic migrations of the historian (schema ``measurements``)."""

SCHEMA = "measurements"
