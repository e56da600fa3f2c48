"""Registry settings."""

from egsu.core.settings import Settings


class RegistrySettings(Settings):
    service_name: str = "registry"
    verification_scan_seconds: float = 3600.0
    verification_notice_days: int = 30
