"""Follow revocations of integration clients, so their tokens are refused at once.

Every process that verifies tokens (the gateway and each service) follows
``egsu.registry.events.client_revoked`` from ``lookback`` seconds back — longer than any client
token lives — so a process that starts after a revocation still refuses the tokens issued
before it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from nats.aio.msg import Msg
from nats.js import api
from pydantic import ValidationError

from egsu.bus.bus import Bus
from egsu.contracts.registry import ClientRevoked
from egsu.contracts.streams import CLIENT_REVOKED

log = logging.getLogger("egsu.bus.revocations")
LOOKBACK = 900.0  # seconds: three times the longest client token (300 s)


async def follow_client_revocations(
    bus: Bus, on_revoked: Callable[[str, float], None], *, lookback: float = LOOKBACK
) -> Any:
    """Call ``on_revoked(client_id, revoked_at)`` for every revocation since ``lookback`` ago."""

    async def handle(msg: Msg) -> None:
        # An ordered consumer acknowledges nothing (AckPolicy.NONE): it is a replayable view,
        # recreated from the last sequence it saw after any gap, so there is nothing to settle.
        try:
            ev = ClientRevoked.model_validate_json(msg.data)
        except ValidationError:
            log.warning("a malformed client revocation was ignored")
            return
        on_revoked(ev.client_id, ev.revoked_at)
        log.info("client %s revoked at %s: its tokens are refused", ev.client_id, ev.revoked_at)

    start = datetime.fromtimestamp(time.time() - lookback, UTC)
    return await bus.js.subscribe(
        CLIENT_REVOKED,
        cb=handle,
        ordered_consumer=True,
        config=api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.BY_START_TIME,
            opt_start_time=start,
        ),
    )
