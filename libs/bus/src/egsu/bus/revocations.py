"""Follow revocations of integration clients, so their tokens are refused at once.

Every process that verifies tokens (the gateway and each service) listens to
``egsu.registry.events.client_revoked`` live (a core NATS subscription, which the client renews
after every reconnect), and re-reads the stream from ``lookback`` seconds back — longer than any
client token lives — at start and every ``replay_every`` seconds. So a process started after a
revocation, or one that was cut off from NATS when it was published, still refuses the tokens
issued before it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

import nats.errors
from nats.aio.msg import Msg
from nats.js import api
from pydantic import ValidationError

from egsu.bus.bus import Bus, BusUnavailable
from egsu.contracts.registry import ClientRevoked
from egsu.contracts.streams import CLIENT_REVOKED

log = logging.getLogger("egsu.bus.revocations")
LOOKBACK = 900.0  # seconds: three times the longest client token (300 s)
REPLAY_EVERY = 30.0

Revoke = Callable[[str, float], None]


def _apply(data: bytes, on_revoked: Revoke) -> None:
    try:
        ev = ClientRevoked.model_validate_json(data)
    except ValidationError:
        log.warning("a malformed client revocation was ignored")
        return
    on_revoked(ev.client_id, ev.revoked_at)


async def replay_revocations(bus: Bus, on_revoked: Revoke, *, lookback: float = LOOKBACK) -> int:
    """Apply every revocation of the last ``lookback`` seconds kept in the stream."""
    start = datetime.fromtimestamp(time.time() - lookback, UTC)
    # An ephemeral consumer that acknowledges nothing (AckPolicy.NONE): a read of the recent
    # past, deleted when done, so there is nothing to settle.
    sub = await bus.js.pull_subscribe(
        CLIENT_REVOKED,
        durable=None,
        config=api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.BY_START_TIME,
            opt_start_time=start,
            ack_policy=api.AckPolicy.NONE,
            inactive_threshold=60.0,
        ),
    )
    n = 0
    try:
        pending = (await sub.consumer_info()).num_pending or 0
        while n < pending:  # what was there when the read began; later ones arrive live
            try:
                msgs = await sub.fetch(min(256, pending - n), timeout=2.0)
            except (TimeoutError, nats.errors.TimeoutError):
                return n
            for m in msgs:
                _apply(m.data, on_revoked)
                n += 1
        return n
    finally:
        await sub.unsubscribe()


async def follow_client_revocations(
    bus: Bus,
    on_revoked: Revoke,
    *,
    lookback: float = LOOKBACK,
    replay_every: float = REPLAY_EVERY,
) -> asyncio.Task[None]:
    """Listen live, replay the recent past now, and again periodically (the returned task)."""

    async def live(msg: Msg) -> None:
        _apply(msg.data, on_revoked)

    await bus.wait_connected()
    assert bus.nc is not None
    await bus.nc.subscribe(CLIENT_REVOKED, cb=live)

    async def replay() -> None:
        try:
            await replay_revocations(bus, on_revoked, lookback=lookback)
        except (nats.errors.Error, BusUnavailable, TimeoutError) as exc:
            # the stream may not exist yet (the services create it) or NATS is away
            log.warning("client revocations not replayed this time: %s", exc)

    async def replays() -> None:
        while True:
            await asyncio.sleep(replay_every)
            await replay()

    await replay()
    return asyncio.create_task(replays(), name="client-revocations")
