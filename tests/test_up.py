"""``egsu up`` as a whole: all processes ready, a killed service comes back, realm through the gateway."""

from __future__ import annotations

import os
import signal
import time

import httpx
import pytest

from egsu.testing.stack import Stack

pytestmark = pytest.mark.stack


def test_every_process_is_ready(stack: Stack) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        procs = stack.state()["processes"]
        if all(p["state"] == "ready" for p in procs.values()):
            break
        time.sleep(0.5)
    assert {"realm", "registry", "gateway"} <= set(procs)
    assert all(p["state"] == "ready" for p in procs.values()), procs


def test_killed_service_is_back_within_5_seconds(stack: Stack) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not _has_spare(stack, "registry"):
        time.sleep(0.5)  # spares are made one by one once the System is ready
    old = stack.pid("registry")
    os.kill(old, signal.SIGKILL)
    started = time.monotonic()
    while time.monotonic() - started < 5:
        try:
            r = httpx.get(f"{stack.url}/api/v1/registry/regions", timeout=1)
            if r.status_code == 200 and stack.pid("registry") != old:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    else:
        pytest.fail(f"the registry did not come back within 5 s\n{stack.tail()}")
    assert stack.state()["processes"]["registry"]["restarts"] >= 1


def _has_spare(stack: Stack, name: str) -> bool:
    return bool(stack.state()["processes"][name].get("standby_pid"))


def test_realm_discovery_through_the_gateway(stack: Stack) -> None:
    r = httpx.get(f"{stack.url}/realms/egsu/.well-known/openid-configuration")
    assert r.status_code == 200
    assert r.json()["token_endpoint"] == f"{stack.issuer}/protocol/openid-connect/token"
