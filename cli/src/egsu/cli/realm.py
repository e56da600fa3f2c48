"""``egsu realm``: export the realm for Keycloak, add development users."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from egsu.realm.clients import ClientDirectory
from egsu.realm.export import keycloak_realm
from egsu.realm.model import RealmDefinition, UserDirectory, add_users

app = typer.Typer(
    help="The realm `egsu`: export for Keycloak, development users.", no_args_is_help=True
)


def users_file(var: Path) -> Path:
    return var / "realm" / "users.yaml"


def listed_users(var: Path) -> list[tuple[str, str]]:
    """(username, role) of every user the development realm knows."""
    d = UserDirectory(RealmDefinition.load(), users_file(var))
    return [
        (u.username, ", ".join(u.roles) + (f" (BIN {u.bin})" if u.bin else "")) for u in d.all()
    ]


@app.command("export")
def export(
    out: Path = typer.Option(
        None, "--out", "-o", help="Write to this file instead of standard output."
    ),
    with_dev_users: bool = typer.Option(
        False, help="Include the development users (never in production)."
    ),
    with_clients: bool = typer.Option(
        True,
        help="Include the integration clients created in the development realm (var/realm/clients.json).",
    ),
    var: Path = typer.Option(
        Path("var"), help="Data folder holding added development users and clients."
    ),
) -> None:
    """Print the realm as a Keycloak realm-import JSON (secrets as ${EGSU_CLIENT_SECRET_*} placeholders)."""
    definition = RealmDefinition.load()
    users = UserDirectory(definition, users_file(var)).all() if with_dev_users else None
    clients = (
        ClientDirectory(definition, var / "realm" / "clients.json").managed()
        if with_clients
        else None
    )
    text = json.dumps(
        keycloak_realm(definition, users=users, clients=clients), ensure_ascii=False, indent=2
    )
    if out:
        out.write_text(text + "\n", encoding="utf-8")
        typer.echo(f"wrote {out}")
    else:
        typer.echo(text)


@app.command("add-user")
def add_user(
    username: str,
    role: list[str] = typer.Option(..., "--role", "-r", help="Realm role; repeat for several."),
    bin: str = typer.Option(None, "--bin", help="The subject's BIN/IIN (for role subject)."),
    password: str = typer.Option("demo", help="Password (development realm only)."),
    var: Path = typer.Option(Path("var"), help="Data folder of the running System."),
) -> None:
    """Add a user to the development realm (takes effect at once)."""
    if "subject" in role and not bin:
        raise typer.BadParameter("a subject user needs --bin", param_hint="--bin")
    user = {"username": username, "password": password, "roles": role}
    if bin:
        user["bin"] = bin
    add_users(users_file(var), [user])
    typer.echo(f"added {username} ({', '.join(role)})")


@app.command("users")
def users(var: Path = typer.Option(Path("var"), help="Data folder of the running System.")) -> None:
    """List the development realm's users."""
    for name, role in listed_users(var):
        typer.echo(f"{name:<28} {role}")
