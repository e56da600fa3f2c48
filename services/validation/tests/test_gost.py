"""GOST 34.10-2015 in Kalkan's byte order, checked against gostcrypto as a second implementation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from gostcrypto import gosthash, gostsignature
from hypothesis import given, settings
from hypothesis import strategies as st

from egsu.validation import gost
from egsu.validation.algorithms import load_public_key
from egsu.validation.certificate import parse_certificate
from egsu.validation.trust import parse_crl

CURVES = ["id-tc26-gost-3410-12-512-paramSetA", "id-tc26-gost-3410-2012-256-paramSetA"]


def _halves_reversed(b: bytes) -> bytes:
    n = len(b) // 2
    return b[:n][::-1] + b[n:][::-1]


def _gostcrypto(curve_name: str) -> object:
    params = gostsignature.CURVES_R_1323565_1_024_2019[curve_name]
    mode = gostsignature.MODE_512 if "512" in curve_name else gostsignature.MODE_256
    return gostsignature.new(mode, params)


@pytest.mark.parametrize("curve_name", CURVES)
def test_our_signature_verifies_in_gostcrypto(curve_name: str) -> None:
    key = gost.GostPrivateKey.generate(curve_name)
    size = key.curve.size
    data = b"readings of 2026-01-01"
    sig = key.sign(data)
    # gostcrypto speaks big-endian: reverse each half of the key and signature and the whole digest
    other = _gostcrypto(curve_name)
    assert other.verify(
        bytearray(_halves_reversed(key.public_key())),  # type: ignore[attr-defined]
        bytearray(gost.streebog(data, size)[::-1]),
        bytearray(_halves_reversed(sig)),
    )


@pytest.mark.parametrize("curve_name", CURVES)
def test_gostcrypto_signature_verifies_here(curve_name: str) -> None:
    key = gost.GostPrivateKey.generate(curve_name)
    size = key.curve.size
    data = b"another document"
    other = _gostcrypto(curve_name)
    sig_be = bytes(
        other.sign(
            bytearray(key.d.to_bytes(size, "big")),  # type: ignore[attr-defined]
            bytearray(gost.streebog(data, size)[::-1]),
        )
    )
    point = gost.public_point(key.curve, key.public_key())
    assert gost.verify(key.curve, point, gost.streebog(data, size), _halves_reversed(sig_be))
    assert not gost.verify(
        key.curve, point, gost.streebog(data + b".", size), _halves_reversed(sig_be)
    )


def test_streebog_matches_the_standard_example() -> None:
    """GOST 34.11-2012, example 1 (the 63-byte message), as the standard prints it (reversed)."""
    m1 = bytes.fromhex(
        "323130393837363534333231303938373635343332313039383736353433323130"
        "393837363534333231303938373635343332313039383736353433323130"
    )[::-1]
    expected = (
        "486f64c1917879417fef082b3381a4e211c324f074654c38823a7b76f830ad00"
        "fa1fbae42b1285c0352f227524bc9ab16254288dd6863dccd5b9f54a1ad0541b"
    )
    assert gost.streebog(m1, 64)[::-1].hex() == expected


def test_nca_crl_signature_verifies_with_the_nca_key(nca: Callable[[str], bytes]) -> None:
    ca = parse_certificate(nca("nca_gost2015_test.cer"))
    crl = parse_crl(nca("nca_gost2022_test.crl"))
    key = load_public_key(ca.spki)
    digest = gost.streebog(crl.tbs, 64)
    assert gost.verify(key.gost_curve, key.gost_point, digest, crl.signature)  # type: ignore[arg-type]
    flipped = crl.signature[:10] + bytes([crl.signature[10] ^ 1]) + crl.signature[11:]
    assert not gost.verify(key.gost_curve, key.gost_point, digest, flipped)  # type: ignore[arg-type]


def test_points_off_the_curve_are_refused() -> None:
    c = gost.curve(CURVES[0])
    with pytest.raises(ValueError):
        gost.public_point(c, b"\x01" * 128)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=700), st.sampled_from([64, 32]))
def test_streebog_equals_gostcrypto(data: bytes, size: int) -> None:
    expected = gosthash.new("streebog512" if size == 64 else "streebog256", data=data).digest()
    assert gost.streebog(data, size) == bytes(expected)
