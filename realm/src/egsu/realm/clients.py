"""The realm's clients: those of the realm file plus those created through the admin API.

Created clients are kept in ``var/realm/clients.json`` (like the added users), so they outlive a
restart. Generated secrets are stored as a hash only; Keycloak's representation is the format
on the admin API and in the file's ``representation`` of each client.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from egsu.realm.model import Client, RealmDefinition, secret_hash

AUTHENTICATORS = ("client-secret", "client-jwt")


class ClientError(Exception):
    """A refused admin operation, answered as Keycloak answers it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def representation(c: Client) -> dict[str, Any]:
    """A client as Keycloak's ``ClientRepresentation`` (never with a secret)."""
    return {
        "id": c.uuid,
        "clientId": c.client_id,
        "name": c.name or "",
        "description": c.description,
        "enabled": c.enabled,
        "protocol": "openid-connect",
        "publicClient": c.public,
        "bearerOnly": False,
        "standardFlowEnabled": c.standard_flow,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": c.direct_access_grants,
        "serviceAccountsEnabled": c.service_account,
        "clientAuthenticatorType": c.authenticator,
        "redirectUris": list(c.redirect_uris),
        "attributes": dict(c.attributes),
        "protocolMappers": [dict(m) for m in c.protocol_mappers],
        "fullScopeAllowed": True,
    }


def _mapper(raw: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(raw, dict) or not raw.get("name") or not raw.get("protocolMapper"):
        raise ClientError(400, "a protocol mapper needs name and protocolMapper")
    return {
        "id": str(raw.get("id") or uuid.uuid4()),
        "name": str(raw["name"]),
        "protocol": str(raw.get("protocol") or "openid-connect"),
        "protocolMapper": str(raw["protocolMapper"]),
        "consentRequired": bool(raw.get("consentRequired", False)),
        "config": {str(k): str(v) for k, v in (raw.get("config") or {}).items()},
    }


def _apply(c: Client, rep: dict[str, Any]) -> Client:
    """Keycloak's update: fields present in ``rep`` change, attributes merge (null removes)."""
    changes: dict[str, Any] = {}
    simple = {
        "name": "name",
        "description": "description",
        "enabled": "enabled",
        "publicClient": "public",
        "standardFlowEnabled": "standard_flow",
        "directAccessGrantsEnabled": "direct_access_grants",
        "serviceAccountsEnabled": "service_accounts_enabled",
    }
    for key, attr in simple.items():
        if rep.get(key) is not None:
            changes[attr] = rep[key] if isinstance(rep[key], bool) else str(rep[key])
    if rep.get("clientAuthenticatorType") is not None:
        if rep["clientAuthenticatorType"] not in AUTHENTICATORS:
            raise ClientError(
                400, f"clientAuthenticatorType: one of {', '.join(AUTHENTICATORS)} is supported"
            )
        changes["authenticator"] = rep["clientAuthenticatorType"]
    if rep.get("secret") is not None:
        changes["secret_hash"] = secret_hash(str(rep["secret"]))
    if rep.get("redirectUris") is not None:
        changes["redirect_uris"] = tuple(str(u) for u in rep["redirectUris"])
    if rep.get("attributes") is not None:
        attrs = dict(c.attributes)
        for k, v in rep["attributes"].items():
            if v is None:
                attrs.pop(str(k), None)
            else:
                attrs[str(k)] = str(v)
        changes["attributes"] = attrs
    if rep.get("protocolMappers") is not None:
        changes["protocol_mappers"] = tuple(_mapper(m) for m in rep["protocolMappers"])
    return replace(c, **changes)


def _to_file(c: Client) -> dict[str, Any]:
    return {
        "representation": representation(c),
        "secretHash": c.secret_hash,
        "serviceAccountRealmRoles": list(c.service_account_roles),
        "createdTimestamp": c.created_at,
    }


def _from_file(raw: dict[str, Any]) -> Client:
    rep = raw["representation"]
    base = Client(
        client_id=rep["clientId"],
        id=rep["id"],
        managed=True,
        secret_hash=raw.get("secretHash"),
        service_account_roles=tuple(raw.get("serviceAccountRealmRoles", ())),
        created_at=int(raw.get("createdTimestamp", 0)),
    )
    return _apply(base, rep)


class ClientDirectory:
    """Every client of the realm; the created ones persisted, writes serialised by a lock."""

    def __init__(self, definition: RealmDefinition, file: Path | None) -> None:
        self.definition = definition
        self.file = file
        self._managed: dict[str, Client] = {}  # by clientId
        self._lock = threading.Lock()
        if file is not None and file.exists():
            raw = json.loads(file.read_text(encoding="utf-8") or "{}")
            for item in raw.get("clients", []):
                c = _from_file(item)
                self._managed[c.client_id] = c

    def _save(self) -> None:
        if self.file is None:
            return
        self.file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_suffix(".tmp")
        tmp.write_text(
            json.dumps(
                {"clients": [_to_file(c) for c in self._managed.values()]},
                ensure_ascii=False,
                indent=1,
            ),
            encoding="utf-8",
        )
        tmp.replace(self.file)

    def get(self, client_id: str | None) -> Client | None:
        if not client_id:
            return None
        return self.definition.clients.get(client_id) or self._managed.get(client_id)

    def all(self) -> list[Client]:
        return [*self.definition.clients.values(), *self._managed.values()]

    def managed(self) -> list[Client]:
        return list(self._managed.values())

    def by_uuid(self, id_: str) -> Client:
        for c in self.all():
            if c.uuid == id_:
                return c
        raise ClientError(404, "Could not find client")

    def by_service_account(self, user_id_: str) -> Client | None:
        from egsu.realm.model import user_id

        for c in self.all():
            if c.service_account and user_id(c.service_account_username) == user_id_:
                return c
        return None

    def _managed_by_uuid(self, id_: str) -> Client:
        c = self.by_uuid(id_)
        if not c.managed:
            raise ClientError(
                403, f"client {c.client_id} is defined in the realm file; change it there"
            )
        return c

    def create(self, rep: dict[str, Any]) -> Client:
        client_id = str(rep.get("clientId") or "").strip()
        if not client_id:
            raise ClientError(400, "clientId is required")
        with self._lock:
            if self.get(client_id) is not None:
                raise ClientError(409, f"Client {client_id} already exists")
            c = _apply(
                Client(
                    client_id=client_id,
                    id=str(rep.get("id") or uuid.uuid4()),
                    managed=True,
                    created_at=int(time.time() * 1000),
                ),
                rep,
            )
            self._managed[client_id] = c
            self._save()
            return c

    def update(self, id_: str, rep: dict[str, Any]) -> Client:
        with self._lock:
            c = self._managed_by_uuid(id_)
            if rep.get("clientId") not in (None, c.client_id):
                raise ClientError(400, "clientId cannot be changed")
            new = _apply(c, rep)
            self._managed[c.client_id] = new
            self._save()
            return new

    def delete(self, id_: str) -> Client:
        with self._lock:
            c = self._managed_by_uuid(id_)
            del self._managed[c.client_id]
            self._save()
            return c

    def set_secret(self, id_: str, secret: str) -> Client:
        return self.update(id_, {"secret": secret})

    def add_mapper(self, id_: str, raw: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            c = self._managed_by_uuid(id_)
            m = _mapper(raw)
            if any(x["name"] == m["name"] for x in c.protocol_mappers):
                raise ClientError(409, f"Protocol mapper exists with same name: {m['name']}")
            self._managed[c.client_id] = replace(c, protocol_mappers=(*c.protocol_mappers, m))
            self._save()
            return m

    def delete_mapper(self, id_: str, mapper_id: str) -> None:
        with self._lock:
            c = self._managed_by_uuid(id_)
            kept = tuple(m for m in c.protocol_mappers if m["id"] != mapper_id)
            if len(kept) == len(c.protocol_mappers):
                raise ClientError(404, "Model not found")
            self._managed[c.client_id] = replace(c, protocol_mappers=kept)
            self._save()

    def set_roles(self, client: Client, roles: tuple[str, ...]) -> None:
        with self._lock:
            c = self._managed_by_uuid(client.uuid)
            self._managed[c.client_id] = replace(c, service_account_roles=roles)
            self._save()
