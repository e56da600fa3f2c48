"""Who is calling: the verified token reduced to what the System decides on."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The System's realm roles (MISSION.md); `service` is the role of internal service accounts.
ROLES = ("ministry", "operator", "government", "subject", "auditor", "service")
# Roles that see every subject's restricted data.
WIDE_ROLES = frozenset({"ministry", "operator", "government", "auditor", "service"})


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller."""

    user_id: str
    username: str
    roles: frozenset[str]
    bin: str | None = None
    client_id: str | None = None
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def has_any(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def role(self) -> str:
        """The caller's main role, for journals and display."""
        for r in ROLES:
            if r in self.roles:
                return r
        return "none"

    @property
    def scope_bin(self) -> str | None:
        """The only subject whose restricted data this caller may see, or None for all of them."""
        if self.roles & WIDE_ROLES:
            return None
        return self.bin or "-"  # a subject user without a BIN sees nothing

    @property
    def is_client(self) -> bool:
        """A machine: the token was issued to a client's service account (client credentials)."""
        return bool(self.claims.get("client_id") or self.claims.get("clientId"))

    def can_see_subject(self, subject_bin: str) -> bool:
        scope = self.scope_bin
        return scope is None or scope == subject_bin

    @classmethod
    def from_claims(cls, claims: dict[str, Any]) -> Principal:
        roles = frozenset(r for r in claims.get("realm_access", {}).get("roles", []) if r in ROLES)
        return cls(
            user_id=str(claims.get("sub", "")),
            username=str(claims.get("preferred_username") or claims.get("sub") or ""),
            roles=roles,
            bin=claims.get("bin") or None,
            client_id=claims.get("azp") or claims.get("client_id"),
            claims=claims,
        )
