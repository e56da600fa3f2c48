"""Exports of any registry list to CSV and XLSX, streamed from their own read transaction."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Callable
from datetime import date, datetime
from typing import Any

from starlette.responses import Response, StreamingResponse


def _cell(v: Any) -> Any:
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False, default=str)
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, date):
        return v.isoformat()
    return v


async def export(
    rows: Callable[[], AsyncIterator[dict[str, Any]]], columns: list[str], fmt: str, name: str
) -> Response:
    stamp = datetime.now().strftime("%Y%m%d-%H%M")
    if fmt == "csv":

        async def gen() -> AsyncIterator[bytes]:
            buf = io.StringIO()
            w = csv.writer(buf)
            buf.write("\ufeff")  # Excel opens UTF-8 CSV with Cyrillic correctly only with a BOM
            w.writerow(columns)
            n = 0
            async for row in rows():
                w.writerow([_cell(row.get(c)) for c in columns])
                n += 1
                if n % 1000 == 0:
                    yield buf.getvalue().encode()
                    buf.seek(0)
                    buf.truncate()
            yield buf.getvalue().encode()

        return StreamingResponse(
            gen(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.csv"'},
        )
    from openpyxl import Workbook  # imported on first use: it costs a second of start-up

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(name[:31])
    ws.append(columns)
    async for row in rows():
        ws.append([_cell(row.get(c)) for c in columns])
    out = io.BytesIO()
    wb.save(out)
    return Response(
        out.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}-{stamp}.xlsx"'},
    )
