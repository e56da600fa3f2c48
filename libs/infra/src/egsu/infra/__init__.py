"""Embedded servers: the same PostgreSQL, NATS and S3 the System uses in production, from wheels."""

from egsu.infra.embedded import Infra, InfraUrls

__all__ = ["Infra", "InfraUrls"]
