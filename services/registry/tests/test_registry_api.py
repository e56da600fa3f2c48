"""The registry through the gateway, with a token of each role."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from openpyxl import load_workbook

from egsu.testing.stack import Stack

from .conftest import World, facility_body, new_bin, point_body, problem, subject_body

pytestmark = pytest.mark.stack
R = "/api/v1/registry"


def test_ministry_creates_and_everyone_with_a_reading_role_reads(
    stack: Stack, world: World
) -> None:
    for role in ("operator", "government", "ministry"):
        with stack.sync_client(role) as c:
            assert c.get(f"{R}/subjects/{world.bin}").json()["name_ru"].startswith("ТОО")
            assert c.get(f"{R}/facilities/{world.facility['id']}").json()["criticality"] == 1
    point = world.point
    assert point["subject_bin"] == world.bin and point["region_kato"] == "550000000"
    assert point["quantities"] == ["active_export", "reactive_export", "voltage_l1"]


def test_other_roles_cannot_write_or_read(stack: Stack, world: World) -> None:
    for role in ("operator", "government"):
        with stack.sync_client(role) as c:
            problem(c.post(f"{R}/subjects", json=subject_body(new_bin())), 403)
            problem(c.patch(f"{R}/facilities/{world.facility['id']}", json={"criticality": 3}), 403)
    with stack.sync_client("auditor") as c:
        problem(c.get(f"{R}/subjects"), 403)


def test_patch_changes_and_bumps_version(stack: Stack, world: World) -> None:
    with stack.sync_client("ministry") as c:
        r = c.patch(f"{R}/facilities/{world.facility['id']}", json={"installed_electric_mw": 555.5})
        assert r.status_code == 200
        assert r.json()["installed_electric_mw"] == 555.5 and r.json()["version"] == 2


def test_subject_sees_only_itself(stack: Stack, world: World) -> None:
    other = World(stack)
    with stack.sync_client(world.user) as c:
        assert c.get(f"{R}/subjects/{world.bin}").status_code == 200
        problem(c.get(f"{R}/subjects/{other.bin}"), 404)
        problem(c.get(f"{R}/facilities/{other.facility['id']}"), 404)
        problem(c.get(f"{R}/metering-points/{other.point['id']}"), 404)
        problem(c.get(f"{R}/metering-points/by-code/{other.point_code}"), 404)
        listed = c.get(f"{R}/facilities", params={"subject_bin": other.bin}).json()["items"]
        assert listed == []
        mine = c.get(f"{R}/metering-points").json()["items"]
        assert {p["subject_bin"] for p in mine} == {world.bin}
        index = c.get(f"{R}/metering-points/index", params={"subject_bin": other.bin}).json()[
            "items"
        ]
        assert {p["subject_bin"] for p in index} == {world.bin}
        csv_text = c.get(f"{R}/metering-points", params={"format": "csv"}).text
        assert other.point_code not in csv_text and world.point_code in csv_text


def test_subject_proposes_and_ministry_approves(stack: Stack, world: World) -> None:
    with stack.sync_client(world.user) as c:
        r = c.post(
            f"{R}/facilities",
            json=facility_body(
                world.bin, name_ru="Котельная №2", type="boiler_house", criticality=2
            ),
        )
        assert r.status_code == 202
        proposal = r.json()
        assert proposal["status"] == "pending"
        assert not [
            f for f in c.get(f"{R}/facilities").json()["items"] if f["name_ru"] == "Котельная №2"
        ]
        problem(c.post(f"{R}/proposals/{proposal['id']}/approve"), 403)
        other = World(stack)
        problem(c.post(f"{R}/facilities", json=facility_body(other.bin)), 422)
    with stack.sync_client("ministry") as c:
        pending = c.get(
            f"{R}/proposals", params={"status": "pending", "subject_bin": world.bin}
        ).json()["items"]
        assert proposal["id"] in {p["id"] for p in pending}
        done = c.post(f"{R}/proposals/{proposal['id']}/approve", json={"comment": "ok"}).json()
        assert done["status"] == "approved" and done["decided_by"] == "ministry"
        problem(c.post(f"{R}/proposals/{proposal['id']}/reject"), 409)
        created = c.get(f"{R}/facilities/{done['result_id']}").json()
        assert created["name_ru"] == "Котельная №2" and created["subject_bin"] == world.bin
    with stack.sync_client(world.user) as c:
        r = c.patch(f"{R}/metering-points/{world.point['id']}", json={"name": "Генератор 1"})
        assert r.status_code == 202
    with stack.sync_client("ministry") as c:
        c.post(f"{R}/proposals/{r.json()['id']}/reject", json={"comment": "no"})
        assert c.get(f"{R}/metering-points/{world.point['id']}").json()["name"] is None


def test_search_sort_and_cursor(stack: Stack) -> None:
    worlds = [World(stack, region="630000000") for _ in range(3)]
    with stack.sync_client("operator") as c:
        seen: list[str] = []
        cursor = None
        while True:
            params = {"region_kato": "630000000", "limit": 2, "sort": "bin"}
            if cursor:
                params["cursor"] = cursor
            body = c.get(f"{R}/subjects", params=params).json()
            seen += [x["bin"] for x in body["items"]]
            cursor = body["next_cursor"]
            if not cursor:
                break
        assert seen == sorted(seen) and {w.bin for w in worlds} <= set(seen)
        hit = c.get(f"{R}/subjects", params={"q": f"Энергия {worlds[0].bin[-4:]}"}).json()["items"]
        assert worlds[0].bin in {x["bin"] for x in hit}
        by_code = c.get(f"{R}/metering-points", params={"q": worlds[1].point_code[:10]}).json()[
            "items"
        ]
        assert worlds[1].point_code in {p["code"] for p in by_code}
        problem(c.get(f"{R}/subjects", params={"sort": "nonsense"}), 422)
        problem(c.get(f"{R}/subjects", params={"cursor": "garbage!"}), 422)
        # entities with uuid ids page just as well (points by code, facilities by name)
        for path, params in (
            ("metering-points", {"limit": 1}),
            ("facilities", {"region_kato": "630000000", "limit": 1}),
        ):
            ids: list[str] = []
            cursor = None
            for _ in range(50):
                body = c.get(
                    f"{R}/{path}", params={**params, **({"cursor": cursor} if cursor else {})}
                )
                assert body.status_code == 200, body.text
                ids += [x["id"] for x in body.json()["items"]]
                cursor = body.json()["next_cursor"]
                if not cursor or len(ids) >= 3:
                    break
            assert len(ids) == len(set(ids)) >= 3


def test_export_csv_and_xlsx(stack: Stack, world: World) -> None:
    with stack.sync_client("government") as c:
        r = c.get(f"{R}/facilities", params={"subject_bin": world.bin, "format": "xlsx"})
        assert r.status_code == 200
        ws = load_workbook(io.BytesIO(r.content)).active
        rows = list(ws.values)
        assert rows[0][0] == "id" and rows[1][0] == world.facility["id"]
        r = c.get(f"{R}/subjects", params={"q": world.bin, "format": "csv"})
        assert r.headers["content-type"].startswith("text/csv") and world.bin in r.text


def test_bad_input_names_the_field(stack: Stack, world: World) -> None:
    with stack.sync_client("ministry") as c:
        good = new_bin()
        bad_bin = good[:11] + str((int(good[11]) + 1) % 10)
        body = problem(c.post(f"{R}/subjects", json=subject_body(bad_bin)), 422)
        assert body["errors"][0]["field"] == "bin" and "check digit" in body["errors"][0]["message"]
        body = problem(
            c.post(f"{R}/subjects", json=subject_body(new_bin(), region="123456789")), 422
        )
        assert body["errors"][0]["field"] == "region_kato"
        body = problem(
            c.post(
                f"{R}/metering-points",
                json=point_body(
                    f"U-{world.bin}", world.facility["id"], units={"active_export": "kWt"}
                ),
            ),
            422,
        )
        assert (
            body["errors"][0]["field"] == "units.active_export"
            and "kWt" in body["errors"][0]["message"]
        )
        body = problem(
            c.post(
                f"{R}/metering-points",
                json=point_body(f"Q-{world.bin}", world.facility["id"], quantities=["heat_energy"]),
            ),
            422,
        )
        assert body["errors"][0]["field"] == "quantities"
        future = (date.today() + timedelta(days=3)).isoformat()
        body = problem(
            c.post(
                f"{R}/devices",
                json={
                    "point_id": world.point["id"],
                    "type": "electricity_meter",
                    "model": "СЭТ-4ТМ.03М",
                    "serial_number": "0812345",
                    "verification_date": future,
                },
            ),
            422,
        )
        assert body["errors"][0]["field"] == "verification_date"
        body = problem(
            c.post(
                f"{R}/metering-points",
                json=point_body(f"I-{world.bin}", world.facility["id"], interval_min=60),
            ),
            422,
        )
        assert (
            body["errors"][0]["field"] == "interval_min"
        )  # criticality 1 reports at least every 5 min
        problem(c.post(f"{R}/subjects", json=subject_body(world.bin)), 409)
        problem(
            c.post(f"{R}/metering-points", json=point_body(world.point_code, world.facility["id"])),
            409,
        )


def test_meter_replacement_keeps_history_and_verification_alerts(
    stack: Stack, world: World
) -> None:
    old_verified = (date.today() - timedelta(days=365 * 4 - 10)).isoformat()
    with stack.sync_client("ministry") as c:
        first = c.post(
            f"{R}/devices",
            json={
                "point_id": world.point["id"],
                "type": "electricity_meter",
                "manufacturer": "Инкотекс",
                "model": "Меркурий 234",
                "serial_number": f"A{world.bin}",
                "state_register_no": "KZ.02.03.04567-2019",
                "verification_date": old_verified,
                "verification_interval_months": 48,
            },
        )
        assert first.status_code == 201, first.text
        assert first.json()["next_verification_due"] is not None
        due = c.get(f"{R}/devices/verification-due", params={"within_days": 30}).json()["items"]
        mine = [d for d in due if d["id"] == first.json()["id"]]
        assert mine and 0 <= mine[0]["days_left"] <= 30 and not mine[0]["overdue"]
        second = c.post(
            f"{R}/devices",
            json={
                "point_id": world.point["id"],
                "type": "electricity_meter",
                "model": "СЭТ-4ТМ.03М",
                "serial_number": f"B{world.bin}",
                "verification_date": date.today().isoformat(),
                "verification_interval_months": 96,
            },
        )
        assert second.status_code == 201
        history = c.get(f"{R}/metering-points/{world.point['id']}/installations").json()["items"]
        assert [h["device_id"] for h in history] == [first.json()["id"], second.json()["id"]]
        assert history[0]["removed_at"] == history[1]["installed_at"]
        assert c.get(f"{R}/devices/{first.json()['id']}").json()["point_id"] is None
        due = c.get(f"{R}/devices/verification-due", params={"within_days": 30}).json()["items"]
        assert not {first.json()["id"], second.json()["id"]} & {
            d["id"] for d in due
        }  # removed; fresh


def test_documents_upload_version_and_download(stack: Stack, world: World) -> None:
    with stack.sync_client("ministry") as c:
        dev = c.post(
            f"{R}/devices",
            json={
                "point_id": world.point["id"],
                "type": "electricity_meter",
                "model": "Альфа A1800",
                "serial_number": f"D{world.bin}",
            },
        ).json()
    with stack.sync_client(world.user) as c:
        for body in (b"%PDF-1.4 passport v1", b"%PDF-1.4 passport v2"):
            r = c.post(
                f"{R}/documents",
                data={
                    "owner_type": "device",
                    "owner_id": dev["id"],
                    "doc_type": "passport",
                    "title": "Паспорт счётчика",
                },
                files={"file": ("passport.pdf", body, "application/pdf")},
            )
            assert r.status_code == 201, r.text
        doc = r.json()
        assert doc["doc_version"] == 2 and doc["size"] == len(b"%PDF-1.4 passport v2")
        got = c.get(f"{R}/documents/{doc['id']}/content")
        assert (
            got.content == b"%PDF-1.4 passport v2"
            and got.headers["x-content-sha256"] == doc["sha256"]
        )
    other = World(stack)
    with stack.sync_client(other.user) as c:
        problem(c.get(f"{R}/documents/{doc['id']}"), 404)
        problem(
            c.post(
                f"{R}/documents",
                data={
                    "owner_type": "device",
                    "owner_id": dev["id"],
                    "doc_type": "passport",
                    "title": "x",
                },
                files={"file": ("x.pdf", b"x", "application/pdf")},
            ),
            422,
        )


def test_systems_get_the_rules_checklist_and_obligations_check_points(
    stack: Stack, world: World
) -> None:
    with stack.sync_client("ministry") as c:
        r = c.post(
            f"{R}/systems",
            json={
                "subject_bin": world.bin,
                "kind": "askue",
                "name": "АСКУЭ ТЭЦ-3",
                "vendor": "Прософт-Системы",
                "protocol": "IEC 60870-5-104",
                "channels": [
                    {"role": "main", "medium": "fiber"},
                    {"role": "reserve", "medium": "gsm"},
                ],
                "facility_ids": [world.facility["id"]],
            },
        )
        assert r.status_code == 201, r.text
        codes = {i["code"] for i in r.json()["checklist"]}
        assert {"§60", "§62", "§85", "§97"} <= codes and "§64" not in codes  # §64 is SCADA's
        r = c.post(
            f"{R}/obligations",
            json={
                "subject_bin": world.bin,
                "point_codes": [world.point_code],
                "interval_min": 15,
                "deadline_min": 60,
                "valid_from": "2026-01-01",
            },
        )
        assert r.status_code == 201, r.text
        body = problem(
            c.post(
                f"{R}/obligations",
                json={
                    "subject_bin": world.bin,
                    "point_codes": ["NOPE-1"],
                    "valid_from": "2026-01-01",
                },
            ),
            422,
        )
        assert body["errors"][0]["field"] == "point_codes[0]"
