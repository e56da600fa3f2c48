"""The ``egsu`` command line."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import typer
from rich.console import Console

from egsu.cli import realm

app = typer.Typer(
    name="egsu",
    help="EGSU TEK — the unified state system for managing Kazakhstan's fuel-and-energy complex.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
app.add_typer(realm.app, name="realm")


@app.command()
def revision(
    service: str = typer.Argument(..., help="The service whose models changed, e.g. registry."),
    message: str = typer.Option(..., "-m", "--message", help="What the migration does."),
    database_url: str = typer.Option(None, envvar="EGSU_DATABASE_URL", help="PostgreSQL URL."),
) -> None:
    """Write a new migration for a service by comparing its models with the database (development)."""
    import asyncio

    from egsu.cli.components import migrations
    from egsu.db.migrations import revision as make_revision

    found = {m.service: m for m in migrations()}
    if service not in found:
        raise typer.BadParameter(f"no migrations for {service!r}; known: {', '.join(found)}")
    if not database_url:
        raise typer.BadParameter(
            "set EGSU_DATABASE_URL (egsu infra prints it)", param_hint="--database-url"
        )
    m = found[service]
    asyncio.run(make_revision(database_url, m.location, m.schema, message))


def _plugins() -> None:
    """Sub-commands contributed by installed parts (``egsu.cli`` entry points: name = "module:typer_app")."""
    from importlib.metadata import entry_points

    for ep in sorted(entry_points(group="egsu.cli"), key=lambda e: e.name):
        app.add_typer(ep.load(), name=ep.name)


_plugins()
console = Console()

VAR = typer.Option(Path("var"), "--var", help="Data folder (PostgreSQL, NATS, object store, logs).")


@app.command()
def up(
    var: Path = VAR,
    port: int = typer.Option(8000, help="Port of the gateway (console and API)."),
    demo: bool = typer.Option(False, help="Seed demo data and run the live simulator."),
    demo_points: int = typer.Option(2000, help="Metering points of the demo energy system."),
    fast: bool = typer.Option(
        False, help="Trade durability for speed (tests): no fsync in PostgreSQL."
    ),
    state_file: Path = typer.Option(
        None, help="Where to write the processes' state (default var/run/state.json)."
    ),
) -> None:
    """Start the whole System: embedded servers, migrations, every service, the gateway."""
    from egsu.cli.up import run_up

    raise typer.Exit(
        run_up(var, port, demo=demo, fast=fast, state_file=state_file, demo_points=demo_points)
    )


@app.command()
def infra(var: Path = VAR) -> None:
    """Start only the embedded servers and print their URLs (Ctrl-C stops them)."""
    from egsu.infra import Infra

    servers = Infra(var / "infra")
    with console.status("Starting PostgreSQL, NATS and SeaweedFS…"):
        urls = servers.start()
    for k, v in urls.env().items():
        console.print(f"export {k}={v}")
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    console.print("[green]running[/] — Ctrl-C stops them")
    stop.wait()
    servers.stop()


@app.command()
def migrate(
    database_url: str = typer.Option(None, envvar="EGSU_DATABASE_URL", help="PostgreSQL URL."),
) -> None:
    """Apply every service's database migrations (each on its own schema)."""
    if not database_url:
        raise typer.BadParameter(
            "set EGSU_DATABASE_URL or pass --database-url", param_hint="--database-url"
        )
    from egsu.cli.components import migrate_all

    with console.status("Applying migrations…"):
        schemas = migrate_all(database_url)
    console.print(f"[green]✓[/] migrated: {', '.join(schemas) or 'nothing to migrate'}")


if __name__ == "__main__":
    app()
