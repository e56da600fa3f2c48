"""Registry settings."""

from __future__ import annotations

from pydantic import SecretStr

from egsu.core.settings import Settings


class RegistrySettings(Settings):
    service_name: str = "registry"
    verification_scan_seconds: float = 3600.0
    verification_notice_days: int = 30
    # Keycloak's admin API, where integration clients live. Unset: the realm of EGSU_OIDC_ISSUER
    # (its internal address) and the registry's own client (EGSU_CLIENT_ID / EGSU_CLIENT_SECRET),
    # whose service account holds the realm-management roles manage-clients, manage-users,
    # view-events.
    oidc_admin_server_url: str | None = None  # e.g. https://keycloak.example.kz/
    oidc_admin_realm: str | None = None
    oidc_admin_client_id: str | None = None
    oidc_admin_client_secret: SecretStr | None = None
    # How often the realm's client-login events are copied into the audit journal.
    login_events_poll_seconds: float = 3.0
    # Access tokens of integration clients live this long; a revocation reaches every process
    # at once over NATS, and this is the outer bound if that message is lost.
    client_token_lifespan: int = 300

    def admin_target(self) -> tuple[str, str]:
        """(server URL, realm) of the admin API."""
        base = (self.oidc_base_url or "").rstrip("/")
        server, _, realm = base.rpartition("/realms/")
        return (
            (self.oidc_admin_server_url or server).rstrip("/") + "/",
            self.oidc_admin_realm or realm or "egsu",
        )

    def admin_credentials(self) -> tuple[str, str]:
        client = self.oidc_admin_client_id or self.client_id
        secret = self.oidc_admin_client_secret or self.client_secret
        if not client or secret is None:
            raise RuntimeError(
                "set EGSU_OIDC_ADMIN_CLIENT_ID and EGSU_OIDC_ADMIN_CLIENT_SECRET (or the "
                "registry's EGSU_CLIENT_ID / EGSU_CLIENT_SECRET) to manage integration clients"
            )
        return client, secret.get_secret_value()
