"""Hostile input: every fault is ``Malformed`` (422 ``malformed``), quickly, never a crash."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from egsu.validation import oids
from egsu.validation.der import Malformed, check_ber, tlv
from egsu.validation.testca import IssuedCert, KeyPair, TestPki, issue, sign_cms
from egsu.validation.verify import DetachedDataRequired, Verifier

FUZZ = settings(
    max_examples=300,
    deadline=2000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture(scope="module")
def valid_cms(pki: TestPki) -> bytes:
    return sign_cms(
        b"document",
        [
            (pki.cert("rsa-individual-sign"), pki.key("rsa-individual-sign")),
            (pki.cert("gost-individual-sign"), pki.key("gost-individual-sign")),
        ],
    )


def outcome(verifier: Verifier, data: bytes) -> str:
    started = time.process_time()
    try:
        verifier.verify_cms(data, b"document")
        result = "verified"
    except Malformed:
        result = "malformed"
    except DetachedDataRequired:
        result = "detached"
    assert time.process_time() - started < 2.0
    return result


@FUZZ
@given(st.binary(max_size=3000))
def test_random_bytes(verifier: Verifier, data: bytes) -> None:
    assert outcome(verifier, data) in ("malformed", "verified")


@FUZZ
@given(data=st.data())
def test_mutated_valid_cms(verifier: Verifier, valid_cms: bytes, data: st.DataObject) -> None:
    cms = bytearray(valid_cms)
    for _ in range(data.draw(st.integers(1, 8))):
        kind = data.draw(st.sampled_from(["flip", "truncate", "insert", "delete", "length"]))
        pos = data.draw(st.integers(0, len(cms) - 1))
        if kind == "flip":
            cms[pos] ^= data.draw(st.integers(1, 255))
        elif kind == "truncate":
            del cms[max(pos, 1) :]
        elif kind == "insert":
            cms[pos:pos] = data.draw(st.binary(min_size=1, max_size=8))
        elif kind == "delete":
            del cms[pos : pos + data.draw(st.integers(1, 8))]
        else:
            cms[pos : pos + 1] = bytes([0x84, 0x7F, 0xFF, 0xFF, 0xFF])
        if not cms:
            cms = bytearray(b"\x30")
    result = outcome(verifier, bytes(cms))
    assert result in ("malformed", "verified", "detached")


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x30",
        b"\x30\x84\x7f\xff\xff\xff",  # a 2 GiB length over six bytes
        b"\x30\x80" * 100_000,  # deep nesting, indefinite lengths
        b"\x30\x82\xff\xff" * 10_000,  # deep nesting, definite lengths
        b"\x1f\xff\xff\xff\xff\xff\x01\x00",  # a tag number beyond any limit
        b"\x31\x03\x02\x01\x01",  # a SET where the ContentInfo SEQUENCE belongs
        tlv(
            0x30, tlv(0x06, bytes.fromhex("2a864886f70d010701")) + tlv(0xA0, tlv(0x04, b"x"))
        ),  # data, not signed
    ],
    ids=[
        "empty",
        "one-byte",
        "huge-length",
        "deep-indefinite",
        "deep-definite",
        "huge-tag",
        "wrong-tag",
        "not-signed",
    ],
)
def test_hostile_shapes(verifier: Verifier, data: bytes) -> None:
    assert outcome(verifier, data) == "malformed"


def test_every_truncation_of_a_valid_cms(verifier: Verifier, valid_cms: bytes) -> None:
    for cut in range(0, len(valid_cms), 97):
        assert outcome(verifier, valid_cms[:cut]) == "malformed"


def test_too_many_signers_is_refused_before_any_check(pki: TestPki, verifier: Verifier) -> None:
    signer = (pki.cert("gost-individual-sign"), pki.key("gost-individual-sign"))
    cms = sign_cms(b"document", [signer] * 17)
    started = time.process_time()
    with pytest.raises(Malformed, match="signers"):
        verifier.verify_cms(cms)
    assert time.process_time() - started < 0.5


def test_flood_of_elements(verifier: Verifier, valid_cms: bytes) -> None:
    """Ten thousand elements where a handful belong: refused by count, not by exhaustion."""
    attr = tlv(
        0x30,
        tlv(0x06, bytes.fromhex("2a864886f70d010905")) + tlv(0x31, tlv(0x17, b"260101000000Z")),
    )
    flood = tlv(
        0x30, tlv(0x06, bytes.fromhex("2a864886f70d010702")) + tlv(0xA0, tlv(0x30, attr * 10_000))
    )
    assert outcome(verifier, flood) == "malformed"


def test_thousands_of_signed_attributes_are_refused(pki: TestPki, verifier: Verifier) -> None:
    signer = (pki.cert("rsa-individual-sign"), pki.key("rsa-individual-sign"))
    assert verifier.verify_cms(sign_cms(b"document", [signer], extra_attributes=20))["valid"]
    flood = sign_cms(b"document", [signer], extra_attributes=5000)
    started = time.process_time()
    with pytest.raises(Malformed, match="signed attributes"):
        verifier.verify_cms(flood)
    assert time.process_time() - started < 0.5


def test_ber_walk_limits() -> None:
    check_ber(tlv(0x30, tlv(0x02, b"\x01")))
    with pytest.raises(Malformed):
        check_ber(tlv(0x30, tlv(0x02, b"\x01")) + b"\x00")
    with pytest.raises(Malformed, match="too many"):
        check_ber(tlv(0x30, tlv(0x05, b"") * 1000), max_elements=500)


def test_der_ending_in_whitespace_bytes_is_read_whole() -> None:
    """DER whose last bytes happen to be 0x20 or 0x0a must not be 'stripped' like text."""
    from egsu.validation.trust import decode_pem_or_der

    der = tlv(0x30, tlv(0x04, b"abc \n"))
    assert decode_pem_or_der(der, "certificate", ("CERTIFICATE",)) == der


def test_cross_signed_look_alike_cas_do_not_explode_chain_building(
    pki: TestPki, verifier: Verifier
) -> None:
    """Sixty CA certificates with one name and one key all verify each other: a bounded search."""
    key = KeyPair.generate("gost")
    now = datetime.now(UTC)
    name = [(oids.CN, "ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (GOST) EGSU TEST"), (oids.COUNTRY, "KZ")]
    look_alikes = [
        issue(
            subject=name,
            key=key,
            issuer=None,
            issuer_key=key,
            not_before=now - timedelta(days=1),
            not_after=now + timedelta(days=i + 1),
            ca=True,
            key_usage={"key_cert_sign"},
        )
        for i in range(60)
    ]
    leaf_key = KeyPair.generate("gost")
    leaf = issue(
        subject=[(oids.CN, "ROGUE"), (oids.COUNTRY, "KZ")],
        key=leaf_key,
        issuer=IssuedCert("x", look_alikes[0], key),
        issuer_key=key,
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=10),
        key_usage={"digital_signature", "non_repudiation"},
    )
    cms = sign_cms(b"document", [(leaf, leaf_key)], extra_certificates=look_alikes)
    started = time.process_time()
    result = verifier.verify_cms(cms)
    assert time.process_time() - started < 3.0
    assert result["signers"][0]["failed_checks"][0]["code"] == "untrusted_chain"
