"""Counter-based random numbers: the same (seed, stream, key, step) always gives the same number.

The readings of an interval must not depend on how a run is cut into windows (a live tick, a
backfill day, a file of a week), so their noise is a hash of where it is used rather than the next
draw of a generator: SplitMix64's finaliser over the mixed coordinates, vectorised with numpy.
"""

from __future__ import annotations

import numpy as np

_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_G = np.uint64(0x9E3779B97F4A7C15)
_K = (np.uint64(0xD6E8FEB86659FD93), np.uint64(0xA0761D6478BD642F), np.uint64(0xE7037ED1A0B428DB))


def _mix(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))


def bits(seed: int, stream: int, key: np.ndarray | int, step: np.ndarray | int) -> np.ndarray:
    """64 random bits for every (key, step) pair (broadcast)."""
    with np.errstate(over="ignore"):
        k = np.asarray(key).astype(np.uint64)
        s = np.asarray(step).astype(np.int64).astype(np.uint64)
        h = np.uint64(seed & 0xFFFFFFFFFFFFFFFF) * _G + np.uint64(stream) * _K[0]
        h = _mix(h ^ (k * _K[1]))
        return _mix(h ^ (s * _K[2]) + _G)


def uniform(seed: int, stream: int, key: np.ndarray | int, step: np.ndarray | int) -> np.ndarray:
    """Uniform numbers in (0, 1)."""
    b = bits(seed, stream, key, step) >> np.uint64(11)
    return (b.astype(np.float64) + 0.5) * (1.0 / 9007199254740992.0)


def normal(seed: int, stream: int, key: np.ndarray | int, step: np.ndarray | int) -> np.ndarray:
    """Standard normal numbers (Box–Muller over two hashed uniforms)."""
    u1 = uniform(seed, stream, key, step)
    u2 = uniform(seed, stream + 0x5151, key, step)
    return np.sqrt(-2.0 * np.log(u1)) * np.cos(2 * np.pi * u2)  # type: ignore[no-any-return]
