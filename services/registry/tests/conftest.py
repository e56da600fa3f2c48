from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from egsu.testing.stack import Stack
from egsu.testing.world import World, facility_body, new_bin, point_body, subject_body

__all__ = ["World", "facility_body", "new_bin", "point_body", "problem", "subject_body"]


@pytest.fixture
def world(stack: Stack) -> Iterator[World]:
    yield World(stack)


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return r.json()  # type: ignore[no-any-return]
