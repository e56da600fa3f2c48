"""One NATS connection per process; JetStream publishing and durable pull consumers.

Every message a consumer receives is acked, nak'ed with a delay, or terminated explicitly:
whatever the handler leaves unsettled is nak'ed, and a handler that raises gets its messages
redelivered with a growing delay.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from opentelemetry import propagate
from pydantic import BaseModel

from egsu.bus.envelope import MSG_ID, Envelope, event_type
from egsu.contracts.streams import STREAMS, StreamSpec
from egsu.core.errors import ServiceUnavailable
from egsu.core.settings import Settings

log = logging.getLogger("egsu.bus")


class BusUnavailable(ServiceUnavailable):
    code = "bus_unavailable"
    title = "The message bus is unavailable"


class Delivery:
    """One received message and its explicit settlement."""

    __slots__ = ("_settled", "msg")

    def __init__(self, msg: Msg) -> None:
        self.msg = msg
        self._settled = False

    @property
    def data(self) -> bytes:
        return self.msg.data

    @property
    def subject(self) -> str:
        return self.msg.subject

    @property
    def headers(self) -> dict[str, str]:
        return dict(self.msg.headers or {})

    @property
    def msg_id(self) -> str | None:
        return (self.msg.headers or {}).get(MSG_ID)

    @property
    def num_delivered(self) -> int:
        return int(self.msg.metadata.num_delivered or 1)

    @property
    def settled(self) -> bool:
        return self._settled

    def json(self) -> Any:
        return json.loads(self.msg.data)

    @property
    def envelope(self) -> Envelope:
        return Envelope.from_headers(self.headers, subject=self.subject)

    def trace_context(self) -> Any:
        return propagate.extract(self.headers)

    async def ack(self) -> None:
        if not self._settled:
            self._settled = True
            await self.msg.ack()

    async def nak(self, delay: float | None = None) -> None:
        if not self._settled:
            self._settled = True
            await self.msg.nak(delay=delay)

    async def term(self) -> None:
        if not self._settled:
            self._settled = True
            await self.msg.term()

    async def in_progress(self) -> None:
        await self.msg.in_progress()


BatchHandler = Callable[[list[Delivery]], Awaitable[None]]


def backoff(num_delivered: int) -> float:
    """Redelivery delay after a failure: 1 s, 2 s, 4 s … up to a minute."""
    return float(min(60, 2 ** max(0, num_delivered - 1)))


class Consumer:
    """A durable pull consumer feeding batches to a handler until stopped."""

    def __init__(
        self,
        bus: Bus,
        *,
        stream: str,
        durable: str,
        filter_subject: str,
        handler: BatchHandler,
        batch: int = 64,
        ack_wait: float = 15.0,
        max_ack_pending: int = 2000,
        max_deliver: int = -1,
        fetch_timeout: float = 1.0,
    ) -> None:
        self.bus = bus
        self.stream = stream
        self.durable = durable
        self.filter_subject = filter_subject
        self.handler = handler
        self.batch = batch
        self.ack_wait = ack_wait
        self.max_ack_pending = max_ack_pending
        self.max_deliver = max_deliver
        self.fetch_timeout = fetch_timeout
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._sub: Any = None
        self.processed = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"consumer:{self.durable}")

    async def stop(self) -> None:
        """Finish the batch in hand, then stop fetching (the durable consumer stays)."""
        self._stopping.set()
        if self._task is not None:
            await self._task

    async def _subscribe(self) -> Any:
        config = api.ConsumerConfig(
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=self.ack_wait,
            max_ack_pending=self.max_ack_pending,
            max_deliver=self.max_deliver,
            filter_subject=self.filter_subject,
        )
        return await self.bus.js.pull_subscribe(
            self.filter_subject, durable=self.durable, stream=self.stream, config=config
        )

    async def _keep_alive(self, deliveries: list[Delivery]) -> None:
        """Tell JetStream the messages are still being worked on, so a short ack wait is safe.

        A consumer that dies stops doing this, and its messages come back after ``ack_wait``.
        """
        while True:
            await asyncio.sleep(self.ack_wait / 3)
            for d in deliveries:
                if not d.settled:
                    await _touch(d)

    async def _run(self) -> None:
        try:
            await self._loop()
        finally:
            if self._sub is not None:
                try:
                    await self._sub.unsubscribe()
                except (nats.errors.Error, OSError):
                    pass

    async def _loop(self) -> None:
        sub = None
        while not self._stopping.is_set():
            try:
                if sub is None:
                    await self.bus.wait_connected()
                    sub = self._sub = await self._subscribe()
                msgs = await sub.fetch(self.batch, timeout=self.fetch_timeout)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except (nats.errors.Error, nats.js.errors.Error, OSError) as exc:
                log.warning("consumer %s: %s; retrying", self.durable, exc)
                sub = None
                await asyncio.sleep(0.5)
                continue
            deliveries = [Delivery(m) for m in msgs]
            keeper = asyncio.create_task(self._keep_alive(deliveries))
            try:
                await self.handler(deliveries)
            except Exception:  # the handler failed: nothing is lost, the messages come back later
                log.exception(
                    "consumer %s: handler failed on %d messages", self.durable, len(deliveries)
                )
                for d in deliveries:
                    await _settle_quietly(d.nak(backoff(d.num_delivered)))
            finally:
                keeper.cancel()
            unsettled = [d for d in deliveries if not d.settled]
            if unsettled:
                log.error(
                    "consumer %s: handler left %d messages unsettled", self.durable, len(unsettled)
                )
                for d in unsettled:
                    await _settle_quietly(d.nak(1.0))
            self.processed += len(deliveries)


async def _touch(d: Delivery) -> None:
    try:
        await d.in_progress()
    except (nats.errors.Error, OSError):
        pass


async def _settle_quietly(coro: Awaitable[None]) -> None:
    try:
        await coro
    except (nats.errors.Error, OSError) as exc:  # the ack wait expires and JetStream redelivers
        log.warning("could not settle a message: %s", exc)


class Bus:
    """The process's NATS connection and JetStream context."""

    def __init__(self, settings: Settings, *, name: str | None = None) -> None:
        if not settings.nats_url:
            raise RuntimeError("set EGSU_NATS_URL (for example nats://127.0.0.1:4222)")
        self.settings = settings
        self.name = name or settings.service_name
        self.nc: NATS | None = None
        self._js: JetStreamContext | None = None
        self._consumers: list[Consumer] = []
        self._connected = asyncio.Event()
        self._connect_task: asyncio.Task[None] | None = None

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise BusUnavailable("not connected to NATS yet")
        return self._js

    @property
    def is_connected(self) -> bool:
        return self.nc is not None and self.nc.is_connected

    async def connect(self, *, wait: bool = False) -> None:
        """Connect (retrying in the background until NATS answers); optionally wait for it."""
        if self._connect_task is None:
            self._connect_task = asyncio.create_task(self._connect_loop(), name="nats-connect")
        if wait:
            await self._connect_task

    async def wait_connected(self) -> None:
        await self._connected.wait()

    async def _connect_loop(self) -> None:
        delay = 0.2
        s = self.settings
        while True:
            try:
                self.nc = await nats.connect(
                    servers=[u.strip() for u in (s.nats_url or "").split(",")],
                    name=self.name,
                    user=s.nats_user,
                    password=s.nats_password.get_secret_value() if s.nats_password else None,
                    user_credentials=str(s.nats_creds_file) if s.nats_creds_file else None,
                    connect_timeout=2,
                    reconnect_time_wait=0.5,
                    max_reconnect_attempts=-1,
                    allow_reconnect=True,
                    error_cb=self._on_error,
                    disconnected_cb=self._on_disconnect,
                    reconnected_cb=self._on_reconnect,
                )
                break
            except (TimeoutError, nats.errors.Error, OSError) as exc:
                log.warning("NATS not reachable at %s (%s); retrying", s.nats_url, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 3.0)
        self._js = self.nc.jetstream(timeout=10)
        self._connected.set()

    async def _on_error(self, exc: Exception) -> None:
        log.debug("nats: %s", exc)

    async def _on_disconnect(self) -> None:
        log.warning("disconnected from NATS")

    async def _on_reconnect(self) -> None:
        log.info("reconnected to NATS")

    async def ensure_streams(self, specs: Iterable[StreamSpec] = STREAMS) -> None:
        """Create or update the System's streams (declared in ``egsu.contracts.streams``)."""
        for spec in specs:
            config = spec.config(replicas=self.settings.stream_replicas)
            try:
                info = await self.js.stream_info(spec.name)
            except nats.js.errors.NotFoundError:
                await self.js.add_stream(config)
                continue
            have = info.config
            if (
                list(have.subjects or []),
                have.max_age,
                have.duplicate_window,
                have.max_msg_size,
                have.num_replicas,
                have.retention,
                have.description,
            ) != (
                list(config.subjects or []),
                config.max_age,
                config.duplicate_window,
                config.max_msg_size,
                config.num_replicas,
                config.retention,
                config.description,
            ):
                await self.js.update_stream(config)

    def _headers(
        self,
        subject: str,
        msg_id: str | None,
        headers: dict[str, str] | None,
        subject_bin: str | None = None,
    ) -> dict[str, str]:
        env = Envelope(
            type=event_type(subject), source=self.settings.service_name, subject_bin=subject_bin
        )
        if msg_id:
            env.id = msg_id
        return {**env.headers(), **(headers or {})}

    async def publish(
        self,
        subject: str,
        payload: bytes | BaseModel,
        *,
        msg_id: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 5.0,
        subject_bin: str | None = None,
    ) -> api.PubAck:
        """Publish and wait for JetStream's acknowledgement; ``BusUnavailable`` if it does not come."""
        data = payload.model_dump_json().encode() if isinstance(payload, BaseModel) else payload
        if not self.is_connected:
            raise BusUnavailable("the message bus is not connected; try again shortly")
        try:
            return await self.js.publish(
                subject,
                data,
                timeout=timeout,
                headers=self._headers(subject, msg_id, headers, subject_bin),
            )
        except (TimeoutError, nats.errors.Error, nats.js.errors.Error, OSError) as exc:
            raise BusUnavailable(f"JetStream did not acknowledge the message: {exc}") from exc

    async def publish_many(
        self,
        items: Sequence[tuple[str, bytes, str | None]],
        *,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> list[api.PubAck]:
        """Publish (subject, payload, msg_id) items asynchronously and wait once for every ack."""
        if not self.is_connected:
            raise BusUnavailable("the message bus is not connected; try again shortly")
        try:
            futures = [
                await self.js.publish_async(
                    subj, data, headers=self._headers(subj, mid, headers), wait_stall=timeout
                )
                for subj, data, mid in items
            ]
            return list(await asyncio.wait_for(asyncio.gather(*futures), timeout=timeout))
        except (TimeoutError, nats.errors.Error, nats.js.errors.Error, OSError) as exc:
            raise BusUnavailable(f"JetStream did not acknowledge every message: {exc}") from exc

    def consumer(self, **kwargs: Any) -> Consumer:
        """Declare a durable pull consumer; it starts with ``start_consumers``."""
        c = Consumer(self, **kwargs)
        self._consumers.append(c)
        return c

    def start_consumers(self) -> None:
        for c in self._consumers:
            c.start()

    async def ping(self) -> None:
        if not self.is_connected:
            raise BusUnavailable("not connected")
        await self.js.account_info()

    async def stop_consumers(self) -> None:
        """Stop every consumer after the batch it holds."""
        await asyncio.gather(*(c.stop() for c in self._consumers))

    async def close(self) -> None:
        """Stop consumers after their current batch, then drain the connection."""
        await self.stop_consumers()
        if self._connect_task is not None and not self._connect_task.done():
            self._connect_task.cancel()
        if self.nc is not None and not self.nc.is_closed:
            try:
                await self.nc.drain()
            except (TimeoutError, nats.errors.Error, OSError):
                await self.nc.close()
