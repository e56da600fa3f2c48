"""Integration clients: a subject's system and a state body's system connect on their own.

Tokens by the client-credentials grant (secret, basic and post) and by a private_key_jwt
assertion signed with the subject's NCA RK certificate; the same scope rules as the subject's
people; revocation refused at once; every token, refusal and query in the audit journal.
"""

from __future__ import annotations

import base64
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest

from egsu.testing.stack import Stack
from egsu.testing.world import World, grid, kz
from egsu.validation.testca import TestPki

pytestmark = pytest.mark.stack
CLIENTS = "/api/v1/registry/clients"
ING = "/api/v1/ingest"
M = "/api/v1/measurements"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def create(stack: Stack, **body: Any) -> dict[str, Any]:
    with stack.sync_client("ministry") as c:
        r = c.post(CLIENTS, json={"name": "АСКУЭ «Пирамида», ТЭЦ-3", **body})
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]


def secret_token(
    stack: Stack, client_id: str, secret: str, *, basic: bool = False
) -> httpx.Response:
    if basic:
        return httpx.post(
            stack.token_url, data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        )
    return httpx.post(
        stack.token_url,
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )


def assertion(stack: Stack, pki: TestPki, leaf: str, client_id: str, **claims: Any) -> str:
    now = int(time.time())
    body = {
        "iss": client_id,
        "sub": client_id,
        "aud": f"{stack.issuer}/protocol/openid-connect/token",
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
        **claims,
    }
    key = pki.key(leaf).rsa_key
    assert key is not None
    return jwt.encode(body, key, algorithm="RS256")


def jwt_token(stack: Stack, signed: str) -> httpx.Response:
    return httpx.post(
        stack.token_url,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": JWT_BEARER,
            "client_assertion": signed,
        },
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def readings(world: World, day: int, value: float, code: str | None = None) -> dict[str, Any]:
    times = grid(datetime(2026, 4, day, tzinfo=UTC), 3, 5)
    return {
        "subject_bin": world.bin,
        "readings": [
            {
                "point": code or world.point_code,
                "quantity": "active_export",
                "ts": kz(t),
                "value": value + i,
            }
            for i, t in enumerate(times)
        ],
    }


def audit_entries(stack: Stack, want: int = 1, timeout: float = 20.0, **params: Any) -> list[dict]:
    """Journal entries matching ``params`` (the journal records within seconds)."""
    deadline = time.monotonic() + timeout
    with stack.sync_client("auditor") as c:
        while True:
            r = c.get("/api/v1/audit/entries", params={"limit": 200, **params})
            assert r.status_code == 200, r.text
            items: list[dict] = r.json()["items"]
            if len(items) >= want or time.monotonic() > deadline:
                return items
            time.sleep(0.5)


def refused_on_others(stack: Stack, token: str, world: World, other: World) -> None:
    """Everything of another subject is refused to this subject's machine, as to its people."""
    other_receipt = None
    with stack.sync_client(other.user) as c:
        r = c.post(f"{ING}/readings", json=readings(other, 3, 1.0))
        assert r.status_code == 202, r.text
        other_receipt = r.json()["receipt_id"]
    with httpx.Client(base_url=stack.url, headers=bearer(token), timeout=30) as c:
        r = c.post(f"{ING}/readings", json=readings(other, 4, 1.0))
        assert r.status_code == 403 and r.json()["code"] == "not_your_subject"
        r = c.post(f"{ING}/readings", json=readings(world, 4, 1.0, code=other.point_code))
        assert r.status_code == 422 and r.json()["code"] == "no_valid_readings", r.text
        assert {x["code"] for x in r.json()["errors"]} == {"foreign_point"}
        assert c.get(f"{ING}/receipts/{other_receipt}").status_code == 404
        r = c.get(f"{M}/points/{other.point_code}/readings", params={"quantity": "active_export"})
        assert r.status_code == 404
        r = c.get(f"{M}/subjects/{other.bin}/readings", params={"quantity": "active_export"})
        assert r.status_code == 404
        assert c.get(f"/api/v1/registry/subjects/{other.bin}").status_code == 404
        receipts = c.get(f"{ING}/receipts").json()["items"]
        assert {x["subject_bin"] for x in receipts} <= {world.bin}


def test_a_subjects_system_posts_with_a_secret_and_with_its_certificate(
    stack: Stack, pki: TestPki
) -> None:
    world, other = World(stack), World(stack)
    made = create(stack, kind="subject", subject_bin=world.bin)
    cid, secret = made["client_id"], made["client_secret"]
    assert secret and made["auth_method"] == "client_secret" and made["status"] == "active"
    assert made["token_endpoint"] == f"{stack.issuer}/protocol/openid-connect/token"
    with stack.sync_client("ministry") as c:
        shown = c.get(f"{CLIENTS}/{cid}").json()
    assert "client_secret" not in shown and shown["subject_bin"] == world.bin

    r = secret_token(stack, cid, secret)
    assert r.status_code == 200, r.text
    claims = jwt.decode(r.json()["access_token"], options={"verify_signature": False})
    assert claims["realm_access"]["roles"] == ["subject"] and claims["bin"] == world.bin
    assert claims["azp"] == cid and claims["client_id"] == cid
    assert claims["exp"] - claims["iat"] == 300 == r.json()["expires_in"]
    assert secret_token(stack, cid, secret, basic=True).status_code == 200
    assert secret_token(stack, cid, "not-the-secret").status_code == 401
    token = r.json()["access_token"]
    with httpx.Client(base_url=stack.url, headers=bearer(token), timeout=30) as c:
        me = c.get("/api/v1/me").json()
        assert me["client_id"] == cid and me["bin"] == world.bin
        r = c.post(f"{ING}/readings", json=readings(world, 1, 10.0))
        assert r.status_code == 202 and r.json()["accepted"] == 3, r.text
    refused_on_others(stack, token, world, other)

    # the same subject's certificate for authentication signs an assertion instead of a secret
    pki.issue_leaf(
        f"auth-{world.bin}", bin=world.bin, purpose="authentication", holder="legal_entity_employee"
    )
    pki.issue_leaf(
        f"auth-{other.bin}", bin=other.bin, purpose="authentication", holder="legal_entity_employee"
    )
    with stack.sync_client("ministry") as c:
        r = c.post(
            CLIENTS,
            json={
                "kind": "subject",
                "subject_bin": world.bin,
                "name": "АСКУЭ по ключу НУЦ",
                "auth_method": "private_key_jwt",
                "certificate": b64(pki.cert(f"auth-{other.bin}")),
            },
        )
        assert r.status_code == 422 and r.json()["code"] == "certificate_not_usable", r.text
        assert r.json()["errors"][0] == {
            "field": "certificate",
            "code": "bin_mismatch",
            "message": "The certificate was issued to another organisation (the BIN differs).",
        }
    keyed = create(
        stack,
        kind="subject",
        subject_bin=world.bin,
        auth_method="private_key_jwt",
        certificate=b64(pki.cert(f"auth-{world.bin}")),
    )
    kid = keyed["client_id"]
    assert keyed["client_secret"] is None and keyed["certificate"]["bin"] == world.bin
    signed = assertion(stack, pki, f"auth-{world.bin}", kid)
    r = jwt_token(stack, signed)
    assert r.status_code == 200, r.text
    claims = jwt.decode(r.json()["access_token"], options={"verify_signature": False})
    assert claims["bin"] == world.bin and claims["azp"] == kid
    assert jwt_token(stack, signed).status_code == 401  # an assertion is used once
    wrong_key = assertion(stack, pki, f"auth-{other.bin}", kid)
    assert jwt_token(stack, wrong_key).status_code == 401
    assert (
        jwt_token(
            stack, assertion(stack, pki, f"auth-{world.bin}", kid, aud="https://elsewhere/")
        ).status_code
        == 401
    )
    token = r.json()["access_token"]
    with httpx.Client(base_url=stack.url, headers=bearer(token), timeout=30) as c:
        r = c.post(f"{ING}/readings", json=readings(world, 2, 20.0))
        assert r.status_code == 202 and r.json()["accepted"] == 3, r.text
    refused_on_others(stack, token, world, other)

    # every token issued and every refused authentication is in the journal with the client
    issued = audit_entries(stack, 2, action="client.token_issued", client=cid)
    assert len(issued) >= 2 and issued[0]["actor"]["subject_bin"] == world.bin
    refused = audit_entries(stack, action="client.auth_refused", client=cid)
    assert refused and refused[0]["outcome"] == "denied"
    assert audit_entries(stack, action="client.auth_refused", client=kid)
    posts = audit_entries(stack, kind="access", client=cid)
    assert any(e["object"]["id"] == f"{ING}/readings" for e in posts), posts


def test_a_subject_lists_and_rotates_only_its_own_clients(stack: Stack) -> None:
    world, other = World(stack), World(stack)
    mine = create(stack, kind="subject", subject_bin=world.bin)
    theirs = create(stack, kind="subject", subject_bin=other.bin)
    with stack.sync_client(world.user) as c:
        listed = c.get(CLIENTS).json()["items"]
        assert [x["client_id"] for x in listed] == [mine["client_id"]]
        assert c.get(f"{CLIENTS}/{theirs['client_id']}").status_code == 404
        assert c.post(f"{CLIENTS}/{theirs['client_id']}/rotate").status_code == 404
        r = c.put(f"{CLIENTS}/{theirs['client_id']}/certificate", json={"certificate": "A" * 200})
        assert r.status_code == 404
        r = c.post(CLIENTS, json={"kind": "subject", "subject_bin": world.bin, "name": "Моя"})
        assert r.status_code == 403
        r = c.post(f"{CLIENTS}/{mine['client_id']}/revoke", json={"reason": "не нужен"})
        assert r.status_code == 403
        r = c.post(f"{CLIENTS}/{mine['client_id']}/rotate")
        assert r.status_code == 200, r.text
        new_secret = r.json()["client_secret"]
        assert new_secret and new_secret != mine["client_secret"]
        assert r.json()["rotated_by"] == world.user
    assert secret_token(stack, mine["client_id"], mine["client_secret"]).status_code == 401
    assert secret_token(stack, mine["client_id"], new_secret).status_code == 200
    with stack.sync_client("ministry") as c:
        both = c.get(CLIENTS, params={"kind": "subject", "limit": 1000}).json()["items"]
        assert {mine["client_id"], theirs["client_id"]} <= {x["client_id"] for x in both}


def test_a_revoked_client_is_refused_at_the_token_endpoint_and_with_its_tokens(
    stack: Stack,
) -> None:
    world = World(stack)
    made = create(stack, kind="subject", subject_bin=world.bin)
    cid = made["client_id"]
    token = secret_token(stack, cid, made["client_secret"]).json()["access_token"]
    registry = stack.service_url("registry")
    assert httpx.get(f"{stack.url}/api/v1/me", headers=bearer(token)).status_code == 200
    with stack.sync_client("ministry") as c:
        r = c.post(f"{CLIENTS}/{cid}/revoke", json={"reason": "ключ скомпрометирован"})
        assert r.status_code == 200 and r.json()["status"] == "revoked", r.text
        assert r.json()["revoked_by"] == "ministry"
        assert c.post(f"{CLIENTS}/{cid}/rotate").status_code == 409
    assert secret_token(stack, cid, made["client_secret"]).status_code == 401
    deadline = time.monotonic() + 10
    while True:  # the revocation reaches the gateway and each service over NATS
        gw = httpx.get(f"{stack.url}/api/v1/me", headers=bearer(token))
        direct = httpx.get(
            f"{registry}/api/v1/registry/subjects/{world.bin}", headers=bearer(token)
        )
        if gw.status_code == 401 and direct.status_code == 401:
            break
        assert time.monotonic() < deadline, (gw.text, direct.text)
        time.sleep(0.2)
    assert gw.json()["code"] == "client_revoked" and direct.json()["code"] == "client_revoked"
    revoked = audit_entries(stack, action="registry.integration_client.revoked", object=cid)
    assert revoked and revoked[0]["actor"]["username"] == "ministry"


def test_a_state_bodys_client_queries_with_its_purpose_and_the_journal_has_it(
    stack: Stack,
) -> None:
    made = create(
        stack,
        kind="government",
        state_body="Бюро национальной статистики АСПиР РК",
        legal_basis="Закон РК «О государственной статистике», ст. 16",
    )
    cid = made["client_id"]
    r = secret_token(stack, cid, made["client_secret"])
    claims = jwt.decode(r.json()["access_token"], options={"verify_signature": False})
    assert claims["realm_access"]["roles"] == ["government"] and "bin" not in claims
    purpose = f"Сводка потребления для статистического бюллетеня {uuid.uuid4().hex[:6]}"
    body = {
        "purpose": purpose,
        "legal_basis": "Закон РК «О государственной статистике», ст. 16",
        "dataset": "electricity",
        "measures": ["consumption"],
        "filters": {"region_kato": ["630000000"], "from": "2026-04-01", "to": "2026-04-01"},
        "group_by": ["region_kato", "day"],
    }
    with httpx.Client(base_url=stack.url, headers=bearer(r.json()["access_token"])) as c:
        q = c.post("/api/v1/reports/queries", json=body)
        assert q.status_code == 200, q.text
        assert c.get(CLIENTS).status_code == 403  # a state body does not manage clients
    found = [
        e
        for e in audit_entries(stack, action="query.answer", client=cid)
        if e["details"].get("purpose") == purpose
    ]
    assert found and found[0]["actor"]["role"] == "government"
    assert found[0]["object"]["id"] == q.json()["id"]


def test_bad_requests_name_the_field(stack: Stack) -> None:
    world = World(stack)
    key = {"kind": "subject", "subject_bin": world.bin, "name": "Ключ"}
    cases = [
        ({"kind": "subject", "name": "Без БИН"}, "subject_bin"),
        ({"kind": "government", "name": "Орган", "state_body": "КНБ"}, "legal_basis"),
        ({**key, "auth_method": "mtls"}, "auth_method"),
        ({**key, "auth_method": "private_key_jwt"}, "certificate"),
        (
            {**key, "auth_method": "private_key_jwt", "certificate": "not a certificate " * 10},
            "certificate",
        ),
    ]
    with stack.sync_client("ministry") as c:
        for body, field in cases:
            r = c.post(CLIENTS, json=body)
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == field, r.text
        assert c.get(f"{CLIENTS}/ic-nobody").status_code == 404


@pytest.mark.parametrize("user", ["operator", "government", "auditor", None])
def test_other_roles_cannot_manage_clients(stack: Stack, user: str | None) -> None:
    expected = 401 if user is None else 403
    with stack.sync_client(user) as c:
        assert c.get(CLIENTS).status_code == expected
        assert c.get(f"{CLIENTS}/ic-x").status_code == expected
        r = c.post(CLIENTS, json={"kind": "subject", "subject_bin": "000000000000", "name": "x"})
        assert r.status_code == expected
        assert c.post(f"{CLIENTS}/ic-x/rotate").status_code == expected
        assert c.put(f"{CLIENTS}/ic-x/certificate", json={}).status_code == expected
        assert c.post(f"{CLIENTS}/ic-x/revoke", json={}).status_code == expected
