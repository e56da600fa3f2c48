"""Token issuance per second on the development realm, for each grant of an integration client.

    .venv/bin/python bench/tokens.py [--seconds 10] [--concurrency 16]

Starts the development realm alone (one uvicorn process, as ``egsu up`` runs it) in a temporary
folder, creates two integration clients through the admin API with python-keycloak (one with a
secret, one with a test-PKI RSA certificate for private_key_jwt), then asks for client-credentials
tokens as fast as ``--concurrency`` callers can for ``--seconds`` each:

1. client_secret_basic (the secret in the Authorization header);
2. client_secret_post (the secret in the form);
3. private_key_jwt (an RS256 assertion per request, signed beforehand so the caller's RSA cost
   is not counted; the realm verifies it, checks its jti once and the certificate's validity).

Every issued token is also a CLIENT_LOGIN event appended to the realm's event file.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import jwt
from keycloak import KeycloakAdmin

from egsu.infra.process import free_port
from egsu.validation.testca import build_test_pki

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def start_realm(var: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    port = free_port()
    issuer = f"http://127.0.0.1:{port}/realms/egsu"
    env = {
        **os.environ,
        "EGSU_VAR_DIR": str(var),
        "EGSU_REALM_ISSUER": issuer,
        "EGSU_SERVICE_NAME": "realm",
        "EGSU_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "egsu.realm.app:create_app",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return proc, url, issuer
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the realm did not start")


async def run(
    url: str, forms: list[tuple[dict[str, str], tuple[str, str] | None]], seconds: float, conc: int
) -> tuple[int, int, list[float]]:
    token_url = f"{url}/realms/egsu/protocol/openid-connect/token"
    ok = failed = 0
    latencies: list[float] = []
    nxt = 0
    stop = time.monotonic() + seconds
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=conc)) as http:

        async def worker() -> None:
            nonlocal ok, failed, nxt
            while time.monotonic() < stop and nxt < len(forms):
                form, auth = forms[nxt]
                nxt += 1
                t0 = time.perf_counter()
                r = await http.post(token_url, data=form, auth=auth)
                latencies.append(time.perf_counter() - t0)
                if r.status_code == 200:
                    ok += 1
                else:
                    failed += 1

        await asyncio.gather(*(worker() for _ in range(conc)))
    return ok, failed, latencies


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--concurrency", type=int, default=16)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp)
        pki = build_test_pki(var / "pki", bin="123456789021")
        pki.issue_leaf(
            "auth", bin="123456789021", purpose="authentication", holder="legal_entity_employee"
        )
        proc, url, issuer = start_realm(var)
        try:
            kc = KeycloakAdmin(
                server_url=url + "/",
                realm_name="egsu",
                user_realm_name="egsu",
                client_id="egsu-registry",
                client_secret_key="egsu-registry-dev-secret",  # noqa: S106 - development realm
            )
            mapper = {
                "name": "bin",
                "protocol": "openid-connect",
                "protocolMapper": "oidc-hardcoded-claim-mapper",
                "config": {"claim.name": "bin", "claim.value": "123456789021"},
            }
            secret = "bench-" + uuid.uuid4().hex
            for cid, extra in (
                ("ic-bench-secret", {"clientAuthenticatorType": "client-secret", "secret": secret}),
                (
                    "ic-bench-jwt",
                    {
                        "clientAuthenticatorType": "client-jwt",
                        "attributes": {
                            "jwt.credential.certificate": base64.b64encode(
                                pki.cert("auth")
                            ).decode()
                        },
                    },
                ),
            ):
                idp_id = kc.create_client(
                    {
                        "clientId": cid,
                        "serviceAccountsEnabled": True,
                        "protocolMappers": [mapper],
                        **extra,
                    }
                )
                user = kc.get_client_service_account_user(idp_id)
                kc.assign_realm_roles(user["id"], [kc.get_realm_role("subject")])
            grant = {"grant_type": "client_credentials"}
            big = 2_000_000
            key = pki.key("auth").rsa_key
            assert key is not None
            print(f"realm {url}, {args.concurrency} concurrent callers, {args.seconds:.0f} s each")
            print(f"{'grant':<22} {'tokens/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'refused':>8}")
            cases: list[tuple[str, list[tuple[dict[str, str], tuple[str, str] | None]]]] = [
                ("client_secret_basic", [(grant, ("ic-bench-secret", secret))] * big),
                (
                    "client_secret_post",
                    [({**grant, "client_id": "ic-bench-secret", "client_secret": secret}, None)]
                    * big,
                ),
            ]
            # assertions signed beforehand: the caller's signing is not the realm's cost
            now = int(time.time())
            n_jwt = int(args.seconds * 1500) + 1000
            assertions = [
                jwt.encode(
                    {
                        "iss": "ic-bench-jwt",
                        "sub": "ic-bench-jwt",
                        "aud": f"{issuer}/protocol/openid-connect/token",
                        "iat": now,
                        "exp": now + 300,
                        "jti": uuid.uuid4().hex,
                    },
                    key,
                    algorithm="RS256",
                )
                for _ in range(n_jwt)
            ]
            cases.append(
                (
                    "private_key_jwt",
                    [
                        (
                            {
                                **grant,
                                "client_assertion_type": JWT_BEARER,
                                "client_assertion": a,
                            },
                            None,
                        )
                        for a in assertions
                    ],
                )
            )
            for name, forms in cases:
                asyncio.run(run(url, forms[:200], 2.0, args.concurrency))  # warm up
                t0 = time.perf_counter()
                ok, failed, lat = asyncio.run(run(url, forms[200:], args.seconds, args.concurrency))
                took = time.perf_counter() - t0
                q = statistics.quantiles(lat, n=20)
                print(
                    f"{name:<22} {ok / took:>9.0f} {q[9] * 1000:>8.1f} {q[18] * 1000:>8.1f} {failed:>8}"
                )
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
