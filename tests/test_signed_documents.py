"""Signed submissions through ingest (§16): who may sign for a subject, and the document kept as signed."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import pytest

from egsu.testing.stack import Stack
from egsu.testing.world import World, grid, kz
from egsu.validation.testca import TestPki, sign_cms

pytestmark = pytest.mark.stack
DOCS = "/api/v1/ingest/documents"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def readings_batch(world: World, value: float) -> bytes:
    t = grid(datetime(2026, 2, 10, tzinfo=UTC), 3, 5)
    return json.dumps(
        {
            "subject_bin": world.bin,
            "readings": [
                {
                    "point": world.point_code,
                    "quantity": "active_export",
                    "ts": kz(x),
                    "value": value + i,
                }
                for i, x in enumerate(t)
            ],
        }
    ).encode()


def signed(pki: TestPki, name: str, content: bytes, *, detached: bool = False) -> bytes:
    return sign_cms(content, [(pki.cert(name), pki.key(name))], detached=detached)


def test_another_subjects_certificate_is_refused_and_the_right_one_lands(
    stack: Stack, pki: TestPki
) -> None:
    mine, other = World(stack), World(stack)
    pki.issue_leaf(f"head-{mine.bin}", bin=mine.bin)
    pki.issue_leaf(f"head-{other.bin}", bin=other.bin, family="gost")
    content = readings_batch(mine, 10.0)
    with stack.sync_client(mine.user) as c:
        r = c.post(DOCS, json={"cms": b64(signed(pki, f"head-{other.bin}", content))})
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "signer_not_subject"
        r = c.post(DOCS, json={"cms": b64(signed(pki, f"head-{mine.bin}", content))})
        assert r.status_code == 202, r.text
        receipt = r.json()
        assert receipt["source"] == "document" and receipt["accepted"] == 3
        signer = receipt["document"]["signer"]
        assert signer["bin"] == mine.bin and signer["holder_type"] == "legal_entity_head"
        assert signer["serial"] and signer["issuer"] and signer["signature_algorithm"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            items = c.get(
                f"/api/v1/measurements/points/{mine.point_code}/readings",
                params={
                    "quantity": "active_export",
                    "from": "2026-02-10T05:00:00+05:00",
                    "to": "2026-02-10T06:00:00+05:00",
                },
            ).json()["items"]
            if len(items) == 3:
                break
            time.sleep(0.1)
        assert [i["value"] for i in items] == [10.0, 11.0, 12.0]
        # the document is kept as signed, and checking it again gives the same answer
        doc = c.get(f"{DOCS}/{receipt['receipt_id']}", params={"reverify": "true"}).json()
        assert base64.b64decode(doc["cms"]) == signed_bytes_of(doc)
        assert doc["verification"]["valid"] is True
        assert doc["verification"]["signers"][0]["serial"] == signer["serial"]
    with stack.sync_client(other.user) as c:
        assert c.get(f"{DOCS}/{receipt['receipt_id']}").status_code == 404


def signed_bytes_of(doc: dict) -> bytes:  # type: ignore[type-arg]
    return base64.b64decode(doc["cms"])


def test_detached_signature_and_authorised_person(stack: Stack, pki: TestPki) -> None:
    world = World(stack)
    der = pki.issue_leaf(f"person-{world.bin}", holder="individual", iin="880101300123")
    assert der
    content = readings_batch(world, 20.0)
    cms = signed(pki, f"person-{world.bin}", content, detached=True)
    with stack.sync_client(world.user) as c:
        r = c.post(DOCS, json={"cms": b64(cms), "data": b64(content)})
        assert r.status_code == 422 and r.json()["code"] == "signer_not_subject"
    with stack.sync_client("ministry") as c:
        assert (
            c.patch(
                f"/api/v1/registry/subjects/{world.bin}", json={"authorized_iins": ["880101300123"]}
            ).status_code
            == 200
        )
    with stack.sync_client(world.user) as c:
        r = c.post(
            DOCS, files={"signature": ("batch.json.cms", cms), "document": ("batch.json", content)}
        )
        assert r.status_code == 202, r.text
        assert r.json()["document"]["detached"] is True
        assert r.json()["document"]["signer"]["iin"] == "880101300123"


def test_employee_without_the_right_to_sign_and_bad_certificates(
    stack: Stack, pki: TestPki
) -> None:
    world = World(stack)
    pki.issue_leaf(
        f"clerk-{world.bin}",
        bin=world.bin,
        holder="legal_entity_employee",
        roles=["organization", "employee"],
    )
    content = readings_batch(world, 30.0)
    with stack.sync_client(world.user) as c:
        r = c.post(DOCS, json={"cms": b64(signed(pki, f"clerk-{world.bin}", content))})
        assert r.status_code == 422 and r.json()["code"] == "signer_not_authorised"
        r = c.post(DOCS, json={"cms": b64(signed(pki, "rsa-revoked-sign", content))})
        assert r.status_code == 422 and "cert_revoked" in r.json()["validation_codes"]
        r = c.post(DOCS, json={"cms": b64(b"\x30\x82\xff\xff garbage")})
        assert r.status_code == 422 and r.json()["code"] in ("malformed", "malformed_batch")
        tampered = bytearray(signed(pki, "rsa-head-sign", content))
        r = c.post(
            DOCS, json={"cms": b64(bytes(tampered)), "data": b64(content.replace(b"30.0", b"99.0"))}
        )
        assert r.status_code == 422
