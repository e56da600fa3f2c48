"""pytest plugin: session fixtures for the embedded servers and the whole System.

``infra`` starts PostgreSQL, NATS and SeaweedFS once per session (or uses the servers named by
``EGSU_DATABASE_URL`` / ``EGSU_NATS_URL`` / ``EGSU_S3_ENDPOINT``) and exports their URLs to the
environment. ``stack`` starts ``egsu up`` on them. Nothing is mocked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from egsu.infra import Infra, InfraUrls
from egsu.testing.stack import Stack, start_stack


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
