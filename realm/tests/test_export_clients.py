"""``egsu realm export`` writes the integration clients of the development realm for Keycloak."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from egsu.cli.realm import app
from egsu.realm.clients import ClientDirectory
from egsu.realm.model import RealmDefinition


def test_export_includes_created_clients_without_their_secrets(tmp_path: Path) -> None:
    clients = ClientDirectory(RealmDefinition.load(), tmp_path / "realm" / "clients.json")
    made = clients.create(
        {
            "clientId": "ic-990340000014-abc123",
            "serviceAccountsEnabled": True,
            "secret": "the-secret-value",
            "protocolMappers": [
                {
                    "name": "bin",
                    "protocolMapper": "oidc-hardcoded-claim-mapper",
                    "config": {"claim.name": "bin", "claim.value": "990340000014"},
                }
            ],
            "attributes": {"access.token.lifespan": "300"},
        }
    )
    clients.set_roles(made, ("subject",))
    runner = CliRunner()
    out = runner.invoke(app, ["export", "--var", str(tmp_path)])
    assert out.exit_code == 0, out.output
    realm = json.loads(out.output)
    rep = next(c for c in realm["clients"] if c["clientId"] == "ic-990340000014-abc123")
    assert rep["secret"] == "${EGSU_CLIENT_SECRET_IC_990340000014_ABC123}"
    assert rep["attributes"]["access.token.lifespan"] == "300"
    assert rep["protocolMappers"][0]["config"]["claim.value"] == "990340000014"
    user = next(u for u in realm["users"] if u.get("serviceAccountClientId") == rep["clientId"])
    assert user["realmRoles"] == ["subject"]
    registry = next(u for u in realm["users"] if u["username"] == "service-account-egsu-registry")
    assert "manage-clients" in registry["clientRoles"]["realm-management"]
    assert realm["eventsEnabled"] and "CLIENT_LOGIN" in realm["enabledEventTypes"]
    assert "the-secret-value" not in out.output
    without = runner.invoke(app, ["export", "--var", str(tmp_path), "--no-with-clients"])
    assert "ic-990340000014-abc123" not in without.output
