"""Merkle trees as Certificate Transparency defines them (RFC 6962 §2.1, RFC 9162 §2.1).

Leaves are hashed ``SHA-256(0x00 || data)`` and interior nodes ``SHA-256(0x01 || left || right)``,
so an inclusion proof made here verifies with any RFC 9162 implementation. The bottom-up pairing
below (an odd node is carried up unchanged) builds exactly RFC 6962's left-balanced tree.
"""

from __future__ import annotations

from collections.abc import Sequence
from hashlib import sha256

EMPTY_ROOT = sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    return sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right).digest()


def _levels(data: Sequence[bytes]) -> list[list[bytes]]:
    level = [sha256(b"\x00" + d).digest() for d in data]
    levels = [level]
    while len(level) > 1:
        up = [
            sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)
        ]
        if len(level) % 2:
            up.append(level[-1])
        levels.append(up)
        level = up
    return levels


def root(data: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash of the leaves' data."""
    if not data:
        return EMPTY_ROOT
    return _levels(data)[-1][0]


def inclusion_path(index: int, data: Sequence[bytes]) -> list[bytes]:
    """The audit path of leaf ``index`` (RFC 9162 §2.1.3.1), sibling hashes from the bottom up."""
    if not 0 <= index < len(data):
        raise IndexError(f"leaf {index} is not in a tree of {len(data)} leaves")
    path = []
    for level in _levels(data)[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        index //= 2
    return path


def root_from_path(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes | None:
    """The root an inclusion proof leads to (RFC 9162 §2.1.3.2), or None if it is malformed."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def verify_inclusion(
    index: int, size: int, data: bytes, path: Sequence[bytes], expected_root: bytes
) -> bool:
    """Whether ``data`` is leaf ``index`` of the tree of ``size`` leaves with ``expected_root``."""
    return root_from_path(index, size, leaf_hash(data), path) == expected_root
