"""A small parser of server-sent events (the WHATWG event-stream format)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ServerSentEvent:
    event: str
    data: str
    id: str | None = None
    retry: int | None = None


async def events(lines: AsyncIterator[str]) -> AsyncIterator[ServerSentEvent]:
    """The events of a stream given line by line (as ``httpx.Response.aiter_lines`` gives them)."""
    event, last_id, retry = "", None, None
    data: list[str] = []
    async for line in lines:
        if not line:
            if data or event:
                yield ServerSentEvent(event or "message", "\n".join(data), last_id, retry)
            event, data, retry = "", [], None  # the id stays: it is the stream's last event id
            continue
        if line.startswith(":"):  # a comment, e.g. a keep-alive
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id" and "\0" not in value:
            last_id = value
        elif name == "retry" and value.isdigit():
            retry = int(value)
