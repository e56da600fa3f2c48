"""The data-quality and compliance report: who submitted what, late or incomplete, how valid."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from typing import Any

from egsu.reports.context import Period, Scope, Sources, scope_name
from egsu.reports.document import Chart, Column, Document, Table
from egsu.reports.energy import _meta
from egsu.reports.i18n import LANGUAGES, t
from egsu.reports.sources import window

QUANTITIES = ("active_import", "active_export", "heat_energy")


async def gather_quality(src: Sources, scope: Scope, period: Period) -> dict[str, Any]:
    d = await (
        src.registry.directory(subject_bin=scope.subject_bin)
        if scope.type in ("subject", "facility")
        else src.registry.directory()
    )
    subjects = sorted({p.subject_bin for p in d.points if scope.contains(p)})
    start, end = window(period.start, period.end)
    compliance = await src.ingest.compliance(period.start, period.end, scope.subject_bin)
    compliance = [c for c in compliance if c["subject_bin"] in subjects]
    receipts = await src.ingest.receipts(start, end, scope.subject_bin)
    per_subject: dict[str, dict[str, float]] = defaultdict(
        lambda: {"batches": 0, "accepted": 0, "rejected": 0}
    )
    for r in receipts:
        if r["subject_bin"] in subjects:
            s = per_subject[r["subject_bin"]]
            s["batches"] += 1
            s["accepted"] += r.get("accepted") or 0
            s["rejected"] += r.get("rejected_count") or 0
    node_type = "facility" if scope.type == "facility" else "subject"

    async def validity(key: str) -> tuple[str, float, float]:
        n = v = 0.0
        for q in QUANTITIES:
            s = await src.historian.series((node_type, key), q, start, end, "1d")
            n += sum(c[1] for c in s.values())
            v += sum(c[2] for c in s.values())
        return key, n, v

    keys = [scope.key] if scope.type == "facility" else subjects
    valid = await asyncio.gather(*(validity(k) for k in keys))
    return {
        "scope_name": scope_name(scope, d),
        "periods": {"current": [period.start.isoformat(), period.end.isoformat()]},
        "subjects": {b: {lang: d.subject_name(b, lang) for lang in LANGUAGES} for b in subjects},
        "compliance": compliance,
        "receipts": dict(per_subject),
        "validity": {k: [n, v] for k, n, v in valid},
    }


def build_quality(inputs: dict[str, Any], req: dict[str, Any], lang: str) -> Document:
    doc = Document(
        title=t("kind.data_quality", lang),
        subtitle=inputs["scope_name"][lang] + " · " + t("level." + req["level"], lang),
        language=lang,
        meta=_meta(inputs, req, lang),
    )
    names = inputs["subjects"]
    cols = [
        Column("subject_bin", t("col.bin", lang), "text"),
        Column("name", t("col.subject", lang), "text"),
        Column("points", t("col.point", lang), "int"),
        Column("expected", t("col.expected", lang), "int"),
        Column("received", t("col.received", lang), "int"),
        Column("missing", t("col.missing", lang), "int"),
        Column("late", t("col.late", lang), "int"),
        Column("completeness_pct", t("col.completeness", lang), "percent"),
        Column("late_share_pct", t("col.late_share", lang), "percent"),
        Column("status", t("col.status", lang), "text"),
    ]
    rows = []
    for c in sorted(inputs["compliance"], key=lambda c: c["completeness"]):
        b = c["subject_bin"]
        rows.append(
            [
                b,
                names.get(b, {}).get(lang, b),
                c["points"],
                c["expected"],
                c["received"],
                c["missing"],
                c["late"],
                c["completeness"] * 100,
                c["late_share"] * 100,
                t(f"status.{c['status']}", lang),
            ]
        )
    doc.tables.append(
        Table(
            "compliance",
            t("table.compliance", lang),
            cols,
            rows,
            note=t("note.compliance_scope", lang),
        )
    )
    cols = [
        Column("subject_bin", t("col.bin", lang), "text"),
        Column("name", t("col.subject", lang), "text"),
        Column("batches", t("col.receipts", lang), "int"),
        Column("accepted", t("col.accepted", lang), "int"),
        Column("rejected", t("col.rejected", lang), "int"),
    ]
    rows = [
        [
            b,
            names.get(b, {}).get(lang, b),
            int(r["batches"]),
            int(r["accepted"]),
            int(r["rejected"]),
        ]
        for b, r in sorted(inputs["receipts"].items())
    ]
    doc.tables.append(Table("receipts", t("table.receipts", lang), cols, rows))
    cols = [
        Column(
            "key",
            t("col.facility" if req["scope"]["type"] == "facility" else "col.bin", lang),
            "text",
        ),
        Column("name", t("col.subject", lang), "text"),
        Column("readings", t("col.readings", lang), "int"),
        Column("valid_share_pct", t("col.valid_share", lang), "percent"),
    ]
    rows = [
        [k, names.get(k, {}).get(lang, k), int(n), v / n * 100 if n else None]
        for k, (n, v) in sorted(inputs["validity"].items())
    ]
    doc.tables.append(Table("validity", t("table.quality", lang), cols, rows))
    comp = sorted(inputs["compliance"], key=lambda c: c["completeness"])[:20]
    doc.charts.append(
        Chart(
            "completeness",
            t("chart.completeness", lang),
            "bar",
            [c["subject_bin"] for c in comp],
            [(t("col.completeness", lang), [c["completeness"] * 100 for c in comp])],
            "%",
        )
    )
    total_n = sum(n for n, _ in inputs["validity"].values())
    total_v = sum(v for _, v in inputs["validity"].values())
    doc.summary = {
        "subjects": len(inputs["subjects"]),
        "late_or_incomplete": [
            c["subject_bin"] for c in inputs["compliance"] if c["status"] != "ok"
        ],
        "readings": total_n,
        "valid_share": total_v / total_n if total_n else None,
        "batches": sum(r["batches"] for r in inputs["receipts"].values()),
    }
    return doc
