"""The audit service's app factory."""

from __future__ import annotations

from fastapi import FastAPI

from egsu.audit.api import router
from egsu.audit.config import AuditSettings
from egsu.audit.service import JournalWriter
from egsu.audit.signing import Keyring, SigningKey, load_public_key
from egsu.core.service import create_service_app
from egsu.core.settings import get_settings
from egsu.runtime import Runtime, service_lifespan


def keys_of(settings: AuditSettings) -> tuple[SigningKey, Keyring]:
    """The signing key, and the public keys trusted when verifying (it and earlier ones)."""
    if settings.audit_signing_key is not None and settings.audit_signing_key_file is None:
        key = SigningKey.from_pem(settings.audit_signing_key.get_secret_value().encode())
    else:
        path = settings.signing_key_path()
        if settings.audit_signing_key_file is None:
            key = SigningKey.load_or_create(path)  # development and tests
        elif not path.is_file():
            raise RuntimeError(
                f"EGSU_AUDIT_SIGNING_KEY_FILE names {path}, which is not a readable file"
            )
        else:
            key = SigningKey.load(path)
    keyring = Keyring.of(
        key.public, *(load_public_key(p.read_bytes()) for p in settings.audit_trusted_public_keys)
    )
    return key, keyring


def create_app() -> FastAPI:
    """The audit service's ASGI app."""
    settings = get_settings(AuditSettings)

    async def on_start(app: FastAPI, rt: Runtime) -> None:
        key, keyring = keys_of(settings)
        app.state.signing_key, app.state.keyring = key, keyring
        assert rt.bus is not None and rt.store is not None
        writer = JournalWriter(settings, rt.bus, rt.store, key, keyring, rt.audit)
        app.state.writer = writer
        if settings.audit_writer:
            writer.start()

    async def on_stop(app: FastAPI, rt: Runtime) -> None:
        writer: JournalWriter | None = getattr(app.state, "writer", None)
        if writer is not None:
            await writer.stop()

    return create_service_app(
        settings=settings,
        title="EGSU TEK audit journal",
        description=(
            "The tamper-evident journal of access, authentication, changes, control actions, "
            "security events and abnormal situations: hash-chained entries, signed Merkle "
            "checkpoints, verification, inclusion proofs and at least 12 months online."
        ),
        routers=[router],
        lifespan=service_lifespan(
            settings, schema="audit", bus=True, store=True, on_start=on_start, on_stop=on_stop
        ),
    )
