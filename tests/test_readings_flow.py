"""From a subject's batch to the historian: receipts, rejections, idempotency, versions, roll-ups."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from egsu.testing.stack import Stack
from egsu.testing.world import World, grid, kz

pytestmark = pytest.mark.stack
ING = "/api/v1/ingest"
M = "/api/v1/measurements"


def batch(
    world: World,
    times: list[datetime],
    value: float = 10.0,
    quantity: str = "active_export",
    code: str | None = None,
    **kw: Any,
) -> dict[str, Any]:
    return {
        "subject_bin": world.bin,
        "readings": [
            {
                "point": code or world.point_code,
                "quantity": quantity,
                "ts": kz(t),
                "value": value + i,
                "unit": "kWh",
            }
            for i, t in enumerate(times)
        ],
        **kw,
    }


def wait_stored(stack: Stack, receipt_id: str, timeout: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with stack.sync_client("operator") as c:
        while time.monotonic() < deadline:
            r = c.get(f"{M}/batches/{receipt_id}")
            if r.status_code == 200:
                return r.json()  # type: ignore[no-any-return]
            time.sleep(0.05)
    raise AssertionError(f"batch {receipt_id} not stored within {timeout} s")


def readings(
    stack: Stack, user: str, code: str, start: datetime, end: datetime, **params: Any
) -> list[dict[str, Any]]:
    with stack.sync_client(user) as c:
        r = c.get(
            f"{M}/points/{code}/readings",
            params={"quantity": "active_export", "from": kz(start), "to": kz(end), **params},
        )
        assert r.status_code == 200, r.text
        return r.json()["items"]  # type: ignore[no-any-return]


def test_batch_is_queryable_within_a_second_with_rollups_at_every_level(stack: Stack) -> None:
    world = World(stack, region="150000000", points=2, interval_min=15, criticality=2)
    start = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    times = grid(start, 8, 15)  # 00:15 .. 02:00 UTC: two hours
    body = {
        "subject_bin": world.bin,
        "readings": [
            {
                "point": p["code"],
                "quantity": "active_export",
                "ts": kz(t),
                "value": 100.0 * (j + 1) + i,
            }
            for j, p in enumerate(world.points)
            for i, t in enumerate(times)
        ],
    }
    with stack.sync_client(world.user) as c:
        t0 = time.monotonic()
        r = c.post(f"{ING}/readings", json=body, headers={"Idempotency-Key": uuid.uuid4().hex})
        assert r.status_code == 202, r.text
        receipt = r.json()
        assert (
            receipt["accepted"] == 16
            and receipt["rejected"] == []
            and receipt["status"] == "accepted"
        )
        while True:
            items = c.get(
                f"{M}/points/{world.point_code}/readings",
                params={
                    "quantity": "active_export",
                    "from": kz(start - timedelta(hours=1)),
                    "to": kz(start + timedelta(hours=3)),
                },
            ).json()["items"]
            if len(items) == 8:
                break
            assert time.monotonic() - t0 < 1.0, "not queryable within a second"
            time.sleep(0.02)
        assert [i["value"] for i in items] == [100.0 + i for i in range(8)]
        assert {i["quality"] for i in items} == {"valid"}
        hourly = c.get(
            f"{M}/points/{world.point_code}/readings",
            params={
                "quantity": "active_export",
                "from": kz(start - timedelta(hours=1)),
                "to": kz(start + timedelta(hours=3)),
                "resolution": "1h",
            },
        ).json()["items"]
        # 00:15..01:00 belong to hour 00:00, 01:15..01:45 to hour 01:00
        first_hour = sum(100.0 + i for i in range(4))
        assert hourly[0]["ts"].startswith("2026-03-02T00:00") and hourly[0]["sum"] == first_hour
        assert hourly[0]["count"] == 4 and hourly[0]["min"] == 100.0 and hourly[0]["max"] == 103.0
        expected_total = sum(100.0 * (j + 1) + i for j in range(2) for i in range(8))
        facility = c.get(
            f"{M}/facilities/{world.facility['id']}/readings",
            params={
                "quantity": "active_export",
                "from": kz(start - timedelta(hours=1)),
                "to": kz(start + timedelta(hours=3)),
            },
        ).json()["items"]
        assert sum(i["value"] for i in facility) == expected_total
        subject = c.get(
            f"{M}/subjects/{world.bin}/readings",
            params={
                "quantity": "active_export",
                "from": kz(start - timedelta(hours=1)),
                "to": kz(start + timedelta(hours=3)),
                "resolution": "1d",
            },
        ).json()["items"]
        assert len(subject) == 1 and subject[0]["sum"] == expected_total
        assert subject[0]["max"] == max(i["value"] for i in facility)
    with stack.sync_client("government") as c:
        region = c.get(
            f"{M}/regions/150000000/readings",
            params={
                "quantity": "active_export",
                "from": kz(start),
                "to": kz(start + timedelta(hours=2)),
            },
        ).json()["items"]
        country = c.get(
            f"{M}/country/readings",
            params={
                "quantity": "active_export",
                "from": kz(start),
                "to": kz(start + timedelta(hours=2)),
            },
        ).json()["items"]
    assert sum(i["value"] for i in region) >= expected_total
    assert sum(i["value"] for i in country) >= sum(i["value"] for i in region)


def test_same_batch_twice_is_stored_once_with_the_same_receipt(stack: Stack) -> None:
    world = World(stack)
    times = grid(datetime(2026, 3, 3, tzinfo=UTC), 6, 5)
    body = batch(world, times)
    with stack.sync_client(world.user) as c:
        first = c.post(f"{ING}/readings", json=body).json()
        second = c.post(f"{ING}/readings", json=body).json()
        assert first["receipt_id"] == second["receipt_id"]
        key = uuid.uuid4().hex
        a = c.post(
            f"{ING}/readings", json=batch(world, times, value=50), headers={"Idempotency-Key": key}
        )
        b = c.post(
            f"{ING}/readings", json=batch(world, times, value=50), headers={"Idempotency-Key": key}
        )
        assert a.json()["receipt_id"] == b.json()["receipt_id"]
        clash = c.post(
            f"{ING}/readings", json=batch(world, times, value=70), headers={"Idempotency-Key": key}
        )
        assert clash.status_code == 409 and clash.json()["code"] == "idempotency_conflict"
    wait_stored(stack, a.json()["receipt_id"])
    items = readings(
        stack,
        world.user,
        world.point_code,
        times[0] - timedelta(minutes=5),
        times[-1],
        versions="all",
    )
    # one version from the first batch, one from the changed values: no copies
    assert len(items) == 12 and sorted({i["version"] for i in items}) == [1, 2]
    assert [i["value"] for i in items if i["current"]] == [50.0 + i for i in range(6)]


def test_each_bad_reading_is_rejected_by_itself(stack: Stack) -> None:
    world = World(stack, quantities=["active_export", "voltage_l1"])
    other = World(stack)
    t = grid(datetime(2026, 3, 4, tzinfo=UTC), 3, 5)
    readings_ = [
        {
            "point": world.point_code,
            "quantity": "active_export",
            "ts": kz(t[0]),
            "value": 1.5,
            "unit": "MWh",
        },
        {"point": "NO-SUCH-POINT", "quantity": "active_export", "ts": kz(t[0]), "value": 1},
        {"point": other.point_code, "quantity": "active_export", "ts": kz(t[0]), "value": 1},
        {"point": world.point_code, "quantity": "speed_of_light", "ts": kz(t[0]), "value": 1},
        {
            "point": world.point_code,
            "quantity": "active_export",
            "ts": kz(t[1]),
            "value": 1,
            "unit": "Gcal",
        },
        {
            "point": world.point_code,
            "quantity": "active_export",
            "ts": "2026-03-04T10:15:00",
            "value": 1,
        },
        {
            "point": world.point_code,
            "quantity": "active_export",
            "ts": kz(t[1] + timedelta(minutes=2)),
            "value": 1,
        },
        {"point": world.point_code, "quantity": "heat_energy", "ts": kz(t[1]), "value": 1},
        {"point": world.point_code, "quantity": "active_export", "ts": kz(t[2]), "value": "lots"},
        {
            "point": world.point_code,
            "quantity": "1-0:2.29.0",
            "ts": kz(t[2]),
            "value": 2000,
            "unit": "Wh",
        },
    ]
    with stack.sync_client(world.user) as c:
        r = c.post(f"{ING}/readings", json={"subject_bin": world.bin, "readings": readings_})
    assert r.status_code == 202, r.text
    receipt = r.json()
    codes = {x["index"]: x["code"] for x in receipt["rejected"]}
    assert codes == {
        1: "unknown_point",
        2: "foreign_point",
        3: "unknown_quantity",
        4: "unknown_unit",
        5: "naive_timestamp",
        6: "misaligned",
        7: "quantity_not_measured",
        8: "invalid_value",
    }
    assert receipt["accepted"] == 2
    fields = {x["index"]: x["field"] for x in receipt["rejected"]}
    assert fields[5] == "readings[5].ts" and fields[4] == "readings[4].unit"
    wait_stored(stack, receipt["receipt_id"])
    # the interval whose reading was rejected is estimated between its neighbours (a few seconds
    # later: a batch still on its way might have brought it)
    deadline = time.monotonic() + 20
    while True:
        got = readings(stack, world.user, world.point_code, t[0] - timedelta(minutes=5), t[2])
        if len(got) == 3 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert [(g["ts"][:16], g["value"], g["quality"]) for g in got] == [
        (t[0].isoformat()[:16], 1500.0, "valid"),
        (t[1].isoformat()[:16], 751.0, "estimated"),
        (t[2].isoformat()[:16], 2.0, "valid"),
    ]


def test_malformed_oversized_and_foreign_batches(stack: Stack) -> None:
    world = World(stack)
    other = World(stack)
    with stack.sync_client(world.user) as c:
        r = c.post(
            f"{ING}/readings", content=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert r.status_code == 422 and r.json()["code"] == "malformed_batch"
        r = c.post(f"{ING}/readings", json={"subject_bin": world.bin, "readings": "all of them"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "readings"
        r = c.post(
            f"{ING}/readings", json=batch(other, grid(datetime(2026, 3, 5, tzinfo=UTC), 1, 5))
        )
        assert r.status_code == 403 and r.json()["code"] == "not_your_subject"
        r = c.post(
            f"{ING}/readings",
            json={
                "subject_bin": world.bin,
                "readings": [{"point": "x", "quantity": "y", "ts": "z", "value": 1}] * 50_001,
            },
        )
        assert r.status_code == 413
        r = c.post(
            f"{ING}/readings",
            content=b"x" * (33 * 1024 * 1024),
            headers={"Content-Type": "application/json"},
        )
        assert r.status_code == 413
        r = c.post(
            f"{ING}/readings",
            json={
                "subject_bin": world.bin,
                "readings": [
                    {
                        "point": "nope",
                        "quantity": "active_export",
                        "ts": "2026-03-05T00:05:00+05:00",
                        "value": 1,
                    }
                ],
            },
        )
        assert r.status_code == 422 and r.json()["code"] == "no_valid_readings"
    with stack.sync_client("government") as c:
        assert c.post(f"{ING}/readings", json=batch(world, [])).status_code == 403


def test_csv_upload(stack: Stack) -> None:
    world = World(stack)
    t = grid(datetime(2026, 3, 6, tzinfo=UTC), 3, 5)
    text = "point,quantity,ts,value,unit\n" + "".join(
        f"{world.point_code},active_export,{kz(x)},{i}.5,kWh\n" for i, x in enumerate(t)
    )
    text += f"{world.point_code},active_export,{kz(t[0])},oops,kWh\n"
    with stack.sync_client(world.user) as c:
        r = c.post(f"{ING}/readings", content=text.encode(), headers={"Content-Type": "text/csv"})
    assert r.status_code == 202, r.text
    assert (
        r.json()["accepted"] == 3 and r.json()["rejected"][0]["index"] == 5
    )  # the CSV's line number
    wait_stored(stack, r.json()["receipt_id"])
    assert [
        g["value"]
        for g in readings(stack, world.user, world.point_code, t[0] - timedelta(minutes=5), t[-1])
    ] == [0.5, 1.5, 2.5]


def test_late_and_corrected_data_fix_the_rollups_and_keep_history(stack: Stack) -> None:
    world = World(stack, region="190000000")
    t = grid(
        datetime(2026, 1, 10, 6, 0, tzinfo=UTC), 12, 5
    )  # 06:05 .. 07:00: the hour 06:00, weeks ago
    with stack.sync_client(world.user) as c:
        later = c.post(
            f"{ING}/readings", json=batch(world, t[6:], value=10)
        ).json()  # second half first
        earlier = c.post(f"{ING}/readings", json=batch(world, t[:6], value=10)).json()
        fix = c.post(
            f"{ING}/readings",
            json={
                "subject_bin": world.bin,
                "readings": [
                    {
                        "point": world.point_code,
                        "quantity": "active_export",
                        "ts": kz(t[0]),
                        "value": 99.0,
                    }
                ],
            },
        ).json()
    for rec in (later, earlier, fix):
        wait_stored(stack, rec["receipt_id"])
    hourly = readings(
        stack, world.user, world.point_code, t[0] - timedelta(hours=1), t[-1], resolution="1h"
    )
    values = [10 + i for i in range(6)] + [10 + i for i in range(6)]
    values[0] = 99.0
    assert hourly[0]["sum"] == sum(values) and hourly[0]["max"] == 99.0 and hourly[0]["count"] == 12
    with stack.sync_client(world.user) as c:
        hist = c.get(
            f"{M}/points/{world.point_code}/readings/history",
            params={"quantity": "active_export", "ts": kz(t[0])},
        ).json()["versions"]
        # the last received wins, in whichever order the historian got the two batches
        assert sorted((h["value"], h["quality"]) for h in hist) == [
            (10.0, "superseded"),
            (99.0, "valid"),
        ]
        assert next(h for h in hist if h["value"] == 99.0)["receipt_id"] == fix["receipt_id"]
        fac = c.get(
            f"{M}/facilities/{world.facility['id']}/readings",
            params={
                "quantity": "active_export",
                "from": kz(t[0] - timedelta(hours=1)),
                "to": kz(t[-1]),
            },
        ).json()["items"]
    assert sum(i["value"] for i in fac) == sum(values)


def test_subject_reads_only_its_own_series(stack: Stack) -> None:
    world, other = World(stack), World(stack)
    with stack.sync_client(other.user) as c:
        c.post(f"{ING}/readings", json=batch(other, grid(datetime(2026, 3, 7, tzinfo=UTC), 2, 5)))
    with stack.sync_client(world.user) as c:
        assert (
            c.get(
                f"{M}/points/{other.point_code}/readings", params={"quantity": "active_export"}
            ).status_code
            == 404
        )
        assert (
            c.get(
                f"{M}/subjects/{other.bin}/readings", params={"quantity": "active_export"}
            ).status_code
            == 404
        )
        assert (
            c.get(
                f"{M}/facilities/{other.facility['id']}/readings",
                params={"quantity": "active_export"},
            ).status_code
            == 404
        )
        assert (
            c.get(f"{M}/country/readings", params={"quantity": "active_export"}).status_code == 403
        )
        receipts = c.get(f"{ING}/receipts").json()["items"]
        assert {r["subject_bin"] for r in receipts} <= {world.bin}


def test_telemetry_on_nats_is_treated_like_a_rest_batch(stack: Stack, infra: Any) -> None:
    from egsu.bus import Bus
    from egsu.core.settings import Settings

    world = World(stack)
    t = grid(datetime(2026, 3, 8, tzinfo=UTC), 4, 5)

    async def publish() -> None:
        bus = Bus(Settings(nats_url=infra.nats_url))
        await bus.connect(wait=True)
        try:
            await bus.publish(
                f"egsu.telemetry.{world.bin}",
                __import__("orjson").dumps(batch(world, t, value=7)),
                msg_id=f"tm-{uuid.uuid4().hex}",
            )
        finally:
            await bus.close()

    asyncio.run(publish())
    deadline = time.monotonic() + 10
    got: list[dict[str, Any]] = []
    with stack.sync_client(world.user) as c:
        while time.monotonic() < deadline:
            r = c.get(
                f"{M}/points/{world.point_code}/readings",
                params={
                    "quantity": "active_export",
                    "from": kz(t[0] - timedelta(minutes=5)),
                    "to": kz(t[-1]),
                },
            )
            # 404 until the historian has stored the point's first batch
            got = r.json()["items"] if r.status_code == 200 else []
            if len(got) == 4:
                break
            time.sleep(0.1)
    assert [g["value"] for g in got] == [7.0, 8.0, 9.0, 10.0]
    with stack.sync_client(world.user) as c:
        assert (
            c.get(f"{ING}/receipts", params={"source": "telemetry"}).json()["items"][0]["accepted"]
            == 4
        )


def test_compliance_counts_expected_received_and_late(stack: Stack) -> None:
    world = World(stack, points=2, interval_min=60, criticality=3)
    day = (datetime.now(UTC) - timedelta(days=2)).date()
    with stack.sync_client("ministry") as c:
        r = c.post(
            "/api/v1/registry/obligations",
            json={
                "subject_bin": world.bin,
                "point_codes": [p["code"] for p in world.points],
                "interval_min": 60,
                "deadline_min": 60,
                "valid_from": (day - timedelta(days=30)).isoformat(),
            },
        )
        assert r.status_code == 201, r.text
    local_midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=5)
    hours = grid(local_midnight, 24, 60)  # interval ends 01:00 .. 24:00 local
    with stack.sync_client(world.user) as c:
        # point 1 sends the whole day (late: days after the deadline); point 2 sends 12 hours
        for p, n in ((world.points[0], 24), (world.points[1], 12)):
            r = c.post(
                f"{ING}/readings",
                json={
                    "subject_bin": world.bin,
                    "readings": [
                        {"point": p["code"], "quantity": "active_export", "ts": kz(h), "value": 1.0}
                        for h in hours[:n]
                    ],
                },
            )
            assert r.status_code == 202, r.text
        rep = c.get(f"{ING}/compliance", params={"period": day.isoformat()}).json()
    item = next(i for i in rep["items"] if i["subject_bin"] == world.bin)
    assert (item["expected"], item["received"], item["missing"]) == (48, 36, 12)
    assert item["late"] == 36 and item["status"] == "incomplete"
    assert world.bin in rep["late_or_incomplete"]


def test_receipt_lookup_and_scope(stack: Stack) -> None:
    world, other = World(stack), World(stack)
    with stack.sync_client(world.user) as c:
        rec = c.post(
            f"{ING}/readings", json=batch(world, grid(datetime(2026, 3, 9, tzinfo=UTC), 1, 5))
        ).json()
        assert c.get(f"{ING}/receipts/{rec['receipt_id']}").json()["accepted"] == 1
    with stack.sync_client(other.user) as c:
        assert c.get(f"{ING}/receipts/{rec['receipt_id']}").status_code == 404
    with stack.sync_client("operator") as c:
        assert c.get(f"{ING}/receipts/{rec['receipt_id']}").status_code == 200
    assert httpx.get(f"{stack.url}{ING}/receipts/{rec['receipt_id']}").status_code == 401
