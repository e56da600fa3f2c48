"""receipts of 80020 files: the file's header and what became of each channel

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 09:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "receipt",
        sa.Column("exchange", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        schema="ingest",
    )


def downgrade() -> None:
    op.drop_column("receipt", "exchange", schema="ingest")
