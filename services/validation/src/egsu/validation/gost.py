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
from gostcrypto import gosthash
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


def streebog(data: bytes, size: int = 64) -> bytes:
    """GOST 34.11-2012 digest of ``data`` (64 or 32 bytes), as the standard outputs it."""
    return bytes(gosthash.new("streebog512" if size == 64 else "streebog256", data=data).digest())


def public_point(c: GostCurve, key: bytes) -> Point:
    """The public key point from Kalkan's X‖Y (little-endian halves); ValueError if off the curve."""
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
    """Check a signature r‖s (little-endian halves) of ``digest`` under the public key point."""
    if len(signature) != 2 * c.size:
        return False
    q = c.q
    r = int.from_bytes(signature[: c.size], "little")
    s = int.from_bytes(signature[c.size :], "little")
    if not (0 < r < q and 0 < s < q):
        return False
    v = pow(_e(c, digest), -1, q)
    z1 = s * v % q
    z2 = (q - r) * v % q
    point = z1 * c.curve.G + z2 * q_point
    return int(point.x) % q == r


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
