"""FastAPI dependency: a session whose transaction the request owns."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from egsu.db.database import Database


async def session(request: Request) -> AsyncIterator[AsyncSession]:
    db: Database = request.app.state.db
    async with db.transaction() as s:
        yield s


Session = Annotated[AsyncSession, Depends(session)]
