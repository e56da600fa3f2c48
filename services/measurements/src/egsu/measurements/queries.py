"""Reading the historian: native series, buckets from the roll-ups, versions, events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import asyncpg

from egsu.measurements.quality import NAMES

LOCAL_OFFSET = "5 hours"  # Kazakhstan, UTC+05:00: days and months are local
MINUTES = {"15m": 15, "30m": 30}


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


async def native(
    conn: asyncpg.Connection,
    point_id: int,
    qid: int,
    start: datetime,
    end: datetime,
    all_versions: bool,
    limit: int,
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""
        SELECT ts, value, quality, rules, version, current, origin FROM measurements.reading
        WHERE point_id = $1 AND quantity_id = $2 AND ts > $3 AND ts <= $4 {"" if all_versions else "AND current"}
        ORDER BY ts, version LIMIT $5
        """,
        point_id,
        qid,
        start,
        end,
        limit,
    )
    out = []
    for r in rows:
        item = {
            "ts": r["ts"].isoformat(),
            "value": r["value"],
            "quality": NAMES[r["quality"]],
            "rules": r["rules"],
            "version": r["version"],
        }
        if all_versions:
            item["current"] = r["current"]
            if not r["current"]:
                item["quality"] = "superseded"
        out.append(item)
    return out


def _bucket_item(r: asyncpg.Record) -> dict[str, Any]:
    count = r["count"] or 0
    return {
        "ts": r["bucket"].isoformat(),
        "sum": r["sum"],
        "avg": (r["sum"] / count) if count else None,
        "min": r["min"],
        "max": r["max"],
        "count": count,
        "quality_share": round(r["valid"] / count, 4) if count else None,
    }


async def point_buckets(
    conn: asyncpg.Connection,
    point_id: int,
    qid: int,
    start: datetime,
    end: datetime,
    resolution: str,
) -> list[dict[str, Any]]:
    if resolution in MINUTES:
        rows = await conn.fetch(
            """
            SELECT date_bin($5::interval, ts - interval '1 microsecond', timestamptz '2000-01-01') AS bucket,
                   sum(value) AS sum, count(*) AS count, count(*) FILTER (WHERE quality = 0) AS valid,
                   min(value) AS min, max(value) AS max
            FROM measurements.reading WHERE point_id = $1 AND quantity_id = $2 AND current AND ts > $3 AND ts <= $4
            GROUP BY bucket ORDER BY bucket
            """,
            point_id,
            qid,
            start,
            end,
            f"{MINUTES[resolution]} minutes",
        )
        return [_bucket_item(r) for r in rows]
    if resolution == "1h":
        rows = await conn.fetch(
            """
            SELECT hour AS bucket, sum, count, valid_count AS valid, min, max FROM measurements.point_hour
            WHERE point_id = $1 AND quantity_id = $2 AND hour >= $3 AND hour < $4 ORDER BY hour
            """,
            point_id,
            qid,
            start,
            end,
        )
        return [_bucket_item(r) for r in rows]
    unit = "day" if resolution == "1d" else "month"
    rows = await conn.fetch(
        f"""
        SELECT date_trunc('{unit}', hour + interval '{LOCAL_OFFSET}') - interval '{LOCAL_OFFSET}' AS bucket,
               sum(sum) AS sum, sum(count)::bigint AS count, sum(valid_count)::bigint AS valid, min(min) AS min,
               max(max) AS max
        FROM measurements.point_hour
        WHERE point_id = $1 AND quantity_id = $2 AND hour >= $3 AND hour < $4
        GROUP BY bucket ORDER BY bucket
        """,
        point_id,
        qid,
        start,
        end,
    )
    return [_bucket_item(r) for r in rows]


GROUP_HOURS = """
SELECT hour, sum(sum) AS sum, sum(count)::bigint AS count, sum(valid_count)::bigint AS valid FROM (
  SELECT hour, sum, count, valid_count FROM measurements.group_hour
  WHERE level = $1 AND key = $2 AND quantity_id = $3 AND hour >= $4 AND hour < $5
  UNION ALL
  SELECT hour, sum, count, valid_count FROM measurements.group_delta
  WHERE level = $1 AND key = $2 AND quantity_id = $3 AND hour >= $4 AND hour < $5
) x GROUP BY hour
"""


async def group_series(
    conn: asyncpg.Connection,
    level: int,
    key: str,
    qid: int,
    start: datetime,
    end: datetime,
    resolution: str,
) -> list[dict[str, Any]]:
    if resolution == "1h":
        rows = await conn.fetch(GROUP_HOURS + " ORDER BY hour", level, key, qid, start, end)
        return [
            {
                "ts": r["hour"].isoformat(),
                "value": r["sum"],
                "count": r["count"],
                "quality_share": round(r["valid"] / r["count"], 4) if r["count"] else None,
            }
            for r in rows
        ]
    unit = "day" if resolution == "1d" else "month"
    rows = await conn.fetch(
        f"""
        WITH h AS ({GROUP_HOURS})
        SELECT date_trunc('{unit}', hour + interval '{LOCAL_OFFSET}') - interval '{LOCAL_OFFSET}' AS bucket,
               sum(sum) AS sum, sum(count)::bigint AS count, sum(valid)::bigint AS valid, min(sum) AS min,
               max(sum) AS max,
               count(*) AS hours,
               (array_agg(hour ORDER BY sum DESC))[1] AS max_at, (array_agg(hour ORDER BY sum ASC))[1] AS min_at
        FROM h GROUP BY bucket ORDER BY bucket
        """,
        level,
        key,
        qid,
        start,
        end,
    )
    return [
        {
            "ts": r["bucket"].isoformat(),
            "sum": r["sum"],
            "avg": r["sum"] / r["hours"] if r["hours"] else None,
            "min": r["min"],
            "max": r["max"],
            "min_at": _iso(r["min_at"]),
            "max_at": _iso(r["max_at"]),
            "count": r["count"],
            "hours": r["hours"],
            "quality_share": round(r["valid"] / r["count"], 4) if r["count"] else None,
        }
        for r in rows
    ]


async def history(
    conn: asyncpg.Connection, point_id: int, qid: int, ts: datetime
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """
        SELECT r.version, r.value, r.quality, r.rules, r.origin, r.current, r.recorded_at, r.superseded_at,
               r.correction_id, r.skew_s, b.receipt_id, b.source
        FROM measurements.reading r LEFT JOIN measurements.batch b ON b.id = r.batch_id
        WHERE r.point_id = $1 AND r.quantity_id = $2 AND r.ts = $3 ORDER BY r.version
        """,
        point_id,
        qid,
        ts,
    )
    origin = {0: "actual", 1: "estimated", 2: "edited"}
    return [
        {
            "version": r["version"],
            "value": r["value"],
            "quality": "superseded" if not r["current"] else NAMES[r["quality"]],
            "rules": r["rules"],
            "origin": origin.get(r["origin"], "actual"),
            "current": r["current"],
            "recorded_at": r["recorded_at"].isoformat(),
            "superseded_at": _iso(r["superseded_at"]),
            "correction_id": r["correction_id"],
            "receipt_id": r["receipt_id"],
            "source": r["source"],
            "clock_skew_s": r["skew_s"],
        }
        for r in rows
    ]


async def events(
    conn: asyncpg.Connection, point_id: int, start: datetime, end: datetime, limit: int
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "SELECT ts, code, text, severity FROM measurements.meter_event WHERE point_id = $1 AND ts > $2 AND ts <= $3 "
        "ORDER BY ts LIMIT $4",
        point_id,
        start,
        end,
        limit,
    )
    return [
        {"ts": r["ts"].isoformat(), "code": r["code"], "text": r["text"], "severity": r["severity"]}
        for r in rows
    ]
