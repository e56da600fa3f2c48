"""The audit service's signing key (Ed25519) and signed documents.

A signed document is ``{"statement": {...}, "signature": {"algorithm", "key_id", "value"},
"public_key": PEM}``; the signature covers the statement's canonical JSON (sorted keys, no
spaces, ASCII). The embedded public key is a convenience: a verifier trusts a signature only when
the key's id is one it already knows (``--public-key`` offline, the configured keys online).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "Ed25519"


def canonical(statement: dict[str, Any]) -> bytes:
    return json.dumps(statement, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """A public key from PEM (a public key, or the public half of a private key file)."""
    if b"PRIVATE KEY" in pem:
        private = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError("the audit key must be an Ed25519 key")
        return private.public_key()
    public = serialization.load_pem_public_key(pem)
    if not isinstance(public, Ed25519PublicKey):
        raise ValueError("the audit key must be an Ed25519 key")
    return public


class SigningKey:
    """The private key that signs checkpoints and archive manifests."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self.private = private
        self.public = private.public_key()
        self.key_id = key_id(self.public)
        self.public_pem = public_pem(self.public)

    @classmethod
    def from_pem(cls, pem: bytes, *, source: str = "the audit signing key") -> SigningKey:
        private = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise ValueError(f"{source} is not an Ed25519 private key")
        return cls(private)

    @classmethod
    def load(cls, path: Path) -> SigningKey:
        return cls.from_pem(path.read_bytes(), source=str(path))

    @classmethod
    def load_or_create(cls, path: Path) -> SigningKey:
        """Load the key, or create it (development and tests only)."""
        if path.exists():
            return cls.load(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
        try:
            os.link(tmp, path)  # several processes may race to create it: the first one wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
        return cls.load(path)

    def sign(self, statement: dict[str, Any]) -> dict[str, Any]:
        """A signed document around ``statement``."""
        value = self.private.sign(canonical(statement))
        return {
            "statement": statement,
            "signature": {
                "algorithm": ALGORITHM,
                "key_id": self.key_id,
                "value": base64.b64encode(value).decode(),
            },
            "public_key": self.public_pem,
        }


@dataclass
class Keyring:
    """The public keys a verifier trusts, by key id."""

    keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)

    def add(self, public: Ed25519PublicKey) -> None:
        self.keys[key_id(public)] = public

    @classmethod
    def of(cls, *publics: Ed25519PublicKey) -> Keyring:
        ring = cls()
        for p in publics:
            ring.add(p)
        return ring

    def check(self, document: dict[str, Any]) -> str | None:
        """None if ``document`` carries a valid signature by a trusted key, else what is wrong."""
        try:
            sig = document["signature"]
            statement = document["statement"]
            if sig["algorithm"] != ALGORITHM:
                return f"unsupported signature algorithm {sig['algorithm']!r}"
            public = self.keys.get(sig["key_id"])
            if public is None:
                return f"signed with key {sig['key_id']!r}, which is not a trusted audit key"
            public.verify(base64.b64decode(sig["value"]), canonical(statement))
        except InvalidSignature:
            return "the signature does not match the signed statement"
        except (KeyError, TypeError, ValueError) as exc:
            return f"the signed document is malformed: {exc}"
        return None
