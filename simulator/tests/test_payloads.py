"""Registry payloads of the generated system are what the registry's own schemas accept."""

from __future__ import annotations

import uuid
from datetime import date

from egsu.registry import schemas
from egsu.registry.identifiers import bin_problem
from egsu.simulator import payloads
from egsu.simulator.model import build


def test_every_payload_validates_against_the_registry_schemas() -> None:
    today = date.today()
    s = build(1500, 11, today)
    fake = lambda: str(uuid.uuid4())  # noqa: E731
    for j in range(len(s.bins)):
        assert bin_problem(s.bins[j]) is None
        schemas.SubjectCreate.model_validate(payloads.subject(s, j))
    crit = {}
    for i in range(len(s.facilities["key"])):
        f = schemas.FacilityCreate.model_validate(payloads.facility(s, i))
        crit[s.facilities["key"][i]] = f.criticality
    for i in range(s.n_points):
        p = schemas.MeteringPointCreate.model_validate(payloads.metering_point(s, i, fake()))
        # the registry refuses an interval longer than the facility's criticality allows (§31)
        assert p.interval_min <= {1: 5, 2: 15, 3: 60}[crit[s.points["facility_key"][i]]]
        schemas.DeviceCreate.model_validate(payloads.device(s, i, fake()))
    for i in range(len(s.systems["key"])):
        schemas.SystemCreate.model_validate(payloads.system(s, i, [fake()]))
    for i in range(len(s.obligations["key"])):
        schemas.ObligationCreate.model_validate(
            payloads.obligation(s, i, fake() if s.obligations["facility_key"][i] else None)
        )
    overdue = sum(
        1 for v, m in zip(s.devices["verification_date"], s.devices["verification_interval_months"], strict=True)
        if (today - v).days > m * 30.44
    )  # fmt: skip
    assert 0.02 * s.n_points < overdue < 0.15 * s.n_points
    assert {u["username"] for u in s.users()} == {f"subject-{b}" for b in s.bins}
