"""Weather per region (KATO): observed and forecast air temperature, wind and cloud cover.

Posted as JSON (``{"items": [...]}``) or CSV with the columns ``region_kato, ts, temperature_c``
and optionally ``issued_at`` (a forecast's issue time: the row is then a forecast), ``wind_ms``,
``cloud_pct``, ``source`` — the shape the simulator writes its ``weather_observed`` and
``weather_forecast`` files in. A request is taken whole or refused whole, naming each bad field.

For a forecast the service uses, per region and hour, what was observed, else the latest forecast
issued by then; where neither exists (beyond the last forecast) the last week's mean daily course
stands in (persistence), and the run says so.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd
from sqlalchemy import func, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from egsu.contracts.regions import REGIONS_BY_KATO
from egsu.core.errors import FieldError, Unprocessable
from egsu.db.bulk import per_statement
from egsu.forecast.models import weather_forecast, weather_observed

MAX_ITEMS = 200_000
COLUMNS = ("region_kato", "ts", "temperature_c", "issued_at", "wind_ms", "cloud_pct", "source")
RANGES = {"temperature_c": (-70.0, 60.0), "wind_ms": (0.0, 80.0), "cloud_pct": (0.0, 100.0)}
# Exogenous columns of a panel, by weather field.
EXOG = {"temperature_c": "temperature", "wind_ms": "wind_ms", "cloud_pct": "cloud_pct"}


@dataclass(frozen=True, slots=True)
class WeatherRow:
    region_kato: str
    ts: datetime
    temperature_c: float
    issued_at: datetime | None = None
    wind_ms: float | None = None
    cloud_pct: float | None = None
    source: str | None = None


def _bad(errors: list[FieldError], message: str) -> Unprocessable:
    return Unprocessable(message, code="invalid_weather", errors=errors[:100])


def parse_json(body: bytes) -> tuple[list[dict[str, Any]], str | None]:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise _bad(
            [FieldError("body", "malformed", f"not JSON: {exc}")], "the body is not JSON"
        ) from None
    if isinstance(doc, list):
        doc = {"items": doc}
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise _bad(
            [FieldError("items", "missing", 'send {"items": [...]}')],
            "the body must be an object with a list of items",
        )
    source = doc.get("source")
    if source is not None and not isinstance(source, str):
        raise _bad([FieldError("source", "invalid", "a string")], "source must be a string")
    return doc["items"], source


def parse_csv(body: bytes) -> list[dict[str, Any]]:
    try:
        content = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _bad([FieldError("body", "malformed", "not UTF-8")], "the CSV is not UTF-8") from None
    reader = csv.reader(io.StringIO(content))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise _bad(
            [FieldError("body", "empty", "the first line must name the columns")],
            "the CSV is empty",
        ) from None
    missing = [c for c in ("region_kato", "ts", "temperature_c") if c not in header]
    if missing:
        raise _bad(
            [FieldError(c, "missing", "required column") for c in missing],
            f"the CSV has no column {', '.join(missing)} (columns: region_kato, ts, "
            "temperature_c, optional issued_at, wind_ms, cloud_pct, source)",
        )
    rows = []
    for row in reader:
        if not row or all(not c.strip() for c in row):
            continue
        rows.append(
            {h: (row[i].strip() if i < len(row) else "") for i, h in enumerate(header) if h}
        )
    return rows


def _time(value: Any, name: str, index: int, errors: list[FieldError]) -> datetime | None:
    field = f"items[{index}].{name}"
    if not isinstance(value, str) or not value:
        errors.append(FieldError(field, "missing", "an ISO 8601 time with its offset", index))
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        errors.append(FieldError(field, "invalid", f"not a time: {value!r}", index))
        return None
    if dt.tzinfo is None:
        errors.append(
            FieldError(
                field, "invalid", "give the UTC offset, e.g. 2026-01-15T06:00:00+05:00", index
            )
        )
        return None
    return dt.astimezone(UTC)


def _number(
    value: Any, name: str, index: int, errors: list[FieldError], required: bool
) -> float | None:
    field = f"items[{index}].{name}"
    if value is None or value == "":
        if required:
            errors.append(FieldError(field, "missing", "a number is required", index))
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        errors.append(FieldError(field, "invalid", f"not a number: {value!r}", index))
        return None
    low, high = RANGES[name]
    if not math.isfinite(number) or not low <= number <= high:
        errors.append(FieldError(field, "out_of_range", f"must be within {low:g}…{high:g}", index))
        return None
    return number


def validate(items: Sequence[Any], source: str | None = None) -> list[WeatherRow]:
    """Rows from posted items; every bad field is named (``items[3].ts``) and nothing is kept."""
    if not items:
        raise _bad([FieldError("items", "empty", "at least one item")], "no weather items")
    if len(items) > MAX_ITEMS:
        raise _bad(
            [FieldError("items", "too_many", f"at most {MAX_ITEMS} per request")],
            f"more than {MAX_ITEMS} items; send them in several requests",
        )
    errors: list[FieldError] = []
    rows = []
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            errors.append(FieldError(f"items[{i}]", "invalid", "an object", i))
            continue
        kato = str(item.get("region_kato") or "").strip()
        if kato not in REGIONS_BY_KATO:
            errors.append(
                FieldError(f"items[{i}].region_kato", "unknown", f"no region with KATO {kato!r}", i)
            )
        ts = _time(item.get("ts"), "ts", i, errors)
        issued = (
            _time(item.get("issued_at"), "issued_at", i, errors)
            if item.get("issued_at") not in (None, "")
            else None
        )
        temperature = _number(item.get("temperature_c"), "temperature_c", i, errors, True)
        wind = _number(item.get("wind_ms"), "wind_ms", i, errors, False)
        cloud = _number(item.get("cloud_pct"), "cloud_pct", i, errors, False)
        row_source = item.get("source") or source
        if row_source is not None and (not isinstance(row_source, str) or len(row_source) > 64):
            errors.append(FieldError(f"items[{i}].source", "invalid", "up to 64 characters", i))
            row_source = None
        if len(errors) >= 100:
            break
        if ts is not None and temperature is not None and kato in REGIONS_BY_KATO:
            rows.append(WeatherRow(kato, ts, temperature, issued, wind, cloud, row_source))
    if errors:
        raise _bad(errors, "; ".join(f"{e.field}: {e.message}" for e in errors[:5]))
    return rows


async def store(session: AsyncSession, rows: Iterable[WeatherRow]) -> dict[str, int]:
    """Insert or replace the rows; the same region, time (and issue time) is one value."""
    observed: dict[tuple[str, datetime], dict[str, Any]] = {}
    forecast: dict[tuple[str, datetime, datetime], dict[str, Any]] = {}
    for r in rows:
        values = {
            "region_kato": r.region_kato,
            "ts": r.ts,
            "temperature_c": r.temperature_c,
            "wind_ms": r.wind_ms,
            "cloud_pct": r.cloud_pct,
            "source": r.source,
        }
        if r.issued_at is None:
            observed[(r.region_kato, r.ts)] = values
        else:
            forecast[(r.region_kato, r.issued_at, r.ts)] = {**values, "issued_at": r.issued_at}
    for table, batch in ((weather_observed, observed), (weather_forecast, forecast)):
        for chunk in per_statement(list(batch.values())):
            stmt = insert(table).values(chunk)
            stmt = stmt.on_conflict_do_update(
                index_elements=[c.name for c in table.primary_key.columns],
                set_={
                    **{
                        c: stmt.excluded[c]
                        for c in ("temperature_c", "wind_ms", "cloud_pct", "source")
                    },
                    "received_at": func.now(),
                },
            )
            await session.execute(stmt)
    return {"observed": len(observed), "forecast": len(forecast)}


async def read(
    session: AsyncSession,
    regions: Sequence[str],
    start: datetime,
    end: datetime,
    now: datetime,
) -> dict[str, pd.DataFrame]:
    """Per region, hourly weather in ``[start, end)``: observed, else the latest forecast issued
    by the time (or by ``now`` for times after it); columns temperature_c, wind_ms, cloud_pct
    and ``observed`` (bool), indexed by UTC time."""
    if not regions:
        return {}
    observed = await session.execute(
        text(
            "SELECT region_kato, ts, temperature_c, wind_ms, cloud_pct FROM forecast.weather_observed "
            "WHERE region_kato = ANY(:r) AND ts >= :a AND ts < :b"
        ),
        {"r": list(regions), "a": start, "b": end},
    )
    forecast = await session.execute(
        text(
            "SELECT DISTINCT ON (region_kato, ts) region_kato, ts, temperature_c, wind_ms, cloud_pct "
            "FROM forecast.weather_forecast "
            "WHERE region_kato = ANY(:r) AND ts >= :a AND ts < :b AND issued_at <= LEAST(ts, :now) "
            "ORDER BY region_kato, ts, issued_at DESC"
        ),
        {"r": list(regions), "a": start, "b": end, "now": now},
    )
    frames: dict[str, list[tuple[Any, ...]]] = {}
    for rows, is_observed in ((forecast.all(), False), (observed.all(), True)):
        for r in rows:
            frames.setdefault(r.region_kato, []).append(
                (r.ts, r.temperature_c, r.wind_ms, r.cloud_pct, is_observed)
            )
    out = {}
    for region, rows in frames.items():
        frame = pd.DataFrame(
            rows, columns=["ts", "temperature_c", "wind_ms", "cloud_pct", "observed"]
        )
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        # Observed rows come last: they win over a forecast of the same time.
        frame = frame.drop_duplicates("ts", keep="last").set_index("ts").sort_index()
        out[region] = frame
    return out


def on_grid(
    frame: pd.DataFrame | None, index: pd.DatetimeIndex, step: pd.Timedelta, known: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Weather at the middle of every step of ``index`` (linear in time between hourly values,
    at most three hours away from one), and where it came from per step: 2 observed, 1 forecast,
    0 persistence (the mean daily course of the week before ``known``), -1 nothing."""
    n = len(index)
    values = {name: np.full(n, np.nan) for name in EXOG.values()}
    origin = np.full(n, -1, dtype=np.int8)
    if frame is None or frame.empty:
        return values, origin
    middle = (index + step / 2).tz_convert("UTC").as_unit("ns").asi8 / 1e9
    times = pd.DatetimeIndex(frame.index).as_unit("ns").asi8 / 1e9
    near = np.full(n, np.inf)
    if len(times):
        pos = np.searchsorted(times, middle)
        left = np.abs(middle - times[np.clip(pos - 1, 0, len(times) - 1)])
        right = np.abs(times[np.clip(pos, 0, len(times) - 1)] - middle)
        near = np.minimum(left, right)
    close = near <= 3 * 3600
    observed = frame["observed"].to_numpy(dtype=np.float64)
    for field, name in EXOG.items():
        column = frame[field].to_numpy(dtype=np.float64)
        ok = np.isfinite(column)
        if ok.sum() == 0:
            continue
        values[name] = np.where(close, np.interp(middle, times[ok], column[ok]), np.nan)
    if len(times):
        share = np.interp(middle, times, observed)
        origin = np.where(close, np.where(share >= 0.5, 2, 1), -1).astype(np.int8)
    # Persistence where nothing is known: the mean by time of day over the last known week.
    temperature = values["temperature"]
    missing = ~np.isfinite(temperature)
    if missing.any():
        steps_per_day = max(1, int(pd.Timedelta(days=1) / step))
        lo = max(0, known - 7 * steps_per_day)
        recent = temperature[lo:known]
        slot = np.arange(n) % steps_per_day
        means = np.full(steps_per_day, np.nan)
        for s in range(steps_per_day):
            sample = recent[(slot[lo:known] == s)]
            sample = sample[np.isfinite(sample)]
            if sample.size:
                means[s] = sample.mean()
        fill = means[slot]
        use = missing & np.isfinite(fill) & (np.arange(n) >= known)
        temperature[use] = fill[use]
        origin[use] = 0
    return values, origin
