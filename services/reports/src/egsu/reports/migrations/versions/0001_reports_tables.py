"""reports tables

Revision ID: 0001
Revises:
Create Date: 2026-11-30 00:45:58.684163
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "emergency",
        sa.Column("source_key", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("facility_id", sa.String(length=36), nullable=True),
        sa.Column("subject_bin", sa.String(length=12), nullable=True),
        sa.Column("point_code", sa.String(length=64), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("report_id", sa.String(length=36), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("source_key", name=op.f("pk_emergency")),
        schema="reports",
    )
    op.create_index(
        op.f("ix_emergency_facility_id_occurred_at"),
        "emergency",
        ["facility_id", "occurred_at"],
        unique=False,
        schema="reports",
    )
    op.create_table(
        "open_dataset",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("suppressed", sa.Integer(), nullable=False),
        sa.Column("coverage_from", sa.Date(), nullable=True),
        sa.Column("coverage_to", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_open_dataset")),
        schema="reports",
    )
    op.create_table(
        "open_row",
        sa.Column("dataset", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("day", sa.Date(), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.PrimaryKeyConstraint("dataset", "key", name=op.f("pk_open_row")),
        schema="reports",
    )
    op.create_index(
        op.f("ix_open_row_dataset_day"),
        "open_row",
        ["dataset", "day"],
        unique=False,
        schema="reports",
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("msg_id", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        schema="reports",
    )
    op.create_table(
        "query",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_role", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("legal_basis", sa.Text(), nullable=False),
        sa.Column("body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("bytes", sa.BigInteger(), nullable=True),
        sa.Column("result_key", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_query")),
        schema="reports",
    )
    op.create_index(
        op.f("ix_query_requested_by_created_at"),
        "query",
        ["requested_by", "created_at"],
        unique=False,
        schema="reports",
    )
    op.create_table(
        "recommendation",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("fingerprint", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=True),
        sa.Column("target_type", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.String(length=64), nullable=False),
        sa.Column("target_name", sa.Text(), nullable=True),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("period_to", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="new", nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("text", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("numbers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("report_id", sa.String(length=36), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendation")),
        sa.UniqueConstraint("fingerprint", name=op.f("uq_recommendation_fingerprint")),
        schema="reports",
    )
    op.create_index(
        op.f("ix_recommendation_status_created_at"),
        "recommendation",
        ["status", "created_at"],
        unique=False,
        schema="reports",
    )
    op.create_table(
        "report",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=True),
        sa.Column("scope_bin", sa.String(length=12), nullable=True),
        sa.Column("scope_kato", sa.String(length=9), nullable=True),
        sa.Column("period_from", sa.Date(), nullable=False),
        sa.Column("period_to", sa.Date(), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=True),
        sa.Column("requested_role", sa.String(length=32), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("object_key", sa.Text(), nullable=True),
        sa.Column("content_type", sa.String(length=100), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("inputs_key", sa.Text(), nullable=True),
        sa.Column("inputs_sha256", sa.String(length=64), nullable=True),
        sa.Column("source_report_id", sa.String(length=36), nullable=True),
        sa.Column("trigger", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("summary", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report")),
        schema="reports",
    )
    op.create_index(
        op.f("ix_report_created_at"), "report", ["created_at"], unique=False, schema="reports"
    )
    op.create_index(
        op.f("ix_report_kind_level_period_from"),
        "report",
        ["kind", "level", "period_from"],
        unique=False,
        schema="reports",
    )
    op.create_index(
        op.f("ix_report_scope_bin"), "report", ["scope_bin"], unique=False, schema="reports"
    )
    op.create_table(
        "schedule_run",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=32), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", "period", name=op.f("pk_schedule_run")),
        schema="reports",
    )


def downgrade() -> None:

    op.drop_table("schedule_run", schema="reports")
    op.drop_index(op.f("ix_report_scope_bin"), table_name="report", schema="reports")
    op.drop_index(op.f("ix_report_kind_level_period_from"), table_name="report", schema="reports")
    op.drop_index(op.f("ix_report_created_at"), table_name="report", schema="reports")
    op.drop_table("report", schema="reports")
    op.drop_index(
        op.f("ix_recommendation_status_created_at"), table_name="recommendation", schema="reports"
    )
    op.drop_table("recommendation", schema="reports")
    op.drop_index(op.f("ix_query_requested_by_created_at"), table_name="query", schema="reports")
    op.drop_table("query", schema="reports")
    op.drop_table("outbox", schema="reports")
    op.drop_index(op.f("ix_open_row_dataset_day"), table_name="open_row", schema="reports")
    op.drop_table("open_row", schema="reports")
    op.drop_table("open_dataset", schema="reports")
    op.drop_index(
        op.f("ix_emergency_facility_id_occurred_at"), table_name="emergency", schema="reports"
    )
    op.drop_table("emergency", schema="reports")
