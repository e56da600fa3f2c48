"""Gateway settings."""

from __future__ import annotations

from egsu.core.settings import Settings

# /api/v1/<area>/... is served by the service named here.
DEFAULT_AREAS = {
    "registry": "registry",
    "ingest": "ingest",
    "validation": "validation",
    "measurements": "measurements",
    "monitoring": "monitoring",
    "forecast": "forecast",
    "reports": "reports",
    "open": "reports",
    "audit": "audit",
}


class GatewaySettings(Settings):
    service_name: str = "gateway"
    areas: dict[str, str] = DEFAULT_AREAS
    realm_url: str | None = None  # the development realm, proxied at /realms/ (embedded setup only)
    web_url: str | None = (
        None  # the console; everything that is not API, realm or health goes there
    )
    rate_limit: str = "1200/minute"  # per authenticated client
    rate_limit_anonymous: str = "300/minute"  # per source address
    upstream_timeout: float = 60.0
    spec_refresh_seconds: float = 30.0
    trusted_proxies: int = 0  # how many X-Forwarded-For hops to trust (ingress in front)
