"""Alembic migrations of the registry (schema ``registry``)."""

SCHEMA = "registry"
