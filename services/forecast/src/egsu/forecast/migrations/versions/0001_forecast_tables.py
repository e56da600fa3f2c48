"""forecast tables

Revision ID: 0001
Revises:
Create Date: 2026-11-30 02:19:05.685783
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
        "backtest_score",
        sa.Column("model_id", sa.BigInteger(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("candidate", sa.String(length=32), nullable=False),
        sa.Column("selected", sa.Boolean(), nullable=False),
        sa.Column("mape", sa.Float(), nullable=True),
        sa.Column("smape", sa.Float(), nullable=True),
        sa.Column("mase", sa.Float(), nullable=True),
        sa.Column("rmse", sa.Float(), nullable=True),
        sa.Column("pinball", sa.Float(), nullable=True),
        sa.Column("coverage_p10_p90", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint(
            "model_id", "level", "key", "candidate", name=op.f("pk_backtest_score")
        ),
        schema="forecast",
    )
    op.create_index(
        op.f("ix_backtest_score_level_key"),
        "backtest_score",
        ["level", "key"],
        unique=False,
        schema="forecast",
    )
    op.create_table(
        "forecast_run",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("series_id", sa.BigInteger(), nullable=False),
        sa.Column("horizon", sa.String(length=16), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cut_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("step_s", sa.Integer(), nullable=False),
        sa.Column("p10", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.Column("p50", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.Column("p90", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.Column("model_id", sa.BigInteger(), nullable=True),
        sa.Column("candidate", sa.String(length=32), nullable=False),
        sa.Column("reconciliation", sa.String(length=16), nullable=True),
        sa.Column("weather", sa.String(length=16), nullable=True),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forecast_run")),
        schema="forecast",
    )
    op.create_index(
        op.f("ix_forecast_run_issued_at"),
        "forecast_run",
        ["issued_at"],
        unique=False,
        schema="forecast",
    )
    op.create_index(
        op.f("ix_forecast_run_series_id_horizon_issued_at"),
        "forecast_run",
        ["series_id", "horizon", "issued_at"],
        unique=False,
        schema="forecast",
    )
    op.create_index(
        op.f("ix_forecast_run_series_id_horizon_start_ts"),
        "forecast_run",
        ["series_id", "horizon", "start_ts"],
        unique=False,
        schema="forecast",
    )
    op.create_table(
        "group_state",
        sa.Column("group_key", sa.String(length=80), nullable=False),
        sa.Column("quantity", sa.String(length=48), nullable=False),
        sa.Column("data_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("group_key", "quantity", name=op.f("pk_group_state")),
        schema="forecast",
    )
    op.create_table(
        "job",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("group_key", sa.String(length=80), nullable=False),
        sa.Column("quantity", sa.String(length=48), nullable=False),
        sa.Column("horizons", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("shard", sa.Integer(), server_default="0", nullable=False),
        sa.Column("shards", sa.Integer(), server_default="1", nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("worker", sa.String(length=100), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job")),
        schema="forecast",
    )
    op.create_index(
        op.f("ix_job_created_at"), "job", ["created_at"], unique=False, schema="forecast"
    )
    op.create_index(
        op.f("ix_job_group_key_quantity_kind_status"),
        "job",
        ["group_key", "quantity", "kind", "status"],
        unique=False,
        schema="forecast",
    )
    op.create_index(op.f("ix_job_status"), "job", ["status"], unique=False, schema="forecast")
    op.create_table(
        "model",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("group_key", sa.String(length=80), nullable=False),
        sa.Column("quantity", sa.String(length=48), nullable=False),
        sa.Column("horizon", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("current", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("object_key", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("series_count", sa.Integer(), nullable=False),
        sa.Column("origins", sa.Integer(), nullable=False),
        sa.Column("step_s", sa.Integer(), nullable=False),
        sa.Column("default_model", sa.String(length=32), nullable=False),
        sa.Column("selected", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("scores", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("reconciliation", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("data_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("data_to", sa.DateTime(timezone=True), nullable=True),
        sa.Column("train_seconds", sa.Float(), nullable=True),
        sa.Column("notes", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("job_id", sa.String(length=36), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model")),
        sa.UniqueConstraint(
            "group_key",
            "quantity",
            "horizon",
            "version",
            name=op.f("uq_model_group_key_quantity_horizon_version"),
        ),
        schema="forecast",
    )
    op.create_index(
        op.f("ix_model_group_key_quantity_horizon_current"),
        "model",
        ["group_key", "quantity", "horizon", "current"],
        unique=False,
        schema="forecast",
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
        schema="forecast",
    )
    op.create_table(
        "schedule_claim",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("slot", sa.String(length=64), nullable=False),
        sa.Column(
            "claimed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("name", "slot", name=op.f("pk_schedule_claim")),
        schema="forecast",
    )
    op.create_table(
        "series",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.String(length=48), nullable=False),
        sa.Column("group_key", sa.String(length=80), nullable=False),
        sa.Column("subject_bin", sa.String(length=12), nullable=True),
        sa.Column("region_kato", sa.String(length=9), nullable=True),
        sa.Column("step_s", sa.Integer(), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_scored_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_series")),
        sa.UniqueConstraint("level", "key", "quantity", name=op.f("uq_series_level_key_quantity")),
        schema="forecast",
    )
    op.create_index(
        op.f("ix_series_group_key_quantity"),
        "series",
        ["group_key", "quantity"],
        unique=False,
        schema="forecast",
    )
    op.create_index(
        op.f("ix_series_subject_bin"), "series", ["subject_bin"], unique=False, schema="forecast"
    )
    op.create_table(
        "weather_forecast",
        sa.Column("region_kato", sa.String(length=9), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("temperature_c", sa.Float(), nullable=False),
        sa.Column("wind_ms", sa.Float(), nullable=True),
        sa.Column("cloud_pct", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("region_kato", "issued_at", "ts", name=op.f("pk_weather_forecast")),
        schema="forecast",
    )
    op.create_index(
        op.f("ix_weather_forecast_region_kato_ts"),
        "weather_forecast",
        ["region_kato", "ts"],
        unique=False,
        schema="forecast",
    )
    op.create_table(
        "weather_observed",
        sa.Column("region_kato", sa.String(length=9), nullable=False),
        sa.Column("ts", sa.DateTime(timezone=True), nullable=False),
        sa.Column("temperature_c", sa.Float(), nullable=False),
        sa.Column("wind_ms", sa.Float(), nullable=True),
        sa.Column("cloud_pct", sa.Float(), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=True),
        sa.Column(
            "received_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("region_kato", "ts", name=op.f("pk_weather_observed")),
        schema="forecast",
    )


def downgrade() -> None:
    op.drop_table("weather_observed", schema="forecast")
    op.drop_index(
        op.f("ix_weather_forecast_region_kato_ts"), table_name="weather_forecast", schema="forecast"
    )
    op.drop_table("weather_forecast", schema="forecast")
    op.drop_index(op.f("ix_series_subject_bin"), table_name="series", schema="forecast")
    op.drop_index(op.f("ix_series_group_key_quantity"), table_name="series", schema="forecast")
    op.drop_table("series", schema="forecast")
    op.drop_table("schedule_claim", schema="forecast")
    op.drop_table("outbox", schema="forecast")
    op.drop_index(
        op.f("ix_model_group_key_quantity_horizon_current"), table_name="model", schema="forecast"
    )
    op.drop_table("model", schema="forecast")
    op.drop_index(op.f("ix_job_status"), table_name="job", schema="forecast")
    op.drop_index(
        op.f("ix_job_group_key_quantity_kind_status"), table_name="job", schema="forecast"
    )
    op.drop_index(op.f("ix_job_created_at"), table_name="job", schema="forecast")
    op.drop_table("job", schema="forecast")
    op.drop_table("group_state", schema="forecast")
    op.drop_index(
        op.f("ix_forecast_run_series_id_horizon_start_ts"),
        table_name="forecast_run",
        schema="forecast",
    )
    op.drop_index(
        op.f("ix_forecast_run_series_id_horizon_issued_at"),
        table_name="forecast_run",
        schema="forecast",
    )
    op.drop_index(op.f("ix_forecast_run_issued_at"), table_name="forecast_run", schema="forecast")
    op.drop_table("forecast_run", schema="forecast")
    op.drop_index(
        op.f("ix_backtest_score_level_key"), table_name="backtest_score", schema="forecast"
    )
    op.drop_table("backtest_score", schema="forecast")
