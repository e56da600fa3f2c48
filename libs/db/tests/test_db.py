"""Database lib against the session's real PostgreSQL: transactions and per-service migrations."""

from __future__ import annotations

import os
import textwrap
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, Table, insert, select, text

from egsu.db import Database, async_url, make_metadata
from egsu.db.migrations import downgrade, upgrade
from egsu.infra import InfraUrls


@pytest.fixture
async def db(infra: InfraUrls) -> Database:
    d = Database(infra.database_url, schema="dbtest")
    async with d.engine.begin() as conn:
        await conn.execute(text("CREATE SCHEMA IF NOT EXISTS dbtest"))
        await conn.execute(
            text("CREATE TABLE IF NOT EXISTS dbtest.thing (id int primary key, name text)")
        )
    yield d
    await d.dispose()


async def test_transaction_commits_on_success_and_rolls_back_on_error(db: Database) -> None:
    n = uuid.uuid4().int % 1_000_000
    async with db.transaction() as s:
        await s.execute(text("INSERT INTO dbtest.thing VALUES (:i, 'a')"), {"i": n})
    with pytest.raises(ZeroDivisionError):
        async with db.transaction() as s:
            await s.execute(text("INSERT INTO dbtest.thing VALUES (:i, 'b')"), {"i": n + 1})
            1 / 0  # noqa: B018
    async with db.transaction() as s:
        rows = (
            await s.execute(
                text("SELECT id FROM dbtest.thing WHERE id IN (:a, :b)"), {"a": n, "b": n + 1}
            )
        ).all()
    assert [r[0] for r in rows] == [n]


def test_async_url_normalises_the_driver() -> None:
    assert async_url("postgresql://u@h:5/db").startswith("postgresql+asyncpg://")
    assert async_url("postgresql+asyncpg://u@h:5/db") == "postgresql+asyncpg://u@h:5/db"


def _write_migrations(root: Path, schema: str) -> None:
    (root / "versions").mkdir(parents=True)
    (root / "__init__.py").write_text(f'SCHEMA = "{schema}"\n')
    (root / "script.py.mako").write_text("")
    (root / "env.py").write_text(
        textwrap.dedent(f"""
        from sqlalchemy import MetaData
        from egsu.db.migrations import run_env
        run_env(MetaData(schema="{schema}"))
    """)
    )
    (root / "versions" / "0001_first.py").write_text(
        textwrap.dedent(f"""
        import sqlalchemy as sa
        from alembic import op
        revision = "0001"
        down_revision = None
        def upgrade():
            op.create_table("widget", sa.Column("id", sa.Integer, primary_key=True), schema="{schema}")
        def downgrade():
            op.drop_table("widget", schema="{schema}")
    """)
    )


async def test_migrations_create_schema_table_and_own_version_table(
    infra: InfraUrls, tmp_path: Path
) -> None:
    schema = f"m{uuid.uuid4().hex[:8]}"
    _write_migrations(tmp_path / "migs", schema)
    await upgrade(infra.database_url, tmp_path / "migs", schema)
    await upgrade(infra.database_url, tmp_path / "migs", schema)  # idempotent
    d = Database(infra.database_url, schema=schema)
    md = make_metadata(schema)
    widget = Table("widget", md, Column("id", Integer, primary_key=True))
    async with d.transaction() as s:
        await s.execute(insert(widget).values(id=1))
        assert (await s.execute(select(widget.c.id))).scalar_one() == 1
        version = (
            await s.execute(text(f"SELECT version_num FROM {schema}.alembic_version"))
        ).scalar_one()
    assert version == "0001"
    await downgrade(infra.database_url, tmp_path / "migs", schema, "base")
    async with d.transaction() as s:
        gone = (
            await s.execute(text("SELECT to_regclass(:t)"), {"t": f"{schema}.widget"})
        ).scalar_one()
    assert gone is None
    await d.dispose()
    assert os.environ["EGSU_DATABASE_URL"] == infra.database_url
