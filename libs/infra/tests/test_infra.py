"""The embedded servers start, answer, stop and keep their data for the next start."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from egsu.infra import Infra
from egsu.infra.embedded import _pg_bin_path


def psql(url: str, sql: str) -> str:
    out = subprocess.run(
        [str(_pg_bin_path() / "psql"), url, "-tAc", sql], check=True, capture_output=True, text=True
    )
    return out.stdout.strip()


def test_infra_restart_keeps_data(tmp_path: Path) -> None:
    root = tmp_path / "var"
    first = Infra(root, fast=True, environ={})
    urls = first.start()
    try:
        assert urls.embedded == ["postgres", "nats", "seaweedfs"]
        psql(urls.database_url, "CREATE TABLE kept (v int); INSERT INTO kept VALUES (7)")
        assert httpx.get(f"{urls.nats_monitor_url}/healthz").status_code == 200
    finally:
        first.stop()
    assert all(not c.alive() for c in first.children())
    second = Infra(root, fast=True, environ={})
    urls2 = second.start()
    try:
        assert psql(urls2.database_url, "SELECT v FROM kept") == "7"
        assert urls2.embedded == urls.embedded
    finally:
        second.stop()


def test_external_urls_are_used_instead_of_embedded(tmp_path: Path) -> None:
    env = {
        "EGSU_DATABASE_URL": "postgresql://x@db:5432/egsu",
        "EGSU_NATS_URL": "nats://nats:4222",
        "EGSU_S3_ENDPOINT": "http://minio:9000",
    }
    urls = Infra(tmp_path, environ=env).start()
    assert urls.embedded == []
    assert (
        urls.database_url == env["EGSU_DATABASE_URL"]
        and urls.s3_endpoint == env["EGSU_S3_ENDPOINT"]
    )
