"""Queries of state bodies (§22): structured questions over named datasets, answered from roll-ups.

A query names a dataset, its measures, filters (regions, facility types, period), a grouping and an
aggregate. ``government`` may group by region, facility type and time only — never by subject or
facility; the ministry and the operator may go down to those.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from egsu.core.time import KZ
from egsu.reports.context import Sources
from egsu.reports.sources import Planner, PointInfo, window

ELECTRICITY_MEASURES = (
    "generation",
    "own_needs",
    "consumption",
    "interchange_in",
    "interchange_out",
    "losses",
)
HEAT_MEASURES = ("supply", "own_needs", "consumption", "losses")
CAPACITY_MEASURES = ("electric_mw", "heat_gcal_h", "facilities")
NARROW = ("subject_bin", "facility_id")
GroupBy = Literal[
    "region_kato", "facility_type", "subject_bin", "facility_id", "hour", "day", "month"
]


class QueryFilters(BaseModel):
    model_config = {"extra": "forbid"}
    region_kato: list[str] = []
    facility_type: list[str] = []
    subject_bin: list[str] = []
    facility_id: list[str] = []
    period_from: date | None = Field(None, alias="from")
    period_to: date | None = Field(None, alias="to")


class QueryCreate(BaseModel):
    model_config = {"extra": "forbid"}
    purpose: str = Field(min_length=10, max_length=2000, description="why the body needs the data")
    legal_basis: str = Field(
        min_length=5, max_length=500, description="the law or order that entitles it"
    )
    dataset: Literal["electricity", "heat", "capacity"]
    measures: list[str] = Field(min_length=1)
    filters: QueryFilters = QueryFilters()
    group_by: list[GroupBy] = []
    aggregate: Literal["sum", "avg", "max", "min"] = "sum"
    resolution: Literal["1h", "1d"] = "1d"

    @field_validator("purpose", "legal_basis")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must not be blank")
        return v.strip()

    @model_validator(mode="after")
    def _check(self) -> QueryCreate:
        allowed = {
            "electricity": ELECTRICITY_MEASURES,
            "heat": HEAT_MEASURES,
            "capacity": CAPACITY_MEASURES,
        }[self.dataset]
        bad = [m for m in self.measures if m not in allowed]
        if bad:
            raise ValueError(f"measures: {', '.join(bad)} not in {', '.join(allowed)}")
        if self.dataset != "capacity":
            f = self.filters
            if not (f.period_from and f.period_to):
                raise ValueError(
                    "filters.from: give the period: filters.from and filters.to (YYYY-MM-DD)"
                )
            if f.period_to < f.period_from or (f.period_to - f.period_from).days > 366:
                raise ValueError("filters.to: on or after from, within a year")
            if "hour" in self.group_by and self.resolution != "1h":
                raise ValueError("resolution: grouping by hour needs resolution 1h")
        elif set(self.group_by) & {"hour", "day", "month"}:
            raise ValueError("group_by: capacity has no time")
        return self


def narrow_fields(q: QueryCreate) -> list[str]:
    """Fields of the query that single out subjects or facilities."""
    f = q.filters
    return [g for g in q.group_by if g in NARROW] + [n for n in NARROW if getattr(f, n)]


def _point_ok(q: QueryCreate, p: PointInfo) -> bool:
    f = q.filters
    return (
        (not f.region_kato or p.region_kato in f.region_kato)
        and (not f.facility_type or p.facility_type in f.facility_type)
        and (not f.subject_bin or p.subject_bin in f.subject_bin)
        and (not f.facility_id or p.facility_id in f.facility_id)
    )


def _group_key(q: QueryCreate, p: PointInfo) -> tuple[Any, ...]:
    dims = {
        "region_kato": p.region_kato,
        "facility_type": p.facility_type,
        "subject_bin": p.subject_bin,
        "facility_id": p.facility_id,
    }
    return (p.position, *(dims[g] for g in q.group_by if g in dims))


def _time_key(q: QueryCreate, ts: int) -> tuple[Any, ...]:
    dt = datetime.fromtimestamp(ts, KZ)
    out: list[Any] = []
    for g in q.group_by:
        if g == "hour":
            out.append(dt.isoformat())
        elif g == "day":
            out.append(dt.date().isoformat())
        elif g == "month":
            out.append(dt.strftime("%Y-%m"))
    return tuple(out)


async def plan_size(src: Sources, q: QueryCreate) -> int:
    """Work units: historian series times days (decides whether the query runs as a job)."""
    if q.dataset == "capacity":
        return 1
    d = await src.registry.directory()
    qs = ("active_export", "active_import") if q.dataset == "electricity" else ("heat_energy",)
    nodes = sum(
        len(Planner(d.points, x).plan(lambda p: _point_ok(q, p), lambda p: _group_key(q, p)).nodes)
        for x in qs
    )
    days = (q.filters.period_to - q.filters.period_from).days + 1  # type: ignore[operator]
    return max(1, nodes) * days * (24 if q.resolution == "1h" else 1)


async def run_query(src: Sources, q: QueryCreate) -> list[dict[str, Any]]:
    d = await src.registry.directory()
    if q.dataset == "capacity":
        groups: dict[tuple[Any, ...], dict[str, float]] = defaultdict(lambda: defaultdict(float))
        f = q.filters
        for fac in d.facilities.values():
            if fac.get("status", "active") != "active":
                continue
            if (
                (f.region_kato and fac["region_kato"] not in f.region_kato)
                or (f.facility_type and fac["type"] not in f.facility_type)
                or (f.subject_bin and fac["subject_bin"] not in f.subject_bin)
                or (f.facility_id and fac["id"] not in f.facility_id)
            ):
                continue
            dims = {
                "region_kato": fac["region_kato"],
                "facility_type": fac["type"],
                "subject_bin": fac["subject_bin"],
                "facility_id": fac["id"],
            }
            g = groups[tuple(dims[x] for x in q.group_by)]
            g["electric_mw"] += fac.get("installed_electric_mw") or 0.0
            g["heat_gcal_h"] += fac.get("installed_heat_gcal_h") or 0.0
            g["facilities"] += 1
        return [
            {**dict(zip(q.group_by, k, strict=True)), **{m: round(v[m], 6) for m in q.measures}}
            for k, v in sorted(groups.items())
        ]
    start, end = window(q.filters.period_from, q.filters.period_to)  # type: ignore[arg-type]
    qs = ("active_export", "active_import") if q.dataset == "electricity" else ("heat_energy",)
    # (group key without position, time key, bucket) -> {(quantity, position): value}
    cells: dict[tuple[Hashable, tuple[Any, ...], int], dict[tuple[str, str], float]] = defaultdict(
        lambda: defaultdict(float)
    )
    for x in qs:
        plan = Planner(d.points, x).plan(lambda p: _point_ok(q, p), lambda p: _group_key(q, p))
        got = await src.historian.collect(plan, x, start, end, q.resolution)
        for key, s in got.items():
            pos, rest = key[0], tuple(key[1:])  # type: ignore[index]
            for ts, c in s.items():
                cells[(rest, _time_key(q, ts), ts)][(x, pos)] += c[0]

    def measures(v: dict[tuple[str, str], float]) -> dict[str, float]:
        if q.dataset == "heat":
            sup, own, cons = (
                v[("heat_energy", "generation")],
                v[("heat_energy", "own_needs")],
                v[("heat_energy", "consumption")],
            )
            return {
                "supply": sup,
                "own_needs": own,
                "consumption": cons,
                "losses": sup - own - cons,
            }
        e = lambda pos: v[("active_export", pos)] / 1000  # noqa: E731
        i = lambda pos: v[("active_import", pos)] / 1000  # noqa: E731
        gen, own, cons = (
            e("generation") - i("generation"),
            i("own_needs") - e("own_needs"),
            i("consumption") - e("consumption"),
        )
        return {
            "generation": gen,
            "own_needs": own,
            "consumption": cons,
            "interchange_in": i("interchange"),
            "interchange_out": e("interchange"),
            "losses": gen - own + i("interchange") - e("interchange") - cons,
        }

    per_group: dict[tuple[Any, ...], list[dict[str, float]]] = defaultdict(list)
    for (rest, tkey, _), v in cells.items():
        per_group[(*rest, *tkey)].append(measures(v))
    agg = {"sum": sum, "max": max, "min": min, "avg": lambda xs: sum(xs) / len(xs)}[q.aggregate]
    dims = [g for g in q.group_by if g not in ("hour", "day", "month")] + [
        g for g in q.group_by if g in ("hour", "day", "month")
    ]
    out = []
    for k, buckets in sorted(per_group.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
        out.append(
            {
                **dict(zip(dims, k, strict=True)),
                **{m: round(agg([b[m] for b in buckets]), 6) for m in q.measures},
            }
        )
    return out
