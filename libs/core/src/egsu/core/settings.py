"""Process settings from the environment (prefix ``EGSU_``); one settings object per process."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

S = TypeVar("S", bound="Settings")


class Settings(BaseSettings):
    """Settings shared by every service; a service subclasses it for its own knobs."""

    model_config = SettingsConfigDict(env_prefix="EGSU_", extra="ignore")

    service_name: str = "egsu"
    environment: Literal["dev", "test", "prod"] = "dev"
    var_dir: Path = Path("var")
    log_level: str = "INFO"
    log_json: bool = True

    # PostgreSQL (one schema per service)
    database_url: str | None = None
    database_pool_size: int = 10
    database_max_overflow: int = 10

    # NATS JetStream
    nats_url: str | None = None
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    nats_creds_file: Path | None = None
    stream_replicas: int = 1

    # Object store (MinIO in production, SeaweedFS embedded); endpoint like http://host:port
    s3_endpoint: str | None = None
    s3_access_key: str = "egsu"
    s3_secret_key: SecretStr = SecretStr("egsu-dev-secret")
    s3_region: str = "us-east-1"
    s3_bucket_prefix: str = "egsu-"

    # Identity: the public issuer that appears in tokens, and where to reach it from inside
    oidc_issuer: str | None = None
    oidc_internal_url: str | None = None
    oidc_audience: str = "egsu-api"
    client_id: str | None = None
    client_secret: SecretStr | None = None

    # Other services by name -> base URL, e.g. {"registry": "http://egsu-registry:8000"}
    services: dict[str, str] = {}

    # Observability
    otlp_endpoint: str | None = None

    @property
    def oidc_base_url(self) -> str | None:
        """Where this process fetches discovery and keys (internal address if set)."""
        return self.oidc_internal_url or self.oidc_issuer

    def service_url(self, name: str) -> str:
        """Base URL of another service, or a clear error saying which setting is missing."""
        try:
            return self.services[name].rstrip("/")
        except KeyError:
            raise RuntimeError(
                f"service {name!r} has no address: set EGSU_SERVICES to a JSON object "
                f'such as {{"{name}": "http://127.0.0.1:8101"}}'
            ) from None


@functools.cache
def get_settings(cls: type[S] = Settings) -> S:  # type: ignore[assignment]
    """The process-wide settings object of the given class."""
    return cls()
