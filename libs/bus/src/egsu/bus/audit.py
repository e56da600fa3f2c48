"""The one helper every service uses to write to the audit journal (over NATS).

``record`` waits for JetStream's acknowledgement and raises ``AuditUnavailable`` when it does not
come: a control action whose audit event cannot be written must be refused (fail closed).
``record_nowait`` queues high-volume events (the gateway's access records) and publishes them in
the background, retrying while NATS is away.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Any

from egsu.bus.bus import Bus, BusUnavailable
from egsu.contracts.audit import Actor, AuditEvent, AuditObject
from egsu.contracts.streams import AUDIT
from egsu.core.errors import ServiceUnavailable
from egsu.core.time import utcnow

log = logging.getLogger("egsu.audit")


class AuditUnavailable(ServiceUnavailable):
    code = "audit_unavailable"
    title = "The audit journal cannot record this action"


def actor_of(principal: Any | None) -> Actor:
    """An ``Actor`` from an ``egsu.auth.Principal`` (or anonymous)."""
    if principal is None:
        return Actor(username="anonymous", role="anonymous")
    return Actor(
        user_id=principal.user_id,
        username=principal.username,
        role=principal.role,
        roles=sorted(principal.roles),
        subject_bin=principal.bin,
        client_id=principal.client_id,
    )


class AuditLog:
    def __init__(self, bus: Bus, service: str, *, max_queue: int = 200_000) -> None:
        self.bus = bus
        self.service = service
        self._queue: deque[AuditEvent] = deque()
        self.max_queue = max_queue
        self.dropped = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def event(
        self,
        kind: str,
        action: str,
        *,
        principal: Any | None = None,
        actor: Actor | None = None,
        outcome: str = "success",
        object_type: str | None = None,
        object_id: str | None = None,
        before: dict[str, Any] | None = None,
        after: dict[str, Any] | None = None,
        request_id: str | None = None,
        source_ip: str | None = None,
        **details: Any,
    ) -> AuditEvent:
        return AuditEvent(
            time=utcnow(),
            kind=kind,  # type: ignore[arg-type]
            service=self.service,
            action=action,
            outcome=outcome,  # type: ignore[arg-type]
            actor=actor or actor_of(principal),
            object=AuditObject(type=object_type, id=object_id),
            before=before,
            after=after,
            request_id=request_id,
            source_ip=source_ip,
            details=details,
        )

    @staticmethod
    def subject(ev: AuditEvent) -> str:
        return f"{AUDIT}.{ev.kind}"

    async def record(self, kind: str, action: str, **kw: Any) -> AuditEvent:
        """Write one event and wait until JetStream holds it (fail closed)."""
        ev = self.event(kind, action, **kw)
        try:
            await self.bus.publish(self.subject(ev), ev, msg_id=f"audit-{ev.id}")
        except BusUnavailable as exc:
            raise AuditUnavailable(
                "the action was refused because its audit record cannot be written; try again when the "
                "message bus is back"
            ) from exc
        return ev

    def record_nowait(self, kind: str, action: str, **kw: Any) -> AuditEvent:
        """Queue one event for background publishing."""
        ev = self.event(kind, action, **kw)
        if len(self._queue) >= self.max_queue:
            # The bus has been away for long: keep what is queued, count what cannot be kept.
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.error(
                    "audit: queue full (%d); %d events not recorded", self.max_queue, self.dropped
                )
            return ev
        self._queue.append(ev)
        self._wake.set()
        return ev

    def start(self) -> None:
        self._task = asyncio.create_task(self._pump(), name="audit-pump")

    async def _pump(self) -> None:
        while True:
            if not self._queue:
                if self._stopping:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            batch = [self._queue[i] for i in range(min(len(self._queue), 500))]
            try:
                await self.bus.publish_many(
                    [
                        (self.subject(ev), ev.model_dump_json().encode(), f"audit-{ev.id}")
                        for ev in batch
                    ]
                )
            except BusUnavailable as exc:
                if self._stopping:
                    log.error(
                        "audit: %d events not published at shutdown: %s", len(self._queue), exc
                    )
                    return
                log.warning("audit: bus unavailable (%s); %d events wait", exc, len(self._queue))
                await asyncio.sleep(1.0)
                continue
            for _ in batch:
                self._queue.popleft()

    async def close(self, timeout: float = 5.0) -> None:
        """Publish what is queued (up to ``timeout``), then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout)
            except TimeoutError:
                self._task.cancel()
