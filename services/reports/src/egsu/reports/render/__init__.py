"""A report document in XLSX, PDF, CSV or JSON."""

from __future__ import annotations

import csv
import io

import orjson

from egsu.reports.document import Document, jsonable, to_dict

FORMATS = ("xlsx", "pdf", "csv", "json")
CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
    "json": "application/json",
}


def render(doc: Document, fmt: str) -> bytes:
    """The document's bytes in ``fmt``."""
    if fmt == "json":
        return orjson.dumps(to_dict(doc), option=orjson.OPT_INDENT_2)
    if fmt == "csv":
        return render_csv(doc)
    if fmt == "xlsx":
        from egsu.reports.render.xlsx import render_xlsx

        return render_xlsx(doc)
    if fmt == "pdf":
        from egsu.reports.render.pdf import render_pdf

        return render_pdf(doc)
    raise ValueError(f"unknown format {fmt}")


def _cell(v: object) -> object:
    v = jsonable(v)
    return "" if v is None else v


def render_csv(doc: Document) -> bytes:
    """One CSV: the metadata, then each table under its caption, separated by empty lines.

    UTF-8 with a byte-order mark so that Excel shows Cyrillic and Kazakh letters as they are.
    """
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow([doc.title])
    w.writerow([doc.subtitle])
    for _, caption, value in doc.meta:
        w.writerow([caption, _cell(value)])
    for t in doc.tables:
        w.writerow([])
        w.writerow([t.caption])
        w.writerow([c.header for c in t.columns])
        for r in t.rows:
            w.writerow([_cell(v) for v in r])
        if t.note:
            w.writerow([t.note])
    if doc.notes:
        w.writerow([])
        for n in doc.notes:
            w.writerow([n])
    return ("\ufeff" + buf.getvalue()).encode("utf-8")
