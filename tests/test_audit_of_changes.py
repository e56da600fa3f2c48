"""A change made in one service is journaled by the audit service, with what it was and became."""

from __future__ import annotations

import random
import time

import pytest

from egsu.registry.identifiers import complete
from egsu.testing.stack import Stack

pytestmark = pytest.mark.stack


def a_bin() -> str:
    rng = random.Random()
    while True:
        first = f"{rng.randint(0, 99):02d}{rng.randint(1, 12):02d}4{rng.randint(0, 9)}{rng.randint(0, 99999):05d}"
        if full := complete(first):
            return full


def test_a_registry_change_is_in_the_journal_with_actor_and_after(stack: Stack) -> None:
    bin_ = a_bin()
    body = {
        "bin": bin_,
        "name_ru": "ТОО «Аудит»",
        "name_kk": "«Аудит» ЖШС",
        "legal_form": "llp",
        "kind": "generation",
        "region_kato": "550000000",
        "contacts": {"email": "a@energy.kz"},
    }
    with stack.sync_client("ministry") as c:
        r = c.post("/api/v1/registry/subjects", json=body)
        assert r.status_code == 201, r.text
    deadline = time.monotonic() + 30
    with stack.sync_client("auditor") as c:
        while True:
            items = c.get(
                "/api/v1/audit/entries", params={"kind": "change", "object": bin_}
            ).json()["items"]
            if items or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert len(items) == 1, items
        e = items[0]
        assert e["service"] == "registry" and e["actor"]["username"] == "ministry"
        assert e["before"] is None and e["after"]["bin"] == bin_
        assert c.get("/api/v1/audit/verify").json()["status"] == "ok"
