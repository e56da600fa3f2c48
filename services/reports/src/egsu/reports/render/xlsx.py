"""XLSX for Excel users: real numbers and dates, no formulas, one sheet per table."""

from __future__ import annotations

import io
import re
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from egsu.core.time import KZ
from egsu.reports.document import Document, Table, jsonable

HEADER_FILL = PatternFill("solid", fgColor="DDE7F3")
BOLD = Font(bold=True)
FORMATS = {
    "number": "#,##0.000",
    "int": "#,##0",
    "percent": "0.00",
    "datetime": "yyyy-mm-dd hh:mm",
    "date": "yyyy-mm-dd",
}
_BAD = re.compile(r"[\[\]\*\?/\\:]")


def _value(v: object) -> object:
    # Excel has no time zones: times are written as local (UTC+05:00) wall-clock time.
    if isinstance(v, datetime):
        return v.astimezone(KZ).replace(tzinfo=None)
    if isinstance(v, date):
        return v
    if isinstance(v, (int, float)) or v is None:
        return v
    return str(jsonable(v))


def _sheet_title(caption: str, used: set[str]) -> str:
    base = _BAD.sub(" ", caption)[:28].strip() or "Sheet"
    title, n = base, 2
    while title.lower() in used:
        title = f"{base[:25]} {n}"
        n += 1
    used.add(title.lower())
    return title


def _write_table(ws, t: Table, first_row: int) -> int:  # type: ignore[no-untyped-def]
    for j, c in enumerate(t.columns, start=1):
        cell = ws.cell(row=first_row, column=j, value=c.header)
        cell.font = BOLD
        cell.fill = HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for i, r in enumerate(t.rows, start=first_row + 1):
        for j, (c, v) in enumerate(zip(t.columns, r, strict=True), start=1):
            cell = ws.cell(row=i, column=j, value=_value(v))
            fmt = FORMATS.get(c.kind)
            if fmt and v is not None:
                cell.number_format = fmt
    last = first_row + len(t.rows)
    if t.note:
        last += 2
        ws.cell(row=last, column=1, value=t.note)
    for j, c in enumerate(t.columns, start=1):
        width = max(
            [len(c.header) * 0.7, 12] + [len(str(_value(r[j - 1]) or "")) + 2 for r in t.rows[:200]]
        )
        ws.column_dimensions[get_column_letter(j)].width = min(width, 60)
    return last


def render_xlsx(doc: Document) -> bytes:
    wb = Workbook()
    ws = wb.active
    used: set[str] = set()
    ws.title = _sheet_title(
        next((c for k, c, _ in doc.meta if k == "_sheet"), None) or "Summary", used
    )
    ws.cell(row=1, column=1, value=doc.title).font = Font(bold=True, size=14)
    ws.cell(row=2, column=1, value=doc.subtitle)
    row = 4
    for key, caption, value in doc.meta:
        if key.startswith("_"):
            continue
        ws.cell(row=row, column=1, value=caption).font = BOLD
        cell = ws.cell(row=row, column=2, value=_value(value))
        if isinstance(value, datetime):
            cell.number_format = FORMATS["datetime"]
        row += 1
    for n in doc.notes:
        row += 1
        ws.cell(row=row, column=1, value=n)
    ws.column_dimensions["A"].width = 40
    ws.column_dimensions["B"].width = 70
    for t in doc.tables:
        sheet = wb.create_sheet(_sheet_title(t.caption, used))
        sheet.cell(row=1, column=1, value=t.caption).font = Font(bold=True, size=12)
        _write_table(sheet, t, 3)
        sheet.freeze_panes = "B4"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
