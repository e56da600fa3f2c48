"""The forecast service's tables (schema ``forecast``)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from egsu.db import make_metadata
from egsu.runtime.outbox import outbox_table

SCHEMA = "forecast"
metadata = make_metadata(SCHEMA)

# Weather per region (KATO): what was observed, and forecasts with the time they were issued.
weather_observed = Table(
    "weather_observed",
    metadata,
    Column("region_kato", String(9), primary_key=True),
    Column("ts", DateTime(timezone=True), primary_key=True),
    Column("temperature_c", Float, nullable=False),
    Column("wind_ms", Float),
    Column("cloud_pct", Float),
    Column("source", String(64)),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

weather_forecast = Table(
    "weather_forecast",
    metadata,
    Column("region_kato", String(9), primary_key=True),
    Column("issued_at", DateTime(timezone=True), primary_key=True),
    Column("ts", DateTime(timezone=True), primary_key=True),
    Column("temperature_c", Float, nullable=False),
    Column("wind_ms", Float),
    Column("cloud_pct", Float),
    Column("source", String(64)),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index(None, "region_kato", "ts"),
)

# A forecast series: one object (point, facility, subject, region, the country) and quantity.
series = Table(
    "series",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("level", String(16), nullable=False),  # point | facility | subject | region | country
    Column("key", String(64), nullable=False),
    Column("quantity", String(48), nullable=False),
    Column("group_key", String(80), nullable=False),  # national | facility | subject | point:<step>
    Column("subject_bin", String(12)),  # the owner, for a subject's own series
    Column("region_kato", String(9)),
    Column("step_s", Integer, nullable=False),
    Column("requested_by", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_scored_at", DateTime(timezone=True)),
    UniqueConstraint("level", "key", "quantity"),
    Index(None, "group_key", "quantity"),
    Index(None, "subject_bin"),
)

# A trained model version of a group, horizon and quantity; the file is in the object store.
model = Table(
    "model",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("group_key", String(80), nullable=False),
    Column("quantity", String(48), nullable=False),
    Column("horizon", String(16), nullable=False),
    Column("version", Integer, nullable=False),
    Column("current", Boolean, nullable=False, server_default="true"),
    Column("object_key", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("series_count", Integer, nullable=False),
    Column("origins", Integer, nullable=False),
    Column("step_s", Integer, nullable=False),
    Column("default_model", String(32), nullable=False),
    Column("selected", JSONB, nullable=False),  # model name -> number of series that chose it
    Column("scores", JSONB, nullable=False),  # pooled back-test metrics per model
    Column("reconciliation", JSONB),  # method and the methods' back-test errors
    Column("data_from", DateTime(timezone=True)),
    Column("data_to", DateTime(timezone=True)),
    Column("train_seconds", Float),
    Column("notes", JSONB),
    Column("job_id", String(36)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("group_key", "quantity", "horizon", "version"),
    Index(None, "group_key", "quantity", "horizon", "current"),
)

# Back-test metrics of every model on every series of a model version.
backtest_score = Table(
    "backtest_score",
    metadata,
    Column("model_id", BigInteger, primary_key=True),
    Column("level", String(16), primary_key=True),
    Column("key", String(64), primary_key=True),
    Column("candidate", String(32), primary_key=True),  # seasonal_naive, degree_day, lightgbm …
    Column("selected", Boolean, nullable=False),
    Column("mape", Float),
    Column("smape", Float),
    Column("mase", Float),
    Column("rmse", Float),
    Column("pinball", Float),
    Column("coverage_p10_p90", Float),
    Index(None, "level", "key"),
)

# One issued forecast of one series: P10/P50/P90 on a regular grid from start_ts.
forecast_run = Table(
    "forecast_run",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("series_id", BigInteger, nullable=False),
    Column("horizon", String(16), nullable=False),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("cut_at", DateTime(timezone=True), nullable=False),  # readings ending by then are used
    Column("start_ts", DateTime(timezone=True), nullable=False),  # start of the first step
    Column("step_s", Integer, nullable=False),
    Column("p10", ARRAY(Float), nullable=False),
    Column("p50", ARRAY(Float), nullable=False),
    Column("p90", ARRAY(Float), nullable=False),
    Column("model_id", BigInteger),
    Column("candidate", String(32), nullable=False),
    Column("reconciliation", String(16)),
    Column("weather", String(16)),  # forecast | observed | persistence | none
    Column("job_id", String(36)),
    Index(None, "series_id", "horizon", "start_ts"),
    Index(None, "series_id", "horizon", "issued_at"),
    Index(None, "issued_at"),
)

# Training and scoring jobs (the work itself travels on FORECAST_JOBS).
job = Table(
    "job",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("kind", String(16), nullable=False),  # train | score
    Column("group_key", String(80), nullable=False),
    Column("quantity", String(48), nullable=False),
    Column("horizons", JSONB, nullable=False),
    Column("shard", Integer, nullable=False, server_default="0"),
    Column("shards", Integer, nullable=False, server_default="1"),
    Column("status", String(16), nullable=False),  # queued | running | done | failed
    Column("origin", String(16), nullable=False),  # request | schedule | data
    Column("requested_by", String(200)),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("worker", String(100)),
    Column("error", Text),
    Column("result", JSONB),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Index(None, "created_at"),
    Index(None, "status"),
    Index(None, "group_key", "quantity", "kind", "status"),
)

# When new data last touched a group, and when its update was last queued (the debounce).
group_state = Table(
    "group_state",
    metadata,
    Column("group_key", String(80), primary_key=True),
    Column("quantity", String(48), primary_key=True),
    Column("data_at", DateTime(timezone=True)),
    Column("queued_at", DateTime(timezone=True)),
)

# Once-per-slot claims of scheduled runs (several replicas, one run).
schedule_claim = Table(
    "schedule_claim",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("slot", String(64), primary_key=True),
    Column("claimed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

outbox = outbox_table(metadata)
