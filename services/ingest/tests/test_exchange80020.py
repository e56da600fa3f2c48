"""80020 files read and translated without servers: encodings, times, flags, refusals."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from egsu.contracts.exchange80020 import channel_map
from egsu.core.errors import Unprocessable
from egsu.ingest import exchange80020 as X
from egsu.ingest.points import PointInfo

CODE = "551010012345101"


def point(region: str = "750000000", interval_min: int = 30, **kw: Any) -> PointInfo:
    return PointInfo(
        "P1",
        "970740000838",
        "f",
        region,
        "electricity",
        interval_min * 60,
        frozenset({"active_import", "active_export", "reactive_import"}),
        {},
        True,
        CODE,
        channel_map(kw.get("channels")),
    )


def xml(
    periods: str,
    *,
    day: str = "20260301",
    timezone: str | None = "+05:00",
    dst: str = "0",
    encoding: str = "utf-8",
    channel: str = "01",
) -> bytes:
    tz = f' timezone="{timezone}"' if timezone is not None else ""
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        '<message class="80020" version="2" number="7">\n'
        f"<datetime><timestamp>20260302010000</timestamp>"
        f"<daylightsavingtime>{dst}</daylightsavingtime><day>{day}</day></datetime>\n"
        "<sender><inn>970740000838</inn><name>ТОО «Энергия»</name></sender>\n"
        f"<area{tz}><inn>970740000838</inn><name>Сечение</name>\n"
        f'<measuringpoint code="{CODE}" name="Ввод Т-1">\n'
        f'<measuringchannel code="{channel}" desc="приём">\n{periods}</measuringchannel>\n'
        "</measuringpoint>\n</area>\n</message>\n"
    )
    return text.encode(encoding)


def readings(body: bytes, p: PointInfo | None = None) -> tuple[list[dict[str, Any]], Any]:
    p = p or point()
    canon, rejected, flags, summary = X.canonical(X.parse(body), {p.code: p}, {}, 1 / 3)
    t = X.translate(X.parse(body), {CODE: p}, {})
    return t.raw.readings, (canon, rejected, flags, summary)


def test_windows_1251_and_utf8_read_the_same() -> None:
    periods = '<period start="0000" end="0030"><value>1520</value></period>\n'
    a = X.parse(xml(periods, encoding="windows-1251"))
    b = X.parse(xml(periods, encoding="utf-8"))
    assert a.sender_name == b.sender_name == "ТОО «Энергия»"
    assert a.channels[0].point_name == "Ввод Т-1" and a.value.tolist() == b.value.tolist()
    assert (a.day, a.number, a.created) == (date(2026, 3, 1), "7", "20260302010000")


def test_explicit_offset_decimal_comma_24_00_and_status() -> None:
    periods = (
        '<period start="0000" end="0030"><value>1,5</value></period>\n'
        '<period start="2330" end="0000"><value status="1">2</value></period>\n'
        '<period start="2330" end="2400"><value status="0">3</value></period>\n'
    )
    rows, (_, rejected, flags, summary) = readings(xml(periods, timezone="+0600"))
    assert [r["ts"] for r in rows] == [
        "2026-03-01T00:30:00+06:00",
        "2026-03-02T00:00:00+06:00",
        "2026-03-02T00:00:00+06:00",
    ]
    assert [r["value"] for r in rows] == [1.5, 2.0, 3.0] and rows[0]["unit"] == "kWh"
    assert flags == [0, 1, 0] and rejected == []
    assert summary["channels"][0]["non_commercial"] == 1
    assert summary["areas"][0]["utc_offset"] == "+06:00"


@pytest.mark.parametrize(
    ("region", "day", "offset"),
    [
        ("750000000", "20260301", "+05:00"),  # Almaty, after the zones were unified
        ("750000000", "20240229", "+06:00"),  # Almaty, the day before
        ("150000000", "20240229", "+05:00"),  # Aktobe was on +05:00 already
    ],
)
def test_local_time_is_the_regions_civil_time_on_that_day(
    region: str, day: str, offset: str
) -> None:
    periods = '<period start="0930" end="1000"><value>1</value></period>\n'
    rows, (_, _, _, summary) = readings(xml(periods, day=day, timezone="1"), point(region))
    assert rows[0]["ts"] == f"{day[:4]}-{day[4:6]}-{day[6:]}T10:00:00{offset}"
    assert summary["areas"][0]["utc_offset"] == "local"
    assert summary["channels"][0]["utc_offset"] == offset


def test_summer_time_by_the_message_and_by_each_period() -> None:
    periods = (
        '<period start="0000" end="0030"><value>1</value></period>\n'
        '<period start="0030" end="0100" summer="0"><value>2</value></period>\n'
        '<period start="0100" end="0130"><value summer="1">3</value></period>\n'
    )
    rows, _ = readings(xml(periods, dst="1"))
    assert [r["ts"][-6:] for r in rows] == ["+06:00", "+05:00", "+06:00"]
    rows, _ = readings(xml(periods, dst="2"))  # a day of a change: unflagged periods are standard
    assert [r["ts"][-6:] for r in rows] == ["+05:00", "+05:00", "+06:00"]


def test_each_bad_period_is_refused_by_itself_with_its_line() -> None:
    periods = (
        '<period start="0000" end="0030"><value>1</value></period>\n'  # line 8
        '<period start="0030" end="0130"><value>2</value></period>\n'  # an hour: off the grid
        '<period start="0010" end="0040"><value>3</value></period>\n'  # not on the grid
        '<period start="25:00" end="0100"><value>4</value></period>\n'
        '<period start="0100" end="0130"><value>-</value></period>\n'
        '<period start="0130" end="0200"><value status="x">6</value></period>\n'
        '<period start="0200" end="0230" summer="yes"><value>7</value></period>\n'
    )
    rows, (canon, rejected, _, summary) = readings(xml(periods))
    assert len(rows) == 1 and canon.accepted == 1
    assert [(r.index, r.code) for r in rejected] == [
        (9, "period_off_grid"),
        (10, "period_off_grid"),
        (11, "invalid_period"),
        (12, "invalid_value"),
        (13, "invalid_status"),
        (14, "invalid_period"),
    ]
    assert rejected[0].field.endswith('measuringchannel[@code="01"]/period[@start="0030"]')
    assert "60-minute period" in rejected[0].message and "grid" in rejected[1].message
    assert summary["channels"][0]["reasons"] == {
        "period_off_grid": 2,
        "invalid_period": 2,
        "invalid_value": 1,
        "invalid_status": 1,
    }


def test_channels_follow_the_points_map_and_unknown_ones_are_refused() -> None:
    periods = '<period start="0000" end="0030"><value>1</value></period>\n'
    own = point(channels={"01": "active_export"})
    rows, _ = readings(xml(periods), own)
    assert rows[0]["quantity"] == "active_export"
    rows, (_, rejected, _, summary) = readings(xml(periods, channel="03"), own)
    assert rows[0]["quantity"] == "reactive_import" and rows[0]["unit"] == "kvarh"
    rows, (_, rejected, _, summary) = readings(xml(periods, channel="11"), own)
    assert rows == [] and rejected[0].code == "unknown_channel"
    assert summary["channels"][0]["quantity"] is None


def test_unknown_and_foreign_codes() -> None:
    periods = '<period start="0000" end="0030"><value>1</value></period>\n'
    msg = X.parse(xml(periods))
    canon, rejected, _, summary = X.canonical(msg, {}, {CODE: None}, 1 / 3)
    assert rejected[0].code == "unknown_code" and canon.accepted == 0
    canon, rejected, _, summary = X.canonical(msg, {}, {CODE: "123456789012"}, 1 / 3)
    assert rejected[0].code == "foreign_point"
    assert summary["channels"][0]["point"] is None


@pytest.mark.parametrize(
    ("body", "element", "line"),
    [
        (b"not xml at all", "message", 1),
        (xml("<period>").replace(b"</measuringchannel>", b""), "measuringpoint", 9),
        (xml('<period start="0000" end="0030"></period>\n'), "period", 8),
        (xml("").replace(b'class="80020"', b'class="51070"'), "message", 2),
        (xml("").replace(b'version="2"', b'version="1"'), "message", 2),
        (xml("", day="2026-03-01"), "day", 3),
        (xml("", dst="summer"), "daylightsavingtime", 3),
        (xml("", timezone="Asia/Almaty"), "area", 5),
        (xml("").replace(b'code="01"', b'code=""'), "measuringchannel", 7),
        (xml("").replace(CODE.encode(), b""), "measuringpoint", 6),
        (xml("").replace(b'encoding="utf-8"', b'encoding="koi8-r"'), "?xml", 1),
        (
            xml("").replace(b"<message", b'<!DOCTYPE m [<!ENTITY e "x">]>\n<message'),
            "!DOCTYPE",
            2,
        ),
    ],
)
def test_a_malformed_skeleton_names_the_element_and_the_line(
    body: bytes, element: str, line: int
) -> None:
    with pytest.raises(Unprocessable) as exc:
        X.parse(body)
    e = exc.value
    assert e.code == "malformed_80020"
    assert (e.extra["element"], e.extra["line"]) == (element, line), e.detail
    assert e.errors[0].field == element and f"line {line}" in e.detail


def test_a_big_file_parses_in_columns() -> None:
    periods = "".join(
        f'<period start="{k // 2:02d}{k % 2 * 30:02d}" end="{(k + 1) // 2 % 24:02d}'
        f'{(k + 1) % 2 * 30:02d}"><value>{k}</value></period>\n'
        for k in range(48)
    )
    msg = X.parse(xml(periods * 1))
    assert msg.size == 48 and msg.value.tolist() == list(range(48))
    assert msg.end.tolist()[-1] == 0 and msg.start.tolist()[-1] == 1410
