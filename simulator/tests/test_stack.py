"""``egsu simulate seed`` against the running System, through the gateway."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from egsu.client import Password, SyncEgsuClient
from egsu.contracts.exchange80020 import DEFAULT_CHANNELS
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


def seed_small(stack: Stack, points: int = 30) -> int:
    """Seed a small system of a fresh seed (with its subject users); the seed."""
    seed = random.randrange(1_000_000)
    args = ["seed", "--url", stack.url, "--var", str(stack.var), "--points", str(points),
            "--seed", str(seed)]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return seed


def test_backfill_through_ingest_is_stored_once_even_when_run_twice(stack: Stack) -> None:
    import asyncio
    import time
    from datetime import timedelta

    from egsu.simulator.cli import run_backfill
    from egsu.simulator.defects import Rates
    from egsu.simulator.generator import Simulation, iso, local_midnight

    seed = seed_small(stack)
    today = datetime.now(UTC).date()
    system = build(30, seed, today)
    epoch = today - timedelta(days=1)
    upto = local_midnight(epoch) + 4 * 3600
    rates = Rates().scaled(0)
    runs = []
    for _ in range(2):
        sim = Simulation(system, seed=seed, start=epoch, rates=rates)
        runs.append(
            asyncio.run(
                run_backfill(sim, stack.url, epoch, upto, rates, seed, 4, 50_000, show=False)
            )
        )
    first, second = runs
    assert first.failed == first.conflicts == first.rejected == 0
    assert first.accepted == first.readings > 0
    assert (second.accepted, second.conflicts) == (first.accepted, 0)  # the original receipts
    i = next(k for k, m in enumerate(system.points["interval_min"]) if m == 15)
    code, b = system.codes[i], system.points["subject_bin"][i]
    q = system.points["quantities"][i][0]
    params = {"quantity": q, "from": iso(local_midnight(epoch)), "to": iso(upto)}
    with stack.sync_client(f"subject-{b}") as c:
        deadline = time.monotonic() + 30
        while True:
            r = c.get(f"/api/v1/measurements/points/{code}/readings", params=params)
            assert r.status_code == 200, r.text
            items = r.json()["items"]
            if len(items) >= 16 or time.monotonic() > deadline:
                break
            time.sleep(0.3)
    assert len(items) == 16  # four hours of 15-minute intervals, once each


def test_80020_files_of_the_simulator_post_cleanly(stack: Stack, tmp_path: Path) -> None:
    import re
    import time
    from datetime import timedelta

    seed = seed_small(stack)
    day = datetime.now(UTC).date() - timedelta(days=2)
    out = tmp_path / "x80020"
    written = CliRunner().invoke(
        app,
        ["--points", "30", "--seed", str(seed), "--days", "1", "--start", day.isoformat(),
         "--format", "80020", "--encoding", "utf-8", "--defects", "0", "--out", str(out)],
    )  # fmt: skip
    assert written.exit_code == 0, written.output
    files = sorted((out / "80020" / day.isoformat()).glob("80020_*.xml"))
    system = build(30, seed, day)
    assert files and len(files) <= len(system.bins)
    checked = None
    for f in files:
        bin_ = f.name.split("_")[1]
        body = f.read_bytes()
        periods = body.count(b"<period ")
        client = SyncEgsuClient(stack.url, Password(f"subject-{bin_}", "demo"))
        try:
            receipt = client.post_80020(f)  # the file as it is, by its path
        finally:
            client.close()
        assert (receipt.accepted, receipt.rejected) == (periods, []), f.name
        assert receipt.exchange is not None and receipt.exchange["day"] == day.isoformat()
        if checked is None:
            checked = (bin_, body.decode(), receipt.receipt_id)
    assert checked is not None
    bin_, text, receipt_id = checked
    m = re.search(r'<measuringpoint code="(\d{15})".*?<measuringchannel code="(\d\d)".*?'
                  r'end="(\d{4})"><value>([-\d.e]+)</value>', text, re.S)  # fmt: skip
    assert m is not None
    i = system.points["code_80020"].index(m.group(1))
    quantity = DEFAULT_CHANNELS[m.group(2)]
    end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(
        hours=int(m.group(3)[:2]) - 5, minutes=int(m.group(3)[2:])
    )
    with stack.sync_client(f"subject-{bin_}") as c:
        deadline = time.monotonic() + 30
        while True:
            r = c.get(
                f"/api/v1/measurements/points/{system.codes[i]}/readings",
                params={"quantity": quantity, "from": (end - timedelta(minutes=1)).isoformat(),
                        "to": end.isoformat()},
            )  # fmt: skip
            assert r.status_code == 200, r.text
            if r.json()["items"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    assert [x["value"] for x in r.json()["items"]] == [float(m.group(4))], receipt_id
