"""Registry settings."""

from egsu.core.settings import Settings


class RegistrySettings(Settings):
    service_name: str = "registry"
