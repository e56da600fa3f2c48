"""``egsu up --demo`` hands the supervisor a simulator process and the banner its users."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import yaml

from egsu.cli.demo import start_demo
from egsu.cli.up import Proc


def test_start_demo_adds_a_supervised_simulator_and_lists_users(tmp_path: Path) -> None:
    procs = [
        Proc("registry", "egsu.registry.app:create_app", 18101, {}, tmp_path / "r.log"),
        Proc("gateway", "egsu.gateway.app:create_app", 18100, {}, tmp_path / "g.log"),
    ]
    sup = SimpleNamespace(var=tmp_path, procs=procs)
    users = start_demo(sup, 120)
    sim = sup.procs[-1]
    assert sim.name == "simulator" and sim.child is None  # started by the supervisor's loop
    assert sim.standby is not None and sim.standby.alive() and not sim.promote()
    names = [u for u, _ in users]
    assert names[:2] == ["ministry", "operator"]
    subjects = [n for n in names if n.startswith("subject-")]
    added = yaml.safe_load((tmp_path / "realm" / "users.yaml").read_text())["users"]
    assert subjects and set(subjects) <= {u["username"] for u in added}
    assert all(u["roles"] == ["subject"] and u["bin"] for u in added)
