"""Alembic per service, each on its own schema with its own version table.

A service's ``migrations/env.py`` is just::

    from egsu.db.migrations import run_env
    from egsu.<service>.models import metadata
    run_env(metadata)
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from egsu.db.database import async_url


def alembic_config(script_location: Path, schema: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.attributes["schema"] = schema
    return cfg


def run_env(metadata: MetaData) -> None:
    """The body of every service's ``env.py`` (online mode, connection given by ``upgrade``)."""
    schema = context.config.attributes["schema"]
    connection: Connection = context.config.attributes["connection"]

    def include_name(name: str | None, type_: str, parent_names: object) -> bool:
        return name == schema if type_ == "schema" else True

    context.configure(
        connection=connection,
        target_metadata=metadata,
        version_table_schema=schema,
        include_schemas=True,
        include_name=include_name,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def upgrade(
    database_url: str, script_location: Path, schema: str, revision: str = "head"
) -> None:
    """Create the schema if needed and apply the service's migrations up to ``revision``."""
    engine = create_async_engine(async_url(database_url))
    try:
        async with engine.begin() as conn:
            # Serialise concurrent migrators (several pods starting at once).
            await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:s))"), {"s": schema})
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))

            def _run(sync_conn: Connection) -> None:
                cfg = alembic_config(script_location, schema)
                cfg.attributes["connection"] = sync_conn
                command.upgrade(cfg, revision)

            await conn.run_sync(_run)
    finally:
        await engine.dispose()


async def downgrade(database_url: str, script_location: Path, schema: str, revision: str) -> None:
    """Apply the service's downgrade scripts down to ``revision``."""
    engine = create_async_engine(async_url(database_url))
    try:
        async with engine.begin() as conn:

            def _run(sync_conn: Connection) -> None:
                cfg = alembic_config(script_location, schema)
                cfg.attributes["connection"] = sync_conn
                command.downgrade(cfg, revision)

            await conn.run_sync(_run)
    finally:
        await engine.dispose()


def upgrade_sync(database_url: str, script_location: Path, schema: str) -> None:
    asyncio.run(upgrade(database_url, script_location, schema))


async def revision(database_url: str, script_location: Path, schema: str, message: str) -> None:
    """Autogenerate a new migration from the difference between the models and the database."""
    engine = create_async_engine(async_url(database_url))
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))

            def _run(sync_conn: Connection) -> None:
                cfg = alembic_config(script_location, schema)
                cfg.attributes["connection"] = sync_conn
                command.upgrade(cfg, "head")
                command.revision(cfg, message=message, autogenerate=True)

            await conn.run_sync(_run)
    finally:
        await engine.dispose()
