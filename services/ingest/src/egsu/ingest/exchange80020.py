"""The 80020 exchange file ("макет 80020", message class 80020, version 2): parse and translate.

``parse`` reads the file with a hardened lxml parser (no DTD, no entities, no network) in the
encoding its prolog declares (UTF-8 or windows-1251) into columns, one row per period. A file whose
skeleton is wrong (not XML, not class 80020 version 2, no day, a point or channel without a code, a
period without a value) is refused whole with the element and the line; each period is judged by
itself after that.

``translate`` maps measuring points (by their 80020 code) and channels (by the point's channel map)
to the subject's metering points and quantities, turns each period's end, written in the area's
time, into an ISO 8601 time with the offset the sender used, and hands canonical readings to
``canonicalise``. How the area's ``timezone`` and the ``daylightsavingtime``/``summer`` flags are
read is in docs/exchange-80020.md:

- ``timezone`` with a sign (``+05:00``, ``+0500``, ``+5``, ``UTC+6``) is the standard offset of the
  area's times; without one (absent, or the bare ``0``/``1`` some exporters write) the times are the
  local civil time of each metering point's region on that day (+05:00 since 1 March 2024; the
  older offsets of each region before that, from tzdata);
- a period is in summer time when its ``summer`` attribute (or its value's) is 1, or, without one,
  when the message's ``daylightsavingtime`` is 1 (2 marks a day of a change: periods without
  ``summer`` are standard time); summer time is one hour ahead of the standard offset.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
from lxml import etree

from egsu.contracts.exchange80020 import FILE_UNITS
from egsu.contracts.readings import NOT_COMMERCIAL
from egsu.contracts.vocabulary import resolve_quantity
from egsu.core.errors import FieldError, Unprocessable
from egsu.ingest.parsing import Canonical, RawBatch, Rejection, canonicalise
from egsu.ingest.points import PointInfo

FORMAT = "80020"
ENCODINGS = frozenset({"utf-8", "utf8", "windows-1251", "cp1251", "us-ascii", "ascii"})
_PROLOG = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)")
_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.I)
_TAG = re.compile(r"</?([A-Za-z_][\w.-]*)")
# Regions whose clocks have not always followed Almaty's (tzdata keeps each zone's history).
ZONES = {
    "150000000": "Asia/Aqtobe",
    "230000000": "Asia/Atyrau",
    "270000000": "Asia/Oral",
    "390000000": "Asia/Qostanay",
    "430000000": "Asia/Qyzylorda",
    "470000000": "Asia/Aqtau",
}
DEFAULT_ZONE = "Asia/Almaty"

# Why a period was refused before canonicalise, most important first.
(UNKNOWN_CODE, FOREIGN_POINT, UNKNOWN_CHANNEL, INVALID_PERIOD, OFF_GRID, INVALID_VALUE,
 INVALID_STATUS) = range(7)  # fmt: skip
REASONS = (
    "unknown_code",
    "foreign_point",
    "unknown_channel",
    "invalid_period",
    "period_off_grid",
    "invalid_value",
    "invalid_status",
)


@dataclass
class Area:
    inn: str | None
    name: str | None
    timezone: str | None  # as written
    offset_s: int | None  # the standard offset; None: local civil time of each point's region
    line: int


@dataclass
class Channel:
    area: int
    point_code: str  # the measuring point's 80020 code
    point_name: str | None
    code: str
    desc: str | None
    line: int


@dataclass
class Message:
    """A parsed 80020 file: its header, areas and channels, and its periods as columns."""

    number: str | None
    created: str | None  # datetime/timestamp as written (YYYYMMDDhhmmss)
    day: date
    dst: int  # datetime/daylightsavingtime: 0 standard, 1 summer, 2 a day of a change
    sender_inn: str | None
    sender_name: str | None
    areas: list[Area]
    channels: list[Channel]
    channel: np.ndarray  # per period: its channel
    start: np.ndarray  # minutes after midnight; -1 when malformed
    end: np.ndarray  # minutes after midnight (1440 for 24:00); -1 when malformed
    summer: np.ndarray  # -1 not given, 0, 1; -2 malformed
    value: np.ndarray  # NaN when malformed
    status: np.ndarray  # 0 commercial, > 0 not commercial; -1 malformed
    line: np.ndarray

    @property
    def size(self) -> int:
        return len(self.channel)

    def path(self, period: int) -> str:
        """Where a period is in the file, e.g. ``measuringpoint[@code="…"]/…/period[@start="0030"]``."""
        ch = self.channels[int(self.channel[period])]
        start = int(self.start[period])
        at = f'[@start="{start // 60:02d}{start % 60:02d}"]' if start >= 0 else ""
        return (
            f'measuringpoint[@code="{ch.point_code}"]/measuringchannel[@code="{ch.code}"]'
            f"/period{at}"
        )


def malformed(element: str, line: int | None, message: str) -> Unprocessable:
    where = f"line {line}: " if line else ""
    return Unprocessable(
        f"the 80020 file is malformed: {where}<{element}> {message}",
        code="malformed_80020",
        errors=[FieldError(element, "malformed", message, line)],
        element=element,
        line=line,
    )


def looks_like_80020(body: bytes) -> bool:
    """A body that starts like XML (for uploads whose type says nothing)."""
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<")


def _encoding(body: bytes) -> str:
    m = _PROLOG.match(body[:512])
    enc = m.group(1).decode("ascii").lower() if m else "utf-8"
    if enc not in ENCODINGS:
        raise malformed(
            "?xml", 1, f"declares encoding {enc!r}; send the file in UTF-8 or windows-1251"
        )
    return enc


def _element_at(body: bytes, encoding: str, line: int, column: int) -> str:
    """The name of the tag at or before a position (to name the element of a syntax error)."""
    lines = body.split(b"\n", line)
    if not 0 < line <= len(lines):
        return "message"
    text = lines[line - 1].decode("cp1251" if "1251" in encoding else "utf-8", "replace")
    tags = _TAG.findall(text[: max(column, 1)]) or _TAG.findall(text)
    return tags[-1] if tags else "message"


def _text(el: etree._Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    return el.text.strip() or None


def _hhmm(items: list[str | None], allow_2400: bool) -> np.ndarray:
    """``HHMM`` strings as minutes after midnight; -1 where malformed."""
    a = np.array(items, dtype="U5")
    u = a.view(np.uint32).reshape(len(a), 5).astype(np.int64)
    ok = ((u[:, :4] >= 48) & (u[:, :4] <= 57)).all(axis=1) & (u[:, 4] == 0)
    d = u[:, :4] - 48
    hh, mm = d[:, 0] * 10 + d[:, 1], d[:, 2] * 10 + d[:, 3]
    ok &= (mm < 60) & ((hh < 24) | (allow_2400 & (hh == 24) & (mm == 0)))
    return np.where(ok, hh * 60 + mm, -1)


def _one_float(text: str | None) -> float:
    if text is None:
        return np.nan
    try:
        return float(text.replace(",", ".").replace(" ", "").replace("\u00a0", ""))
    except ValueError:
        return np.nan


def _values(texts: list[str | None]) -> np.ndarray:
    try:
        v = np.array(texts, dtype=np.float64)  # the common case: plain numbers, in C
    except (ValueError, TypeError):
        v = np.array([_one_float(t) for t in texts], dtype=np.float64)  # decimal commas
    v[~np.isfinite(v)] = np.nan
    return v


def _offset(tz: str | None, line: int) -> int | None:
    if tz is None or tz.strip() in ("", "0", "1"):
        return None
    m = _OFFSET.match(tz.strip())
    if m is None or int(m.group(2)) > 14 or int(m.group(3) or 0) >= 60:
        raise malformed(
            "area",
            line,
            f"has timezone={tz!r}; write the UTC offset with its sign, e.g. +05:00, or leave it out "
            "for the local time of each point's region",
        )
    sign = 1 if m.group(1) == "+" else -1
    return sign * (int(m.group(2)) * 3600 + int(m.group(3) or 0) * 60)


def parse(body: bytes) -> Message:
    """Parse an 80020 file; a malformed skeleton is a 422 naming the element and the line."""
    encoding = _encoding(body)
    if b"<!DOCTYPE" in body or b"<!ENTITY" in body:
        line = body[: max(body.find(b"<!DOCTYPE"), body.find(b"<!ENTITY"))].count(b"\n") + 1
        raise malformed("!DOCTYPE", line, "is not accepted: no DTD and no entities in 80020 files")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
        # no whitespace nodes between elements and no id table: a third of the parse time
        remove_blank_text=True,
        collect_ids=False,
    )
    try:
        root = etree.fromstring(body, parser)
    except etree.XMLSyntaxError as exc:
        line, column = exc.position if exc.position else (exc.lineno or 1, 0)
        raise malformed(
            _element_at(body, encoding, line, column), line, f"is not well-formed XML: {exc.msg}"
        ) from None
    if root.tag != "message" or root.get("class") != FORMAT:
        raise malformed(
            str(root.tag), root.sourceline, 'must be <message class="80020" version="2">'
        )
    if root.get("version") != "2":
        raise malformed(
            "message", root.sourceline, f'has version="{root.get("version")}"; 2 is accepted'
        )
    dt = root.find("datetime")
    if dt is None:
        raise malformed("datetime", root.sourceline, "is missing (with timestamp and day)")
    day_el = dt.find("day")
    day_text = _text(day_el)
    try:
        day = datetime.strptime(day_text or "", "%Y%m%d").date()
    except ValueError:
        raise malformed(
            "day",
            (day_el if day_el is not None else dt).sourceline,
            f"must be the day of the data as YYYYMMDD, not {day_text!r}",
        ) from None
    dst_el = dt.find("daylightsavingtime")
    dst_text = _text(dst_el) or "0"
    if dst_text not in ("0", "1", "2"):
        raise malformed(
            "daylightsavingtime",
            (dst_el if dst_el is not None else dt).sourceline,
            f"must be 0 (standard time), 1 (summer time) or 2 (a day of a change), not {dst_text!r}",
        )
    sender = root.find("sender")
    areas: list[Area] = []
    channels: list[Channel] = []
    per_channel: list[int] = []
    starts: list[str | None] = []
    ends: list[str | None] = []
    texts: list[str | None] = []
    lines: list[int] = []
    summer_at: list[int] = []
    summer_val: list[str] = []
    status_at: list[int] = []
    status_val: list[str] = []
    for area in root.iterchildren("area"):
        line = area.sourceline or 0
        areas.append(
            Area(
                _text(area.find("inn")),
                _text(area.find("name")),
                area.get("timezone"),
                _offset(area.get("timezone"), line),
                line,
            )
        )
        for mp in area.iterchildren("measuringpoint"):
            code = (mp.get("code") or "").strip()
            if not code:
                raise malformed("measuringpoint", mp.sourceline, "has no code")
            for ch in mp.iterchildren("measuringchannel"):
                ch_code = (ch.get("code") or "").strip()
                if not ch_code:
                    raise malformed("measuringchannel", ch.sourceline, "has no code")
                channels.append(
                    Channel(
                        len(areas) - 1,
                        code,
                        mp.get("name"),
                        ch_code,
                        ch.get("desc"),
                        ch.sourceline or 0,
                    )
                )
                n = len(lines)
                for p in ch.iterchildren("period"):  # per period: attributes only, into lists
                    # the value is the first child; find() parses its path on every call
                    v = p[0] if len(p) else None
                    if v is None or v.tag != "value":
                        v = p.find("value")
                        if v is None:
                            raise malformed("period", p.sourceline, "has no <value>")
                    starts.append(p.get("start"))
                    ends.append(p.get("end"))
                    texts.append(v.text)
                    lines.append(p.sourceline or 0)
                    s = p.get("summer") or v.get("summer")
                    if s is not None:
                        summer_at.append(len(lines) - 1)
                        summer_val.append(s)
                    st = v.get("status")
                    if st is not None:
                        status_at.append(len(lines) - 1)
                        status_val.append(st)
                per_channel.append(len(lines) - n)
    if not areas:
        raise malformed("area", root.sourceline, "is missing: the file has no measuring area")
    n = len(lines)
    summer = np.full(n, -1, np.int8)
    if summer_at:
        sv = np.array([s.strip() for s in summer_val])
        summer[summer_at] = np.where(sv == "1", 1, np.where(sv == "0", 0, -2))
    status = np.zeros(n, np.int64)
    if status_at:
        stv = np.array([s.strip() for s in status_val])
        digits = np.char.isdigit(stv)
        status[status_at] = np.where(digits, np.where(digits, stv, "0").astype(np.int64), -1)
    return Message(
        number=root.get("number"),
        created=_text(dt.find("timestamp")),
        day=day,
        dst=int(dst_text),
        sender_inn=_text(sender.find("inn")) if sender is not None else None,
        sender_name=_text(sender.find("name")) if sender is not None else None,
        areas=areas,
        channels=channels,
        channel=np.repeat(np.arange(len(channels), dtype=np.int64), per_channel),
        start=_hhmm(starts, allow_2400=False),
        end=_hhmm(ends, allow_2400=True),
        summer=summer,
        value=_values(texts),
        status=status,
        line=np.asarray(lines, dtype=np.int64),
    )


@lru_cache(maxsize=4096)
def standard_offset(region_kato: str, day: date) -> int:
    """The standard (not summer) UTC offset of a region's civil time on a day, in seconds."""
    at = datetime(
        day.year, day.month, day.day, 12, tzinfo=ZoneInfo(ZONES.get(region_kato, DEFAULT_ZONE))
    )
    total, dst = at.utcoffset(), at.dst()
    assert total is not None
    return int((total - (dst or timedelta(0))).total_seconds())


def offset_text(seconds: int) -> str:
    sign = "+" if seconds >= 0 else "-"
    s = abs(seconds)
    return f"{sign}{s // 3600:02d}:{s % 3600 // 60:02d}"


@dataclass
class Translation:
    """An 80020 message as readings for ``canonicalise``, and what to put in its receipt."""

    message: Message
    raw: RawBatch
    origin: np.ndarray  # the period of each raw reading
    reason: np.ndarray  # per period: index into REASONS, -1 when handed on
    points: list[PointInfo | None]  # per channel
    quantity: list[str | None]  # per channel
    base_offset: list[int | None]  # per channel: the standard offset applied
    length_min: np.ndarray  # per period

    def _message(self, period: int, reason: int) -> str:
        msg, ch_i = self.message, int(self.message.channel[period])
        ch, point = msg.channels[ch_i], self.points[ch_i]
        if reason == UNKNOWN_CODE:
            return f"measuring point {ch.point_code} is not in the registry (no metering point has this 80020 code)"
        if reason == FOREIGN_POINT:
            return f"measuring point {ch.point_code} belongs to another subject"
        if reason == UNKNOWN_CHANNEL:
            assert point is not None
            known = ", ".join(f"{k} {v}" for k, v in sorted(point.channels_80020.items()))
            return f"channel {ch.code} is not in the channel map of metering point {point.code} ({known})"
        if reason == INVALID_PERIOD:
            return 'period start and end must be HHMM times ("0000"–"2330", end up to "2400") and summer 0 or 1'
        if reason == OFF_GRID:
            assert point is not None
            step = point.interval_s // 60
            length = int(self.length_min[period])
            if length != step:
                return (
                    f"a {length}-minute period for metering point {point.code}, which reports every "
                    f"{step} minutes; send periods of the point's interval"
                )
            return f"the period does not end on metering point {point.code}'s {step}-minute grid"
        if reason == INVALID_VALUE:
            return "value must be a finite number"
        return "status must be an integer (0 commercial, 1 not commercial)"

    def finish(self, canon: Canonical) -> tuple[list[Rejection], list[int], dict[str, Any]]:
        """Rejections (by line), the flags of the accepted readings and the receipt's 80020 part."""
        msg = self.message
        n_ch = len(msg.channels)
        reasons: list[Counter[str]] = [Counter() for _ in range(n_ch)]
        refused: list[tuple[int, Rejection]] = []
        for p in np.flatnonzero(self.reason >= 0).tolist():  # per refused period
            r = int(self.reason[p])
            refused.append(
                (p, Rejection(int(msg.line[p]), msg.path(p), REASONS[r], self._message(p, r)))
            )
        accepted = np.ones(len(self.origin), bool)
        for rej in canon.rejected:  # per reading canonicalise refused
            p = int(self.origin[rej.index])
            accepted[rej.index] = False
            refused.append((p, Rejection(int(msg.line[p]), msg.path(p), rej.code, rej.message)))
        if int(accepted.sum()) != canon.accepted:
            raise RuntimeError("80020: accepted readings do not match the periods handed on")
        refused.sort(key=lambda x: x[0])
        for p, rej in refused:
            reasons[int(msg.channel[p])][rej.code] += 1
        taken = self.origin[accepted]
        not_commercial = msg.status[taken] > 0
        flags = (not_commercial * NOT_COMMERCIAL).tolist() if not_commercial.any() else []
        periods = np.bincount(msg.channel, minlength=n_ch)
        acc = np.bincount(msg.channel[taken], minlength=n_ch)
        nc = np.bincount(msg.channel[taken], weights=not_commercial, minlength=n_ch)
        out = [rej for _, rej in refused]
        channels = []
        for i, ch in enumerate(msg.channels):  # per channel
            point, base = self.points[i], self.base_offset[i]
            channels.append(
                {
                    "measuring_point": ch.point_code,
                    "measuring_point_name": ch.point_name,
                    "channel": ch.code,
                    "desc": ch.desc,
                    "point": point.code if point is not None else None,
                    "quantity": self.quantity[i],
                    "utc_offset": offset_text(base) if base is not None else None,
                    "periods": int(periods[i]),
                    "accepted": int(acc[i]),
                    "non_commercial": int(nc[i]),
                    "rejected": int(periods[i] - acc[i]),
                    "reasons": dict(reasons[i]),
                }
            )
        summary = {
            "format": FORMAT,
            "number": msg.number,
            "created": msg.created,
            "day": msg.day.isoformat(),
            "daylight_saving": msg.dst,
            "sender": {"inn": msg.sender_inn, "name": msg.sender_name},
            "areas": [
                {
                    "inn": a.inn,
                    "name": a.name,
                    "timezone": a.timezone,
                    "utc_offset": offset_text(a.offset_s) if a.offset_s is not None else "local",
                }
                for a in msg.areas
            ],
            "channels": channels,
        }
        return out, flags, summary


def translate(
    msg: Message, mine: dict[str, PointInfo], foreign: dict[str, str | None]
) -> Translation:
    """Periods as readings of the subject's metering points (``mine`` by 80020 code)."""
    n_ch = len(msg.channels)
    ch_reason = np.full(n_ch, -1, np.int64)
    ch_step = np.ones(n_ch, np.int64)
    ch_base = np.zeros(n_ch, np.int64)
    points: list[PointInfo | None] = []
    quantity: list[str | None] = []
    base_offset: list[int | None] = []
    unit: list[str | None] = []
    for i, ch in enumerate(msg.channels):  # per channel
        point = mine.get(ch.point_code)
        q = point.channels_80020.get(ch.code) if point is not None else None
        points.append(point)
        quantity.append(q)
        if point is None:
            ch_reason[i] = FOREIGN_POINT if foreign.get(ch.point_code) else UNKNOWN_CODE
            base_offset.append(None)
            unit.append(None)
            continue
        if q is None:
            ch_reason[i] = UNKNOWN_CHANNEL
        area_offset = msg.areas[ch.area].offset_s
        base = (
            area_offset if area_offset is not None else standard_offset(point.region_kato, msg.day)
        )
        base_offset.append(base)
        ch_base[i], ch_step[i] = base, point.interval_s
        resolved = resolve_quantity(q) if q else None
        unit.append(FILE_UNITS.get(resolved.dimension) if resolved is not None else None)

    c = msg.channel
    reason = ch_reason[c].copy()
    bad_period = (msg.start < 0) | (msg.end < 0) | (msg.summer == -2)
    reason[(reason < 0) & bad_period] = INVALID_PERIOD
    length = np.where(bad_period, 0, (msg.end - msg.start) % 1440)
    length[~bad_period & (length == 0)] = 1440
    summer = np.where(msg.summer >= 0, msg.summer, 1 if msg.dst == 1 else 0).astype(np.int64)
    offset = ch_base[c] + 3600 * summer
    day0 = (msg.day - date(1970, 1, 1)).days * 86400
    local_end = day0 + 60 * np.where(msg.end <= msg.start, msg.end + 1440, msg.end)
    utc_end = local_end - offset
    step = ch_step[c]
    off_grid = (length * 60 != step) | (utc_end % step != 0)
    reason[(reason < 0) & off_grid] = OFF_GRID
    reason[(reason < 0) & np.isnan(msg.value)] = INVALID_VALUE
    reason[(reason < 0) & (msg.status < 0)] = INVALID_STATUS

    origin = np.flatnonzero(reason < 0)
    offsets, inverse = np.unique(offset[origin], return_inverse=True)
    suffix = np.array([offset_text(int(o)) for o in offsets.tolist()], dtype="U6")[inverse]
    stamps = np.char.add(
        np.datetime_as_string(local_end[origin].astype("datetime64[s]"), unit="s"), suffix
    )
    codes = np.array([p.code if p is not None else "" for p in points], dtype=object)[c[origin]]
    qs = np.array(quantity, dtype=object)[c[origin]]
    units = np.array(unit, dtype=object)[c[origin]]
    readings = [
        {"point": pt, "quantity": q, "ts": ts, "value": v, "unit": u}
        for pt, q, ts, v, u in zip(
            codes.tolist(),
            qs.tolist(),
            stamps.tolist(),
            msg.value[origin].tolist(),
            units.tolist(),
            strict=True,
        )
    ]
    return Translation(
        message=msg,
        raw=RawBatch(None, None, readings, []),
        origin=origin,
        reason=reason,
        points=points,
        quantity=quantity,
        base_offset=base_offset,
        length_min=length,
    )


def index_80020(points: dict[str, PointInfo]) -> dict[str, PointInfo]:
    """A subject's metering points by their 80020 code."""
    return {p.code_80020: p for p in points.values() if p.code_80020}


def unknown_codes(msg: Message, points: dict[str, PointInfo]) -> list[str]:
    """The file's measuring point codes that are none of the subject's points."""
    mine = index_80020(points)
    return sorted({c.point_code for c in msg.channels} - mine.keys())


def canonical(
    msg: Message,
    points: dict[str, PointInfo],
    owners: dict[str, str | None],
    skew_tolerance: float,
) -> tuple[Canonical, list[Rejection], list[int], dict[str, Any]]:
    """Canonical readings of a file for a subject's points; rejections, flags, receipt part."""
    t = translate(msg, index_80020(points), owners)
    canon = canonicalise(t.raw, points, {}, skew_tolerance)
    rejected, flags, summary = t.finish(canon)
    return canon, rejected, flags, summary
