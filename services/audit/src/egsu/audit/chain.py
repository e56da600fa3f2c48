"""What one journal entry is, and the hash that chains it to the one before.

An entry's hash is ``SHA-256(prev_hash || content)``. ``content`` encodes the stored columns in a
fixed order, each as ``<UTF-8 byte length>:<text>`` (or ``~`` for NULL); timestamps are written as
``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in UTC and JSON values (actor roles, before, after, details) are
stored as the canonical JSON text that is hashed. The same encoding is written in SQL
(``CONTENT_SQL``) so PostgreSQL can re-compute a million hashes without shipping rows to Python;
a test holds the two to the same result.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from egsu.contracts.audit import AUDIT_KINDS, AuditEvent

GENESIS = bytes(32)  # prev_hash of the very first entry

# Every column of ``audit.entry``, in the order the hash covers them (then prev_hash and hash).
HASHED = (
    "seq",
    "recorded_at",
    "event_id",
    "occurred_at",
    "kind",
    "service",
    "action",
    "outcome",
    "actor_user_id",
    "actor_username",
    "actor_role",
    "actor_roles",
    "subject_bin",
    "client_id",
    "object_type",
    "object_id",
    "request_id",
    "source_ip",
    "before",
    "after",
    "details",
)
COLUMNS = (*HASHED, "prev_hash", "hash")
_TIMES = frozenset({"recorded_at", "occurred_at"})
_TS_SQL = """to_char({} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


def _sql_field(col: str, alias: str) -> str:
    if col == "seq":
        v = f"{alias}.seq::text"
    elif col in _TIMES:
        v = _TS_SQL.format(f"{alias}.{col}")
    else:
        v = f"{alias}.{col}"
    return f"COALESCE(octet_length({v})::text || ':' || {v}, '~')"


def content_sql(alias: str = "e") -> str:
    """The SQL expression of an entry's hashed content (text) for rows of ``alias``."""
    return " || ".join(_sql_field(c, alias) for c in HASHED)


def hash_sql(alias: str = "e") -> str:
    """The SQL expression that re-computes an entry's hash."""
    return f"sha256({alias}.prev_hash || convert_to({content_sql(alias)}, 'UTF8'))"


def ts(dt: datetime) -> str:
    """A timestamp as the chain writes it: UTC, microseconds, ``Z``."""
    if dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    return dt.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def clean(s: str) -> str:
    """Text PostgreSQL can store as it is: valid UTF-8 and no NUL characters."""
    if not s.isascii():
        s = s.encode("utf-8", "replace").decode("utf-8")
    return s.replace("\x00", "\ufffd") if "\x00" in s else s


def canonical_json(value: Any) -> str | None:
    """The one JSON text of a value that the journal stores and hashes (None stays NULL)."""
    if value is None:
        return None
    return clean(
        json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    )


def _opt(s: str | None) -> str | None:
    return None if s is None else clean(s)


def fields_of(ev: AuditEvent) -> list[Any]:
    """The stored values of an event, in ``HASHED`` order without seq and recorded_at."""
    a, o = ev.actor, ev.object
    time = ev.time if ev.time.tzinfo is not None else ev.time.replace(tzinfo=UTC)  # naive: UTC
    return [
        clean(ev.id),
        time,
        clean(ev.kind),
        clean(ev.service),
        clean(ev.action),
        clean(ev.outcome),
        _opt(a.user_id),
        _opt(a.username),
        _opt(a.role),
        canonical_json(sorted(a.roles)),
        _opt(a.subject_bin),
        _opt(a.client_id),
        _opt(o.type),
        _opt(o.id),
        _opt(ev.request_id),
        _opt(ev.source_ip),
        canonical_json(ev.before),
        canonical_json(ev.after),
        canonical_json(ev.details or {}),
    ]


_EVENT_KEYS = frozenset(AuditEvent.model_fields)
_ACTOR_KEYS = frozenset(AuditEvent.model_fields["actor"].annotation.model_fields)  # type: ignore[union-attr]
_OBJECT_KEYS = frozenset(AuditEvent.model_fields["object"].annotation.model_fields)  # type: ignore[union-attr]
_KINDS = frozenset(AUDIT_KINDS)
_OUTCOMES = frozenset(("success", "failure", "denied"))
_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)")


def _str_or_none(*values: Any) -> bool:
    return all(v is None or type(v) is str for v in values)


def _plain(d: Any) -> list[Any] | None:
    """``fields_of`` for an event exactly as ``model_dump_json`` writes it; None for anything else."""
    if type(d) is not dict or d.keys() != _EVENT_KEYS:
        return None
    a, o, t = d["actor"], d["object"], d["time"]
    if (
        type(a) is not dict
        or a.keys() != _ACTOR_KEYS
        or type(o) is not dict
        or o.keys() != _OBJECT_KEYS
    ):
        return None
    roles, before, after, details = a["roles"], d["before"], d["after"], d["details"]
    if not (
        d["kind"] in _KINDS
        and d["outcome"] in _OUTCOMES
        and type(t) is str
        and _TIME.fullmatch(t)
        and type(d["id"]) is str
        and type(d["service"]) is str
        and type(d["action"]) is str
        and _str_or_none(a["user_id"], a["username"], a["role"], a["subject_bin"], a["client_id"])
        and _str_or_none(o["type"], o["id"], d["request_id"], d["source_ip"])
        and type(roles) is list
        and all(type(r) is str for r in roles)
        and (before is None or type(before) is dict)
        and (after is None or type(after) is dict)
        and type(details) is dict
    ):
        return None
    # decode() lets through only JSON without NUL or surrogate escapes: the text needs no cleaning
    return [
        d["id"],
        datetime.fromisoformat(t),
        d["kind"],
        d["service"],
        d["action"],
        d["outcome"],
        a["user_id"],
        a["username"],
        a["role"],
        canonical_json(sorted(roles)),
        a["subject_bin"],
        a["client_id"],
        o["type"],
        o["id"],
        d["request_id"],
        d["source_ip"],
        canonical_json(before),
        canonical_json(after),
        canonical_json(details),
    ]


def decode(data: bytes) -> list[Any]:
    """``fields_of`` the audit event in ``data`` (JSON); ``pydantic.ValidationError`` if it is not one.

    Events as every service writes them (``model_dump_json``) take a fast path; anything else,
    including escaped NUL characters and surrogates, is validated by the ``AuditEvent`` model.
    """
    if b"\\ud" not in data and b"\\u0000" not in data:
        try:
            fields = _plain(json.loads(data))
        except ValueError:
            fields = None
        if fields is not None:
            return fields
    return fields_of(AuditEvent.model_validate_json(data))


def encode(texts: Sequence[str | None]) -> bytes:
    """The hashed content of an entry given the text of its values in ``HASHED`` order."""
    return "".join(
        ["~" if v is None else f"{len(v) if v.isascii() else len(v.encode())}:{v}" for v in texts]
    ).encode()


def content(values: Sequence[Any]) -> bytes:
    """The hashed content of an entry given its values (text, numbers, timestamps) in ``HASHED`` order."""
    return encode(
        [
            v if v is None or type(v) is str else ts(v) if isinstance(v, datetime) else str(v)
            for v in values
        ]
    )


def entry_hash(prev_hash: bytes, values: Sequence[Any]) -> bytes:
    """SHA-256 of the previous entry's hash and this entry's content."""
    return hashlib.sha256(prev_hash + content(values)).digest()


def chain_rows(
    seq: int, prev: bytes, recorded_at: datetime, items: Sequence[list[Any]]
) -> tuple[list[tuple[Any, ...]], bytes]:
    """The rows of ``items`` (``fields_of`` values) appended after entry ``seq`` with hash ``prev``."""
    at = ts(recorded_at)
    rows = []
    sha256 = hashlib.sha256
    for f in items:
        seq += 1
        h = sha256(prev + encode([str(seq), at, f[0], ts(f[1]), *f[2:]])).digest()
        rows.append((seq, recorded_at, *f, prev, h))
        prev = h
    return rows, prev
