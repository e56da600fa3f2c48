"""What is hashed: the fast decoder agrees with the event model, and the model's quirks are kept."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from egsu.audit.app import keys_of
from egsu.audit.chain import decode, fields_of
from egsu.audit.config import AuditSettings
from egsu.contracts.audit import AUDIT_KINDS, Actor, AuditEvent, AuditObject

text = st.text(max_size=30)
maybe = st.none() | text
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=8,
)
events = st.builds(
    AuditEvent,
    id=text.filter(bool),
    time=st.datetimes(timezones=st.sampled_from([UTC, datetime.now().astimezone().tzinfo])),
    kind=st.sampled_from(AUDIT_KINDS),
    service=text,
    action=text,
    outcome=st.sampled_from(["success", "failure", "denied"]),
    actor=st.builds(
        Actor,
        user_id=maybe,
        username=maybe,
        role=maybe,
        roles=st.lists(text, max_size=3),
        subject_bin=maybe,
        client_id=maybe,
    ),
    object=st.builds(AuditObject, type=maybe, id=maybe),
    before=st.none() | st.dictionaries(text, json_values, max_size=3),
    after=st.none() | st.dictionaries(text, json_values, max_size=3),
    request_id=maybe,
    source_ip=maybe,
    details=st.dictionaries(text, json_values, max_size=4),
)


@given(events)
def test_the_fast_decoder_stores_exactly_what_the_event_model_does(ev: AuditEvent) -> None:
    data = ev.model_dump_json().encode()
    assert decode(data) == fields_of(AuditEvent.model_validate_json(data))


def test_unusual_events_are_validated_by_the_model() -> None:
    naive = b'{"time": "2025-01-01T10:00:00", "kind": "auth", "service": "x", "action": "login"}'
    f = decode(naive)
    assert f[1] == datetime(2025, 1, 1, 10, tzinfo=UTC) and f[2] == "auth" and f[5] == "success"
    # A lone surrogate is not valid text: the model refuses it (the journal records a rejection).
    with pytest.raises(ValidationError):
        decode(b'{"id":"a\\ud800b","time":"2025-01-01T10:00:00Z","kind":"auth","service":"x"}')
    with pytest.raises(ValidationError):
        decode(b'{"time": "2025-01-01T10:00:00Z", "kind": "gossip", "service": "x", "action": "y"}')


def test_production_needs_a_configured_signing_key(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="EGSU_AUDIT_SIGNING_KEY"):
        keys_of(AuditSettings(environment="prod", var_dir=tmp_path))
    with pytest.raises(RuntimeError, match="not a readable file"):
        keys_of(AuditSettings(environment="prod", audit_signing_key_file=tmp_path / "missing.pem"))
    key, ring = keys_of(AuditSettings(environment="dev", var_dir=tmp_path))  # generated in dev
    assert (tmp_path / "audit" / "signing-key.pem").stat().st_mode & 0o077 == 0
    again, _ = keys_of(
        AuditSettings(
            environment="prod", audit_signing_key_file=tmp_path / "audit" / "signing-key.pem"
        )
    )
    assert again.key_id == key.key_id and ring.check(again.sign({"a": 1})) is None
    pem = (tmp_path / "audit" / "signing-key.pem").read_text()
    from_env, _ = keys_of(AuditSettings(environment="prod", audit_signing_key=pem))  # a Secret
    assert from_env.key_id == key.key_id
