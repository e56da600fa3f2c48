"""Training, scoring and reconciliation of a group, scenarios, weather and risk — without servers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from egsu.core.errors import Unprocessable
from egsu.forecast import insights, pipeline, scenarios, weather
from egsu.forecast.forecasters import Context, DegreeDayNaive
from egsu.forecast.pipeline import TrainConfig, Trained
from egsu.forecast.schedule import Schedule
from egsu.forecast.series import Panel
from egsu.forecast.synthetic import synthetic_panel

PARENTS = {"region:a": "country:KZ", "region:b": "country:KZ", "region:c": "country:KZ"}
CONFIG = TrainConfig(models=("seasonal_naive", "degree_day", "lightgbm"), rounds=50)


def national(days: int = 11) -> tuple[Panel, Panel, int]:
    """Three regions and their sum, hourly; the training part and the part with the next day."""
    p = synthetic_panel(
        n_series=3, days=days, step="1h", start="2025-01-06", heat_share=0.8, seed=3
    )
    load = np.vstack([p.load.sum(axis=0, keepdims=True), p.load])
    temp = np.vstack([p.exog["temperature"].mean(axis=0, keepdims=True), p.exog["temperature"]])
    ids = ["country:KZ", "region:a", "region:b", "region:c"]
    known = (days - 1) * 24
    train = Panel(p.index[:known], load[:, :known], {"temperature": temp[:, :known]}, ids)
    future = np.where(np.arange(len(p.index)) < known, load, np.nan)
    full = Panel(p.index, future, {"temperature": temp}, ids)
    return train, full, known


@pytest.fixture(scope="module")
def trained() -> tuple[Trained, Panel, int, np.ndarray]:
    train, full, known = national()
    model = pipeline.train(train, "day_ahead", CONFIG, parents=PARENTS)
    actual = national()[1]
    return model, full, known, actual.load


def test_every_series_gets_back_test_scores_a_choice_and_calibrated_quantiles(
    trained: tuple[Trained, Panel, int, np.ndarray],
) -> None:
    model = trained[0]
    assert model.origins >= 2
    assert set(model.per_series) == {"country:KZ", "region:a", "region:b", "region:c"}
    for scores in model.per_series.values():
        assert set(scores) >= {"seasonal_naive", "degree_day", "lightgbm"}
        assert scores["seasonal_naive"]["rmse"] > 0
    assert set(model.selected.values()) <= set(model.models)
    for name in model.models:
        o10, o50, o90 = model.default_offsets[name]
        assert o10 <= o50 <= o90
    assert model.reconciliation is not None
    assert model.reconciliation["nodes"][0] == "country:KZ"
    assert model.booster and model.degree_day is not None


def test_the_forecast_is_coherent_exactly_and_survives_the_object_store(
    trained: tuple[Trained, Panel, int, np.ndarray],
) -> None:
    model, full, known, _ = trained
    window = pipeline.scoring_window(full, model, known)
    assert full.index[window.targets[0]].hour == 0 and len(window.targets) == 24
    forecast = pipeline.reconcile(pipeline.predict(full, model, window), PARENTS, model)
    assert (forecast.p10 <= forecast.p50).all() and (forecast.p50 <= forecast.p90).all()
    regions = forecast.p50[1:]
    assert (np.round(regions.sum(axis=0), 3) == forecast.p50[0]).all()
    again = Trained.from_bytes(model.to_bytes())
    copy = pipeline.reconcile(pipeline.predict(full, again, window), PARENTS, again)
    np.testing.assert_allclose(copy.p50, forecast.p50)
    assert copy.reconciliation == forecast.reconciliation


def test_a_colder_scenario_raises_the_affected_region_and_the_nation_only(
    trained: tuple[Trained, Panel, int, np.ndarray],
) -> None:
    model, full, known, _ = trained
    window = pipeline.scoring_window(full, model, known)
    forecast = pipeline.reconcile(pipeline.predict(full, model, window), PARENTS, model)
    delta = scenarios.temperature_delta(full, model, window, [1], -10.0)
    assert (delta[1] > 0).all() and (delta[[0, 2, 3]] == 0).all()
    outcome = scenarios.apply(forecast, delta, ["region:a"], 5.0, PARENTS)
    s = outcome.scenario
    assert (s[0.5][2:] == outcome.baseline[0.5][2:]).all()  # the other regions as they were
    assert (np.round(s[0.5][1:].sum(axis=0), 3) == s[0.5][0]).all()
    assert (s[0.5][0] > outcome.baseline[0.5][0]).all()
    summary = scenarios.node_summary(outcome, "region:a", full.index[window.targets], 1e9, 2e8)
    assert summary["energy"]["delta"] > 0
    assert summary["balance"]["scenario"] < summary["balance"]["baseline"]


def test_degree_day_naive_follows_the_forecast_temperature() -> None:
    panel = synthetic_panel(n_series=2, days=12, step="1h", heat_share=1.0, seed=5)
    schedule = Schedule.day_ahead()
    context = Context(panel, schedule)
    model = DegreeDayNaive()
    cut = 10 * 24 + 12
    model.fit(context, cut)
    assert model.coefficients is not None and model.coefficients[0] > 0  # colder: more heat
    window = schedule.windows(panel.index)[-1]
    base = model.predict(context, window)
    colder = panel.exog["temperature"].copy()
    colder[:, window.cut :] -= 8
    cold = model.predict(Context(panel.with_exog(temperature=colder), schedule), window)
    assert (cold > base).all()


def test_weather_rows_are_checked_and_placed_on_a_grid() -> None:
    with pytest.raises(Unprocessable) as bad:
        weather.validate(
            [
                {
                    "region_kato": "550000000",
                    "ts": "2026-01-01T00:00:00+05:00",
                    "temperature_c": -5,
                },
                {"region_kato": "550000000", "ts": "yesterday", "temperature_c": -5},
                {"region_kato": "550000000", "ts": "2026-01-01T01:00:00+05:00", "wind_ms": -1},
            ]
        )
    assert [e.field for e in bad.value.errors] == [
        "items[1].ts", "items[2].temperature_c", "items[2].wind_ms",
    ]  # fmt: skip
    rows = weather.validate(
        [
            {
                "region_kato": "550000000",
                "ts": "2026-01-01T00:00:00Z",
                "temperature_c": "-7.5",
                "issued_at": "2025-12-31T18:00:00+05:00",
            }
        ]
    )
    assert rows[0].issued_at is not None and rows[0].temperature_c == -7.5
    start = datetime(2026, 1, 1, tzinfo=UTC)
    times = pd.DatetimeIndex([start + timedelta(hours=h) for h in range(48)], tz="UTC")
    frame = pd.DataFrame(
        {
            "temperature_c": [float(h % 24) for h in range(48)],
            "wind_ms": np.nan,
            "cloud_pct": np.nan,
            "observed": True,
        },
        index=times,
    )
    index = pd.date_range(
        pd.Timestamp(start).tz_convert("Asia/Almaty"), periods=96, freq="h"
    ).as_unit("ns")
    values, origin = weather.on_grid(frame, index, pd.Timedelta(hours=1), known=48)
    t = values["temperature"]
    assert t[0] == pytest.approx(0.5)  # the middle of the first hour
    assert (origin[:47] == 2).all()
    assert (origin[52:] == 0).all()  # beyond the data: the last days' course (persistence)
    assert t[60] == pytest.approx(t[36], abs=1e-9)


def test_risk_signs_and_the_ranking_of_preceding_events() -> None:
    steady = np.full(28, 100.0) + np.random.default_rng(1).normal(0, 1, 28)
    falling = steady.copy()
    falling[-7:] *= 0.65
    assert insights.drift(steady).weight < 0.1
    fall = insights.drift(falling)
    assert fall.weight > 0.8 and fall.detail["change_pct"] < -30
    events = insights.journal([{"code": "equipment_trip"}, {"code": "power_loss"}], 30)
    assert insights.score([fall, events])["level"] == "critical"
    assert insights.score([insights.drift(steady)])["level"] == "low"
    t0 = 1_700_000_000 // 86400 * 86400
    times = [t0 + h * 3600 for h in range(24 * 5)]
    values = np.array([10.0 + (h % 24) for h in range(24 * 5)])
    values[-3] = 0.0
    found = insights.anomalies(times, values, 3600, since=times[-24])
    assert [a["kind"] for a in found] == ["drop_to_zero"]
    ranked = insights.rank(
        [
            {"ts": times[-1], "relation": "same_subject", "strength": 0.3},
            {"ts": times[-3], "relation": "same_point", "strength": 1.0},
            {"ts": times[-1] + 7200, "relation": "same_point", "strength": 1.0},  # after it
        ],
        incident_ts=times[-1] + 3600,
    )
    assert [r["relation"] for r in ranked] == ["same_point", "same_subject"]
    assert ranked[0]["lead_s"] == 3 * 3600
