"""The validation API through the gateway: who may do what, verification, malformed input, audit."""

from __future__ import annotations

import base64
import json
import uuid

import httpx
import nats
import pytest

from egsu.testing.stack import Stack
from egsu.validation.testca import TestPki, sign_cms

pytestmark = pytest.mark.stack
API = "/api/v1/validation"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture(scope="module")
def trusted(stack: Stack, pki: TestPki) -> TestPki:
    """The test PKI's anchors and CRLs loaded through the API by the ministry."""
    with stack.sync_client("ministry") as c:
        for der in pki.anchors():
            r = c.post(f"{API}/trust/certificates", json={"certificate": b64(der)})
            assert r.status_code in (200, 201), r.text
        for der in pki.crls():
            r = c.post(f"{API}/trust/crls", json={"crl": b64(der)})
            assert r.status_code in (200, 201), r.text
    return pki


def service_token(stack: Stack, client_id: str = "egsu-ingest") -> str:
    r = httpx.post(
        stack.token_url,
        data={"grant_type": "client_credentials"},
        auth=(client_id, f"{client_id}-dev-secret"),
        timeout=10,
    )
    r.raise_for_status()
    return str(r.json()["access_token"])


@pytest.mark.parametrize("user", ["operator", "government", "auditor", "subject", None])
async def test_trust_management_is_for_the_ministry_only(
    stack: Stack, pki: TestPki, user: str | None
) -> None:
    if user == "subject":
        user = f"subject-{uuid.uuid4().hex[:8]}"
        stack.add_user(user, ["subject"], bin="990101300001")
    expected = 401 if user is None else 403
    async with stack.client(user) as c:
        assert (
            await c.post(
                f"{API}/trust/certificates", json={"certificate": b64(pki.ca_cert("rsa-root"))}
            )
        ).status_code == expected
        assert (await c.get(f"{API}/trust/certificates")).status_code == expected
        assert (await c.delete(f"{API}/trust/certificates/{'0' * 64}")).status_code == expected
        assert (
            await c.post(f"{API}/trust/crls", json={"crl": b64(pki.crls()[0])})
        ).status_code == expected
        assert (await c.get(f"{API}/trust/crls")).status_code == expected
    headers = {"Authorization": f"Bearer {service_token(stack)}"}
    async with httpx.AsyncClient(base_url=stack.url, headers=headers) as c:
        assert (await c.get(f"{API}/trust/certificates")).status_code == 403


async def test_ministry_manages_anchors_and_it_is_audited(
    stack: Stack, trusted: TestPki, infra: object
) -> None:
    async with stack.client("ministry") as c:
        listed = (await c.get(f"{API}/trust/certificates")).json()["items"]
        mine = {a["sha256"]: a for a in listed if "EGSU TEST" in a["certificate"]["subject"]}
        legal = next(
            a
            for a in mine.values()
            if a["certificate"]["subject"].startswith("CN=ЗАҢДЫ ТҰЛҒАЛАР")
            and "RSA" in a["certificate"]["subject"]
        )
        assert legal["source"] == "store" and legal["certificate"]["is_ca"] is True
        crls = (await c.get(f"{API}/trust/crls")).json()["items"]
        assert any(x["issuer_trusted"] and x["revoked_count"] == 1 for x in crls)
        cms = sign_cms(b"doc", [(trusted.cert("rsa-head-sign"), trusted.key("rsa-head-sign"))])
        assert (await c.post(f"{API}/cms/verify", json={"cms": b64(cms)})).json()["valid"] is True
        # the ministry stops trusting the legal entities' CA: the same document is now untrusted
        assert (await c.delete(f"{API}/trust/certificates/{legal['sha256']}")).status_code == 204
        body = (await c.post(f"{API}/cms/verify", json={"cms": b64(cms)})).json()
        assert (
            body["valid"] is False
            and body["signers"][0]["failed_checks"][0]["code"] == "untrusted_chain"
        )
        assert (await c.delete(f"{API}/trust/certificates/{legal['sha256']}")).status_code == 404
        again = await c.post(
            f"{API}/trust/certificates", json={"certificate": b64(trusted.ca_cert("rsa-legal"))}
        )
        assert again.status_code == 201
        assert (await c.post(f"{API}/cms/verify", json={"cms": b64(cms)})).json()["valid"] is True
        leaf = await c.post(
            f"{API}/trust/certificates", json={"certificate": b64(trusted.cert("rsa-head-sign"))}
        )
        assert leaf.status_code == 422 and leaf.json()["code"] == "malformed"
    events = await audit_events(infra, "egsu.audit.change")
    actions = [(e["action"], e["object"]["id"], e["actor"]["username"]) for e in events]
    assert ("validation.trust.certificate.remove", legal["sha256"], "ministry") in actions
    assert ("validation.trust.certificate.add", legal["sha256"], "ministry") in actions


async def audit_events(infra: object, subject: str) -> list[dict]:
    nc = await nats.connect(infra.nats_url)  # type: ignore[attr-defined]
    try:
        js = nc.jetstream()
        sub = await js.pull_subscribe(subject, durable=None, stream="AUDIT")
        out = []
        while True:
            try:
                msgs = await sub.fetch(200, timeout=1)
            except (nats.errors.TimeoutError, TimeoutError):
                break
            out += [json.loads(m.data) for m in msgs]
            for m in msgs:
                await m.ack()
        return out
    finally:
        await nc.close()


async def test_every_role_and_the_ingest_service_may_verify(stack: Stack, trusted: TestPki) -> None:
    cms = sign_cms(
        b'{"readings": []}', [(trusted.cert("gost-head-sign"), trusted.key("gost-head-sign"))]
    )
    subject = f"subject-{uuid.uuid4().hex[:8]}"
    stack.add_user(subject, ["subject"], bin=trusted.manifest["bin"])
    for user in ("ministry", "operator", "government", "auditor", subject):
        async with stack.client(user) as c:
            r = await c.post(f"{API}/cms/verify", json={"cms": b64(cms)})
            assert r.status_code == 200, (user, r.text)
    headers = {"Authorization": f"Bearer {service_token(stack)}"}
    async with httpx.AsyncClient(base_url=stack.url, headers=headers) as c:
        from egsu.contracts.signatures import verify_cms

        result = await verify_cms(c, cms)
    assert result.valid and result.signers[0].bin == trusted.manifest["bin"]
    assert result.signers[0].holder_type == "legal_entity_head"
    assert result.signers[0].may_sign_for(trusted.manifest["bin"])
    assert not result.signers[0].may_sign_for("000000000000")
    async with stack.client(None) as c:
        assert (await c.post(f"{API}/cms/verify", json={"cms": b64(cms)})).status_code == 401


async def test_failure_codes_through_the_gateway(stack: Stack, trusted: TestPki) -> None:
    def cms_of(name: str, **kw: object) -> str:
        return b64(sign_cms(b"doc", [(trusted.cert(name), trusted.key(name))], **kw))  # type: ignore[arg-type]

    cases = {
        "gost-revoked-sign": "cert_revoked",
        "rsa-expired-sign": "cert_expired_at_signing",
        "gost-employee-auth": "wrong_key_usage",
        "gost-rogue-sign": "untrusted_chain",
    }
    async with stack.client("operator") as c:
        for name, code in cases.items():
            body = (await c.post(f"{API}/cms/verify", json={"cms": cms_of(name)})).json()
            assert body["valid"] is False and [
                f["code"] for f in body["signers"][0]["failed_checks"]
            ] == [code]
        bad = await c.post(
            f"{API}/cms/verify", json={"cms": cms_of("rsa-individual-sign", corrupt_signature=True)}
        )
        assert bad.json()["signers"][0]["failed_checks"][0]["code"] == "signature_invalid"
        detached = cms_of("rsa-individual-sign", detached=True)
        r = await c.post(f"{API}/cms/verify", json={"cms": detached})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "data"
        r = await c.post(f"{API}/cms/verify", json={"cms": detached, "data": b64(b"dob")})
        assert r.json()["signers"][0]["failed_checks"][0]["code"] == "digest_mismatch"


@pytest.mark.parametrize(
    "cms", ["not base64!", b64(b"\x30\x84\x7f\xff\xff\xff"), b64(b"\x30\x80" * 5000)]
)
async def test_malformed_is_422_naming_the_field(stack: Stack, cms: str) -> None:
    async with stack.client("operator") as c:
        r = await c.post(f"{API}/cms/verify", json={"cms": cms})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "malformed" and body["errors"][0]["field"] == "cms"
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_certificate_info(stack: Stack, trusted: TestPki) -> None:
    async with stack.client("auditor") as c:
        r = await c.post(
            f"{API}/x509/info", json={"certificate": b64(trusted.cert("rsa-signer-sign"))}
        )
        body = r.json()
        assert r.status_code == 200 and body["trusted"] is True
        assert body["certificate"]["bin"] == trusted.manifest["bin"]
        assert body["certificate"]["roles"] == ["organization", "can_sign"]
        assert body["revocation"]["status"] == "good"
        r = await c.post(f"{API}/x509/info", json={"certificate": "MIIB"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "certificate"
