"""The console over HTTP: login, role checks, pages in three languages, CSV upload and receipt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from egsu.testing.stack import Stack
from egsu.testing.world import World, grid, kz

from .conftest import console_url, login

pytestmark = pytest.mark.stack


def test_anonymous_is_sent_to_the_realm_login(stack: Stack) -> None:
    with httpx.Client(base_url=console_url(stack)) as c:
        r = c.get("/")
        assert r.status_code == 303 and r.headers["location"].startswith("/login")
        r = c.get("/login?next=/registry")
        assert r.status_code == 303
        target = r.headers["location"]
        assert target.startswith(f"http://localhost:{stack.port}/realms/egsu/protocol/openid-connect/auth")
        assert "code_challenge_method=S256" in target and "client_id=egsu-console" in target


def test_ministry_sees_the_overview_in_three_languages(stack: Stack, ministry_console: httpx.Client) -> None:
    for lang, words in (("ru", "Обзор"), ("kk", "Шолу"), ("en", "Overview")):
        r = ministry_console.get("/", params={"lang": lang})
        assert r.status_code == 200, r.text
        assert f'<html lang="{lang}">' in r.text
        assert words in r.text
    # the choice is remembered
    r = ministry_console.get("/registry")
    assert '<html lang="en">' in r.text
