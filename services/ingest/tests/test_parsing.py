"""Canonical readings from posted batches (no servers)."""

from __future__ import annotations

import orjson
import pytest

from egsu.core.errors import Unprocessable
from egsu.ingest.parsing import canonicalise, parse_csv, parse_json
from egsu.ingest.points import PointInfo

P = PointInfo(
    "P1",
    "970740000838",
    "f",
    "550000000",
    "electricity",
    900,
    frozenset({"active_import", "voltage_l1"}),
    {"voltage_l1": "kV"},
    True,
)


def canon(readings: list[dict]) -> object:  # type: ignore[type-arg]
    raw = parse_json(orjson.dumps({"subject_bin": P.subject_bin, "readings": readings}))
    return canonicalise(raw, {"P1": P}, {}, 1 / 3)


def test_units_convert_and_the_point_default_unit_applies() -> None:
    c = canon(
        [
            {
                "point": "P1",
                "quantity": "1.29.0",
                "ts": "2026-01-15T10:15:00+05:00",
                "value": 1500,
                "unit": "Wh",
            },
            {
                "point": "P1",
                "quantity": "voltage_l1",
                "ts": "2026-01-15T10:15:00+05:00",
                "value": 10.2,
            },
        ]
    )
    assert c.quantity == ["active_import", "voltage_l1"]  # type: ignore[attr-defined]
    assert c.value == [1.5, 10200.0]  # type: ignore[attr-defined]
    assert c.ts[0] == 1768454100.0  # type: ignore[attr-defined]  # 05:15 UTC


def test_small_skew_is_snapped_and_recorded_large_is_rejected() -> None:
    c = canon(
        [
            {
                "point": "P1",
                "quantity": "active_import",
                "ts": "2026-01-15T10:17:00+05:00",
                "value": 1,
            },
            {
                "point": "P1",
                "quantity": "active_import",
                "ts": "2026-01-15T10:22:00+05:00",
                "value": 1,
            },
        ]
    )
    assert c.ts == [1768454100.0] and c.skew_s == [120.0]  # type: ignore[attr-defined]
    assert [r.code for r in c.rejected] == ["misaligned"]  # type: ignore[attr-defined]


def test_body_that_is_not_a_batch_is_refused_whole() -> None:
    for body in (b"[]", b'{"readings": {}}', b"nope"):
        with pytest.raises(Unprocessable):
            parse_json(body)


def test_csv_needs_its_columns_and_numbers_stay_numbers() -> None:
    with pytest.raises(Unprocessable, match="no column"):
        parse_csv(b"point,value\nP1,1\n")
    raw = parse_csv(
        b"\xef\xbb\xbfpoint,quantity,ts,value,unit\nP1,active_import,2026-01-15T10:15:00+05:00,2.5,kWh\n"
    )
    assert raw.readings == [
        {
            "point": "P1",
            "quantity": "active_import",
            "ts": "2026-01-15T10:15:00+05:00",
            "value": 2.5,
            "unit": "kWh",
        }
    ]
