"""Inclusion proofs of one entry against its signed checkpoint, and their offline verification.

A proof is self-contained JSON::

    {"format": "egsu.audit.proof/v1", "entry": <record>, "leaf_index": i, "tree_size": n,
     "audit_path": [hex, ...], "checkpoint": <signed checkpoint document>}

Verifying it needs nothing but the audit service's public key: the entry's hash is re-computed
from its content, the RFC 9162 audit path leads from that hash to a Merkle root, the root must
be the one the checkpoint signs, and the signature must be by a trusted key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from egsu.audit import merkle
from egsu.audit.chain import COLUMNS
from egsu.audit.records import check_record, record_of
from egsu.audit.signing import Keyring
from egsu.audit.verify import load_document
from egsu.core.errors import Conflict, NotFound

PROOF_FORMAT = "egsu.audit.proof/v1"


async def make_proof(
    conn: asyncpg.Connection, store: Any, event_id: str, *, schema: str = "audit"
) -> dict[str, Any]:
    """The inclusion proof of the entry with ``event_id``."""
    s = schema
    row = await conn.fetchrow(
        f'SELECT {", ".join(COLUMNS)} FROM "{s}".entry WHERE event_id = $1 ORDER BY seq LIMIT 1',
        event_id,
    )
    if row is None:
        raise NotFound(
            f"there is no audit entry {event_id!r} in the online journal", code="entry_not_found"
        )
    cp = await conn.fetchrow(
        f'SELECT no, first_seq, last_seq, object_key FROM "{s}".checkpoint '
        "WHERE first_seq <= $1 AND last_seq >= $1",
        row["seq"],
    )
    if cp is None:
        raise Conflict(
            "the entry is not in a signed checkpoint yet; checkpoints are made every minute "
            "or so, try again shortly",
            code="not_checkpointed",
            headers={"Retry-After": "30"},
        )
    hashes = [
        bytes(r["hash"])
        for r in await conn.fetch(
            f'SELECT hash FROM "{s}".entry WHERE seq BETWEEN $1 AND $2 ORDER BY seq',
            cp["first_seq"],
            cp["last_seq"],
        )
    ]
    document = await load_document(store, cp["object_key"])
    if document is None:
        raise NotFound(
            f"checkpoint {cp['no']} is missing from the object store", code="checkpoint_missing"
        )
    index = row["seq"] - cp["first_seq"]
    return {
        "format": PROOF_FORMAT,
        "entry": record_of(row),
        "leaf_index": index,
        "tree_size": len(hashes),
        "audit_path": [h.hex() for h in merkle.inclusion_path(index, hashes)],
        "checkpoint": document,
    }


@dataclass
class ProofResult:
    ok: bool
    detail: str
    seq: int | None = None
    checkpoint: int | None = None
    key_id: str | None = None


def verify_proof(proof: dict[str, Any], keyring: Keyring) -> ProofResult:
    """Check an inclusion proof offline against the trusted public keys."""
    try:
        if proof.get("format") != PROOF_FORMAT:
            return ProofResult(
                False, f"not an audit inclusion proof (format {proof.get('format')!r})"
            )
        entry, doc = proof["entry"], proof["checkpoint"]
        st = doc["statement"]
        seq, key = entry["seq"], doc["signature"]["key_id"]
        problem = check_record(entry)
        if problem:
            return ProofResult(False, problem, seq=seq)
        problem = keyring.check(doc)
        if problem:
            return ProofResult(False, f"checkpoint {st.get('no')}: {problem}", seq=seq, key_id=key)
        index, size = int(proof["leaf_index"]), int(proof["tree_size"])
        if size != st["size"] or st["first_seq"] + index != seq:
            return ProofResult(
                False, f"entry {seq} is not at leaf {index} of checkpoint {st['no']}", seq=seq
            )
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        if not merkle.verify_inclusion(
            index, size, bytes.fromhex(entry["hash"]), path, bytes.fromhex(st["merkle_root"])
        ):
            return ProofResult(
                False,
                f"the audit path does not lead to the Merkle root of checkpoint {st['no']}",
                seq=seq,
                checkpoint=st["no"],
            )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        return ProofResult(False, f"the proof is malformed: {exc}")
    return ProofResult(
        True,
        f"entry {seq} is in checkpoint {st['no']}, signed by key {key}",
        seq=seq,
        checkpoint=st["no"],
        key_id=key,
    )
