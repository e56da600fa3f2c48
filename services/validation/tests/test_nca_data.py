"""The verifier against NCA RK's own output (Kalkan-made CMS, NCA RK test CAs, CRLs and OCSP)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from egsu.validation.certificate import parse_certificate
from egsu.validation.ocsp import parse_response
from egsu.validation.trust import TrustStore
from egsu.validation.verify import Limits, Verifier, parse_cms

AFTER_SIGNING = datetime(2022, 10, 1, tzinfo=UTC)  # the GOST TEST 2022 CRL was current then


def by_algorithm(result: dict, alg: str) -> dict:
    return next(s for s in result["signers"] if s["signature_algorithm"] == alg)


def test_kalkan_gost_2015_signer_is_valid_with_chain_and_crl(
    nca_verifier: Callable[[datetime], Verifier], nca: Callable[[str], bytes]
) -> None:
    result = nca_verifier(AFTER_SIGNING).verify_cms(nca("signed_cms.b64"))
    gost = by_algorithm(result, "gost3410-2015-512")
    assert gost["valid"], gost["failed_checks"]
    assert gost["digest_algorithm"] == "streebog512"
    assert gost["iin"] == "123456789012"
    assert gost["key_purpose"] == "signing" and gost["holder_type"] == "individual"
    assert gost["signing_time"] == datetime(2022, 9, 27, 21, 17, 59, tzinfo=UTC)
    assert gost["revocation"]["status"] == "good" and gost["revocation"]["method"] == "crl"
    assert [c["subject"] for c in gost["chain"]][
        -1
    ] == "ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (GOST) TEST 2022"


def test_kalkan_rsa_signer_verifies_but_its_certificate_had_expired(
    nca_verifier: Callable[[datetime], Verifier], nca: Callable[[str], bytes]
) -> None:
    """NCA's RSA sample certificate ran to 18.01.2022, signed on 27.09.2022: math ok, date not."""
    result = nca_verifier(AFTER_SIGNING).verify_cms(nca("signed_cms.b64"))
    rsa = by_algorithm(result, "sha256WithRSA")
    codes = [c["code"] for c in rsa["failed_checks"]]
    assert "signature_invalid" not in codes and "digest_mismatch" not in codes
    assert "cert_expired_at_signing" in codes
    assert result["valid"] is False


def test_kalkan_detached_signature_needs_the_same_data(
    nca_verifier: Callable[[datetime], Verifier], nca: Callable[[str], bytes]
) -> None:
    v = nca_verifier(AFTER_SIGNING)
    good = v.verify_cms(nca("signed_detached_cms.b64"), b"test123")
    assert good["detached"] and by_algorithm(good, "gost3410-2015-512")["valid"]
    bad = v.verify_cms(nca("signed_detached_cms.b64"), b"test124")
    assert [c["code"] for c in by_algorithm(bad, "gost3410-2015-512")["failed_checks"]] == [
        "digest_mismatch"
    ]


def test_stale_crl_means_revocation_unknown(
    nca_verifier: Callable[[datetime], Verifier], nca: Callable[[str], bytes]
) -> None:
    """Today the 2022 test CRL is long past its nextUpdate: it says nothing now."""
    result = nca_verifier(datetime(2026, 1, 1, tzinfo=UTC)).verify_cms(nca("signed_cms.b64"))
    gost = by_algorithm(result, "gost3410-2015-512")
    assert [c["code"] for c in gost["failed_checks"]] == ["revocation_unknown"]
    assert gost["revocation"]["status"] == "unknown"


def test_legacy_gost_2004_certificate_is_described_but_not_verified(
    nca: Callable[[str], bytes],
) -> None:
    cert = parse_certificate(nca("ceo_valid_sign_2004_gost.cer"))
    info = cert.info()
    assert info["iin"] == "123456789011" and info["bin"] == "123456789021"
    assert info["holder_type"] == "legal_entity_head" and info["roles"] == ["organization", "ceo"]
    assert info["public_key_algorithm"] == "1.2.398.3.10.1.1.1.1"  # GOST 34.310-2004: not verified


def test_authentication_certificate_profile(nca: Callable[[str], bytes]) -> None:
    info = parse_certificate(nca("individual_valid_sign_2004_rsa_auth.cer")).info()
    assert info["key_purpose"] == "authentication" and info["policies"] == ["1.2.398.3.3.2.4"]


def test_nca_ocsp_response_signed_by_delegated_gost_responder(nca: Callable[[str], bytes]) -> None:
    """A real GOST-signed OCSP answer: the responder certificate against the CA, then the answer."""
    parsed = parse_cms(nca("signed_cms.b64"), Limits())
    leaf = next(
        c
        for c in map(parse_certificate, parsed.certificates)
        if c.key_algorithm == "gost3410-2015-512"
    )
    ca = parse_certificate(nca("nca_gost2015_test.cer"))
    body = nca("ocsp_response_individual_2015.bin")
    checker = Verifier(TrustStore())
    answer = parse_response(
        body, leaf, ca, datetime(2022, 9, 2, 17, tzinfo=UTC), checker._signed_by
    )
    assert answer is not None and answer.method == "ocsp" and answer.status == "revoked"
    tampered = body[:-5] + bytes([body[-5] ^ 1]) + body[-4:]
    assert (
        parse_response(tampered, leaf, ca, datetime(2022, 9, 2, 17, tzinfo=UTC), checker._signed_by)
        is None
    )
