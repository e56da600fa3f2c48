"""The System's installed parts, found through entry points (the CLI never imports a service)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path

# Start order: the realm first, then the services, the console, and the gateway last.
ORDER = (
    "registry",
    "validation",
    "ingest",
    "measurements",
    "monitoring",
    "forecast",
    "reports",
    "audit",
    "web",
)


@dataclass(frozen=True)
class Component:
    name: str
    target: str  # "module:factory" for uvicorn --factory


def components() -> list[Component]:
    """Every installed service (``egsu.services`` entry points), gateway last."""
    found = {ep.name: Component(ep.name, ep.value) for ep in entry_points(group="egsu.services")}
    ordered = [found[n] for n in ORDER if n in found]
    ordered += [c for n, c in sorted(found.items()) if n not in ORDER and n != "gateway"]
    if "gateway" in found:
        ordered.append(found["gateway"])
    return ordered


@dataclass(frozen=True)
class Migrations:
    service: str
    schema: str
    location: Path


def migrations() -> list[Migrations]:
    """Each service's migrations package (``egsu.migrations`` entry points)."""
    out = []
    for ep in sorted(entry_points(group="egsu.migrations"), key=lambda e: e.name):
        module = ep.load()
        out.append(Migrations(ep.name, module.SCHEMA, Path(module.__file__).parent))
    return out


def migrate_all(database_url: str) -> list[str]:
    """Apply every service's migrations; returns the schemas migrated."""
    from egsu.db.migrations import upgrade

    done = []
    for m in migrations():
        asyncio.run(upgrade(database_url, m.location, m.schema))
        done.append(m.schema)
    return done
