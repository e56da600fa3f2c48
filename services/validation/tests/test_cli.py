"""``egsu pki test-ca`` and ``egsu pki sign``, as a developer runs them."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from egsu.validation.cli import app
from egsu.validation.service import read_folder
from egsu.validation.trust import TrustStore
from egsu.validation.verify import Verifier


def test_test_ca_then_sign_then_verify(tmp_path: Path) -> None:
    runner = CliRunner()
    folder = tmp_path / "pki"
    made = runner.invoke(app, ["test-ca", str(folder), "--bin", "123456789021"])
    assert made.exit_code == 0, made.output
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["bin"] == "123456789021"
    assert {"rsa-head-sign", "gost-head-sign", "gost-revoked-sign", "rsa-employee-auth"} <= set(
        manifest["leaves"]
    )
    doc = tmp_path / "batch.json"
    doc.write_text('{"readings": []}')
    signed = runner.invoke(
        app,
        [
            "sign",
            str(doc),
            "--cert",
            "gost-head-sign",
            "--cert",
            "rsa-signer-sign",
            "--folder",
            str(folder),
            "--detached",
        ],
    )
    assert signed.exit_code == 0, signed.output
    loaded = read_folder(folder / "ca")
    trust = TrustStore()
    trust.replace(loaded.anchors.values(), read_folder(folder / "crl").crls.values())
    result = Verifier(trust).verify_cms(
        (tmp_path / "batch.json.cms").read_bytes(), doc.read_bytes()
    )
    assert result["valid"] and result["detached"]
    assert {s["bin"] for s in result["signers"]} == {"123456789021"}
