"""Open data: answered without a token, aggregated, and never one subject's figures."""

from __future__ import annotations

import json

import pytest
from reports_helpers import demo_day, post, wait_stored, world

from egsu.testing.stack import Stack

pytestmark = pytest.mark.stack
OPEN = "/api/v1/open"
LONE, SHARED = "430000000", "190000000"


def test_open_data_answers_anonymously_and_never_reveals_one_subjects_figures(stack: Stack) -> None:
    day = demo_day()
    lone = world(stack, LONE, "consumption")
    with stack.sync_client("ministry") as c:
        r = c.post(
            "/api/v1/registry/facilities",
            json={
                "subject_bin": lone.bin,
                "name_ru": "ВЭС «Сырдарья-Уникальная»",
                "name_kk": "«Сырдария» ЖЭС",
                "type": "wpp",
                "installed_electric_mw": 123.456,
                "criticality": 3,
            },
        )
        assert r.status_code == 201, r.text
    receipts = [post(stack, lone, day, [777.123] * 24, "active_import")]
    shared = [world(stack, SHARED, "consumption") for _ in range(3)]
    for i, w in enumerate(shared):
        receipts.append(post(stack, w, day, [100.0 + 10 * i] * 24, "active_import"))
    wait_stored(stack, receipts)
    with stack.sync_client("operator") as c:
        r = c.post(
            "/api/v1/reports/open-data/regenerate",
            json={"from": day.isoformat(), "to": day.isoformat()},
        )
        assert r.status_code == 200, r.text

    secrets = [
        lone.bin,
        lone.point_code,
        "Сырдарья-Уникальная",
        "777.123",
        "18.651",
        "18650",
        "123.456",
    ]
    seen: list[str] = []
    with stack.sync_client(None) as anon:  # no token at all
        cat = anon.get(f"{OPEN}/datasets")
        assert cat.status_code == 200, cat.text
        seen.append(cat.text)
        names = [d["name"] for d in cat.json()["items"]]
        assert {
            "electricity_by_region_day",
            "installed_capacity_by_region_type",
            "data_quality_by_region_day",
        } <= set(names)
        for name in names:
            meta = anon.get(f"{OPEN}/datasets/{name}/meta")
            assert meta.status_code == 200
            m = meta.json()
            assert (
                set(m["title"])
                == set(m["description"])
                == set(m["owner"])
                == set(m["licence"])
                == {"ru", "kk", "en"}
            )
            assert m["suppression"]["min_subjects"] == 3 and m["last_update"]
            seen.append(meta.text)
            queries = [
                {},
                {"region_kato": LONE},
                {"date_from": day.isoformat(), "date_to": day.isoformat()},
                {
                    "source": json.dumps(
                        {
                            "from": 0,
                            "size": 1000,
                            "query": {"bool": {"must": [{"match": {"region_kato": LONE}}]}},
                        }
                    )
                },
                {"region_kato": LONE, "format": "csv"},
                {"page": 1, "count": 10000, "format": "csv"},
            ]
            for q in queries:
                if "date_from" in q and name == "installed_capacity_by_region_type":
                    continue  # a dataset without dates
                r = anon.get(f"{OPEN}/datasets/{name}", params=q)
                assert r.status_code == 200, (name, q, r.text)
                seen.append(r.text)
        rows = anon.get(
            f"{OPEN}/datasets/electricity_by_region_day",
            params={"date_from": day.isoformat(), "date_to": day.isoformat()},
        ).json()
        # unauthenticated callers reach nothing else
        assert anon.get("/api/v1/reports").status_code == 401
    everything = "\n".join(seen)
    for s in secrets:
        assert s not in everything, f"{s!r} leaked through open data"
    lone_cell = next(r for r in rows if r["region_kato"] == LONE and r["measure"] == "consumption")
    assert (
        lone_cell["suppressed"] is True
        and lone_cell["value_mwh"] is None
        and lone_cell["subjects"] is None
    )
    shared_cell = next(
        r for r in rows if r["region_kato"] == SHARED and r["measure"] == "consumption"
    )
    assert shared_cell["suppressed"] is False and shared_cell["subjects"] == 3, rows
    assert shared_cell["value_mwh"] == pytest.approx(
        sum(24 * (100.0 + 10 * i) for i in range(3)) / 1000
    )
    assert (
        shared_cell["region_ru"] == "Алматинская область"
        and shared_cell["region_kk"] == "Алматы облысы"
    )


def test_open_data_filters_name_the_bad_field(stack: Stack) -> None:
    with stack.sync_client(None) as anon:
        r = anon.get(
            f"{OPEN}/datasets/electricity_by_region_day", params={"subject_bin": "123456789012"}
        )
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "subject_bin"
        r = anon.get(f"{OPEN}/datasets/electricity_by_region_day", params={"source": "{not json"})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "source"
        assert anon.get(f"{OPEN}/datasets/nope").status_code == 404
