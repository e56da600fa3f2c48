"""Every failure code from the test PKI, and the checks that must pass for good signatures."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from egsu.validation import oids
from egsu.validation.testca import TestPki, sign_cms
from egsu.validation.trust import CrlEntry, TrustStore, anchor_from_bytes, parse_crl
from egsu.validation.verify import DetachedDataRequired, Verifier

DOC = (
    b'{"subject_bin": "000000000000", "readings": [{"ts": "2026-01-01T01:00:00+05:00", '
    b'"value": 1.5}]}'
)


def signed_by(pki: TestPki, *names: str, **kw: object) -> bytes:
    return sign_cms(DOC, [(pki.cert(n), pki.key(n)) for n in names], **kw)  # type: ignore[arg-type]


def codes(signer: dict) -> list[str]:
    return [c["code"] for c in signer["failed_checks"]]


@pytest.mark.parametrize("family", ["rsa", "gost"])
def test_valid_signature_reports_the_signer(pki: TestPki, verifier: Verifier, family: str) -> None:
    result = verifier.verify_cms(signed_by(pki, f"{family}-head-sign"))
    assert result["valid"] is True
    s = result["signers"][0]
    leaf = pki.leaf(f"{family}-head-sign")
    assert (s["iin"], s["bin"]) == (leaf["iin"], pki.manifest["bin"])
    assert s["holder_type"] == "legal_entity_head" and s["key_purpose"] == "signing"
    assert s["roles"] == ["organization", "ceo"]
    assert s["organization"] == 'АО "ТЕСТ ЭНЕРГО"'
    assert s["revocation"]["status"] == "good" and s["revocation"]["method"] == "crl"
    assert len(s["chain"]) == 2  # the leaf and the legal entities' CA, an anchor
    assert s["signature_algorithm"] == ("sha256WithRSA" if family == "rsa" else "gost3410-2015-512")


def test_gost_256_signer(pki: TestPki, verifier: Verifier) -> None:
    result = verifier.verify_cms(signed_by(pki, "gost256-individual-sign"))
    assert result["valid"], result["signers"][0]["failed_checks"]
    assert result["signers"][0]["signature_algorithm"] == "gost3410-2015-256"
    assert result["signers"][0]["digest_algorithm"] == "streebog256"


def test_several_signers_rsa_and_gost(pki: TestPki, verifier: Verifier) -> None:
    result = verifier.verify_cms(
        signed_by(pki, "gost-head-sign", "rsa-signer-sign", "rsa-expired-sign")
    )
    by_name = {s["common_name"]: s for s in result["signers"]}
    assert {n: s["valid"] for n, s in by_name.items()} == {
        "ТЕСТОВ GOST-HEAD-SIGN": True,
        "ТЕСТОВ RSA-SIGNER-SIGN": True,
        "ТЕСТОВ RSA-EXPIRED-SIGN": False,
    }
    assert result["valid"] is False
    assert codes(by_name["ТЕСТОВ RSA-EXPIRED-SIGN"]) == ["cert_expired_at_signing"]


def test_detached_signature(pki: TestPki, verifier: Verifier) -> None:
    cms = signed_by(pki, "rsa-individual-sign", detached=True)
    with pytest.raises(DetachedDataRequired):
        verifier.verify_cms(cms)
    assert verifier.verify_cms(cms, DOC)["valid"] is True


@pytest.mark.parametrize("family", ["rsa", "gost"])
def test_signature_invalid(pki: TestPki, verifier: Verifier, family: str) -> None:
    result = verifier.verify_cms(
        signed_by(pki, f"{family}-individual-sign", corrupt_signature=True)
    )
    assert codes(result["signers"][0]) == ["signature_invalid"] and not result["valid"]


@pytest.mark.parametrize("family", ["rsa", "gost"])
def test_digest_mismatch(pki: TestPki, verifier: Verifier, family: str) -> None:
    cms = signed_by(pki, f"{family}-individual-sign", detached=True)
    result = verifier.verify_cms(cms, DOC.replace(b"1.5", b"9.5"))
    assert codes(result["signers"][0]) == ["digest_mismatch"]


def test_digest_mismatch_between_attached_content_and_data_sent(
    pki: TestPki, verifier: Verifier
) -> None:
    result = verifier.verify_cms(signed_by(pki, "rsa-individual-sign"), b"other")
    assert [c["code"] for c in result["failed_checks"]] == ["digest_mismatch"] and not result[
        "valid"
    ]


@pytest.mark.parametrize("family", ["rsa", "gost"])
def test_untrusted_chain_rogue_ca_with_the_same_name(
    pki: TestPki, verifier: Verifier, family: str
) -> None:
    """A CA that copies the real CA's name (FCALayer's trick) does not pass: the key decides."""
    result = verifier.verify_cms(signed_by(pki, f"{family}-rogue-sign"))
    assert codes(result["signers"][0]) == ["untrusted_chain"]


def test_untrusted_chain_even_with_the_rogue_ca_embedded(pki: TestPki, verifier: Verifier) -> None:
    rogue_ca = (pki.folder / "private" / "rsa-rogue.cer").read_bytes()
    result = verifier.verify_cms(signed_by(pki, "rsa-rogue-sign", extra_certificates=[rogue_ca]))
    assert codes(result["signers"][0]) == ["untrusted_chain"]


def test_intermediate_embedded_in_the_cms_leads_to_a_trusted_root(pki: TestPki) -> None:
    """Trust only the roots; the CMS carries the intermediate, as many signers send it."""
    trust = TrustStore()
    trust.replace(
        [anchor_from_bytes(pki.ca_cert(n), "folder") for n in ("rsa-root", "gost-root")],
        [CrlEntry(parse_crl(c), "folder") for c in pki.crls()],
    )
    cms = signed_by(pki, "rsa-head-sign", extra_certificates=[pki.ca_cert("rsa-legal")])
    assert Verifier(trust).verify_cms(cms)["valid"] is True
    assert codes(Verifier(trust).verify_cms(signed_by(pki, "rsa-head-sign"))["signers"][0]) == [
        "untrusted_chain"
    ]


@pytest.mark.parametrize("family", ["rsa", "gost"])
def test_cert_expired_at_signing(pki: TestPki, verifier: Verifier, family: str) -> None:
    result = verifier.verify_cms(signed_by(pki, f"{family}-expired-sign"))
    assert codes(result["signers"][0]) == ["cert_expired_at_signing"]


def test_validity_is_judged_at_the_signing_time(pki: TestPki, verifier: Verifier) -> None:
    """A certificate that has expired since is fine for a document signed while it was valid."""
    leaf = pki.leaf("rsa-expired-sign")
    assert leaf["state"] == "expired"
    when = datetime.now(UTC) - timedelta(days=500)  # inside the expired certificate's validity
    result = verifier.verify_cms(signed_by(pki, "rsa-expired-sign", signing_time=when))
    assert result["valid"] is True, result["signers"][0]["failed_checks"]
    assert result["signers"][0]["signing_time"] == when.replace(microsecond=0)


@pytest.mark.parametrize("family", ["rsa", "gost"])
def test_cert_not_yet_valid(pki: TestPki, verifier: Verifier, family: str) -> None:
    result = verifier.verify_cms(signed_by(pki, f"{family}-not-yet-valid-sign"))
    assert codes(result["signers"][0]) == ["cert_not_yet_valid"]


@pytest.mark.parametrize("family", ["rsa", "gost"])
def test_cert_revoked(pki: TestPki, verifier: Verifier, family: str) -> None:
    result = verifier.verify_cms(signed_by(pki, f"{family}-revoked-sign"))
    s = result["signers"][0]
    assert codes(s) == ["cert_revoked"]
    assert s["revocation"]["status"] == "revoked" and s["revocation"]["reason"] == "key_compromise"


def test_revoked_for_key_compromise_even_if_signing_time_claims_earlier(
    pki: TestPki, verifier: Verifier
) -> None:
    """signingTime is the signer's claim: a stolen key cannot escape revocation by back-dating."""
    when = datetime.now(UTC) - timedelta(days=20)
    result = verifier.verify_cms(signed_by(pki, "rsa-revoked-sign", signing_time=when))
    assert codes(result["signers"][0]) == ["cert_revoked"]


def test_revocation_unknown_is_fatal_or_a_warning_by_setting(pki: TestPki) -> None:
    trust = TrustStore()
    trust.replace([anchor_from_bytes(a, "folder") for a in pki.anchors()], [])
    cms = signed_by(pki, "gost-individual-sign")
    strict = Verifier(trust, revocation_unknown_fatal=True).verify_cms(cms)
    assert codes(strict["signers"][0]) == ["revocation_unknown"] and not strict["valid"]
    lenient = Verifier(trust, revocation_unknown_fatal=False).verify_cms(cms)
    assert lenient["valid"] is True
    assert [w["code"] for w in lenient["signers"][0]["warnings"]] == ["revocation_unknown"]
    assert lenient["signers"][0]["revocation"]["status"] == "unknown"


def test_expired_crl_gives_revocation_unknown(pki: TestPki) -> None:
    """The CRLs of the test PKI run for 7 days; 8 days on, nobody knows."""
    trust = TrustStore()
    trust.replace(
        [anchor_from_bytes(a, "folder") for a in pki.anchors()],
        [CrlEntry(parse_crl(c), "folder") for c in pki.crls()],
    )
    later = datetime.now(UTC) + timedelta(days=8)
    cms = signed_by(pki, "rsa-individual-sign", signing_time=later)
    result = Verifier(trust, clock=lambda: later).verify_cms(cms)
    assert codes(result["signers"][0]) == ["revocation_unknown"]


@pytest.mark.parametrize("family", ["rsa", "gost"])
def test_wrong_key_usage(pki: TestPki, verifier: Verifier, family: str) -> None:
    result = verifier.verify_cms(signed_by(pki, f"{family}-employee-auth"))
    s = result["signers"][0]
    assert codes(s) == ["wrong_key_usage"] and s["key_purpose"] == "authentication"


def test_unsupported_algorithm(pki: TestPki, verifier: Verifier) -> None:
    result = verifier.verify_cms(signed_by(pki, "rsa-individual-sign", digest_oid=oids.SHA1))
    assert codes(result["signers"][0]) == ["unsupported_algorithm"]


def test_signature_without_signed_attributes(pki: TestPki, verifier: Verifier) -> None:
    result = verifier.verify_cms(signed_by(pki, "gost-individual-sign", signed_attributes=False))
    assert result["valid"] is True and result["signers"][0]["signing_time"] is None


def test_holder_types_and_roles(pki: TestPki, verifier: Verifier) -> None:
    seen = {}
    for name in ("rsa-individual-sign", "rsa-head-sign", "rsa-signer-sign", "rsa-employee-sign"):
        s = verifier.verify_cms(signed_by(pki, name))["signers"][0]
        seen[name] = (s["holder_type"], s["roles"], s["bin"] is not None)
    assert seen == {
        "rsa-individual-sign": ("individual", ["individual"], False),
        "rsa-head-sign": ("legal_entity_head", ["organization", "ceo"], True),
        "rsa-signer-sign": ("legal_entity_employee", ["organization", "can_sign"], True),
        "rsa-employee-sign": ("legal_entity_employee", ["organization", "employee"], True),
    }


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_accepts_the_test_pki_rsa_cms(pki: TestPki, tmp_path: Path) -> None:
    """An independent implementation agrees with the test PKI's RSA certificates and CMS."""
    (tmp_path / "doc").write_bytes(DOC)
    (tmp_path / "cms.der").write_bytes(signed_by(pki, "rsa-head-sign"))
    bundle = b"".join(_pem(pki.ca_cert(n)) for n in ("rsa-root", "rsa-legal"))
    (tmp_path / "ca.pem").write_bytes(bundle)
    out = subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "cms.der"),
            "-CAfile",
            str(tmp_path / "ca.pem"),
            "-purpose",
            "any",
            "-out",
            str(tmp_path / "out"),
        ],
        capture_output=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr.decode()
    assert (tmp_path / "out").read_bytes() == DOC


def _pem(der: bytes) -> bytes:
    import base64

    body = base64.encodebytes(der).replace(b"\n", b"")
    lines = b"\n".join(body[i : i + 64] for i in range(0, len(body), 64))
    return b"-----BEGIN CERTIFICATE-----\n" + lines + b"\n-----END CERTIFICATE-----\n"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
@pytest.mark.parametrize("detached", [False, True])
def test_cms_made_by_openssl_verifies(
    pki: TestPki, verifier: Verifier, tmp_path: Path, detached: bool
) -> None:
    """Another producer's CMS (rsaEncryption, more signed attributes) is read the same way."""
    (tmp_path / "doc").write_bytes(DOC)
    (tmp_path / "cert.pem").write_bytes(_pem(pki.cert("rsa-head-sign")))
    (tmp_path / "key.pem").write_bytes(
        pki.key("rsa-head-sign").rsa_key.private_bytes(  # type: ignore[union-attr]
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    args = ["openssl", "cms", "-sign", "-binary", "-md", "sha256", "-outform", "DER"]
    args += [] if detached else ["-nodetach"]
    args += ["-in", str(tmp_path / "doc"), "-signer", str(tmp_path / "cert.pem")]
    args += ["-inkey", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cms.der")]
    subprocess.run(args, check=True, capture_output=True)
    cms = (tmp_path / "cms.der").read_bytes()
    result = verifier.verify_cms(cms, DOC if detached else None)
    assert result["valid"], result["signers"][0]["failed_checks"]
    assert result["signers"][0]["bin"] == pki.manifest["bin"]
    tampered = verifier.verify_cms(cms, DOC + b" ") if detached else None
    if tampered is not None:
        assert codes(tampered["signers"][0]) == ["digest_mismatch"]


def test_client_certificate_check_wants_trusted_unrevoked_rsa_of_the_bin(
    pki: TestPki, verifier: Verifier
) -> None:
    bin_ = pki.manifest["bin"]
    good = verifier.client_certificate_check(pki.cert("rsa-employee-auth"), bin_)
    assert good["usable"] is True and good["failed_checks"] == []
    other = verifier.client_certificate_check(pki.cert("rsa-employee-auth"), "000000000000")
    assert other["usable"] is False and [c["code"] for c in other["failed_checks"]] == [
        "bin_mismatch"
    ]
    assert other["failed_checks"][0]["message"]["kk"]
    gost = verifier.client_certificate_check(pki.cert("gost-employee-auth"), bin_)
    assert "unsupported_algorithm" in [c["code"] for c in gost["failed_checks"]]
    revoked = verifier.client_certificate_check(pki.cert("rsa-revoked-sign"), bin_)
    assert revoked["usable"] is False
    assert {"cert_revoked", "bin_mismatch"} <= {c["code"] for c in revoked["failed_checks"]}
