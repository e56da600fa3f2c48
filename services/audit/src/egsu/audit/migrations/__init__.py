"""Migrations of the audit journal's schema."""

SCHEMA = "audit"
