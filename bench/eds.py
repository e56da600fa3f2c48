"""EDS verification speed: CMS verifications/s (RSA-2048, GOST 2015-512) and endpoint latency.

    .venv/bin/python bench/eds.py                  # in-process figures, then the endpoint
    .venv/bin/python bench/eds.py --no-endpoint    # in-process only (no embedded servers)

Every verification does the full job: parse the CMS, check the message digest and the signer's
signature, build the chain to the trust store, check validity at the signing time and look the
certificate up in a CRL whose signature was checked. "warm" is the steady state, where the
signatures of certificates and CRLs already seen are remembered (they are pure functions of their
bytes); "cold" forgets them before every verification, as for a signer never seen before.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from egsu.validation.certificate import _name_key, _parse_cached
from egsu.validation.testca import TestPki, build_test_pki, sign_cms
from egsu.validation.trust import CrlEntry, TrustStore, anchor_from_bytes, parse_crl
from egsu.validation.verify import Verifier

DOC = json.dumps(
    {
        "subject_bin": "000000000000",
        "readings": [
            {
                "metering_point": f"MP-{i:05d}",
                "quantity": "active_import",
                "ts": "2026-01-01T01:00:00+05:00",
                "value": 12.5 + i,
            }
            for i in range(20)
        ],
    }
).encode()  # about 2 KB, a small signed batch


def in_process(pki: TestPki, seconds: float) -> dict[str, dict[str, float]]:
    trust = TrustStore()
    trust.replace(
        [anchor_from_bytes(a, "folder") for a in pki.anchors()],
        [CrlEntry(parse_crl(c), "folder") for c in pki.crls()],
    )
    out: dict[str, dict[str, float]] = {}
    for label, name in (("RSA-2048", "rsa-head-sign"), ("GOST-2015-512", "gost-head-sign")):
        cms = sign_cms(DOC, [(pki.cert(name), pki.key(name))])
        figures: dict[str, float] = {}
        for mode in ("warm", "cold"):
            verifier = Verifier(trust)
            assert verifier.verify_cms(cms)["valid"]
            n = 0
            started = time.perf_counter()
            while time.perf_counter() - started < seconds:
                if mode == "cold":
                    verifier._sig_cache.data.clear()
                    _parse_cached.cache_clear()
                    _name_key.cache_clear()
                result = verifier.verify_cms(cms)
                n += 1
            assert result["valid"]
            figures[mode] = n / (time.perf_counter() - started)
        out[label] = figures
        print(
            f"{label:14} in-process, 1 core: {figures['warm']:8.0f} verifications/s warm, "
            f"{figures['cold']:8.0f}/s cold",
            flush=True,
        )
    return out


def streebog_rate() -> None:
    from egsu.validation.gost import streebog

    data = bytes(range(256)) * 256  # 64 KiB
    started = time.perf_counter()
    for _ in range(5):
        streebog(data)
    rate = 5 * len(data) / 1024 / (time.perf_counter() - started)
    print(
        f"Streebog-512 (pure Python): {rate:6.0f} KiB/s; a GOST digest costs "
        f"{1000 / rate:.1f} ms per KiB",
        flush=True,
    )


async def endpoint(pki: TestPki, requests: int, concurrency: int) -> None:
    import httpx

    from egsu.infra import Infra
    from egsu.testing.stack import start_stack

    root = Path(tempfile.mkdtemp(prefix="egsu-bench-"))
    infra = Infra(root / "infra", fast=True)
    urls = infra.start()
    stack = start_stack(root / "stack", urls.env())
    try:
        with stack.sync_client("ministry") as c:
            for der in pki.anchors():
                c.post(
                    "/api/v1/validation/trust/certificates",
                    json={"certificate": base64.b64encode(der).decode()},
                )
            for der in pki.crls():
                c.post(
                    "/api/v1/validation/trust/crls", json={"crl": base64.b64encode(der).decode()}
                )
        token = httpx.post(  # noqa: ASYNC210 - once, before the measurement
            stack.token_url,
            data={"grant_type": "client_credentials"},
            auth=("egsu-ingest", "egsu-ingest-dev-secret"),
        ).json()["access_token"]
        targets = {"service": stack.service_url("validation"), "gateway": stack.url}
        for label, name in (("RSA-2048", "rsa-head-sign"), ("GOST-2015-512", "gost-head-sign")):
            body = {
                "cms": base64.b64encode(sign_cms(DOC, [(pki.cert(name), pki.key(name))])).decode()
            }
            for where, base in targets.items():
                async with httpx.AsyncClient(
                    base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30
                ) as client:
                    for _ in range(20):  # warm up
                        (
                            await client.post("/api/v1/validation/cms/verify", json=body)
                        ).raise_for_status()
                    latencies: list[float] = []
                    queue = list(range(requests))

                    async def worker(
                        client: httpx.AsyncClient = client,
                        body: dict = body,
                        latencies: list[float] = latencies,
                        queue: list[int] = queue,
                    ) -> None:
                        while queue:
                            queue.pop()
                            t = time.perf_counter()
                            r = await client.post("/api/v1/validation/cms/verify", json=body)
                            latencies.append(time.perf_counter() - t)
                            assert r.status_code == 200 and r.json()["valid"], r.text

                    started = time.perf_counter()
                    await asyncio.gather(*(worker() for _ in range(concurrency)))
                    elapsed = time.perf_counter() - started
                latencies.sort()
                p50 = statistics.median(latencies) * 1000
                p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
                print(
                    f"{label:14} POST /cms/verify via {where:8}: {requests / elapsed:7.0f} req/s, "
                    f"p50 {p50:6.1f} ms, p99 {p99:6.1f} ms "
                    f"({requests} requests, {concurrency} concurrent)",
                    flush=True,
                )
    finally:
        stack.stop()
        infra.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=5.0, help="duration of each in-process run"
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--no-endpoint", action="store_true")
    args = parser.parse_args()
    pki = build_test_pki(Path(tempfile.mkdtemp(prefix="egsu-pki-")))
    print(
        f"document: {len(DOC)} bytes; chain: end-entity → intermediate (anchor); CRL checked",
        flush=True,
    )
    in_process(pki, args.seconds)
    streebog_rate()
    if not args.no_endpoint:
        asyncio.run(endpoint(pki, args.requests, args.concurrency))
    return 0


if __name__ == "__main__":
    sys.exit(main())
