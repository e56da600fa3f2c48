"""Entries by client: an auditor follows one integration client's tokens and requests.

Revision ID: 0002_client
Revises: 0001
"""

from alembic import context, op

revision = "0002_client"
down_revision = "0001"
branch_labels = None
depends_on = None
INDEXED_PREFIX = 200


def upgrade() -> None:
    s = context.config.attributes.get("schema", "audit")
    op.execute(f'CREATE INDEX ix_entry_client ON "{s}".entry (left(client_id, {INDEXED_PREFIX}))')


def downgrade() -> None:
    s = context.config.attributes.get("schema", "audit")
    op.execute(f'DROP INDEX "{s}".ix_entry_client')
