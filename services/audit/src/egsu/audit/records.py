"""An entry as plain JSON ("record"): the exact stored text of every hashed column and the hashes.

Records travel in inclusion proofs and archived segments; anyone can re-compute their hashes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from egsu.audit.chain import COLUMNS, HASHED, entry_hash, ts

BUCKET = "audit"  # the object-store bucket of checkpoints and archived segments


def checkpoint_key(no: int) -> str:
    return f"checkpoints/{no:012d}.json"


def record_of(row: Mapping[str, Any]) -> dict[str, Any]:
    """A record from a database row of ``audit.entry``."""
    rec: dict[str, Any] = {}
    for c in HASHED:
        v = row[c]
        rec[c] = ts(v) if isinstance(v, datetime) else v
    rec["prev_hash"] = bytes(row["prev_hash"]).hex()
    rec["hash"] = bytes(row["hash"]).hex()
    return rec


def record_hash(rec: Mapping[str, Any]) -> bytes:
    """The hash a record must carry, re-computed from its content."""
    return entry_hash(bytes.fromhex(rec["prev_hash"]), [rec[c] for c in HASHED])


def check_record(rec: Mapping[str, Any]) -> str | None:
    """None if the record is well formed and its hash matches its content, else what is wrong."""
    missing = [c for c in COLUMNS if c not in rec]
    if missing:
        return f"the record lacks {', '.join(missing)}"
    try:
        if record_hash(rec).hex() != rec["hash"]:
            return "the entry's content does not match its hash"
    except (TypeError, ValueError, AttributeError) as exc:
        return f"the record is malformed: {exc}"
    return None


def view_of(rec: Mapping[str, Any]) -> dict[str, Any]:
    """A record shaped as the API shows an entry (JSON values parsed, actor and object grouped)."""

    def parsed(v: str | None) -> Any:
        return None if v is None else json.loads(v)

    return {
        "seq": rec["seq"],
        "id": rec["event_id"],
        "time": rec["occurred_at"],
        "recorded_at": rec["recorded_at"],
        "kind": rec["kind"],
        "service": rec["service"],
        "action": rec["action"],
        "outcome": rec["outcome"],
        "actor": {
            "user_id": rec["actor_user_id"],
            "username": rec["actor_username"],
            "role": rec["actor_role"],
            "roles": parsed(rec["actor_roles"]) or [],
            "subject_bin": rec["subject_bin"],
            "client_id": rec["client_id"],
        },
        "object": {"type": rec["object_type"], "id": rec["object_id"]},
        "before": parsed(rec["before"]),
        "after": parsed(rec["after"]),
        "details": parsed(rec["details"]) or {},
        "request_id": rec["request_id"],
        "source_ip": rec["source_ip"],
        "prev_hash": rec["prev_hash"],
        "hash": rec["hash"],
    }


def month_of(dt: datetime | date) -> date:
    return date(dt.year, dt.month, 1)


def next_month(m: date) -> date:
    return date(m.year + (m.month == 12), m.month % 12 + 1, 1)


def add_months(m: date, n: int) -> date:
    k = m.year * 12 + (m.month - 1) + n
    return date(k // 12, k % 12 + 1, 1)
