"""Where trust comes from: the object store shared by replicas, the folder, CRL URLs, OCSP."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from egsu.core.errors import Conflict
from egsu.storage import ObjectStore
from egsu.validation.config import ValidationSettings
from egsu.validation.service import TrustService
from egsu.validation.testca import IssuedCert, TestPki, build_test_pki, make_crl, sign_cms


class _Server:
    """A small HTTP server on 127.0.0.1 whose answers the test sets."""

    def __init__(self) -> None:
        self.crl = b""
        self.ocsp: Any = None
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._send(outer.crl, "application/pkix-crl")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                self._send(outer.ocsp(body), "application/ocsp-response")

            def _send(self, data: bytes, ctype: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server()
    yield s
    s.close()


def settings(**kw: Any) -> ValidationSettings:
    return ValidationSettings(
        validation_store_prefix=f"validation/test-{datetime.now(UTC).timestamp()}/", **kw
    )


async def test_replicas_share_anchors_through_the_object_store(infra: object, pki: TestPki) -> None:
    s = settings()
    await ObjectStore(s).ensure_buckets()
    a, b = TrustService(s, ObjectStore(s)), TrustService(s, ObjectStore(s))
    await a.start()
    await b.start()
    try:
        anchor, new = await a.add_certificate(pki.ca_cert("gost-root"), "ministry")
        assert new and anchor.cert.sha256 in a.trust.snapshot.anchors
        assert anchor.cert.sha256 not in b.trust.snapshot.anchors
        await b.reload_store()  # what every replica does every validation_trust_reload_seconds
        assert b.trust.snapshot.anchors[anchor.cert.sha256].source == "store"
        crl, _ = await a.add_crl(pki.crls()[0], "ministry")
        await a.remove_certificate(anchor.cert.sha256)
        await b.reload_store()
        assert anchor.cert.sha256 not in b.trust.snapshot.anchors
        assert crl.crl.sha256 in b.trust.snapshot.crls
        # a replica started later reads the same set
        c = TrustService(s, ObjectStore(s))
        await c.start()
        assert set(c.trust.snapshot.crls) == {crl.crl.sha256}
        await c.stop()
    finally:
        await a.stop()
        await b.stop()


async def test_folder_anchors_are_loaded_and_cannot_be_deleted_through_the_api(
    pki: TestPki, tmp_path: Path
) -> None:
    shutil.copytree(pki.folder / "ca", tmp_path / "ca")
    shutil.copytree(pki.folder / "crl", tmp_path / "crl")
    (tmp_path / "ca" / "junk.cer").write_bytes(b"not a certificate")
    svc = TrustService(settings(validation_trust_dir=tmp_path), None)
    await svc.start()
    try:
        assert len(svc.trust.snapshot.anchors) == 6 and len(svc.trust.snapshot.crls) == 6
        cms = sign_cms(b"x", [(pki.cert("rsa-individual-sign"), pki.key("rsa-individual-sign"))])
        assert svc.verifier.verify_cms(cms)["valid"]
        with pytest.raises(Conflict):
            await svc.remove_certificate(next(iter(svc.trust.snapshot.anchors)))
    finally:
        await svc.stop()


async def test_crls_are_fetched_from_a_url_and_refreshed(
    pki: TestPki, tmp_path: Path, server: _Server
) -> None:
    ca_dir = tmp_path / "ca"
    shutil.copytree(pki.folder / "ca", ca_dir)
    issuer = IssuedCert(
        "rsa-individuals", pki.ca_cert("rsa-individuals"), pki.ca_key("rsa-individuals")
    )
    now = datetime.now(UTC)
    server.crl = make_crl(
        issuer=issuer,
        revoked=[],
        this_update=now - timedelta(hours=1),
        next_update=now + timedelta(days=1),
        number=10,
    )
    svc = TrustService(
        settings(validation_trust_dir=ca_dir, validation_crl_urls=[f"{server.url}/ind.crl"]), None
    )
    await svc.start()
    try:
        assert (await svc.refresh_crls(force=True)) == {f"{server.url}/ind.crl": "ok"}
        cms = sign_cms(b"x", [(pki.cert("rsa-individual-sign"), pki.key("rsa-individual-sign"))])
        first = svc.verifier.verify_cms(cms)["signers"][0]
        assert first["valid"] and first["revocation"]["method"] == "crl"
        # the CA revokes the certificate: the next refresh brings the new CRL
        serial = int(pki.leaf("rsa-individual-sign")["serial"], 16)
        server.crl = make_crl(
            issuer=issuer,
            revoked=[(serial, now - timedelta(minutes=30), "key_compromise")],
            this_update=now - timedelta(minutes=5),
            next_update=now + timedelta(days=1),
            number=11,
        )
        await svc.refresh_crls(force=True)
        second = svc.verifier.verify_cms(cms)["signers"][0]
        assert [c["code"] for c in second["failed_checks"]] == ["cert_revoked"]
        server.crl = b"garbage"  # a broken download keeps the last good CRL
        assert (await svc.refresh_crls(force=True))[f"{server.url}/ind.crl"].startswith("failed")
        assert not svc.verifier.verify_cms(cms)["valid"]
    finally:
        await svc.stop()


async def test_ocsp_answers_when_no_crl_does(pki: TestPki, tmp_path: Path, server: _Server) -> None:
    ca_dir = tmp_path / "ca"
    shutil.copytree(pki.folder / "ca", ca_dir)
    ca_cert = cx509.load_der_x509_certificate(pki.ca_cert("rsa-individuals"))
    ca_key = pki.ca_key("rsa-individuals").rsa_key
    revoked_serial = int(pki.leaf("rsa-revoked-sign")["serial"], 16)
    asked: list[int] = []

    def respond(body: bytes) -> bytes:
        req = ocsp.load_der_ocsp_request(body)
        asked.append(req.serial_number)
        leaf = cx509.load_der_x509_certificate(
            pki.cert(
                "rsa-revoked-sign" if req.serial_number == revoked_serial else "rsa-individual-sign"
            )
        )
        now = datetime.now(UTC)
        status = (
            ocsp.OCSPCertStatus.REVOKED
            if req.serial_number == revoked_serial
            else ocsp.OCSPCertStatus.GOOD
        )
        builder = (
            ocsp.OCSPResponseBuilder()
            .add_response(
                cert=leaf,
                issuer=ca_cert,
                algorithm=hashes.SHA256(),
                cert_status=status,
                this_update=now,
                next_update=now + timedelta(hours=1),
                revocation_time=now - timedelta(days=10)
                if status == ocsp.OCSPCertStatus.REVOKED
                else None,
                revocation_reason=cx509.ReasonFlags.key_compromise
                if status == ocsp.OCSPCertStatus.REVOKED
                else None,
            )
            .responder_id(ocsp.OCSPResponderEncoding.HASH, ca_cert)
        )
        return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)

    server.ocsp = respond
    svc = TrustService(settings(validation_trust_dir=ca_dir, validation_ocsp_url=server.url), None)
    await svc.start()
    try:
        good = svc.verifier.verify_cms(
            sign_cms(b"x", [(pki.cert("rsa-individual-sign"), pki.key("rsa-individual-sign"))])
        )
        assert good["valid"] and good["signers"][0]["revocation"]["method"] == "ocsp"
        bad = svc.verifier.verify_cms(
            sign_cms(b"x", [(pki.cert("rsa-revoked-sign"), pki.key("rsa-revoked-sign"))])
        )
        assert [c["code"] for c in bad["signers"][0]["failed_checks"]] == ["cert_revoked"]
        assert bad["signers"][0]["revocation"]["method"] == "ocsp"
        assert len(asked) == 2
        # a forged answer (signed by another key) does not count
        other_key = pki.ca_key("rsa-legal").rsa_key

        def forged(body: bytes) -> bytes:
            req = ocsp.load_der_ocsp_request(body)
            leaf = cx509.load_der_x509_certificate(pki.cert("rsa-individual-sign"))
            now = datetime.now(UTC)
            return (
                ocsp.OCSPResponseBuilder()
                .add_response(
                    cert=leaf,
                    issuer=ca_cert,
                    algorithm=hashes.SHA256(),
                    cert_status=ocsp.OCSPCertStatus.GOOD,
                    this_update=now,
                    next_update=now + timedelta(hours=1),
                    revocation_time=None,
                    revocation_reason=None,
                )
                .responder_id(ocsp.OCSPResponderEncoding.HASH, ca_cert)
                .sign(other_key, hashes.SHA256())
                .public_bytes(serialization.Encoding.DER)
                if req
                else b""
            )

        server.ocsp = forged
        fresh = TrustService(
            settings(validation_trust_dir=ca_dir, validation_ocsp_url=server.url), None
        )
        await fresh.start()
        try:
            r = fresh.verifier.verify_cms(
                sign_cms(
                    b"x", [(pki.cert("gost-individual-sign"), pki.key("gost-individual-sign"))]
                )
            )
            assert [c["code"] for c in r["signers"][0]["failed_checks"]] == ["revocation_unknown"]
            r = fresh.verifier.verify_cms(
                sign_cms(b"x", [(pki.cert("rsa-individual-sign"), pki.key("rsa-individual-sign"))])
            )
            assert [c["code"] for c in r["signers"][0]["failed_checks"]] == ["revocation_unknown"]
        finally:
            await fresh.stop()
    finally:
        await svc.stop()


async def test_crl_distribution_points_of_signers_are_fetched(
    tmp_path: Path, server: _Server
) -> None:
    pki = build_test_pki(tmp_path / "pki", crl_base_url=server.url)
    server.crl = (pki.folder / "crl" / "gost-individuals.crl").read_bytes()
    svc = TrustService(
        settings(validation_trust_dir=pki.folder / "ca", validation_crl_fetch_cdp=True), None
    )
    await svc.start()
    try:
        cms = sign_cms(b"x", [(pki.cert("gost-individual-sign"), pki.key("gost-individual-sign"))])
        first = svc.verifier.verify_cms(cms)["signers"][0]
        assert [c["code"] for c in first["failed_checks"]] == ["revocation_unknown"]
        outcome = await svc.refresh_crls()  # the signer's CDP, and the anchors' own
        assert outcome[f"{server.url}/gost-individuals.crl"] == "ok"
        second = svc.verifier.verify_cms(cms)["signers"][0]
        assert second["valid"] and second["revocation"]["method"] == "crl"
    finally:
        await svc.stop()
