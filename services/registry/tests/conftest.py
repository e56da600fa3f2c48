from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from egsu.registry.identifiers import complete
from egsu.testing.stack import Stack


def new_bin(rng: random.Random = random.Random()) -> str:  # noqa: B008 - one generator for the session
    while True:
        first = f"{rng.randint(0, 99):02d}{rng.randint(1, 12):02d}4{rng.randint(0, 9)}{rng.randint(0, 99999):05d}"
        full = complete(first)
        if full:
            return full


class World:
    """A subject with a facility and a point, created by the ministry, plus a subject user."""

    def __init__(self, stack: Stack, region: str = "550000000") -> None:
        self.stack = stack
        self.bin = new_bin()
        self.user = f"subject-{self.bin}"
        stack.add_user(self.user, ["subject"], bin=self.bin)
        with stack.sync_client("ministry") as c:
            r = c.post("/api/v1/registry/subjects", json=subject_body(self.bin, region))
            assert r.status_code == 201, r.text
            r = c.post("/api/v1/registry/facilities", json=facility_body(self.bin))
            assert r.status_code == 201, r.text
            self.facility = r.json()
            self.point_code = f"T-{self.bin}-01"
            r = c.post(
                "/api/v1/registry/metering-points",
                json=point_body(self.point_code, self.facility["id"]),
            )
            assert r.status_code == 201, r.text
            self.point = r.json()


def subject_body(bin_: str, region: str = "550000000", **kw: Any) -> dict[str, Any]:
    return {
        "bin": bin_,
        "name_ru": f"ТОО «Энергия {bin_[-4:]}»",
        "name_kk": f"«Энергия {bin_[-4:]}» ЖШС",
        "legal_form": "llp",
        "kind": "generation",
        "region_kato": region,
        "contacts": {"email": "info@energy.kz", "phone": "+7 7182 000000"},
        **kw,
    }


def facility_body(bin_: str, **kw: Any) -> dict[str, Any]:
    return {
        "subject_bin": bin_,
        "name_ru": "Павлодарская ТЭЦ-3",
        "name_kk": "Павлодар ЖЭО-3",
        "type": "chp",
        "installed_electric_mw": 540,
        "installed_heat_gcal_h": 1154,
        "voltage_kv": 220,
        "latitude": 52.3,
        "longitude": 76.9,
        "criticality": 1,
        **kw,
    }


def point_body(code: str, facility_id: str, **kw: Any) -> dict[str, Any]:
    return {
        "code": code,
        "facility_id": facility_id,
        "commodity": "electricity",
        "position": "generation",
        "quantities": ["active_export", "reactive_export", "voltage_l1"],
        "interval_min": 5,
        "nominal_voltage": 220000,
        "rated_current": 2000,
        **kw,
    }


@pytest.fixture
def world(stack: Stack) -> Iterator[World]:
    yield World(stack)


def problem(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    return r.json()  # type: ignore[no-any-return]
