"""``egsu simulate seed`` against the running System, through the gateway."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from egsu.simulator.cli import app
from egsu.simulator.model import build
from egsu.testing.stack import Stack

pytestmark = pytest.mark.stack
R = "/api/v1/registry"


def test_seed_creates_the_registry_idempotently_and_subject_users_log_in(stack: Stack) -> None:
    seed = random.randrange(1_000_000)
    args = [
        "seed",
        "--url",
        stack.url,
        "--var",
        str(stack.var),
        "--points",
        "60",
        "--seed",
        str(seed),
    ]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    system = build(60, seed, datetime.now(UTC).date())
    with stack.sync_client("ministry") as c:
        for b in system.bins:
            assert c.get(f"{R}/subjects/{b}").status_code == 200
        facilities = {
            b: len(c.get(f"{R}/facilities", params={"subject_bin": b}).json()["items"])
            for b in system.bins
        }
        assert sum(facilities.values()) == len(system.facilities["key"])
        systems = c.get(f"{R}/systems", params={"subject_bin": system.bins[0]}).json()["items"]
        assert systems and systems[0]["checklist"]
        devices = c.get(
            f"{R}/devices", params={"subject_bin": system.bins[0], "limit": 1000}
        ).json()["items"]
        assert devices and all(d["point_id"] for d in devices)
    for j, b in enumerate(system.bins):
        with stack.sync_client(f"subject-{b}") as c:
            index = c.get(f"{R}/metering-points/index").json()["items"]
            own = {
                code
                for code, sb in zip(system.codes, system.points["subject_bin"], strict=True)
                if sb == b
            }
            assert {p["code"] for p in index} == own
            if j == 0:
                assert c.get(f"{R}/obligations").json()["items"]
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "created: nothing" in again.output
    with stack.sync_client("ministry") as c:
        for b in system.bins:
            assert (
                len(c.get(f"{R}/facilities", params={"subject_bin": b}).json()["items"])
                == facilities[b]
            )
