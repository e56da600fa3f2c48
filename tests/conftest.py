"""Fixtures shared by the tests that cross services."""

from __future__ import annotations

import base64

import pytest

from egsu.testing.stack import Stack
from egsu.validation.testca import TestPki, build_test_pki


@pytest.fixture(scope="module")
def pki(stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> TestPki:
    """A test PKI shaped like NCA RK, trusted by the validation service (loaded by the ministry)."""
    pki = build_test_pki(tmp_path_factory.mktemp("pki"))
    with stack.sync_client("ministry") as c:
        for der in pki.anchors():
            r = c.post(
                "/api/v1/validation/trust/certificates",
                json={"certificate": base64.b64encode(der).decode()},
            )
            assert r.status_code in (200, 201), r.text
        for der in pki.crls():
            r = c.post(
                "/api/v1/validation/trust/crls", json={"crl": base64.b64encode(der).decode()}
            )
            assert r.status_code in (200, 201), r.text
    return pki
