"""A light client of the forecast service for other programs (the demo's simulator above all).

It imports nothing heavy: a process that posts weather does not load the forecasting engine.

    async with httpx.AsyncClient(base_url=gateway, headers={"Authorization": f"Bearer {token}"}) as http:
        await post_weather(http, observed_rows)                 # region_kato, ts, temperature_c
        await post_weather(http, forecast_rows)                 # … and issued_at
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import httpx

WEATHER = "/api/v1/forecast/weather"
ATTEMPTS = 6
FIELDS = ("region_kato", "ts", "temperature_c", "issued_at", "wind_ms", "cloud_pct")


def _value(v: Any) -> Any:
    if isinstance(v, datetime):
        if v.tzinfo is None:
            raise ValueError("weather times need their UTC offset")
        return v.isoformat()
    return v


def _retry_after(resp: httpx.Response) -> float:
    """Seconds the System asked to wait (Retry-After), at most 10; one if it did not say."""
    try:
        return min(float(resp.headers.get("retry-after", "1")), 10.0)
    except ValueError:
        return 1.0


async def post_weather(
    http: httpx.AsyncClient,
    rows: Iterable[Mapping[str, Any]],
    *,
    source: str | None = None,
    chunk: int = 20_000,
) -> dict[str, int]:
    """Post weather rows (the simulator's ``weather_observed`` / ``weather_forecast`` frames as
    dicts: ``region_kato``, ``ts``, ``temperature_c`` and for a forecast ``issued_at``) in chunks;
    ``http`` carries the base URL and a token of the ministry, an operator or a service. A busy or
    briefly unavailable System (429, 502–504) is asked again after its Retry-After."""
    stored = {"observed": 0, "forecast": 0}
    batch: list[dict[str, Any]] = []

    async def flush() -> None:
        if not batch:
            return
        body: dict[str, Any] = {"items": batch}
        if source:
            body["source"] = source
        for attempt in range(ATTEMPTS):  # the same body again is harmless: weather is upserted
            resp = await http.post(WEATHER, json=body, timeout=120)
            if resp.status_code not in (429, 502, 503, 504) or attempt == ATTEMPTS - 1:
                break
            await asyncio.sleep(_retry_after(resp))
        resp.raise_for_status()
        for k, v in resp.json()["stored"].items():
            stored[k] = stored.get(k, 0) + int(v)
        batch.clear()

    for row in rows:
        batch.append({k: _value(row[k]) for k in FIELDS if row.get(k) is not None})
        if len(batch) >= chunk:
            await flush()
    await flush()
    return stored
