"""From a posted body to canonical columns, with each bad reading rejected by itself.

The body as a whole is refused (422) only when it is not a batch at all. Each reading is checked
for its point (known, this subject's, active), quantity (known, measured by the point), unit (of
the quantity's dimension; converted to the canonical unit), timestamp (with a UTC offset; on the
point's interval grid within the tolerance, snapped to it) and value (a finite number).
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from egsu.contracts.readings import MeterEvent, PointRef
from egsu.contracts.vocabulary import resolve_quantity, unit_factor
from egsu.core.errors import FieldError, Unprocessable
from egsu.ingest.points import PointInfo

CSV_COLUMNS = ("point", "quantity", "ts", "value", "unit")


@dataclass
class RawBatch:
    subject_bin: str | None
    batch_id: str | None
    readings: list[Any]
    events: list[Any]
    index_offset: int = 0


@dataclass
class Rejection:
    index: int
    field: str
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "field": self.field,
            "code": self.code,
            "message": self.message,
        }


@dataclass
class Canonical:
    points: list[PointRef] = field(default_factory=list)
    point_idx: list[int] = field(default_factory=list)
    quantity: list[str] = field(default_factory=list)
    ts: list[float] = field(default_factory=list)
    value: list[float] = field(default_factory=list)
    skew_s: list[float] = field(default_factory=list)
    events: list[MeterEvent] = field(default_factory=list)
    rejected: list[Rejection] = field(default_factory=list)
    any_skew: bool = False

    @property
    def accepted(self) -> int:
        return len(self.ts)


def malformed(message: str, field_: str = "body") -> Unprocessable:
    return Unprocessable(
        message, code="malformed_batch", errors=[FieldError(field_, "malformed", message)]
    )


def parse_json(raw: bytes) -> RawBatch:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise malformed(f"the body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise malformed("the body must be a JSON object with subject_bin and readings")
    readings = body.get("readings", [])
    events = body.get("events", [])
    if not isinstance(readings, list):
        raise malformed("readings must be a list", "readings")
    if not isinstance(events, list):
        raise malformed("events must be a list", "events")
    subject_bin = body.get("subject_bin")
    if subject_bin is not None and not isinstance(subject_bin, str):
        raise malformed("subject_bin must be a string of 12 digits", "subject_bin")
    batch_id = body.get("batch_id")
    if batch_id is not None and (not isinstance(batch_id, str) or not 0 < len(batch_id) <= 200):
        raise malformed("batch_id must be a string of up to 200 characters", "batch_id")
    return RawBatch(subject_bin, batch_id, readings, events)


def parse_csv(raw: bytes) -> RawBatch:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise malformed("the CSV is not UTF-8 text") from None
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise malformed(
            "the CSV is empty; its first line must be point,quantity,ts,value,unit"
        ) from None
    missing = [c for c in CSV_COLUMNS if c != "unit" and c not in header]
    if missing:
        raise malformed(
            f"the CSV has no column {', '.join(missing)}; expected point,quantity,ts,value,unit"
        )
    pos = {c: header.index(c) for c in CSV_COLUMNS if c in header}
    readings: list[Any] = []
    for row in reader:
        if not row or all(not c.strip() for c in row):
            continue
        rec: dict[str, Any] = {
            c: (row[i].strip() if i < len(row) else None) for c, i in pos.items()
        }
        v = rec.get("value")
        try:
            rec["value"] = float(v) if v not in (None, "") else None
        except ValueError:
            rec["value"] = v
        readings.append(rec)
    return RawBatch(None, None, readings, [], index_offset=2)  # CSV index: the line number


def _ts(value: Any) -> tuple[float | None, str | None, str | None]:
    """(UTC seconds, error code, message)."""
    if not isinstance(value, str):
        return (
            None,
            "invalid_timestamp",
            "ts must be an ISO 8601 string such as 2026-01-15T10:15:00+05:00",
        )
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        return None, "invalid_timestamp", f"{value!r} is not an ISO 8601 timestamp"
    if dt.tzinfo is None:
        return None, "naive_timestamp", f"{value!r} has no UTC offset; write it as {value}+05:00"
    return dt.timestamp(), None, None


def canonicalise(
    raw: RawBatch,
    points: dict[str, PointInfo],
    foreign: dict[str, str | None],
    skew_tolerance: float,
) -> Canonical:
    out = Canonical()
    point_pos: dict[str, int] = {}
    factors: dict[tuple[str, str | None], tuple[str, float] | None] = {}
    off = raw.index_offset
    rej = out.rejected.append

    for i, r in enumerate(raw.readings):
        idx = i + off
        if not isinstance(r, dict):
            rej(Rejection(idx, f"readings[{i}]", "malformed", "each reading must be an object"))
            continue
        code = r.get("point")
        info = points.get(code) if isinstance(code, str) else None
        if info is None:
            if not isinstance(code, str) or not code:
                rej(Rejection(idx, f"readings[{i}].point", "missing", "point is required"))
            elif foreign.get(code):
                rej(
                    Rejection(
                        idx,
                        f"readings[{i}].point",
                        "foreign_point",
                        f"metering point {code} belongs to another subject",
                    )
                )
            else:
                rej(
                    Rejection(
                        idx,
                        f"readings[{i}].point",
                        "unknown_point",
                        f"metering point {code} is not in the registry",
                    )
                )
            continue
        if not info.active:
            rej(
                Rejection(
                    idx,
                    f"readings[{i}].point",
                    "inactive_point",
                    f"metering point {code} is not active",
                )
            )
            continue
        qcode, unit = r.get("quantity"), r.get("unit")
        key = (qcode if isinstance(qcode, str) else "", unit if isinstance(unit, str) else None)
        resolved = factors.get(key, False)
        if resolved is False:
            q = resolve_quantity(key[0]) if key[0] else None
            if q is None:
                resolved = None
            else:
                f = unit_factor(q, key[1] if key[1] is not None else info.units.get(q.code))
                resolved = (q.code, f) if f is not None else (q.code, math.nan)
            factors[key] = resolved
        if resolved is None:
            rej(
                Rejection(
                    idx,
                    f"readings[{i}].quantity",
                    "unknown_quantity",
                    f"unknown quantity {qcode!r}; use a code of the shared vocabulary",
                )
            )
            continue
        q_code, factor = resolved
        if math.isnan(factor):
            rej(
                Rejection(
                    idx,
                    f"readings[{i}].unit",
                    "unknown_unit",
                    f"unit {unit!r} does not fit {q_code}",
                )
            )
            continue
        if not info.measures(q_code):
            rej(
                Rejection(
                    idx,
                    f"readings[{i}].quantity",
                    "quantity_not_measured",
                    f"metering point {code} does not measure {q_code}",
                )
            )
            continue
        ts, err, msg = _ts(r.get("ts"))
        if ts is None:
            rej(
                Rejection(
                    idx, f"readings[{i}].ts", err or "invalid_timestamp", msg or "bad timestamp"
                )
            )
            continue
        v = r.get("value")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            rej(
                Rejection(
                    idx, f"readings[{i}].value", "invalid_value", "value must be a finite number"
                )
            )
            continue
        step = info.interval_s
        skew = (ts + step / 2) % step - step / 2
        if abs(skew) > step * skew_tolerance:
            rej(
                Rejection(
                    idx,
                    f"readings[{i}].ts",
                    "misaligned",
                    f"{r.get('ts')} is {abs(skew) / 60:.1f} min off the point's {step // 60}-minute grid; "
                    "readings are stamped at the end of their interval",
                )
            )
            continue
        pos = point_pos.get(code)
        if pos is None:
            pos = point_pos[code] = len(out.points)
            out.points.append(
                PointRef(
                    code=code,
                    subject_bin=info.subject_bin,
                    facility_id=info.facility_id,
                    region_kato=info.region_kato,
                    commodity=info.commodity,
                    interval_min=step // 60,
                )
            )
        out.point_idx.append(pos)
        out.quantity.append(q_code)
        out.ts.append(ts - skew)
        out.value.append(float(v) * factor)
        out.skew_s.append(skew)
        if skew:
            out.any_skew = True

    for i, e in enumerate(raw.events):
        if not isinstance(e, dict):
            rej(Rejection(i, f"events[{i}]", "malformed", "each event must be an object"))
            continue
        code = e.get("point")
        if not isinstance(code, str) or code not in points:
            rej(
                Rejection(
                    i,
                    f"events[{i}].point",
                    "unknown_point",
                    f"metering point {code!r} is not yours",
                )
            )
            continue
        ts, err, msg = _ts(e.get("ts", e.get("time")))
        if ts is None:
            rej(Rejection(i, f"events[{i}].ts", err or "invalid_timestamp", msg or "bad timestamp"))
            continue
        ev_code = e.get("code")
        if not isinstance(ev_code, str) or not ev_code or len(ev_code) > 64:
            rej(
                Rejection(i, f"events[{i}].code", "missing", "code is required (e.g. cover_opened)")
            )
            continue
        text = e.get("text")
        out.events.append(
            MeterEvent(
                point=code,
                ts=ts,
                code=ev_code,
                text=str(text)[:1000] if text is not None else None,
                severity=e.get("severity") if isinstance(e.get("severity"), str) else None,
            )
        )
    if not out.any_skew:
        out.skew_s = []
    return out
