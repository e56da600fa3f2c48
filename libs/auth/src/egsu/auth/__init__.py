"""Token verification, roles and the subject scope."""

from egsu.auth.principal import ROLES, Principal
from egsu.auth.roles import public, require_roles
from egsu.auth.verifier import TokenVerifier

__all__ = ["ROLES", "Principal", "TokenVerifier", "public", "require_roles"]
