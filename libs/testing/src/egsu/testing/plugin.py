"""pytest plugin: session fixtures for the embedded servers and the whole System.

``infra`` starts PostgreSQL, NATS and SeaweedFS once per session (or uses the servers named by
``EGSU_DATABASE_URL`` / ``EGSU_NATS_URL`` / ``EGSU_S3_ENDPOINT``) and exports their URLs to the
environment. ``stack`` starts ``egsu up`` on them. Nothing is mocked.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from egsu.infra import Infra, InfraUrls
from egsu.testing.stack import Stack, start_stack


def pytest_configure(config: pytest.Config) -> None:
    """A temporary folder per checkout and run, so parallel runs never clean each other's servers away.

    pytest's default numbered folders are shared by every run of the user and old ones are deleted at
    start; with several checkouts testing at once that removes a running session's database.
    """
    if config.option.basetemp:
        return
    tag = hashlib.sha256(str(config.rootpath).encode()).hexdigest()[:8]
    root = Path(tempfile.gettempdir()) / f"egsu-pytest-{tag}"
    root.mkdir(exist_ok=True)
    for old in root.glob("run-*"):
        try:
            pid = int(old.name.removeprefix("run-"))
            os.kill(pid, 0)
        except (ValueError, ProcessLookupError):
            shutil.rmtree(old, ignore_errors=True)
        except PermissionError:
            pass
    config.option.basetemp = str(root / f"run-{os.getpid()}")


@pytest.fixture(scope="session")
def infra_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    """The session's embedded servers themselves (a test may stop and start one of them)."""
    servers = Infra(tmp_path_factory.mktemp("infra"), fast=True)
    servers.start()
    try:
        yield servers
    finally:
        servers.stop()


@pytest.fixture(scope="session")
def infra(infra_servers: Infra) -> Iterator[InfraUrls]:
    """The session's PostgreSQL, NATS and S3, with their URLs in the environment."""
    urls = infra_servers.urls
    assert urls is not None
    saved = {k: os.environ.get(k) for k in urls.env()}
    os.environ.update(urls.env())
    try:
        yield urls
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def stack(infra: InfraUrls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The whole System (``egsu up``) on the session's servers; the gateway at ``stack.url``."""
    s = start_stack(tmp_path_factory.mktemp("stack"), infra.env())
    try:
        yield s
    finally:
        s.stop()
