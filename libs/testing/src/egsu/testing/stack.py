"""The whole System under test: ``egsu up`` in the background on the session's embedded servers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from egsu.infra.process import free_port
from egsu.realm.model import add_users

CLI_CLIENT = "egsu-cli"


class StackError(RuntimeError):
    pass


@dataclass
class Stack:
    var: Path
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    log_file: Any = None
    startup_seconds: float = 0.0
    _tokens: dict[str, tuple[str, float]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return f"http://localhost:{self.port}/realms/egsu"

    @property
    def token_url(self) -> str:
        return f"{self.url}/realms/egsu/protocol/openid-connect/token"

    def state(self) -> dict[str, Any]:
        return json.loads((self.var / "run" / "state.json").read_text())  # type: ignore[no-any-return]

    def pid(self, name: str) -> int:
        return int(self.state()["processes"][name]["pid"])

    def service_url(self, name: str) -> str:
        return str(self.state()["processes"][name]["url"])

    def tail(self, name: str | None = None, lines: int = 60) -> str:
        path = self.log if name is None else Path(self.state()["processes"][name]["log"])
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def add_user(
        self, username: str, roles: list[str], *, bin: str | None = None, password: str = "demo"
    ) -> None:
        user: dict[str, Any] = {"username": username, "password": password, "roles": roles}
        if bin:
            user["bin"] = bin
        add_users(self.var / "realm" / "users.yaml", [user])
        self._tokens.pop(username, None)

    def token(self, username: str, password: str = "demo") -> str:
        cached = self._tokens.get(username)
        if cached and cached[1] > time.monotonic() + 30:
            return cached[0]
        resp = httpx.post(
            self.token_url,
            data={
                "grant_type": "password",
                "client_id": CLI_CLIENT,
                "username": username,
                "password": password,
            },
            timeout=10,
        )
        resp.raise_for_status()
        body = resp.json()
        self._tokens[username] = (body["access_token"], time.monotonic() + body["expires_in"])
        return str(body["access_token"])

    def headers(self, username: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(username)}"} if username else {}

    def client(self, username: str | None = None, **kw: Any) -> httpx.AsyncClient:
        """An async client for the gateway, authenticated as ``username`` (anonymous if None)."""
        return httpx.AsyncClient(
            base_url=self.url, headers=self.headers(username), timeout=30, **kw
        )

    def sync_client(self, username: str | None = None, **kw: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=self.headers(username), timeout=30, **kw)

    def wait_ready(self, timeout: float = 150) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise StackError(f"egsu up exited with {self.proc.returncode}\n{self.tail()}")
            try:
                if (
                    httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
                    and self._all_ready()
                ):
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise StackError(
            f"the System was not ready within {timeout:.0f} s\n{self.tail()}\n{self._not_ready()}"
        )

    def _all_ready(self) -> bool:
        """The supervisor has seen every process ready too (it probes once a second)."""
        try:
            return all(p["state"] == "ready" for p in self.state()["processes"].values())
        except (OSError, ValueError, KeyError):
            return False

    def _not_ready(self) -> str:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).text
        except httpx.HTTPError as exc:
            return str(exc)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        if self.log_file is not None:
            self.log_file.close()


def start_stack(
    var: Path, infra_env: dict[str, str], *, extra_env: dict[str, str] | None = None
) -> Stack:
    """Start ``egsu up`` on the given (external to it) infrastructure and wait until it is ready."""
    var.mkdir(parents=True, exist_ok=True)
    port = free_port()
    env = {
        **os.environ,
        **infra_env,
        "EGSU_RATE_LIMIT": "100000/minute",
        "EGSU_RATE_LIMIT_ANONYMOUS": "100000/minute",
        "EGSU_ENVIRONMENT": "test",
        **(extra_env or {}),
    }
    env.pop("EGSU_OIDC_ISSUER", None)
    log = var / "egsu-up.log"
    out = open(log, "ab")  # noqa: SIM115 - kept open for the life of the process
    proc = subprocess.Popen(  # noqa: S603
        [
            sys.executable,
            "-m",
            "egsu.cli.main",
            "up",
            "--var",
            str(var),
            "--port",
            str(port),
            "--fast",
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
    )
    stack = Stack(var=var, port=port, proc=proc, log=log, log_file=out)
    started = time.monotonic()
    try:
        stack.wait_ready()
        stack.startup_seconds = time.monotonic() - started
    except BaseException:
        stack.stop()
        raise
    return stack
