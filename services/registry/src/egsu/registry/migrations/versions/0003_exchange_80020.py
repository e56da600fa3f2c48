"""metering points: 80020 code and channel map

Revision ID: 0003_exchange_80020
Revises: 0002_clients
Create Date: 2026-12-01 09:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003_exchange_80020"
down_revision = "0002_clients"
branch_labels = None
depends_on = None
S = "registry"


def upgrade() -> None:
    op.add_column("metering_point", sa.Column("code_80020", sa.String(length=15)), schema=S)
    op.add_column(
        "metering_point",
        sa.Column(
            "channels_80020",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        schema=S,
    )
    op.create_index(
        op.f("ix_metering_point_code_80020"),
        "metering_point",
        ["code_80020"],
        unique=True,
        schema=S,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_metering_point_code_80020"), table_name="metering_point", schema=S)
    op.drop_column("metering_point", "channels_80020", schema=S)
    op.drop_column("metering_point", "code_80020", schema=S)
