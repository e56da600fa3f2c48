"""Dependency aliases of the audit API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg
from fastapi import Depends, Request

from egsu.auth import Principal, require_roles
from egsu.db import Database

# Only information-security staff and the ministry read the journal; nobody writes through the API.
Readers = Annotated[Principal, Depends(require_roles("auditor", "ministry"))]


async def raw_connection(request: Request) -> AsyncIterator[asyncpg.Connection]:
    """An asyncpg connection from the service's pool (for verification and proofs)."""
    db: Database = request.app.state.db
    async with db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        yield raw.driver_connection  # type: ignore[misc]


Raw = Annotated[asyncpg.Connection, Depends(raw_connection)]
