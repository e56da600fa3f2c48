"""PDF with charts: reportlab for the pages, matplotlib (offline, Agg) for the charts.

Both use DejaVu Sans, which matplotlib ships and which has every Cyrillic and Kazakh letter.
"""

from __future__ import annotations

import functools
import io
import threading
from datetime import date, datetime
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

from matplotlib import pyplot as plt
from matplotlib.figure import Figure
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Image,
    LongTable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    TableStyle,
)

from egsu.core.time import KZ
from egsu.reports.document import Chart, Document, Table

_lock = threading.Lock()  # pyplot's state is global
MAX_ROWS = 400  # a PDF table longer than this is cut; the XLSX/CSV/JSON carry everything


@functools.cache
def _fonts() -> tuple[str, str]:
    base = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    pdfmetrics.registerFont(TTFont("DejaVuSans", str(base / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(base / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFontFamily("DejaVuSans", normal="DejaVuSans", bold="DejaVuSans-Bold")
    return "DejaVuSans", "DejaVuSans-Bold"


def _fmt(v: object, kind: str) -> str:
    if v is None:
        return "—"
    if isinstance(v, datetime):
        return v.astimezone(KZ).strftime("%Y-%m-%d %H:%M")
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float):
        if kind == "percent":
            return f"{v:,.2f}".replace(",", " ")
        if kind == "int":
            return f"{v:,.0f}".replace(",", " ")
        return f"{v:,.3f}".replace(",", " ")
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}".replace(",", " ")
    return str(v)


def _chart_png(c: Chart) -> bytes:
    with _lock:
        fig: Figure = plt.figure(figsize=(10, 3.6), dpi=110)
        try:
            ax = fig.add_subplot(1, 1, 1)
            xs = list(range(len(c.x)))
            if c.kind == "bar":
                width = 0.8 / max(1, len(c.series))
                for i, (label, values) in enumerate(c.series):
                    ax.bar(
                        [x + i * width for x in xs],
                        [v or 0 for v in values],
                        width=width,
                        label=label,
                    )
                ax.set_xticks([x + 0.4 - width / 2 for x in xs])
            else:
                for label, values in c.series:
                    ax.plot(
                        xs,
                        [float("nan") if v is None else v for v in values],
                        marker=".",
                        label=label,
                    )
                ax.set_xticks(xs)
            step = max(1, len(c.x) // 24)
            ax.set_xticklabels(
                [x if i % step == 0 else "" for i, x in enumerate(c.x)],
                rotation=60,
                ha="right",
                fontsize=7,
            )
            ax.set_title(c.caption, fontsize=10)
            if c.unit:
                ax.set_ylabel(c.unit)
            ax.grid(alpha=0.3)
            if c.series:
                ax.legend(fontsize=8)
            fig.tight_layout()
            buf = io.BytesIO()
            fig.savefig(buf, format="png")
            return buf.getvalue()
        finally:
            plt.close(fig)


def _table(t: Table, font: str, bold: str, width: float) -> LongTable:
    cell = ParagraphStyle("cell", fontName=font, fontSize=7, leading=8.5)
    head = ParagraphStyle("head", fontName=bold, fontSize=7, leading=8.5)
    data = [[Paragraph(c.header, head) for c in t.columns]]
    for r in t.rows[:MAX_ROWS]:
        data.append([Paragraph(_fmt(v, c.kind), cell) for c, v in zip(t.columns, r, strict=True)])
    tbl = LongTable(data, repeatRows=1, colWidths=[width / len(t.columns)] * len(t.columns))
    tbl.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDE7F3")),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return tbl


def render_pdf(doc: Document) -> bytes:
    font, bold = _fonts()
    styles = getSampleStyleSheet()
    h1 = ParagraphStyle("h1", parent=styles["Title"], fontName=bold, fontSize=15)
    h2 = ParagraphStyle("h2", parent=styles["Heading2"], fontName=bold, fontSize=11)
    body = ParagraphStyle("body", parent=styles["Normal"], fontName=font, fontSize=8.5, leading=11)
    buf = io.BytesIO()
    page = landscape(A4)
    pdf = SimpleDocTemplate(
        buf,
        pagesize=page,
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=doc.title,
        author="EGSU TEK",
    )
    width = page[0] - 24 * mm
    story: list[object] = [
        Paragraph(doc.title, h1),
        Paragraph(doc.subtitle, body),
        Spacer(1, 4 * mm),
    ]
    for key, caption, value in doc.meta:
        if not key.startswith("_"):
            story.append(Paragraph(f"<b>{caption}:</b> {_fmt(value, 'text')}", body))
    for n in doc.notes:
        story += [Spacer(1, 2 * mm), Paragraph(n, body)]
    for c in doc.charts:
        story += [
            Spacer(1, 4 * mm),
            Image(io.BytesIO(_chart_png(c)), width=width, height=width * 0.36),
        ]
    for t in doc.tables:
        story += [
            PageBreak() if len(t.rows) > 30 else Spacer(1, 5 * mm),
            Paragraph(t.caption, h2),
            _table(t, font, bold, width),
        ]
        if len(t.rows) > MAX_ROWS:
            story.append(Paragraph(f"… {len(t.rows) - MAX_ROWS} +", body))
        if t.note:
            story.append(Paragraph(t.note, body))
    pdf.build(story)
    return buf.getvalue()
