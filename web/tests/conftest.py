"""Fixtures of the console's tests: users logged in through the realm's real login page."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import httpx
import pytest

from egsu.testing.stack import Stack


def console_url(stack: Stack) -> str:
    """The console as a browser reaches it: through the gateway, on the realm's host name."""
    return f"http://localhost:{stack.port}"


def login(stack: Stack, username: str, password: str = "demo", lang: str = "en") -> httpx.Client:  # noqa: S107
    """An HTTP client holding a console session of ``username`` (code flow with PKCE, as a browser)."""
    c = httpx.Client(base_url=console_url(stack), timeout=30, cookies={"egsu_lang": lang})
    r = c.get("/login", params={"next": "/"})
    assert r.status_code == 303, r.text
    page = c.get(r.headers["location"])
    assert page.status_code == 200, page.text
    action = html.unescape(re.search(r'<form method="post" action="([^"]+)"', page.text)[1])
    q = html.unescape(re.search(r'name="q" value="([^"]*)"', page.text)[1])
    r = c.post(action, data={"q": q, "username": username, "password": password})
    assert r.status_code in (302, 303), r.text
    r = c.get(r.headers["location"])
    assert r.status_code == 303, r.text
    assert "egsu_console" in c.cookies
    return c


@pytest.fixture(scope="session")
def ministry_console(stack: Stack) -> Iterator[httpx.Client]:
    c = login(stack, "ministry")
    yield c
    c.close()
