"""Demo data for ``egsu up --demo``: the simulated energy system, seeded and live.

Called once when the System is ready. It registers the subject users at once (so the banner's
users can log in immediately) and adds the simulator as one more supervised process, which seeds
the registry, backfills a week of history and then posts readings live (and the weather). Nothing here blocks
the supervisor; Ctrl-C stops the simulator with everything else.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import UTC, datetime
from typing import Any

from egsu.infra.process import Child, free_port

DEMO_SEED = 1
SHOWN_SUBJECTS = 5


class _NoSpare:
    """Stands in for a stand-by so the supervisor does not try to make one for the simulator."""

    pid = None
    proc = None

    def alive(self) -> bool:
        return True


def _simulator_proc(sup: Any, points: int) -> Any:
    from egsu.cli.up import Proc

    gateway = next(p for p in sup.procs if p.name == "gateway")
    registry = next((p for p in sup.procs if p.name == "registry"), None)

    class Simulator(Proc):
        """A supervised client process: restarted if it dies, but without a warm stand-by (it is
        not a service; its state is in var/simulator and it resumes from there)."""

        def start_standby(self) -> None:
            self.standby = _NoSpare()  # type: ignore[assignment]

        def promote(self) -> bool:
            return False

        def start(self) -> None:
            argv = [
                sys.executable, "-m", "egsu.simulator.cli", "demo",
                "--url", gateway.url, "--var", str(sup.var), "--points", str(points),
                "--seed", str(DEMO_SEED), "--status-port", str(self.port),
            ]  # fmt: skip
            if registry is not None:
                # the bulk registry load goes to the registry service itself (same API, same
                # token and role checks), not through the gateway's per-user rate limit
                argv += ["--registry-url", registry.url]
            self.child = Child(self.name, argv, log=self.log, env=self.env)
            self.child.start()
            self.started_at = time.monotonic()
            self.state = "starting"

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = Simulator(
        "simulator", "egsu.simulator.cli", free_port(), env, sup.var / "logs" / "simulator.log"
    )
    proc.standby = _NoSpare()  # type: ignore[assignment]  # the supervisor makes spares for procs without one
    return proc


def start_demo(supervisor: Any, points: int) -> list[tuple[str, str]]:
    """Start the demo and return the (username, role) pairs the banner prints."""
    try:
        from egsu.simulator.model import build
        from egsu.simulator.seed import add_realm_users
    except ImportError:
        return []
    from egsu.realm.model import RealmDefinition

    today = datetime.now(UTC).date()
    system = build(points, DEMO_SEED, today)
    add_realm_users(system, supervisor.var)
    supervisor.procs.append(_simulator_proc(supervisor, points))
    users = [(u.username, ", ".join(u.roles)) for u in RealmDefinition.load().users.values()]
    kinds = system.subjects["kind"]
    shown: list[int] = []
    for kind in ("generation", "heat_supply", "distribution", "large_consumer", "transmission"):
        if kind in kinds and len(shown) < SHOWN_SUBJECTS:
            shown.append(kinds.index(kind))
    for j in shown:
        users.append((f"subject-{system.bins[j]}", f"subject: {system.subjects['name_ru'][j]}"))
    rest = len(system.bins) - len(shown)
    if rest > 0:
        users.append((f"… {rest} more subject-<BIN>", "listed in var/realm/users.yaml"))
    return users
