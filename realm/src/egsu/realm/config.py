"""Settings of the development realm."""

from __future__ import annotations

from pathlib import Path

from egsu.core.settings import Settings


class RealmSettings(Settings):
    service_name: str = "realm"
    realm_definition: Path | None = None
    realm_users_file: Path | None = None
    realm_key_file: Path | None = None
    realm_clients_file: Path | None = None
    realm_events_file: Path | None = None
    realm_issuer: str = "http://localhost:8000/realms/egsu"

    @property
    def users_file(self) -> Path:
        return self.realm_users_file or self.var_dir / "realm" / "users.yaml"

    @property
    def key_file(self) -> Path:
        return self.realm_key_file or self.var_dir / "realm" / "signing-key.pem"

    @property
    def clients_file(self) -> Path:
        return self.realm_clients_file or self.var_dir / "realm" / "clients.json"

    @property
    def events_file(self) -> Path:
        return self.realm_events_file or self.var_dir / "realm" / "events.jsonl"
