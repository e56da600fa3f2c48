"""A service's resources: opened in order on start, checked by ``/readyz``, closed in reverse.

    lifespan = service_lifespan(settings, schema="registry", on_start=start_consumers)

Shutdown (SIGTERM from Kubernetes or ``egsu up``) first stops the consumers after the batch
they hold, then drains the bus, then closes the database.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from fastapi import FastAPI

from egsu.auth import TokenVerifier
from egsu.bus import Bus
from egsu.bus.audit import AuditLog
from egsu.bus.revocations import follow_client_revocations
from egsu.core.service import add_ready_check
from egsu.core.settings import Settings
from egsu.db import Database
from egsu.storage import ObjectStore

Hook = Callable[[FastAPI, "Runtime"], Awaitable[None]]


@dataclass
class Runtime:
    settings: Settings
    verifier: TokenVerifier
    db: Database | None = None
    bus: Bus | None = None
    store: ObjectStore | None = None
    audit: AuditLog | None = None
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


def service_lifespan(
    settings: Settings,
    *,
    schema: str | None = None,
    bus: bool = True,
    store: bool = False,
    on_start: Hook | None = None,
    on_stop: Hook | None = None,
) -> Callable[[FastAPI], contextlib.AbstractAsyncContextManager[None]]:
    """The lifespan of a service that uses the given resources."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        verifier = TokenVerifier(
            settings.oidc_issuer or "",
            audience=settings.oidc_audience,
            base_url=settings.oidc_base_url,
        )
        rt = Runtime(settings=settings, verifier=verifier)
        app.state.verifier = verifier
        app.state.runtime = rt
        if schema is not None:
            if not settings.database_url:
                raise RuntimeError(
                    "set EGSU_DATABASE_URL (for example postgresql://user@host:5432/egsu)"
                )
            rt.db = Database(
                settings.database_url,
                schema=schema,
                pool_size=settings.database_pool_size,
                max_overflow=settings.database_max_overflow,
            )
            app.state.db = rt.db
            add_ready_check(app, "database", rt.db.ping)
        if bus:
            rt.bus = Bus(settings)
            await rt.bus.connect()
            app.state.bus = rt.bus
            rt.audit = AuditLog(rt.bus, settings.service_name)
            rt.audit.start()
            app.state.audit = rt.audit
            add_ready_check(app, "bus", rt.bus.ping)
        if store:
            rt.store = ObjectStore(settings)
            app.state.store = rt.store
            add_ready_check(app, "store", rt.store.ping)
        try:
            if rt.bus is not None:
                await rt.bus.wait_connected()
                await rt.bus.ensure_streams()
                # each service refuses a revoked client's tokens itself, not only the gateway
                following = await follow_client_revocations(rt.bus, verifier.revoke_client)

                async def stop_following() -> None:
                    following.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await following

                rt.closers.append(stop_following)
            if rt.store is not None:
                await rt.store.ensure_buckets()
            if on_start is not None:
                await on_start(app, rt)
            if rt.bus is not None:
                rt.bus.start_consumers()
            yield
        finally:
            if rt.bus is not None:
                await rt.bus.stop_consumers()
            if on_stop is not None:
                await on_stop(app, rt)
            for close in reversed(rt.closers):
                await close()
            if rt.audit is not None:
                await rt.audit.close()
            if rt.bus is not None:
                await rt.bus.close()
            if rt.db is not None:
                await rt.db.dispose()
            await verifier.aclose()

    return lifespan
