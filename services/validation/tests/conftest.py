"""Fixtures of the validation tests: the test PKI (made once per session) and verifiers."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from egsu.validation.testca import TestPki, build_test_pki
from egsu.validation.trust import Anchor, CrlEntry, TrustStore, anchor_from_bytes, parse_crl
from egsu.validation.verify import Verifier

NCA = Path(__file__).parent / "data" / "nca"


def nca_der(name: str) -> bytes:
    raw = (NCA / name).read_bytes()
    return ssl.PEM_cert_to_DER_cert(raw.decode()) if raw.startswith(b"-----") else raw


@pytest.fixture(scope="session")
def nca() -> Callable[[str], bytes]:
    """A file of NCA RK's test data (PEM certificates as DER, *.b64 decoded, others raw)."""

    def read(name: str) -> bytes:
        if name.endswith(".b64"):
            import base64

            return base64.b64decode((NCA / name).read_text())
        return nca_der(name)

    return read


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """The test PKI shaped like NCA RK (RSA 2048 and GOST 2015), built once for the session."""
    return build_test_pki(tmp_path_factory.mktemp("pki"), crl_base_url="http://crl.egsu.test")


def make_trust(pki: TestPki, *, crls: bool = True) -> TrustStore:
    trust = TrustStore()
    trust.replace(
        [anchor_from_bytes(a, "folder") for a in pki.anchors()],
        [CrlEntry(parse_crl(c), "folder") for c in pki.crls()] if crls else [],
    )
    return trust


@pytest.fixture(scope="session")
def trust(pki: TestPki) -> TrustStore:
    return make_trust(pki)


@pytest.fixture(scope="session")
def verifier(trust: TrustStore) -> Verifier:
    return Verifier(trust)


@pytest.fixture(scope="session")
def nca_verifier() -> Callable[[datetime], Verifier]:
    """A verifier trusting NCA RK's test CAs with their CRLs, at a chosen 'now'."""
    anchors: list[Anchor] = [
        anchor_from_bytes(nca_der(n), "folder")
        for n in ("nca_gost2015_test.cer", "nca_rsa_test.crt")
    ]
    crls = [
        CrlEntry(parse_crl((NCA / n).read_bytes()), "folder")
        for n in ("nca_gost2022_test.crl", "nca_rsa_test.crl")
    ]
    trust = TrustStore()
    trust.replace(anchors, crls)

    def make(now: datetime) -> Verifier:
        return Verifier(trust, clock=lambda: now)

    return make
