"""The README's first example, run as written against the running System (only the address, the
credentials, the point and the BIN are this test's own)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from egsu.testing.stack import Stack
from egsu.testing.world import World

pytestmark = pytest.mark.stack
README = Path(__file__).parents[1] / "README.md"


def test_the_readme_example_posts_a_reading_that_gets_stored(stack: Stack) -> None:
    world = World(stack)
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)  # type: ignore[union-attr]
    for old, new in {
        "https://egsu.example.kz": stack.url,
        '"my-integration-client", "its-secret"': '"egsu-ingest", "egsu-ingest-dev-secret"',
        "KZ-EL-000123": world.point_code,
        "active_import": "active_export",
        "123456789012": world.bin,
    }.items():
        assert old in code, old
        code = code.replace(old, new)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(README), "exec"), {"__name__": "readme"})  # noqa: S102
    receipt_id, accepted, rejected = out.getvalue().split(" ", 2)
    assert accepted == "1" and rejected.strip() == "[]"
    with stack.sync_client(world.user) as c:
        assert c.get(f"/api/v1/ingest/receipts/{receipt_id}").json()["accepted"] == 1
