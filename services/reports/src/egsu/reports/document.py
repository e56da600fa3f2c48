"""A report's content, independent of its format: metadata, tables, charts and notes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from egsu.core.time import KZ

ColumnKind = Literal["text", "number", "int", "percent", "datetime", "date"]


@dataclass
class Column:
    key: str
    caption: str
    kind: ColumnKind = "number"
    unit: str | None = None

    @property
    def header(self) -> str:
        return f"{self.caption}, {self.unit}" if self.unit else self.caption


@dataclass
class Table:
    name: str
    caption: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    note: str | None = None

    def records(self) -> list[dict[str, Any]]:
        return [dict(zip((c.key for c in self.columns), r, strict=True)) for r in self.rows]


@dataclass
class Chart:
    name: str
    caption: str
    kind: Literal["line", "bar"]
    x: list[str]
    series: list[tuple[str, list[float | None]]]
    unit: str | None = None


@dataclass
class Document:
    title: str
    subtitle: str
    language: str
    meta: list[tuple[str, str, Any]]  # (key, caption, value)
    tables: list[Table] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)  # headline numbers kept with the report


def jsonable(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.astimezone(KZ).isoformat()
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float):
        return round(v, 6)
    return v


def to_dict(doc: Document) -> dict[str, Any]:
    """The document as plain JSON: machine keys beside the captions."""
    return {
        "title": doc.title,
        "subtitle": doc.subtitle,
        "language": doc.language,
        "meta": {k: jsonable(v) for k, _, v in doc.meta},
        "meta_captions": {k: c for k, c, _ in doc.meta},
        "tables": [
            {
                "name": t.name,
                "caption": t.caption,
                "columns": [
                    {"key": c.key, "caption": c.caption, "kind": c.kind, "unit": c.unit}
                    for c in t.columns
                ],
                "rows": [
                    {c.key: jsonable(v) for c, v in zip(t.columns, r, strict=True)} for r in t.rows
                ],
                "note": t.note,
            }
            for t in doc.tables
        ],
        "charts": [
            {
                "name": c.name,
                "caption": c.caption,
                "kind": c.kind,
                "x": c.x,
                "unit": c.unit,
                "series": [
                    {"label": lbl, "values": [jsonable(v) for v in vals]} for lbl, vals in c.series
                ],
            }
            for c in doc.charts
        ],
        "notes": doc.notes,
        "summary": {k: jsonable(v) for k, v in doc.summary.items()},
    }
