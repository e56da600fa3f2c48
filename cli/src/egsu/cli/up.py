"""``egsu up``: the whole System on one machine, each service its own process, supervised.

Infrastructure first (embedded unless its URL is set), then migrations, the development realm,
the services, the console and the gateway on the given port. A process that dies is restarted at
once (with a growing pause if it keeps dying). Ctrl-C stops everything in reverse order.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.live import Live
from rich.table import Table

from egsu.cli.components import components, migrate_all
from egsu.infra import Infra, InfraUrls
from egsu.infra.process import Child, free_port

DEMO_PASSWORD = "demo"  # noqa: S105 - development realm only
DEV_SECRET = "egsu-{name}-dev-secret"  # noqa: S105 - matches the development realm's clients


@dataclass
class Proc:
    name: str
    target: str
    port: int
    env: dict[str, str]
    log: Path
    child: Child | None = None
    restarts: int = 0
    started_at: float = 0.0
    state: str = "stopped"
    last_exit: int | None = None
    next_start: float = 0.0
    backoff: float = 0.5
    standby: Child | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        argv = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            self.target,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "20",
            "--log-level",
            "warning",
        ]
        self.child = Child(self.name, argv, log=self.log, env=self.env)
        self.child.start()
        self.started_at = time.monotonic()
        self.state = "starting"

    def alive(self) -> bool:
        return self.child is not None and self.child.alive()

    def start_standby(self) -> None:
        """Import the service in a spare process that waits to take over."""
        if self.standby is not None and self.standby.alive():
            return
        argv = [sys.executable, "-m", "egsu.cli.standby", self.target, str(self.port)]
        self.standby = Child(
            f"{self.name}-standby", argv, log=self.log, env=self.env, stdin_pipe=True
        )
        self.standby.start()

    def promote(self) -> bool:
        """Let the stand-by serve in place of the dead process; False if there is none."""
        sb = self.standby
        self.standby = None
        if sb is None or not sb.alive() or sb.proc is None or sb.proc.stdin is None:
            return False
        try:
            sb.proc.stdin.write(b"go\n")
            sb.proc.stdin.flush()
        except OSError:
            return False
        self.child = sb
        self.started_at = time.monotonic()
        self.state = "starting"
        return True

    def stop_standby(self) -> None:
        if self.standby is not None and self.standby.proc is not None:
            if self.standby.proc.stdin is not None:
                try:
                    self.standby.proc.stdin.close()
                except OSError:
                    pass
            self.standby.stop(timeout=5)
        self.standby = None


@dataclass
class Supervisor:
    var: Path
    port: int
    console: Console
    state_file: Path
    fast: bool = False
    standby: bool = True
    last_spare: float = 0.0
    procs: list[Proc] = field(default_factory=list)
    infra: Infra | None = None
    urls: InfraUrls | None = None
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    ready_announced: bool = False

    def plan(self, urls: InfraUrls) -> None:
        """Decide ports and environment of every process."""
        env_base = {
            **os.environ,
            **urls.env(),
            "EGSU_VAR_DIR": str(self.var),
            "EGSU_LOG_JSON": os.environ.get("EGSU_LOG_JSON", "true"),
            "PYTHONUNBUFFERED": "1",
        }
        gateway_port = self.port
        comps = components()
        ports = {c.name: (gateway_port if c.name == "gateway" else free_port()) for c in comps}
        embedded_realm = not os.environ.get("EGSU_OIDC_ISSUER")
        if embedded_realm:
            realm_port = free_port()
            issuer = f"http://localhost:{gateway_port}/realms/egsu"
            env_base["EGSU_OIDC_ISSUER"] = issuer
            env_base["EGSU_OIDC_INTERNAL_URL"] = f"http://127.0.0.1:{realm_port}/realms/egsu"
            self.procs.append(
                Proc(
                    "realm",
                    "egsu.realm.app:create_app",
                    realm_port,
                    {**env_base, "EGSU_SERVICE_NAME": "realm", "EGSU_REALM_ISSUER": issuer},
                    self.var / "logs" / "realm.log",
                )
            )
        services = {
            c.name: f"http://127.0.0.1:{ports[c.name]}"
            for c in comps
            if c.name not in ("gateway", "web")
        }
        env_base["EGSU_SERVICES"] = json.dumps(services)
        for c in comps:
            env = {**env_base, "EGSU_SERVICE_NAME": c.name, "EGSU_CLIENT_ID": f"egsu-{c.name}"}
            secret = os.environ.get(f"EGSU_CLIENT_SECRET_{c.name.upper()}")
            env["EGSU_CLIENT_SECRET"] = secret or (
                DEV_SECRET.format(name=c.name) if embedded_realm else ""
            )
            env["EGSU_GATEWAY_URL"] = f"http://127.0.0.1:{gateway_port}"
            if c.name == "gateway":
                if embedded_realm:
                    env["EGSU_REALM_URL"] = f"http://127.0.0.1:{self.procs[0].port}"
                if "web" in ports:
                    env["EGSU_WEB_URL"] = f"http://127.0.0.1:{ports['web']}"
            self.procs.append(
                Proc(c.name, c.target, ports[c.name], env, self.var / "logs" / f"{c.name}.log")
            )

    def write_state(self) -> None:
        gw = next((p for p in self.procs if p.name == "gateway"), None)
        state = {
            "gateway_url": gw.url if gw else None,
            "processes": {
                p.name: {
                    "url": p.url,
                    "pid": p.child.pid if p.child else None,
                    "standby_pid": p.standby.pid if p.standby and p.standby.alive() else None,
                    "state": p.state,
                    "restarts": p.restarts,
                    "log": str(p.log),
                }
                for p in self.procs
            },
            "infra": self.urls.__dict__ if self.urls else None,
            "supervisor_pid": os.getpid(),
        }
        self.state_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_file)

    async def supervise(self) -> None:
        http = httpx.AsyncClient(timeout=2.0)
        last_probe = 0.0
        try:
            while not self.stopping.is_set():
                now = time.monotonic()
                changed = False
                for p in self.procs:
                    if p.state in ("stopped",) or (p.child is not None and not p.alive()):
                        if p.child is not None and p.state != "waiting":
                            p.last_exit = p.child.proc.returncode if p.child.proc else None
                            quick = now - p.started_at < 10
                            p.backoff = min(p.backoff * 2, 10.0) if quick else 0.5
                            p.next_start = now + (p.backoff if quick else 0)
                            p.state = "waiting"
                            p.restarts += 1
                            changed = True
                        if now >= p.next_start:
                            if p.child is None:
                                p.start()
                            elif p.promote():
                                self.note(f"{p.name} exited ({p.last_exit}); its spare took over")
                            else:
                                p.start()
                                self.note(f"{p.name} exited ({p.last_exit}); restarting")
                            changed = True
                if now - last_probe > 1.0:
                    last_probe = now
                    results = await asyncio.gather(*(self._probe(http, p) for p in self.procs))
                    for p, ready in zip(self.procs, results, strict=True):
                        new = "ready" if ready else ("starting" if p.alive() else p.state)
                        if new != p.state:
                            p.state, changed = new, True
                if changed:
                    self.write_state()
                if not self.ready_announced and all(p.state == "ready" for p in self.procs):
                    self.ready_announced = True
                    self.on_ready()
                if (
                    self.standby
                    and self.ready_announced
                    and now - self.last_spare > 3.0
                    and all(p.state == "ready" for p in self.procs)
                ):
                    # one spare every few seconds, only while everything is ready, so spares never slow a start
                    spare = next(
                        (
                            p
                            for p in self.procs
                            if p.name != "realm" and (p.standby is None or not p.standby.alive())
                        ),
                        None,
                    )
                    if spare is not None:
                        spare.start_standby()
                        self.last_spare = now
                        self.write_state()
                try:
                    await asyncio.wait_for(self.stopping.wait(), timeout=0.2)
                except TimeoutError:
                    pass
        finally:
            await http.aclose()

    async def _probe(self, http: httpx.AsyncClient, p: Proc) -> bool:
        if not p.alive():
            return False
        try:
            return (await http.get(f"{p.url}/readyz")).status_code == 200
        except httpx.HTTPError:
            return False

    def on_ready(self) -> None:
        pass

    def note(self, text: str) -> None:
        """A line for the log when the live table is not shown."""
        if not self.console.is_terminal:
            self.console.print(text)

    def stop_all(self) -> None:
        for p in self.procs:
            p.stop_standby()
        for p in reversed(self.procs):
            if p.child is not None and p.alive():
                p.child.proc.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
        deadline = time.monotonic() + 25
        for p in reversed(self.procs):
            if p.child is not None and p.child.proc is not None:
                try:
                    p.child.proc.wait(max(0.1, deadline - time.monotonic()))
                except Exception:
                    p.child.proc.kill()
            p.state = "stopped"
        if self.infra is not None:
            self.infra.stop()

    def table(self) -> Table:
        t = Table(title=f"EGSU TEK — http://localhost:{self.port}/", expand=False)
        for col in ("process", "state", "url", "pid", "restarts"):
            t.add_column(col)
        colours = {"ready": "green", "starting": "yellow", "waiting": "red", "stopped": "dim"}
        for p in self.procs:
            t.add_row(
                p.name,
                f"[{colours.get(p.state, 'white')}]{p.state}[/]",
                p.url,
                str(p.child.pid if p.child else "-"),
                str(p.restarts),
            )
        return t


def banner(console: Console, port: int, users: list[tuple[str, str]]) -> None:
    console.print(
        f"\n[bold green]EGSU TEK is ready[/] — console and API: [bold]http://localhost:{port}/[/]"
    )
    console.print(f"API documentation: http://localhost:{port}/docs")
    console.print(
        f"Realm (OIDC): http://localhost:{port}/realms/egsu/.well-known/openid-configuration"
    )
    if users:
        console.print("Demo users (development realm; password for all: [bold]demo[/]):")
        for name, role in users:
            console.print(f"  {name:<28} {role}")
    console.print("Press Ctrl-C to stop.\n")


def run_up(
    var: Path,
    port: int,
    *,
    demo: bool,
    fast: bool,
    state_file: Path | None,
    demo_points: int,
    standby: bool = True,
) -> int:
    console = Console()
    var = var.resolve()
    var.mkdir(parents=True, exist_ok=True)
    sup = Supervisor(
        var=var,
        port=port,
        console=console,
        state_file=state_file or var / "run" / "state.json",
        fast=fast,
        standby=standby,
    )

    async def main() -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, sup.stopping.set)
        with console.status("Starting the embedded servers (PostgreSQL, NATS, SeaweedFS)…"):
            sup.infra = Infra(var / "infra", fast=fast)
            sup.urls = await asyncio.to_thread(sup.infra.start)
        console.print(f"[green]✓[/] infrastructure: {', '.join(sup.urls.embedded) or 'external'}")
        with console.status("Applying database migrations…"):
            schemas = await asyncio.to_thread(migrate_all, sup.urls.database_url)
        console.print(f"[green]✓[/] migrations: {', '.join(schemas) or 'none'}")
        sup.plan(sup.urls)

        def announce() -> None:
            from egsu.cli.realm import listed_users

            users = listed_users(var)
            if demo:
                from egsu.cli.demo import start_demo

                users = start_demo(sup, demo_points) or users
            banner(console, port, users)

        sup.on_ready = announce  # type: ignore[method-assign]
        if console.is_terminal:
            with Live(sup.table(), console=console, refresh_per_second=2, transient=False) as live:
                task = asyncio.create_task(sup.supervise())
                while not sup.stopping.is_set():
                    live.update(sup.table())
                    await asyncio.sleep(0.5)
                await task
        else:
            await sup.supervise()
        console.print("Stopping…")
        await asyncio.to_thread(sup.stop_all)
        console.print("Stopped.")
        return 0

    try:
        return asyncio.run(main())
    except BaseException:
        sup.stop_all()
        raise


def read_state(var: Path) -> dict[str, Any]:
    return json.loads((var / "run" / "state.json").read_text())  # type: ignore[no-any-return]
