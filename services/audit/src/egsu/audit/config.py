"""Audit journal settings (environment variables ``EGSU_AUDIT_*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from egsu.core.settings import Settings

MIN_RETENTION_MONTHS = 12  # §69 of the Rules: journals are kept at least 12 months


class AuditSettings(Settings):
    service_name: str = "audit"

    # The Ed25519 key that signs checkpoints and archive manifests (PEM, PKCS#8). Required in
    # production (a mounted secret); generated into <var>/audit/signing-key.pem in dev and tests.
    audit_signing_key_file: Path | None = None
    # … or the key itself (PEM), e.g. from a Kubernetes Secret as EGSU_AUDIT_SIGNING_KEY.
    audit_signing_key: SecretStr | None = None
    # Public keys of earlier signing keys (after a rotation), still trusted when verifying.
    audit_trusted_public_keys: list[Path] = Field(default_factory=list)

    # Writer: batch size fetched from JetStream, and whether this replica may become the writer.
    audit_writer: bool = True
    audit_batch: int = Field(1000, ge=1, le=10_000)
    audit_standby_poll_seconds: float = 2.0

    # Checkpoints: when the oldest entry not yet in one is this old, or this many are waiting.
    audit_checkpoint_seconds: float = Field(60.0, gt=0)
    audit_checkpoint_max_entries: int = Field(50_000, ge=1)

    # Retention: months kept online in PostgreSQL besides the current one (never below 12).
    audit_retention_months: int = Field(MIN_RETENTION_MONTHS, ge=MIN_RETENTION_MONTHS)
    audit_retention_check_seconds: float = 3600.0
    audit_archive_part_entries: int = Field(200_000, ge=1)

    def signing_key_path(self) -> Path:
        if self.audit_signing_key_file is not None:
            return self.audit_signing_key_file
        if self.environment == "prod":
            raise RuntimeError(
                "set EGSU_AUDIT_SIGNING_KEY (the audit service's Ed25519 key, PEM) or "
                "EGSU_AUDIT_SIGNING_KEY_FILE (a mounted secret)"
            )
        return self.var_dir / "audit" / "signing-key.pem"
