"""GOST R 34.10-2012 (KZ: GOST 34.10-2015) signatures and GOST 34.11-2012 (Streebog) digests.

Curve parameters come from gostcrypto's table of the TC26 curves; the point arithmetic runs in
fastecdsa (C, GMP), about 35 times faster than gostcrypto's own, which the tests use as an
independent second implementation. Streebog is gostcrypto's.

Byte order is Kalkan's (NCA RK), checked on NCA RK test data (reference kz-eds.md §1.1):
public key = X‖Y, signature = r‖s, each half little-endian; the digest, as Streebog outputs it,
is read as a little-endian integer to give e.
"""

from __future__ import annotations

import functools
import secrets
from dataclasses import dataclass

from fastecdsa.curve import Curve
from fastecdsa.point import Point
from gostcrypto.gosthash import gost_34_11_2012 as _streebog_tables
from gostcrypto.gostsignature import CURVES_R_1323565_1_024_2019


@dataclass(frozen=True, slots=True)
class GostCurve:
    name: str
    size: int  # bytes of one coordinate: 32 or 64
    curve: Curve

    @property
    def q(self) -> int:
        return int(self.curve.q)


@functools.cache
def curve(name: str) -> GostCurve:
    """The named TC26 curve (``id-tc26-gost-3410-12-512-paramSetA`` …)."""
    p = CURVES_R_1323565_1_024_2019[name]
    size = 64 if p["p"].bit_length() > 256 else 32
    c = Curve(name, p["p"], p["a"], p["b"], p["q"], p["x"], p["y"])
    return GostCurve(name, size, c)


# Streebog's constants (the combined LPS tables and the 12 round keys), as gostcrypto tabulates them
_T: tuple[tuple[int, ...], ...] = tuple(tuple(t) for t in _streebog_tables._T)
_C: tuple[int, ...] = tuple(int.from_bytes(bytes(c), "little") for c in _streebog_tables._C)
_MASK512 = (1 << 512) - 1


def _lps(x: int) -> int:
    """Streebog's S, P and L steps on a 512-bit state (little-endian), by table look-up."""
    b = x.to_bytes(64, "little")
    t0, t1, t2, t3, t4, t5, t6, t7 = _T
    out = 0
    for j in range(8):
        out |= (
            t0[b[j]]
            ^ t1[b[8 + j]]
            ^ t2[b[16 + j]]
            ^ t3[b[24 + j]]
            ^ t4[b[32 + j]]
            ^ t5[b[40 + j]]
            ^ t6[b[48 + j]]
            ^ t7[b[56 + j]]
        ) << (64 * j)
    return out


def _g(n: int, h: int, m: int) -> int:
    k = _lps(h ^ n)
    state = k ^ m
    for c in _C:
        state = _lps(state)
        k = _lps(k ^ c)
        state ^= k
    return state ^ h ^ m


def streebog(data: bytes, size: int = 64) -> bytes:
    """GOST 34.11-2012 digest of ``data`` (64 or 32 bytes), as the standard outputs it.

    The same algorithm as gostcrypto's (the tests hold the two equal), with the 512-bit state kept
    as one Python integer instead of byte arrays: about twice as fast.
    """
    h = 0 if size == 64 else int.from_bytes(b"\x01" * 64, "little")
    n = sigma = 0
    full = len(data) - len(data) % 64
    for i in range(0, full, 64):
        m = int.from_bytes(data[i : i + 64], "little")
        h = _g(n, h, m)
        n = (n + 512) & _MASK512
        sigma = (sigma + m) & _MASK512
    rest = data[full:]
    m = int.from_bytes(rest + b"\x01" + b"\x00" * (63 - len(rest)), "little")
    h = _g(n, h, m)
    n = (n + 8 * len(rest)) & _MASK512
    sigma = (sigma + m) & _MASK512
    h = _g(0, h, n)
    h = _g(0, h, sigma)
    return h.to_bytes(64, "little")[64 - size :]


def public_point(c: GostCurve, key: bytes) -> Point:
    """The key point from Kalkan's X‖Y (little-endian halves); ValueError if off the curve."""
    if len(key) != 2 * c.size:
        raise ValueError(f"a GOST public key on {c.name} has {2 * c.size} bytes, not {len(key)}")
    x = int.from_bytes(key[: c.size], "little")
    y = int.from_bytes(key[c.size :], "little")
    p = int(c.curve.p)
    if not (0 <= x < p and 0 <= y < p):
        raise ValueError("the GOST public key is not a point of its curve")
    return Point(x, y, curve=c.curve)  # ValueError if it is not on the curve


def _e(c: GostCurve, digest: bytes) -> int:
    return int.from_bytes(digest, "little") % c.q or 1


def verify(c: GostCurve, q_point: Point, digest: bytes, signature: bytes) -> bool:
    """Check a signature r‖s (little-endian halves) of ``digest`` under the public key point.

    GOST accepts when x(z1·G + z2·Q) ≡ r with v = e⁻¹, z1 = s·v, z2 = −r·v. fastecdsa's ECDSA check
    computes x(z·w·G + r·w·Q) with w = s′⁻¹ in one simultaneous multiplication; with s′ = −e and
    z = −s it is exactly the GOST equation, at about twice the speed of two separate products.
    """
    n = c.size
    if len(signature) != 2 * n:
        return False
    q = c.q
    r = int.from_bytes(signature[:n], "little")
    s = int.from_bytes(signature[n:], "little")
    if not (0 < r < q and 0 < s < q):
        return False
    e = _e(c, digest)
    width = (q.bit_length() + 7) >> 3
    return bool(
        c.curve.verify(
            r.to_bytes(width, "little"),
            (q - e).to_bytes(width, "little"),
            (q - s).to_bytes(width, "little"),
            int(q_point.x).to_bytes(width, "little"),
            int(q_point.y).to_bytes(width, "little"),
        )
    )


@dataclass(frozen=True, slots=True)
class GostPrivateKey:
    """A GOST private key (only the test PKI makes and holds these)."""

    curve_name: str
    d: int

    @property
    def curve(self) -> GostCurve:
        return curve(self.curve_name)

    @classmethod
    def generate(cls, curve_name: str) -> GostPrivateKey:
        q = curve(curve_name).q
        return cls(curve_name, secrets.randbelow(q - 1) + 1)

    def public_key(self) -> bytes:
        """X‖Y, little-endian halves, as in an NCA RK certificate."""
        c = self.curve
        pt = self.d * c.curve.G
        return int(pt.x).to_bytes(c.size, "little") + int(pt.y).to_bytes(c.size, "little")

    def sign_digest(self, digest: bytes) -> bytes:
        """r‖s (little-endian halves) over a Streebog digest, as Kalkan writes it."""
        c = self.curve
        q = c.q
        e = _e(c, digest)
        while True:
            k = secrets.randbelow(q - 1) + 1
            r = int((k * c.curve.G).x) % q
            if r == 0:
                continue
            s = (r * self.d + k * e) % q
            if s:
                return r.to_bytes(c.size, "little") + s.to_bytes(c.size, "little")

    def sign(self, data: bytes) -> bytes:
        return self.sign_digest(streebog(data, self.curve.size))
