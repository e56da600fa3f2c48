"""What the services say about their routes: who may call each one, and one merged OpenAPI.

Each service's OpenAPI document carries ``x-egsu-roles`` or ``x-egsu-public`` on every operation
(declared on the route in the service). The gateway reads them to refuse a request before it is
proxied, and merges the documents into the System's one API description.
"""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any

import httpx

log = logging.getLogger("egsu.gateway.routes")
_PARAM = re.compile(r"\{([^}/]+)\}")


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    roles: frozenset[str] | None  # None: public
    service: str

    @property
    def public(self) -> bool:
        return self.roles is None

    def specificity(self) -> tuple[int, int]:
        return (len(_PARAM.findall(self.template)), -len(_PARAM.sub("", self.template)))


def compile_template(template: str) -> re.Pattern[str]:
    out, pos = "", 0
    for m in _PARAM.finditer(template):
        out += re.escape(template[pos : m.start()]) + "([^/]+)"
        pos = m.end()
    out += re.escape(template[pos:])
    return re.compile(f"^{out}$")


@dataclass
class ServiceSpec:
    name: str
    spec: dict[str, Any] | None = None
    operations: list[Operation] = field(default_factory=list)

    def load(self, spec: dict[str, Any]) -> None:
        ops = []
        for template, item in spec.get("paths", {}).items():
            for method, op in item.items():
                if method.lower() not in (
                    "get",
                    "post",
                    "put",
                    "patch",
                    "delete",
                    "head",
                    "options",
                ):
                    continue
                roles = None if op.get("x-egsu-public") else frozenset(op.get("x-egsu-roles", ()))
                ops.append(
                    Operation(
                        method.upper(), template, compile_template(template), roles, self.name
                    )
                )
        ops.sort(key=Operation.specificity)
        self.spec = spec
        self.operations = ops

    def match(self, method: str, path: str) -> tuple[Operation | None, bool]:
        """The operation for a request, and whether the path exists with another method."""
        path_found = False
        for op in self.operations:
            if op.pattern.match(path):
                if op.method == method or (method == "HEAD" and op.method == "GET"):
                    return op, True
                path_found = True
        return None, path_found


class RouteTable:
    """The services' specs, fetched at start and refreshed periodically."""

    def __init__(self, services: dict[str, str], http: httpx.AsyncClient) -> None:
        self.services = services
        self.http = http
        self.specs: dict[str, ServiceSpec] = {name: ServiceSpec(name) for name in services}

    async def refresh(self) -> None:
        async def one(name: str, url: str) -> None:
            try:
                resp = await self.http.get(f"{url}/openapi.json", timeout=5)
                resp.raise_for_status()
                self.specs[name].load(resp.json())
            except (httpx.HTTPError, ValueError) as exc:
                log.info("no OpenAPI from %s yet: %s", name, exc)

        await asyncio.gather(*(one(n, u) for n, u in self.services.items()))

    def spec_of(self, service: str) -> ServiceSpec | None:
        return self.specs.get(service)

    def merged_openapi(
        self, info: dict[str, Any], issuer: str | None, own: dict[str, Any]
    ) -> dict[str, Any]:
        """One OpenAPI document for the whole System."""
        merged: dict[str, Any] = {
            "openapi": "3.1.0",
            "info": info,
            "paths": dict(own.get("paths", {})),
            "components": {"schemas": dict(own.get("components", {}).get("schemas", {}))},
        }
        schemas = merged["components"]["schemas"]
        for name, svc in sorted(self.specs.items()):
            if not svc.spec:
                continue
            spec = copy.deepcopy(svc.spec)
            renames: dict[str, str] = {}
            for sname, schema in spec.get("components", {}).get("schemas", {}).items():
                if sname in schemas and schemas[sname] != schema:
                    renames[sname] = f"{name}.{sname}"
            if renames:
                text = json.dumps(spec)
                for old, new in renames.items():
                    text = text.replace(
                        f'"#/components/schemas/{old}"', f'"#/components/schemas/{new}"'
                    )
                spec = json.loads(text)
                for old, new in renames.items():
                    spec["components"]["schemas"][new] = spec["components"]["schemas"].pop(old)
            schemas.update(spec.get("components", {}).get("schemas", {}))
            for path, item in spec.get("paths", {}).items():
                for op in item.values():
                    if isinstance(op, dict):
                        op.setdefault("tags", [name])
                merged["paths"][path] = item
        security: dict[str, Any] = {
            "HTTPBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
        }
        if issuer:
            security["realm"] = {
                "type": "openIdConnect",
                "openIdConnectUrl": f"{issuer}/.well-known/openid-configuration",
            }
        merged["components"]["securitySchemes"] = security
        return merged
