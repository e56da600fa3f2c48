"""VEE: quality counts in the hour roll-ups, findings, series statistics, corrections

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 01:30:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None
S = "measurements"


def upgrade() -> None:
    for col in ("suspect_count", "estimated_count", "edited_count"):
        op.add_column(
            "point_hour",
            sa.Column(col, sa.Integer(), server_default="0", nullable=False),
            schema=S,
        )
    op.create_table(
        "vee_finding",
        sa.Column("point_id", sa.Integer(), nullable=False),
        sa.Column("quantity_id", sa.SmallInteger(), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.SmallInteger(), nullable=False),
        sa.Column("rules", sa.Integer(), nullable=False),
        sa.Column("detail", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint(
            "point_id", "quantity_id", "ts", "version", name=op.f("pk_vee_finding")
        ),
        schema=S,
    )
    op.create_table(
        "vee_gap",
        sa.Column("point_id", sa.Integer(), nullable=False),
        sa.Column("quantity_id", sa.SmallInteger(), nullable=False),
        sa.Column("after_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("before_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "detected_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("point_id", "quantity_id", "after_ts", name=op.f("pk_vee_gap")),
        schema=S,
    )
    op.create_index(
        op.f("ix_vee_gap_detected_at"), "vee_gap", ["detected_at"], unique=False, schema=S
    )
    op.create_table(
        "vee_series",
        sa.Column("point_id", sa.Integer(), nullable=False),
        sa.Column("quantity_id", sa.SmallInteger(), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("q05", sa.Double(), nullable=True),
        sa.Column("q25", sa.Double(), nullable=True),
        sa.Column("q50", sa.Double(), nullable=True),
        sa.Column("q75", sa.Double(), nullable=True),
        sa.Column("q95", sa.Double(), nullable=True),
        sa.Column("nonzero", sa.Double(), nullable=True),
        sa.Column("equal", sa.Double(), nullable=True),
        sa.PrimaryKeyConstraint("point_id", "quantity_id", name=op.f("pk_vee_series")),
        schema=S,
    )
    op.create_table(
        "correction",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("point_id", sa.Integer(), nullable=False),
        sa.Column("quantity_id", sa.SmallInteger(), nullable=False),
        sa.Column("subject_bin", sa.String(length=12), nullable=False),
        sa.Column("ts_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ts_to", sa.DateTime(timezone=True), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("proposed", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reason_code", sa.String(length=48), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "requested_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("decided_by", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=True),
        sa.Column("applied", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_correction")),
        schema=S,
    )
    op.create_index(
        op.f("ix_correction_status_requested_at"),
        "correction",
        ["status", "requested_at"],
        unique=False,
        schema=S,
    )
    op.create_index(
        op.f("ix_correction_subject_bin_requested_at"),
        "correction",
        ["subject_bin", "requested_at"],
        unique=False,
        schema=S,
    )
    op.create_index(
        op.f("ix_correction_point_id_quantity_id"),
        "correction",
        ["point_id", "quantity_id"],
        unique=False,
        schema=S,
    )


def downgrade() -> None:
    op.drop_table("correction", schema=S)
    op.drop_table("vee_series", schema=S)
    op.drop_index(op.f("ix_vee_gap_detected_at"), table_name="vee_gap", schema=S)
    op.drop_table("vee_gap", schema=S)
    op.drop_table("vee_finding", schema=S)
    for col in ("edited_count", "estimated_count", "suspect_count"):
        op.drop_column("point_hour", col, schema=S)
