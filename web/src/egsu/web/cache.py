"""Answers shared by every user of the wide roles, kept for a few seconds.

The overview asks for the national and regional roll-ups, the compliance of all subjects and the
monitoring summary: some forty API calls whose answers are the same for every ministry, operator
and government user (the API does not narrow them by user). Each answer is kept for ``fresh``
seconds; after that the next page still gets it at once while one refresh runs in the background,
until ``stale`` seconds, when a page waits for a new answer. Errors are never kept. Only pages that
admit nothing but the wide roles may use this cache (``screen("overview")``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

Fetch = Callable[[], Awaitable[Any]]


class SharedCache:
    def __init__(self, fresh: float = 20.0, stale: float = 600.0) -> None:
        self.fresh, self.stale = fresh, stale
        self._data: dict[str, tuple[float, Any]] = {}
        self._inflight: dict[str, asyncio.Task[Any]] = {}

    def _start(self, key: str, fetch: Fetch) -> asyncio.Task[Any]:
        task = self._inflight.get(key)
        if task is None:

            async def run() -> Any:
                try:
                    value = await fetch()
                    self._data[key] = (time.monotonic(), value)
                    return value
                finally:
                    self._inflight.pop(key, None)

            task = asyncio.create_task(run(), name=f"cache:{key}")
            self._inflight[key] = task
            # a background refresh that fails leaves the old answer; retrieve its error
            task.add_done_callback(lambda t: t.cancelled() or t.exception())
        return task

    async def get(self, key: str, fetch: Fetch, *, refresh: bool = False) -> Any:
        """The kept answer, or a new one; ``refresh`` fetches anew (the warm-up does)."""
        if refresh:
            return await asyncio.shield(self._start(key, fetch))
        hit = self._data.get(key)
        age = time.monotonic() - hit[0] if hit else None
        if hit is not None and age is not None and age < self.fresh:
            return hit[1]
        if hit is not None and age is not None and age < self.stale:
            self._start(key, fetch)
            return hit[1]
        return await asyncio.shield(self._start(key, fetch))

    def clear(self) -> None:
        self._data.clear()
