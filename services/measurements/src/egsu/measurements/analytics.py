"""Quality analytics and energy-efficiency and risk indicators (R8), for the console and reports.

Quality: over a period, the share of a point's (subject's, region's) expected intervals that are
valid, suspect, estimated, edited or missing, and the rules that failed most. Counts come from the
hour roll-ups (whole hours); the expected count is the period's intervals of every quantity the
registry lists for the point (clipped to now), so a point that sent nothing shows as missing.

Indicators:
- network losses of a network facility (substation, power line, heat network): input is what
  enters at its interchange points (electricity: import minus export; heat: heat energy), output
  is what leaves at its consumption points; loss = input − output, also in % of input;
- load factor: mean hourly energy / peak hourly energy over the period (1 = flat);
- share of consumption above norm: energy of readings flagged ``above_norm`` / energy of the
  points that have a norm.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import asyncpg

from egsu.contracts.registry import PointIndexItem
from egsu.contracts.vocabulary import resolve_quantity
from egsu.measurements.catalog import Catalog, Point
from egsu.measurements.vee import rules as R

NETWORK_TYPES = frozenset({"substation", "power_line", "heat_network"})
GENERATING_TYPES = frozenset({"tpp", "chp", "hpp", "wpp", "spp", "gas_turbine", "boiler_house"})
KINDS = ("valid", "suspect", "estimated", "edited", "missing")


def expected_intervals(start: datetime, end: datetime, interval_min: int) -> int:
    end = min(end, datetime.now(UTC))
    if end <= start:
        return 0
    step = interval_min * 60
    return max(0, int(end.timestamp()) // step - int(start.timestamp()) // step)


async def _counts(
    conn: asyncpg.Connection, pids: list[int], start: datetime, end: datetime
) -> list[asyncpg.Record]:
    return await conn.fetch(
        """
        SELECT point_id, quantity_id, sum(count)::bigint AS count, sum(valid_count)::bigint AS valid,
               sum(suspect_count)::bigint AS suspect, sum(estimated_count)::bigint AS estimated,
               sum(edited_count)::bigint AS edited
        FROM measurements.point_hour
        WHERE point_id = ANY($1::int[]) AND hour >= date_trunc('hour', $2::timestamptz) AND hour < $3
        GROUP BY point_id, quantity_id
        """,
        pids,
        start,
        end,
    )


async def top_rules(
    conn: asyncpg.Connection, pids: list[int], start: datetime, end: datetime, limit: int = 10
) -> list[dict[str, Any]]:
    """The rules that hit the current readings of the points most often in (start, end]."""
    if not pids:
        return []
    rows = await conn.fetch(
        """
        SELECT b.bit, count(*)::bigint AS n
        FROM measurements.vee_finding f
        JOIN measurements.reading r ON r.point_id = f.point_id AND r.quantity_id = f.quantity_id
         AND r.ts = f.ts AND r.version = f.version AND r.current
        CROSS JOIN generate_series(0, 30) AS b(bit)
        WHERE f.point_id = ANY($1::int[]) AND f.ts > $2 AND f.ts <= $3 AND (f.rules & (1 << b.bit)) <> 0
        GROUP BY b.bit ORDER BY n DESC, b.bit LIMIT $4
        """,
        pids,
        start,
        end,
        limit,
    )
    out = []
    for r in rows:
        rule = R.BY_BIT.get(r["bit"])
        if rule is not None:
            out.append({**rule.as_dict(), "count": r["n"]})
    return out


def _shares(c: dict[str, int]) -> dict[str, float | None]:
    total = sum(c[k] for k in KINDS)
    return {k: (round(c[k] / total, 4) if total else None) for k in KINDS}


async def quality(
    conn: asyncpg.Connection,
    catalog: Catalog,
    points: list[Point],
    infos: dict[str, PointIndexItem],
    start: datetime,
    end: datetime,
    *,
    per_point: bool = False,
) -> dict[str, Any]:
    """Quality shares and top failing rules over the points (registry points without data count
    as missing)."""
    pids = [p.id for p in points]
    by_id = {p.id: p for p in points}
    rows = await _counts(conn, pids, start, end) if pids else []
    seen: dict[tuple[str, str], dict[str, int]] = {}
    for r in rows:
        p = by_id[r["point_id"]]
        q = catalog.quantity_codes.get(r["quantity_id"], str(r["quantity_id"]))
        seen[(p.code, q)] = {
            "count": r["count"],
            "valid": r["valid"],
            "suspect": r["suspect"],
            "estimated": r["estimated"],
            "edited": r["edited"],
        }
    intervals = {p.code: p.interval_min for p in points}
    keys = set(seen)
    for info in infos.values():
        if info.status != "active":
            continue
        intervals.setdefault(info.code, info.interval_min)
        for q in info.quantities:
            keys.add((info.code, q))
    total = dict.fromkeys(KINDS, 0) | {"expected": 0, "received": 0}
    per_q: dict[str, dict[str, int]] = {}
    per_p: dict[str, dict[str, int]] = {}
    for code, q in sorted(keys):
        c = seen.get((code, q), {"count": 0, "valid": 0, "suspect": 0, "estimated": 0, "edited": 0})
        expected = expected_intervals(start, end, intervals.get(code, 15))
        expected = max(expected, c["count"])
        entry = {
            "valid": c["valid"],
            "suspect": c["suspect"],
            "estimated": c["estimated"],
            "edited": c["edited"],
            "missing": expected - c["count"],
            "expected": expected,
            "received": c["count"],
        }
        for target in (
            total,
            per_q.setdefault(q, dict.fromkeys(entry, 0)),
            per_p.setdefault(code, dict.fromkeys(entry, 0)),
        ):
            for k, v in entry.items():
                target[k] += v
    out: dict[str, Any] = {
        "from": start.isoformat(),
        "to": end.isoformat(),
        "counts": total,
        "shares": _shares(total),
        "quantities": [
            {"quantity": q, "counts": c, "shares": _shares(c)} for q, c in sorted(per_q.items())
        ],
        "top_rules": await top_rules(conn, pids, start, end),
    }
    if per_point:
        worst = sorted(per_p.items(), key=lambda kv: (_shares(kv[1])["valid"] or 0.0, kv[0]))
        out["points"] = [
            {"point": code, "counts": c, "shares": _shares(c)} for code, c in worst[:50]
        ]
    return out


async def _sums(
    conn: asyncpg.Connection,
    catalog: Catalog,
    pids: list[int],
    quantities: list[str],
    start: datetime,
    end: datetime,
) -> dict[tuple[int, str], float]:
    qids = [catalog.quantities[q] for q in quantities if q in catalog.quantities]
    if not pids or not qids:
        return {}
    rows = await conn.fetch(
        """
        SELECT point_id, quantity_id, sum(sum) AS s FROM measurements.point_hour
        WHERE point_id = ANY($1::int[]) AND quantity_id = ANY($2::int2[])
          AND hour >= date_trunc('hour', $3::timestamptz) AND hour < $4
        GROUP BY point_id, quantity_id
        """,
        pids,
        qids,
        start,
        end,
    )
    return {(r["point_id"], catalog.quantity_codes[r["quantity_id"]]): r["s"] or 0.0 for r in rows}


async def network_losses(
    conn: asyncpg.Connection,
    catalog: Catalog,
    facility_id: str,
    infos: list[PointIndexItem],
    start: datetime,
    end: datetime,
) -> dict[str, Any] | None:
    """Input, output and losses of a network facility, per commodity."""
    if not infos or infos[0].facility_type not in NETWORK_TYPES:
        return None
    known = {p.code: p for p in await catalog.points_where(conn, "facility_id", facility_id)}
    out: dict[str, Any] = {}
    for commodity, q_in, q_out in (
        ("electricity", ("active_import", "active_export"), "active_import"),
        ("heat", ("heat_energy", None), "heat_energy"),
    ):
        pts = [i for i in infos if i.commodity == commodity and i.code in known]
        if not pts:
            continue
        pids = [known[i.code].id for i in pts]
        sums = await _sums(conn, catalog, pids, [q for q in (*q_in, q_out) if q], start, end)
        inflow = outflow = 0.0
        for i in pts:
            pid = known[i.code].id
            if i.position == "interchange":
                inflow += sums.get((pid, q_in[0]), 0.0) - (
                    sums.get((pid, q_in[1]), 0.0) if q_in[1] else 0.0
                )
            elif i.position == "consumption":
                outflow += sums.get((pid, q_out), 0.0)
        loss = inflow - outflow
        unit = resolve_quantity(q_out).unit  # type: ignore[union-attr]
        out[commodity] = {
            "unit": unit,
            "input": round(inflow, 6),
            "output": round(outflow, 6),
            "loss": round(loss, 6),
            "loss_pct": round(100 * loss / inflow, 3) if inflow > 0 else None,
        }
    return out or None


async def load_factor(
    conn: asyncpg.Connection,
    catalog: Catalog,
    level: int,
    key: str,
    quantity: str,
    start: datetime,
    end: datetime,
) -> dict[str, Any] | None:
    """Mean hourly energy over peak hourly energy of a group (facility 1, region 3)."""
    qid = catalog.quantities.get(quantity)
    if qid is None:
        return None
    r = await conn.fetchrow(
        """
        SELECT avg(s) AS mean, max(s) AS peak, count(*) AS hours,
               (array_agg(hour ORDER BY s DESC))[1] AS peak_at
        FROM (
          SELECT hour, sum(sum) AS s FROM (
            SELECT hour, sum FROM measurements.group_hour
            WHERE level = $1 AND key = $2 AND quantity_id = $3 AND hour >= date_trunc('hour', $4::timestamptz)
              AND hour < $5
            UNION ALL
            SELECT hour, sum FROM measurements.group_delta
            WHERE level = $1 AND key = $2 AND quantity_id = $3 AND hour >= date_trunc('hour', $4::timestamptz)
              AND hour < $5
          ) x GROUP BY hour
        ) h
        """,
        level,
        key,
        qid,
        start,
        end,
    )
    if r is None or not r["hours"] or not r["peak"]:
        return None
    return {
        "quantity": quantity,
        "mean_hourly": round(r["mean"], 6),
        "peak_hourly": round(r["peak"], 6),
        "peak_at": r["peak_at"].isoformat(),
        "hours": r["hours"],
        "load_factor": round(r["mean"] / r["peak"], 4) if r["peak"] > 0 else None,
    }


async def above_norm_share(
    conn: asyncpg.Connection,
    catalog: Catalog,
    infos: list[PointIndexItem],
    start: datetime,
    end: datetime,
) -> dict[str, Any] | None:
    """Energy and readings flagged above the norm among the points that have a norm."""
    with_norm = [
        i
        for i in infos
        if any(
            i.norms.get(k) for k in ("daily_energy_kwh", "interval_energy_kwh", "heat_daily_gcal")
        )
    ]
    if not with_norm:
        return None
    pids = [
        r[0]
        for r in await conn.fetch(
            "SELECT id FROM measurements.point WHERE code = ANY($1::text[])",
            [i.code for i in with_norm],
        )
    ]
    qids = [
        catalog.quantities[q] for q in ("active_import", "heat_energy") if q in catalog.quantities
    ]
    if not pids or not qids:
        return {"points_with_norm": len(with_norm), "energy_share": None, "reading_share": None}
    r = await conn.fetchrow(
        """
        SELECT coalesce(sum(value), 0) AS total,
               coalesce(sum(value) FILTER (WHERE rules & $5 <> 0), 0) AS above,
               count(*) AS n, count(*) FILTER (WHERE rules & $5 <> 0) AS n_above
        FROM measurements.reading
        WHERE point_id = ANY($1::int[]) AND quantity_id = ANY($2::int2[]) AND current AND ts > $3 AND ts <= $4
        """,
        pids,
        qids,
        start,
        end,
        R.ABOVE_NORM,
    )
    return {
        "points_with_norm": len(with_norm),
        "energy": round(r["total"], 6),
        "energy_above_norm": round(r["above"], 6),
        "energy_share": round(r["above"] / r["total"], 4) if r["total"] else None,
        "reading_share": round(r["n_above"] / r["n"], 4) if r["n"] else None,
    }


def main_quantity(facility_type: str) -> str:
    return "active_export" if facility_type in GENERATING_TYPES else "active_import"


async def facility_indicators(
    conn: asyncpg.Connection,
    catalog: Catalog,
    facility_id: str,
    infos: list[PointIndexItem],
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    ftype = infos[0].facility_type if infos else None
    heat_only = bool(infos) and all(i.commodity == "heat" for i in infos)
    q = "heat_energy" if heat_only else main_quantity(ftype or "")
    return {
        "facility_id": facility_id,
        "facility_type": ftype,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "losses": await network_losses(conn, catalog, facility_id, infos, start, end),
        "load": await load_factor(conn, catalog, 1, facility_id, q, start, end),
        "above_norm": await above_norm_share(conn, catalog, infos, start, end),
    }


async def region_indicators(
    conn: asyncpg.Connection,
    catalog: Catalog,
    kato: str,
    infos: list[PointIndexItem],
    start: datetime,
    end: datetime,
) -> dict[str, Any]:
    by_facility: dict[str, list[PointIndexItem]] = {}
    for i in infos:
        by_facility.setdefault(i.facility_id, []).append(i)
    networks = []
    totals: dict[str, dict[str, float]] = {}
    for fid, items in sorted(by_facility.items()):
        if items[0].facility_type not in NETWORK_TYPES:
            continue
        losses = await network_losses(conn, catalog, fid, items, start, end)
        if not losses:
            continue
        networks.append(
            {"facility_id": fid, "facility_type": items[0].facility_type, "losses": losses}
        )
        for commodity, v in losses.items():
            t = totals.setdefault(commodity, {"input": 0.0, "output": 0.0, "loss": 0.0})
            for k in ("input", "output", "loss"):
                t[k] += v[k]
    for t in totals.values():
        t["loss_pct"] = round(100 * t["loss"] / t["input"], 3) if t["input"] > 0 else None  # type: ignore[assignment]
    return {
        "region_kato": kato,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "losses": {"total": totals, "networks": networks},
        "load": await load_factor(conn, catalog, 3, kato, "active_import", start, end),
        "above_norm": await above_norm_share(conn, catalog, infos, start, end),
    }
