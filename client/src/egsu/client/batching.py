"""Splitting submissions under ingest's limits, and their Idempotency-Keys.

Ingest takes at most 50,000 readings and 32 MiB a batch. A larger submission goes as several
batches, each with its own key derived from the caller's (``<key>:<n>``) or, without one, from the
batch's bytes (``sha256:<hex>``, the key ingest would give it itself). The same submission split
the same way always gives the same keys, so posting it again returns the original receipts.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from pydantic import BaseModel, TypeAdapter

MAX_BATCH = 50_000  # ingest's max_batch_readings
MAX_BYTES = 32 * 1024 * 1024  # ingest's max_body_bytes


def body_key(body: bytes) -> str:
    """The Idempotency-Key of a body posted without one."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def chunk_keys(key: str | None, bodies: Sequence[bytes]) -> list[str]:
    """One key per batch: the caller's for a single batch, ``<key>:<n>`` for several."""
    if key is None:
        return [body_key(b) for b in bodies]
    return [key] if len(bodies) == 1 else [f"{key}:{n}" for n in range(len(bodies))]


@functools.cache
def _adapter(model: type[BaseModel]) -> TypeAdapter[list[Any]]:
    return TypeAdapter(list[model])  # type: ignore[valid-type]


def _plain(items: Sequence[BaseModel | Mapping[str, Any]]) -> list[Any]:
    """Plain values for orjson; models of one class are dumped together (a few times faster)."""
    kinds = {type(x) for x in items}
    if len(kinds) == 1 and issubclass(model := kinds.pop(), BaseModel):
        return _adapter(model).dump_python(list(items), exclude_none=True)  # type: ignore[no-any-return]
    return [x.model_dump(exclude_none=True) if isinstance(x, BaseModel) else x for x in items]


def json_batches(
    readings: Sequence[BaseModel | Mapping[str, Any]],
    *,
    subject_bin: str | None = None,
    events: Sequence[BaseModel | Mapping[str, Any]] = (),
    max_batch: int = MAX_BATCH,
    max_bytes: int = MAX_BYTES,
) -> list[tuple[int, bytes]]:
    """(offset of the first reading, JSON body) per batch; the events go with the first."""
    head = {"subject_bin": subject_bin} if subject_bin else {}
    plain_events = _plain(events)

    def body(lo: int, hi: int) -> bytes:
        return orjson.dumps(
            {
                **head,
                "readings": _plain(readings[lo:hi]),
                "events": plain_events if lo == 0 else [],
            }
        )

    out: list[tuple[int, bytes]] = []

    def add(lo: int, hi: int) -> None:
        data = body(lo, hi)
        if len(data) > max_bytes and hi - lo > 1:
            mid = (lo + hi) // 2
            add(lo, mid)
            add(mid, hi)
        else:
            out.append((lo, data))

    for lo in range(0, max(len(readings), 1), max_batch):
        add(lo, min(lo + max_batch, len(readings)))
    return out


def csv_batches(
    data: bytes, *, max_batch: int = MAX_BATCH, max_bytes: int = MAX_BYTES
) -> list[tuple[int, bytes]]:
    """(offset of the first row, CSV body with the header) per batch; one reading a line."""
    header, sep, rest = data.partition(b"\n")
    rows = rest.splitlines(keepends=True)
    if len(rows) <= max_batch and len(data) <= max_bytes:
        return [(0, data)]
    head = header + sep
    out: list[tuple[int, bytes]] = []
    lo, size = 0, len(head)
    for i, row in enumerate(rows):
        if i - lo >= max_batch or (i > lo and size + len(row) > max_bytes):
            out.append((lo, head + b"".join(rows[lo:i])))
            lo, size = i, len(head)
        size += len(row)
    out.append((lo, head + b"".join(rows[lo:])))
    return out


def shift_rejected(receipt: dict[str, Any], offset: int) -> dict[str, Any]:
    """A receipt whose rejected indexes count from the start of the caller's whole submission."""
    if offset and receipt.get("rejected"):
        receipt = {
            **receipt,
            "rejected": [{**r, "index": r.get("index", 0) + offset} for r in receipt["rejected"]],
        }
    return receipt
