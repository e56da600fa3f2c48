"""A metering point's 80020 code and channel map: set, seen, unique, checked, scoped."""

from __future__ import annotations

import pytest

from egsu.testing.stack import Stack

from .conftest import World, point_body, problem

pytestmark = pytest.mark.stack
R = "/api/v1/registry"


def test_the_ministry_sets_a_code_and_a_channel_map_that_the_index_carries(
    stack: Stack, world: World
) -> None:
    code = f"{world.bin}101"
    with stack.sync_client("ministry") as c:
        r = c.patch(
            f"{R}/metering-points/{world.point['id']}",
            json={"code_80020": code, "channels_80020": {"02": "reactive_export"}},
        )
        assert r.status_code == 200, r.text
        assert r.json()["code_80020"] == code
        assert r.json()["channels_80020"] == {"02": "reactive_export"}
        listed = c.get(f"{R}/metering-points", params={"code_80020": code}).json()["items"]
        assert [p["id"] for p in listed] == [world.point["id"]]
    with stack.sync_client(world.user) as c:
        index = c.get(f"{R}/metering-points/index").json()["items"]
        assert [(p["code_80020"], p["channels_80020"]) for p in index] == [
            (code, {"02": "reactive_export"})
        ]
    with stack.sync_client("ministry") as c:
        cleared = c.patch(f"{R}/metering-points/{world.point['id']}", json={"code_80020": None})
        assert cleared.status_code == 200 and cleared.json()["code_80020"] is None


def test_codes_are_unique_and_maps_name_the_points_own_quantities(
    stack: Stack, world: World
) -> None:
    code = f"{world.bin}102"
    with stack.sync_client("ministry") as c:
        assert (
            c.patch(f"{R}/metering-points/{world.point['id']}", json={"code_80020": code})
        ).status_code == 200
        twin = point_body(f"T-{world.bin}-77", world.facility["id"], code_80020=code)
        p = problem(c.post(f"{R}/metering-points", json=twin), 409)
        assert p["code"] == "code_80020_taken" and world.point_code in p["detail"]
        p = problem(c.post(f"{R}/metering-points", json={**twin, "code_80020": "12345"}), 422)
        assert p["errors"][0]["field"] == "code_80020"
        p = problem(
            c.patch(
                f"{R}/metering-points/{world.point['id']}",
                json={"channels_80020": {"01": "active_import"}},  # not one of its quantities
            ),
            422,
        )
        assert p["errors"][0]["field"] == "channels_80020.01"
        p = problem(
            c.patch(
                f"{R}/metering-points/{world.point['id']}",
                json={"channels_80020": {"1": "active_export"}},
            ),
            422,
        )
        assert p["errors"][0]["field"].startswith("channels_80020")


def test_a_subject_proposes_its_code_and_never_sees_another_subjects(
    stack: Stack, world: World
) -> None:
    other = World(stack)
    theirs = f"{other.bin}101"
    with stack.sync_client("ministry") as c:
        assert (
            c.patch(f"{R}/metering-points/{other.point['id']}", json={"code_80020": theirs})
        ).status_code == 200
    mine = f"{world.bin}103"
    with stack.sync_client(world.user) as c:
        assert c.get(f"{R}/metering-points", params={"code_80020": theirs}).json()["items"] == []
        r = c.patch(f"{R}/metering-points/{world.point['id']}", json={"code_80020": mine})
        assert r.status_code == 202 and r.json()["status"] == "pending"
        problem(c.patch(f"{R}/metering-points/{other.point['id']}", json={"code_80020": mine}), 404)
    with stack.sync_client("ministry") as c:
        assert c.post(f"{R}/proposals/{r.json()['id']}/approve").json()["status"] == "approved"
    with stack.sync_client(world.user) as c:
        got = c.get(f"{R}/metering-points/{world.point['id']}").json()
        assert got["code_80020"] == mine
    with stack.sync_client("auditor") as c:
        problem(c.get(f"{R}/metering-points", params={"code_80020": mine}), 403)
