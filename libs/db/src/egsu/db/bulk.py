"""Multi-row INSERT statements that stay under PostgreSQL's limit of 32,767 parameters."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

MAX_PARAMETERS = 32_767


def per_statement(
    rows: Sequence[dict[str, Any]], *, extra: int = 0
) -> Iterator[list[dict[str, Any]]]:
    """``rows`` in slices that one ``insert(table).values(slice)`` can carry; ``extra`` is the
    number of other parameters of the statement."""
    if not rows:
        return
    width = max(len(r) for r in rows) or 1
    size = max(1, (MAX_PARAMETERS - extra) // width)
    for start in range(0, len(rows), size):
        yield list(rows[start : start + size])
