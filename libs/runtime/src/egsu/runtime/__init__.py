"""The resources a service holds for its lifetime and their orderly start and stop."""

from egsu.runtime.lifespan import Runtime, service_lifespan

__all__ = ["Runtime", "service_lifespan"]
