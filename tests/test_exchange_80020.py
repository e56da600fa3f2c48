"""80020 exchange files through the System: registry codes, per-channel receipts, the historian."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from egsu.testing.stack import Stack
from egsu.testing.world import World

pytestmark = pytest.mark.stack
ING = "/api/v1/ingest"
M = "/api/v1/measurements"
R = "/api/v1/registry"


def period(start: str, end: str, value: str, **attrs: str) -> str:
    """One <period>; ``status`` goes on the value, anything else on the period."""
    status = attrs.pop("status", None)
    at = "".join(f' {k}="{v}"' for k, v in attrs.items())
    st = f' status="{status}"' if status is not None else ""
    return f'<period start="{start}" end="{end}"{at}><value{st}>{value}</value></period>'


def message(
    day: str,
    points: dict[str, dict[str, list[str]]],
    *,
    encoding: str = "windows-1251",
    timezone: str | None = "+05:00",
    dst: int = 0,
    inn: str = "",
) -> bytes:
    """An 80020 file: ``points`` maps a measuring point code to its channels' periods."""
    tz = f' timezone="{timezone}"' if timezone is not None else ""
    body = "".join(
        f'  <measuringpoint code="{code}" name="Ввод Т-{i + 1}, ПС «Северная»">\n'
        + "".join(
            f'    <measuringchannel code="{ch}" desc="канал {ch}">\n'
            + "".join(f"      {p}\n" for p in periods)
            + "    </measuringchannel>\n"
            for ch, periods in channels.items()
        )
        + "  </measuringpoint>\n"
        for i, (code, channels) in enumerate(points.items())
    )
    text = (
        f'<?xml version="1.0" encoding="{encoding}"?>\n'
        '<message class="80020" version="2" number="42">\n'
        f"  <datetime><timestamp>{day}230000</timestamp>"
        f"<daylightsavingtime>{dst}</daylightsavingtime><day>{day}</day></datetime>\n"
        f"  <sender><inn>{inn}</inn><name>ТОО «Энергия»</name></sender>\n"
        f"  <area{tz}><inn>{inn}</inn><name>ТОО «Энергия» — сечение</name>\n{body}  </area>\n"
        "</message>\n"
    )
    return text.encode(encoding)


def add_point(stack: Stack, world: World, n: int, **kw: Any) -> dict[str, Any]:
    body = {
        "code": f"X-{world.bin}-{n:02d}",
        "facility_id": world.facility["id"],
        "commodity": "electricity",
        "position": "interchange",
        "quantities": ["active_import", "active_export", "reactive_import", "reactive_export"],
        "interval_min": 30,
        "max_power_kw": 50_000,
        **kw,
    }
    with stack.sync_client("ministry") as c:
        r = c.post(f"{R}/metering-points", json=body)
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]


def wait_stored(stack: Stack, receipt_id: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    with stack.sync_client("operator") as c:
        while time.monotonic() < deadline:
            if c.get(f"{M}/batches/{receipt_id}").status_code == 200:
                return
            time.sleep(0.05)
    raise AssertionError(f"batch {receipt_id} not stored within {timeout} s")


def stored(
    c: httpx.Client, code: str, quantity: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    r = c.get(
        f"{M}/points/{code}/readings",
        params={"quantity": quantity, "from": start.isoformat(), "to": end.isoformat()},
    )
    assert r.status_code == 200, r.text
    return r.json()["items"]  # type: ignore[no-any-return]


def channels_of(receipt: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(c["measuring_point"], c["channel"]): c for c in receipt["exchange"]["channels"]}


def at(hour: int, minute: int = 0, day: int = 10) -> datetime:
    return datetime(2026, 2, day, hour, minute, tzinfo=UTC)


@pytest.fixture(scope="module")
def feeder(stack: Stack) -> dict[str, Any]:
    """A subject with a 30-minute point and an hourly point that carry 80020 codes, and a stranger."""
    world = World(stack, region="550000000", interval_min=30, criticality=3)
    half = add_point(stack, world, 1, code_80020=f"{world.bin}101")
    hourly = add_point(
        stack,
        world,
        2,
        interval_min=60,
        code_80020=f"{world.bin}201",
        # metered the other way round: its channel 01 is what the subject gives out
        channels_80020={"01": "active_export", "02": "active_import"},
    )
    stranger = World(stack, region="550000000", interval_min=30, criticality=3)
    foreign = add_point(stack, stranger, 1, code_80020=f"{stranger.bin}101")
    return {"world": world, "half": half, "hourly": hourly, "foreign": foreign}


def test_a_windows_1251_file_with_30_minute_and_hourly_periods_gets_a_receipt_per_channel(
    stack: Stack, feeder: dict[str, Any]
) -> None:
    world, half, hourly = feeder["world"], feeder["half"], feeder["hourly"]
    unknown = f"{world.bin[:-1]}9999"  # 15 digits that no point carries
    body = message(
        "20260210",
        {
            half["code_80020"]: {
                "01": [
                    period("0000", "0030", "1520"),
                    period("0030", "0100", "1498", status="1"),
                    period("0100", "0130", "1611,5"),  # a decimal comma, as some exporters write
                    period("0130", "0230", "3000"),  # an hour on a 30-minute point
                    period("0230", "0300", "n/a"),
                ],
                "03": [period("0000", "0030", "412"), period("0030", "0100", "398")],
            },
            hourly["code_80020"]: {
                "01": [period("0000", "0100", "7000"), period("0100", "0200", "7100")],
                "09": [period("0000", "0100", "1")],
            },
            unknown: {"01": [period("0000", "0030", "5")]},
            feeder["foreign"]["code_80020"]: {"01": [period("0000", "0030", "6")]},
        },
        inn=world.bin,
    )
    with stack.sync_client(world.user) as c:
        r = c.post(f"{ING}/readings", content=body, headers={"Content-Type": "application/xml"})
        assert r.status_code == 202, r.text
        receipt = r.json()
        assert receipt["source"] == "80020"
        assert receipt["accepted"] == 3 + 2 + 2 and receipt["rejected_count"] == 5
        ch = channels_of(receipt)
        a01 = ch[(half["code_80020"], "01")]
        assert a01["point"] == half["code"] and a01["quantity"] == "active_import"
        assert (a01["accepted"], a01["non_commercial"], a01["rejected"]) == (3, 1, 2)
        assert a01["reasons"] == {"period_off_grid": 1, "invalid_value": 1}
        assert ch[(half["code_80020"], "03")]["accepted"] == 2
        h01 = ch[(hourly["code_80020"], "01")]
        assert h01["quantity"] == "active_export" and h01["accepted"] == 2
        assert ch[(hourly["code_80020"], "09")]["reasons"] == {"unknown_channel": 1}
        assert ch[(unknown, "01")]["reasons"] == {"unknown_code": 1}
        assert ch[(unknown, "01")]["point"] is None
        assert ch[(feeder["foreign"]["code_80020"], "01")]["reasons"] == {"foreign_point": 1}
        lines = body.decode("cp1251").splitlines()
        for rej in receipt["rejected"]:  # each refusal names its line and its period
            assert "<period" in lines[rej["index"] - 1]
        off_grid = next(x for x in receipt["rejected"] if x["code"] == "period_off_grid")
        assert 'start="0130"' in lines[off_grid["index"] - 1] and "60-minute" in off_grid["message"]
        assert receipt["exchange"]["areas"][0]["utc_offset"] == "+05:00"
        assert receipt["exchange"]["sender"]["name"] == "ТОО «Энергия»"
        again = c.get(f"{ING}/receipts/{receipt['receipt_id']}").json()
        assert again["exchange"] == receipt["exchange"]
    wait_stored(stack, receipt["receipt_id"])
    with stack.sync_client(world.user) as c:
        # 00:30+05:00 on 10 February is 19:30 UTC on the 9th
        a = stored(c, half["code"], "active_import", at(19, 0, 9), at(21, 0, 9))
        assert [(x["ts"], x["value"]) for x in a] == [
            ("2026-02-09T19:30:00+00:00", 1520.0),
            ("2026-02-09T20:00:00+00:00", 1498.0),
            ("2026-02-09T20:30:00+00:00", 1611.5),
        ]
        assert a[1]["quality"] == "suspect" and "not_commercial" in a[1]["flags"]
        assert a[0]["quality"] == "valid" and "not_commercial" not in a[2]["flags"]
        q = stored(c, half["code"], "reactive_import", at(19, 0, 9), at(21, 0, 9))
        assert [x["value"] for x in q] == [412.0, 398.0]
        h = stored(c, hourly["code"], "active_export", at(19, 0, 9), at(22, 0, 9))
        assert [(x["ts"], x["value"]) for x in h] == [
            ("2026-02-09T20:00:00+00:00", 7000.0),
            ("2026-02-09T21:00:00+00:00", 7100.0),
        ]


def test_a_utf8_upload_in_local_time_with_summer_time_flags(
    stack: Stack, feeder: dict[str, Any]
) -> None:
    world, half = feeder["world"], feeder["half"]
    body = message(
        "20260211",
        {
            half["code_80020"]: {
                "02": [
                    period("1000", "1030", "10.25"),  # summer time by the message: +06:00
                    period("1030", "1100", "11", summer="0"),  # its own flag wins: +05:00
                ]
            }
        },
        encoding="utf-8",
        timezone=None,  # the local time of the point's region: +05:00 in 2026
        dst=1,
    )
    with stack.sync_client(world.user) as c:
        r = c.post(f"{ING}/readings", files={"file": ("askue-20260211.xml", body, "text/xml")})
        assert r.status_code == 202, r.text
        receipt = r.json()
        assert receipt["accepted"] == 2 and receipt["rejected"] == []
        assert receipt["exchange"]["daylight_saving"] == 1
        assert receipt["exchange"]["areas"][0]["utc_offset"] == "local"
        assert channels_of(receipt)[(half["code_80020"], "02")]["utc_offset"] == "+05:00"
        # the same file again is the same receipt
        assert (
            c.post(f"{ING}/readings", content=body, headers={"Content-Type": "text/xml"}).json()[
                "receipt_id"
            ]
            == receipt["receipt_id"]
        )
    wait_stored(stack, receipt["receipt_id"])
    with stack.sync_client(world.user) as c:
        got = stored(c, half["code"], "active_export", at(4, day=11), at(7, day=11))
        assert [(x["ts"], x["value"]) for x in got] == [
            ("2026-02-11T04:30:00+00:00", 10.25),  # 10:30 at +06:00
            ("2026-02-11T06:00:00+00:00", 11.0),  # 11:00 at +05:00
        ]


def test_a_malformed_file_is_a_422_naming_the_element_and_the_line(
    stack: Stack, feeder: dict[str, Any]
) -> None:
    world, code = feeder["world"], feeder["half"]["code_80020"]
    good = message("20260212", {code: {"01": [period("0000", "0030", "1")]}}).decode("cp1251")
    no_value = good.replace("<value>1</value>", "")
    broken = good.replace("</measuringchannel>", "</measuringchanel>")
    entity = good.replace(
        "<message", '<!DOCTYPE message [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<message'
    )
    wrong = good.replace('class="80020"', 'class="80040"')
    with stack.sync_client(world.user) as c:

        def post(text: str) -> dict[str, Any]:
            r = c.post(
                f"{ING}/readings",
                content=text.encode("cp1251"),
                headers={"Content-Type": "application/xml"},
            )
            assert r.status_code == 422, r.text
            assert r.headers["content-type"] == "application/problem+json"
            return r.json()  # type: ignore[no-any-return]

        p = post(no_value)
        assert (p["code"], p["element"], p["line"]) == ("malformed_80020", "period", 8)
        assert "line 8" in p["detail"] and p["errors"][0]["field"] == "period"
        p = post(broken)
        assert p["element"] == "measuringchanel" and p["line"] == 9
        assert post(entity)["element"] == "!DOCTYPE"
        assert post(wrong)["element"] == "message"
        # a file whose every channel is refused says why per channel
        p = post(good.replace(code, "000000000000001"))
        assert p["code"] == "no_valid_readings"
        assert p["exchange"]["channels"][0]["reasons"] == {"unknown_code": 1}
    with stack.sync_client("government") as c:
        r = c.post(
            f"{ING}/readings", content=good.encode("cp1251"), headers={"Content-Type": "text/xml"}
        )
        assert r.status_code == 403


def test_the_ministry_posts_a_file_for_the_subject_its_area_names(
    stack: Stack, feeder: dict[str, Any]
) -> None:
    world, code = feeder["world"], feeder["half"]["code_80020"]
    body = message("20260213", {code: {"01": [period("0000", "0030", "7")]}}, inn=world.bin)
    with stack.sync_client("ministry") as c:
        r = c.post(f"{ING}/readings", content=body, headers={"Content-Type": "application/xml"})
        assert r.status_code == 202, r.text
        assert r.json()["subject_bin"] == world.bin and r.json()["accepted"] == 1


def test_the_openapi_document_shows_the_xml_body_with_an_example(stack: Stack) -> None:
    doc = httpx.get(f"{stack.url}/openapi.json", timeout=30).json()
    post = doc["paths"]["/api/v1/ingest/readings"]["post"]
    content = post["requestBody"]["content"]
    assert {"application/json", "text/csv", "application/xml", "text/xml",
            "multipart/form-data"} <= content.keys()  # fmt: skip
    assert 'class="80020"' in content["application/xml"]["example"]
    receipt = doc["components"]["schemas"]["Receipt"]["properties"]
    assert "exchange" in receipt
