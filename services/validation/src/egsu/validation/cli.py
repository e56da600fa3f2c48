"""``egsu pki``: the test PKI shaped like NCA RK, and signing documents with it."""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path

import typer

app = typer.Typer(
    help="Test PKI shaped like NCA RK (for tests and demonstrations; never for production).",
    no_args_is_help=True,
)


@app.command("test-ca")
def test_ca(
    folder: Path = typer.Argument(
        Path("var/test-pki"), help="Where to write the PKI (created if missing)."
    ),
    bin: str = typer.Option(
        None, "--bin", help="BIN of the test organisation (random if not given)."
    ),
    crl_base_url: str = typer.Option(
        None, help="Base URL written into the certificates' CRL distribution points."
    ),
    ocsp_url: str = typer.Option(None, help="OCSP URL written into the end-entity certificates."),
) -> None:
    """Build roots, intermediates, end-entity certificates (valid and negative cases) and CRLs."""
    from egsu.validation.testca import build_test_pki

    pki = build_test_pki(folder, bin=bin, crl_base_url=crl_base_url, ocsp_url=ocsp_url)
    typer.echo(
        f"test PKI in {folder}: {len(pki.manifest['cas'])} CAs, "
        f"{len(pki.manifest['leaves'])} certificates, "
        f"organisation BIN {pki.manifest['bin']}"
    )
    typer.echo(
        f"trust anchors: {folder / 'ca'}  CRLs: {folder / 'crl'}  "
        f"(EGSU_VALIDATION_TRUST_DIR={folder})"
    )
    for name, leaf in pki.manifest["leaves"].items():
        typer.echo(f"  {name:28} {leaf['holder']:22} {leaf['purpose']:15} {leaf['state']}")


@app.command("sign")
def sign(
    document: Path = typer.Argument(..., help="The file to sign."),
    cert: list[str] = typer.Option(
        ..., "--cert", help="Name of a certificate of the test PKI (repeat for more)."
    ),
    folder: Path = typer.Option(Path("var/test-pki"), help="The test PKI's folder."),
    detached: bool = typer.Option(False, help="Leave the document out of the CMS."),
    signing_time: datetime = typer.Option(None, help="Signing time to write (default: now)."),
    out: Path = typer.Option(None, help="Where to write the CMS (default: <document>.cms)."),
    base64_out: bool = typer.Option(False, "--base64", help="Write base64 instead of DER."),
) -> None:
    """Sign a document (CMS, the way Kalkan does) with certificates of the test PKI."""
    from egsu.validation.testca import TestPki, sign_cms

    pki = TestPki.load(folder)
    signers = [(pki.cert(n), pki.key(n)) for n in cert]
    cms = sign_cms(document.read_bytes(), signers, detached=detached, signing_time=signing_time)
    target = out or document.with_name(document.name + ".cms")
    target.write_bytes(base64.b64encode(cms) if base64_out else cms)
    typer.echo(str(target))
