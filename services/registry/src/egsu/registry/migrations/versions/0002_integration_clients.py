"""integration clients and the realm's login-event cursor

Revision ID: 0002_clients
Revises: 0001
Create Date: 2026-12-20 10:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_clients"
down_revision = "0001"
branch_labels = None
depends_on = None
S = "registry"


def _ts(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(
        name, sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "integration_client",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("idp_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject_bin", sa.String(length=12), nullable=True),
        sa.Column("state_body", sa.Text(), nullable=True),
        sa.Column("legal_basis", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("auth_method", sa.String(length=32), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=True),
        sa.Column("certificate", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="active", nullable=False),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rotated_by", sa.Text(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Text(), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
        sa.Column(
            "search",
            postgresql.TSVECTOR(),
            sa.Computed(
                "to_tsvector('simple', coalesce(client_id, '') || ' ' || coalesce(name, '') || ' ' || coalesce(state_body, ''))",
                persisted=True,
            ),
            nullable=True,
        ),
        sa.CheckConstraint(
            "kind IN ('subject', 'government')", name=op.f("ck_integration_client_kind")
        ),
        sa.CheckConstraint(
            "(kind = 'subject' AND subject_bin IS NOT NULL AND state_body IS NULL)"
            " OR (kind = 'government' AND subject_bin IS NULL AND state_body IS NOT NULL"
            " AND legal_basis IS NOT NULL)",
            name=op.f("ck_integration_client_owner"),
        ),
        sa.ForeignKeyConstraint(
            ["subject_bin"],
            ["registry.subject.bin"],
            name=op.f("fk_integration_client_subject_bin_subject"),
        ),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_integration_client")),
        schema=S,
    )
    op.create_index(
        op.f("ix_integration_client_subject_bin"),
        "integration_client",
        ["subject_bin"],
        unique=False,
        schema=S,
    )
    op.create_index(
        op.f("ix_integration_client_search"),
        "integration_client",
        ["search"],
        unique=False,
        schema=S,
        postgresql_using="gin",
    )
    op.create_table(
        "idp_event_cursor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("time_ms", sa.BigInteger(), nullable=False),
        sa.Column("ids_at_time", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idp_event_cursor")),
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("idp_event_cursor", schema=S)
    op.drop_index(op.f("ix_integration_client_search"), table_name="integration_client", schema=S)
    op.drop_index(
        op.f("ix_integration_client_subject_bin"), table_name="integration_client", schema=S
    )
    op.drop_table("integration_client", schema=S)
