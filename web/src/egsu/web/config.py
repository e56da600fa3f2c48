"""Console settings."""

from __future__ import annotations

from pydantic import SecretStr

from egsu.core.settings import Settings

DEV_CONSOLE_SECRET = "egsu-console-dev-secret"  # noqa: S105 - the development realm's client only


class WebSettings(Settings):
    service_name: str = "web"
    # Where the console reaches the gateway (egsu up and the chart set it).
    gateway_url: str = "http://127.0.0.1:8000"
    # The console's public base URL, if not told by the gateway's X-Forwarded-* headers.
    public_url: str | None = None
    # The realm client users log in with (authorization code + PKCE).
    console_client_id: str = "egsu-console"
    console_client_secret: SecretStr | None = None
    session_cookie: str = "egsu_console"
    session_max_seconds: int = 36000
    session_idle_seconds: int = 1800
    api_timeout: float = 20.0

    def console_secret(self) -> str:
        """The console client's secret; the development secret outside production only."""
        if self.console_client_secret is not None:
            return self.console_client_secret.get_secret_value()
        if self.environment == "prod":
            raise RuntimeError("set EGSU_CONSOLE_CLIENT_SECRET: the console client's secret")
        return DEV_CONSOLE_SECRET
