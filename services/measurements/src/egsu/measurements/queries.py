"""Reading the historian: native series, buckets from the roll-ups, versions, events."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson

from egsu.measurements.quality import NAMES
from egsu.measurements.vee import rules as R

LOCAL_OFFSET = "5 hours"  # Kazakhstan, UTC+05:00: days and months are local
MINUTES = {"15m": 15, "30m": 30}


def _iso(dt: datetime | None) -> str | None:
    return dt.isoformat() if dt else None


ORIGINS = {0: "actual", 1: "estimated", 2: "edited"}
TIME_KEYS = frozenset({"run_from", "left_ts", "right_ts", "after", "before"})


def _explain(detail: Any) -> dict[str, Any]:
    """A finding's numbers with times as ISO 8601 and each rule's severity."""
    d = orjson.loads(detail) if isinstance(detail, (str, bytes)) else dict(detail or {})
    out: dict[str, Any] = {}
    for code, numbers in d.items():
        if not isinstance(numbers, dict):
            out[code] = numbers
            continue
        item = {
            k: (
                datetime.fromtimestamp(v, UTC).isoformat()
                if k in TIME_KEYS and isinstance(v, (int, float))
                else v
            )
            for k, v in numbers.items()
        }
        rule = R.BY_CODE.get(code)
        if rule is not None:
            item["severity"] = rule.severity
        out[code] = item
    return out


async def native(
    conn: asyncpg.Connection,
    point_id: int,
    qid: int,
    start: datetime,
    end: datetime,
    all_versions: bool,
    limit: int,
    explain: bool = False,
    interval_min: int = 15,
) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        f"""
        SELECT r.ts, r.value, r.quality, r.rules, r.version, r.current, r.origin, r.correction_id,
               {"f.detail::text" if explain else "NULL"} AS detail
        FROM measurements.reading r
        {"LEFT JOIN measurements.vee_finding f ON f.point_id = r.point_id AND f.quantity_id = r.quantity_id AND f.ts = r.ts AND f.version = r.version" if explain else ""}
        WHERE r.point_id = $1 AND r.quantity_id = $2 AND r.ts > $3 AND r.ts <= $4 {"" if all_versions else "AND r.current"}
        ORDER BY r.ts, r.version LIMIT $5
        """,
        point_id,
        qid,
        start,
        end,
        limit,
    )
    out = []
    for r in rows:
        item: dict[str, Any] = {
            "ts": r["ts"].isoformat(),
            "value": r["value"],
            "quality": NAMES[r["quality"]],
            "rules": r["rules"],
            "flags": R.codes_of(r["rules"]),
            "version": r["version"],
        }
        if all_versions:
            item["current"] = r["current"]
            if not r["current"]:
                item["quality"] = "superseded"
        if explain:
            item["origin"] = ORIGINS.get(r["origin"], "actual")
            item["explain"] = _explain(r["detail"])
            if r["correction_id"]:
                item["correction_id"] = r["correction_id"]
        out.append(item)
    if explain and not all_versions and len(rows) > 1:
        out = _with_missing(out, [r["ts"] for r in rows], interval_min * 60)
    return out


def _with_missing(
    items: list[dict[str, Any]], stamps: list[datetime], step: int
) -> list[dict[str, Any]]:
    """Interior missing intervals as items of quality ``missing`` (between stored readings)."""
    out: list[dict[str, Any]] = []
    for i, item in enumerate(items):
        if i:
            a, b = stamps[i - 1].timestamp(), stamps[i].timestamp()
            n = round((b - a) / step) - 1
            for k in range(1, n + 1):  # per missing interval of the answer
                out.append(
                    {
                        "ts": datetime.fromtimestamp(a + k * step, UTC).isoformat(),
                        "value": None,
                        "quality": "missing",
                        "rules": R.GAP,
                        "flags": ["gap"],
                        "version": None,
                        "origin": None,
                        "explain": {
                            "gap": {
                                "missing_intervals": n,
                                "after": stamps[i - 1].isoformat(),
                                "before": stamps[i].isoformat(),
                                "severity": "notice",
                            }
                        },
                    }
                )
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
               r.correction_id, r.skew_s, b.receipt_id, b.source, f.detail::text AS detail,
               c.reason_code, c.comment, c.requested_by::text AS requested_by, c.requested_at,
               c.decided_by::text AS decided_by, c.decided_at, c.decision_comment
        FROM measurements.reading r
        LEFT JOIN measurements.batch b ON b.id = r.batch_id
        LEFT JOIN measurements.vee_finding f ON f.point_id = r.point_id AND f.quantity_id = r.quantity_id
             AND f.ts = r.ts AND f.version = r.version
        LEFT JOIN measurements.correction c ON c.id = r.correction_id
        WHERE r.point_id = $1 AND r.quantity_id = $2 AND r.ts = $3 ORDER BY r.version
        """,
        point_id,
        qid,
        ts,
    )
    out = []
    previous: float | None = None
    for r in rows:
        item: dict[str, Any] = {
            "version": r["version"],
            "value": r["value"],
            "previous_value": previous,
            "quality": "superseded" if not r["current"] else NAMES[r["quality"]],
            "rules": r["rules"],
            "flags": R.codes_of(r["rules"]),
            "origin": ORIGINS.get(r["origin"], "actual"),
            "current": r["current"],
            "recorded_at": r["recorded_at"].isoformat(),
            "superseded_at": _iso(r["superseded_at"]),
            "correction_id": r["correction_id"],
            "receipt_id": r["receipt_id"],
            "source": r["source"],
            "clock_skew_s": r["skew_s"],
            "explain": _explain(r["detail"]),
        }
        if r["correction_id"]:
            requested = orjson.loads(r["requested_by"]) if r["requested_by"] else {}
            decided = orjson.loads(r["decided_by"]) if r["decided_by"] else {}
            item["correction"] = {
                "id": r["correction_id"],
                "reason_code": r["reason_code"],
                "comment": r["comment"],
                "requested_by": requested.get("username"),
                "requested_at": _iso(r["requested_at"]),
                "confirmed_by": decided.get("username"),
                "confirmed_at": _iso(r["decided_at"]),
                "confirmation_comment": r["decision_comment"],
            }
        out.append(item)
        previous = r["value"]
    return out


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
