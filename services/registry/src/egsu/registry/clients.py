"""Integration clients: machine access for a subject's systems and a state body's information system.

The client lives in the realm (Keycloak), managed through its admin API (``identity``); the
registry keeps whose it is, on what basis, who made it and its life cycle. A secret is shown
once and kept only as a hash; a certificate is checked by the validation service (trusted,
unrevoked, RSA, the subject's BIN) before the realm is told to accept it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
from datetime import date, datetime
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from egsu.auth import Principal
from egsu.bus.audit import AuditLog
from egsu.contracts.registry import ClientRevoked
from egsu.contracts.signatures import check_client_certificate
from egsu.contracts.streams import CLIENT_REVOKED
from egsu.core.errors import Conflict, FieldError, NotFound, ServiceUnavailable, Unprocessable
from egsu.core.time import utcnow
from egsu.registry import models as m
from egsu.registry import repository as repo
from egsu.registry import schemas as s
from egsu.registry.entities import INTEGRATION_CLIENT, SUBJECT
from egsu.registry.identity import IdentityProvider
from egsu.runtime.outbox import enqueue

ROLE_OF_KIND = {"subject": "subject", "government": "government"}
HIDDEN = frozenset({"secret_sha256", "search", "idp_id"})


def secret_sha256(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def certificate_b64(text: str) -> str:
    """Base64 of the certificate's DER from PEM or base64 text (Keycloak's attribute format)."""
    body = text.strip()
    if body.startswith("-----BEGIN"):
        body = "".join(line for line in body.splitlines() if not line.startswith("-----"))
    body = "".join(body.split())
    try:
        base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise Unprocessable(
            "certificate: neither PEM nor base64 of a DER certificate",
            errors=[FieldError("certificate", "malformed", "not PEM or base64")],
        ) from None
    return body


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v.isoformat() if isinstance(v, (datetime, date)) else v
        for k, v in row.items()
        if k not in HIDDEN
    }


class IntegrationClients:
    """Operations on integration clients for one request."""

    def __init__(
        self,
        session: AsyncSession,
        principal: Principal,
        audit: AuditLog,
        identity: IdentityProvider,
        validation: httpx.AsyncClient | None,
    ) -> None:
        self.session = session
        self.principal = principal
        self.audit = audit
        self.identity = identity
        self.validation = validation

    @property
    def scope(self) -> str | None:
        return self.principal.scope_bin

    async def get(self, client_id: str, *, for_update: bool = False) -> dict[str, Any]:
        row = await repo.get(
            self.session,
            INTEGRATION_CLIENT,
            client_id,
            scope_bin=self.scope,
            for_update=for_update,
        )
        if row is None:
            raise NotFound(f"no integration client {client_id}", code="client_not_found")
        return row

    async def _journal(
        self, action: str, before: dict[str, Any] | None, after: dict[str, Any]
    ) -> None:
        ev = self.audit.event(
            "change",
            f"registry.integration_client.{action}",
            principal=self.principal,
            object_type="integration_client",
            object_id=after["client_id"],
            before=_jsonable(before) if before else None,
            after=_jsonable(after),
        )
        await enqueue(self.session, m.outbox, AuditLog.subject(ev), ev, f"audit-{ev.id}")

    async def _checked_certificate(self, text: str, bin_: str) -> tuple[str, dict[str, Any]]:
        """The certificate as base64 DER and its summary, once the validation service agrees."""
        b64 = certificate_b64(text)
        if self.validation is None:
            raise ServiceUnavailable(
                "certificates cannot be checked: the validation service is not configured",
                code="validation_unavailable",
            )
        try:
            result = await check_client_certificate(self.validation, b64, bin_)
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code == 422:
                raise Unprocessable(
                    "certificate: not a readable X.509 certificate",
                    errors=[FieldError("certificate", "malformed", "not a certificate")],
                ) from None
            raise ServiceUnavailable(
                "the validation service cannot check the certificate now; try again",
                code="validation_unavailable",
            ) from exc
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(
                "the validation service cannot check the certificate now; try again",
                code="validation_unavailable",
            ) from exc
        if not result.usable:
            failed = result.failed_checks
            raise Unprocessable(
                "certificate: " + "; ".join(f"{c.code}: {c.detail}" for c in failed),
                code="certificate_not_usable",
                errors=[
                    FieldError("certificate", c.code, c.message.get("en", c.detail)) for c in failed
                ],
                failed_checks=[c.model_dump(mode="json") for c in failed],
            )
        info = result.certificate
        summary = {
            "serial": info.serial,
            "subject": info.subject,
            "issuer": info.issuer,
            "bin": info.bin,
            "not_after": info.not_after.isoformat(),
            "sha256": info.sha256,
        }
        return b64, summary

    async def create(self, body: s.IntegrationClientCreate) -> tuple[dict[str, Any], str | None]:
        """Register the client in the realm and here; its secret (shown once) if it has one."""
        if body.kind == "subject":
            assert body.subject_bin is not None
            subj = await repo.get(self.session, SUBJECT, body.subject_bin, scope_bin=None)
            if subj is None:
                raise Unprocessable(
                    f"subject_bin: no subject with BIN {body.subject_bin} in the registry",
                    errors=[FieldError("subject_bin", "unknown_subject", "not in the registry")],
                )
            client_id = f"ic-{body.subject_bin}-{secrets.token_hex(3)}"
            claims = {"bin": body.subject_bin}
        else:
            client_id = f"ic-gov-{secrets.token_hex(4)}"
            claims = {}
        cert_b64, cert_summary, secret = None, None, None
        if body.auth_method == "private_key_jwt":
            assert body.certificate is not None and body.subject_bin is not None
            cert_b64, cert_summary = await self._checked_certificate(
                body.certificate, body.subject_bin
            )
        else:
            secret = secrets.token_urlsafe(32)
        owner = body.subject_bin or body.state_body or ""
        idp_id = await self.identity.create_client(
            client_id=client_id,
            name=body.name,
            description=f"EGSU TEK integration client of {owner}",
            role=ROLE_OF_KIND[body.kind],
            claims=claims,
            secret=secret,
            certificate_b64=cert_b64,
        )
        values = {
            "client_id": client_id,
            "idp_id": idp_id,
            "kind": body.kind,
            "subject_bin": body.subject_bin,
            "state_body": body.state_body,
            "legal_basis": body.legal_basis,
            "name": body.name,
            "auth_method": body.auth_method,
            "secret_sha256": secret_sha256(secret) if secret else None,
            "certificate": cert_summary,
            "created_by": self.principal.username,
        }
        try:
            row = await repo.insert_row(self.session, INTEGRATION_CLIENT, values)
            await self._journal("created", None, row)
        except Exception:
            await self.identity.delete(idp_id)  # the realm keeps no client the registry lacks
            raise
        return row, secret

    async def rotate(self, client_id: str) -> tuple[dict[str, Any], str]:
        """A new secret (the old one stops working at once)."""
        before = await self.get(client_id, for_update=True)
        self._active(before)
        if before["auth_method"] != "client_secret":
            raise Conflict(
                "this client authenticates with its certificate; register a new certificate instead",
                code="client_uses_certificate",
            )
        secret = await self.identity.new_secret(before["idp_id"])
        after = await repo.update_row(
            self.session,
            INTEGRATION_CLIENT,
            client_id,
            {
                "secret_sha256": secret_sha256(secret),
                "rotated_at": utcnow(),
                "rotated_by": self.principal.username,
            },
        )
        await self._journal("rotated", before, after)
        return after, secret

    async def set_certificate(self, client_id: str, certificate: str) -> dict[str, Any]:
        """Authenticate the client by its certificate from now on (a secret stops working)."""
        before = await self.get(client_id, for_update=True)
        self._active(before)
        if before["kind"] != "subject":
            raise Conflict(
                "only a subject's client authenticates with a certificate of its BIN",
                code="certificate_not_for_kind",
            )
        b64, summary = await self._checked_certificate(certificate, before["subject_bin"])
        await self.identity.set_certificate(before["idp_id"], b64)
        after = await repo.update_row(
            self.session,
            INTEGRATION_CLIENT,
            client_id,
            {
                "auth_method": "private_key_jwt",
                "secret_sha256": None,
                "certificate": summary,
                "rotated_at": utcnow(),
                "rotated_by": self.principal.username,
            },
        )
        await self._journal("certificate_registered", before, after)
        return after

    async def revoke(self, client_id: str, reason: str) -> dict[str, Any]:
        """Disable the client in the realm and tell every process to refuse its tokens."""
        before = await self.get(client_id, for_update=True)
        if before["status"] == "revoked":
            return before
        await self.identity.disable(before["idp_id"])
        now = utcnow()
        after = await repo.update_row(
            self.session,
            INTEGRATION_CLIENT,
            client_id,
            {
                "status": "revoked",
                "revoked_at": now,
                "revoked_by": self.principal.username,
                "revoke_reason": reason,
            },
        )
        event = ClientRevoked(
            client_id=client_id, revoked_at=now.timestamp(), subject_bin=after["subject_bin"]
        )
        await enqueue(self.session, m.outbox, CLIENT_REVOKED, event, f"client-revoked-{client_id}")
        await self._journal("revoked", before, after)
        return after

    @staticmethod
    def _active(row: dict[str, Any]) -> None:
        if row["status"] != "active":
            raise Conflict(
                f"client {row['client_id']} is revoked; create a new one", code="client_revoked"
            )
