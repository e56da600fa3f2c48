"""Child processes that die with their parent and stop in order."""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _die_with_parent(sig: int) -> Callable[[], None]:
    def _set() -> None:
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, sig)
        except OSError:
            pass  # not Linux: the parent stops its children explicitly anyway

    return _set


def free_port(preferred: int | None = None) -> int:
    """A TCP port free on 127.0.0.1, the preferred one when it is free."""
    if preferred:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


class Child:
    """A long-running server process with its log file."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        *,
        log: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        stop_signal: int = signal.SIGTERM,
        stdin_pipe: bool = False,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log = log
        self.env = env
        self.cwd = cwd
        self.user = user
        self.stop_signal = stop_signal
        self.stdin_pipe = stdin_pipe
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(  # noqa: S603 - our own argv, no shell
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.PIPE if self.stdin_pipe else subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                user=self.user,
                start_new_session=True,  # Ctrl-C reaches the supervisor, which stops us in order
                preexec_fn=_die_with_parent(self.stop_signal),
            )

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        if not self.alive():
            return
        assert self.proc is not None
        self.proc.send_signal(self.stop_signal)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def wait_for(
    check: Callable[[], bool], *, timeout: float, what: str, child: Child | None = None
) -> None:
    """Poll ``check`` until it holds; a clear error with the log tail if it does not in time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        if child is not None and not child.alive():
            raise RuntimeError(f"{what}: the process exited.\n--- {child.log} ---\n{child.tail()}")
        time.sleep(0.1)
    tail = f"\n--- {child.log} ---\n{child.tail()}" if child else ""
    raise TimeoutError(f"{what} did not become ready within {timeout:.0f} s{tail}")


def kill_stale(pid_file: Path, sig: int = signal.SIGINT, timeout: float = 20.0) -> None:
    """Stop a server left running by a previous supervisor that died (its pid is in ``pid_file``)."""
    try:
        pid = int(pid_file.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    except PermissionError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
