"""Keyset (cursor) pagination: stable under inserts, no OFFSET scans.

stmt, decode = keyset(select(t), sort_col=t.c.name, id_col=t.c.id, descending=False, cursor=cursor)
rows = (await session.execute(stmt.limit(limit + 1))).mappings().all()
items, next_cursor = page(rows, limit, sort_key="name", id_key="id")
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, literal, tuple_

from egsu.core.errors import FieldError, Unprocessable


def encode_cursor(values: Sequence[Any]) -> str:
    def conv(v: Any) -> Any:
        return v.isoformat() if isinstance(v, (datetime, date)) else v

    raw = json.dumps([conv(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list):
            raise ValueError
    except ValueError:
        raise Unprocessable(
            "the cursor is not valid; use next_cursor from the previous page",
            errors=[FieldError("cursor", "invalid_cursor", "not a cursor of this list")],
        ) from None
    return values


def keyset(
    stmt: Select[Any],
    *,
    sort_col: ColumnElement[Any],
    id_col: ColumnElement[Any],
    descending: bool = False,
    cursor: str | None = None,
    parse: Any = None,
) -> Select[Any]:
    """Order ``stmt`` by (sort, id) and continue after ``cursor``."""
    if cursor:
        values = decode_cursor(cursor)
        if len(values) != 2:
            raise Unprocessable(
                "the cursor is not valid", errors=[FieldError("cursor", "invalid_cursor", "bad")]
            )
        sort_value = parse(values[0]) if parse and values[0] is not None else values[0]
        key = tuple_(sort_col, id_col)
        # bound with the columns' types: a uuid id is compared as a uuid, not as text
        after = tuple_(literal(sort_value, sort_col.type), literal(values[1], id_col.type))
        stmt = stmt.where(key < after if descending else key > after)
    if descending:
        return stmt.order_by(sort_col.desc(), id_col.desc())
    return stmt.order_by(sort_col.asc(), id_col.asc())


def page(
    rows: Sequence[Any], limit: int, *, sort_key: str, id_key: str
) -> tuple[list[Any], str | None]:
    """The first ``limit`` rows and the cursor to the next page (None on the last page)."""
    items = list(rows[:limit])
    if len(rows) > limit and items:
        last = items[-1]
        return items, encode_cursor([last[sort_key], last[id_key]])
    return items, None
