"""What-if scenarios on the national hierarchy: a temperature change, demand growth and generating
facilities taken out, and their effect on each region's and the nation's demand, peak and balance
for one day, as a forecast delta with its uncertainty.

The baseline is the served forecast (each series' chosen model, reconciled). The temperature effect
of a region comes from the engine's what-if on the temperature-aware model the region's back-test
ranked best (its chosen model when that one knows the weather): a coherent delta added to the
baseline. Demand growth scales the affected regions; the nation is their sum. An outage removes the
facilities' installed capacity from the available capacity of their region and of the nation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from egsu.forecast.analytics import Scenario, reserve_margin, what_if
from egsu.forecast.backtest import ENSEMBLE, QUANTILES, ModelScore, _rank
from egsu.forecast.forecasters import Context, temperature_column
from egsu.forecast.pipeline import Forecast, Trained
from egsu.forecast.schedule import Window
from egsu.forecast.series import Panel

WEATHER_AWARE = ("lightgbm", "degree_day")


class ScenarioError(ValueError):
    """The scenario cannot be computed as asked (the message names what is missing)."""


def _as_score(d: Mapping[str, float | None]) -> ModelScore:
    nan = float("nan")
    return ModelScore(
        **{
            k: (nan if d.get(k) is None else float(d[k]))
            for k in ("mape", "smape", "mase", "rmse", "pinball", "coverage_p10_p90")
        }
    )  # type: ignore[arg-type]


def weather_model(trained: Trained, sid: str) -> list[tuple[str, float]]:
    """The temperature-aware model(s) of a series with their weights."""
    chosen = trained.selected.get(sid, trained.default_model)
    available = [m for m in trained.models if m in WEATHER_AWARE]
    if chosen in WEATHER_AWARE:
        return [(chosen, 1.0)]
    if chosen == ENSEMBLE:
        parts = [m for m in trained.models if m not in ("seasonal_naive", ENSEMBLE)]
        inv = np.array([1.0 / max(trained.mse.get(m, {}).get(sid, np.nan), 1e-12) for m in parts])
        if not np.isfinite(inv).all():
            inv = np.ones(len(parts))
        weights = inv / inv.sum()
        aware = [(m, float(w)) for m, w in zip(parts, weights, strict=True) if m in WEATHER_AWARE]
        if aware:
            return aware
    if not available:
        return []
    scores = trained.per_series.get(sid, {})
    ranked = sorted(
        available, key=lambda m: _rank(_as_score(scores[m])) if m in scores else (np.inf, np.inf)
    )
    return [(ranked[0], 1.0)]


def temperature_delta(
    panel: Panel, trained: Trained, window: Window, rows: Sequence[int], delta_c: float
) -> np.ndarray:
    """Point-forecast change of the given series when the temperature moves by ``delta_c`` from
    the window's cut to its end (zeros for the other series)."""
    out = np.zeros((panel.n_series, len(window.targets)))
    if not delta_c or not rows:
        return out
    if temperature_column(panel) is None or not np.isfinite(panel.exog["temperature"]).any():
        raise ScenarioError(
            "the forecast model has no weather: load temperatures (POST /api/v1/forecast/weather) "
            "and retrain before a temperature scenario"
        )
    context = Context(panel, trained.schedule, trained.calendar())
    zero = {0.5: np.zeros((panel.n_series, 1))}
    deltas: dict[str, np.ndarray] = {}
    plans = {i: weather_model(trained, panel.ids[i]) for i in rows}
    if any(not plan for plan in plans.values()):
        raise ScenarioError("no temperature-aware model was trained for the affected series")
    for name in {m for plan in plans.values() for m, _ in plan}:
        outcome = what_if(
            trained.forecaster(name), context, window, Scenario(temperature_delta=delta_c), zero
        )
        deltas[name] = outcome.delta[0.5]
    for i, plan in plans.items():
        out[i] = sum(w * deltas[m][i] for m, w in plan)
    return out


@dataclass
class Outcome:
    """Per node: baseline and scenario P10/P50/P90 over the day's steps."""

    ids: list[str]
    baseline: dict[float, np.ndarray]
    scenario: dict[float, np.ndarray]
    affected: list[str] = field(default_factory=list)


def apply(
    forecast: Forecast,
    delta: np.ndarray,
    affected: Sequence[str],
    growth_pct: float,
    parents: Mapping[str, str],
) -> Outcome:
    """Baseline (the reconciled forecast) and scenario of every node; parents are the sums of
    their children's P50 and keep their own band around it."""
    base = {q: getattr(forecast, f"p{int(q * 100)}").copy() for q in QUANTILES}
    scen = {q: v.copy() for q, v in base.items()}
    g = 1 + growth_pct / 100
    for sid in affected:
        i = forecast.row(sid)
        for q in QUANTILES:
            scen[q][i] = np.maximum((base[q][i] + delta[i]) * g, 0.0)
    children: dict[str, list[int]] = {}
    for child, parent in parents.items():
        if child in forecast.ids and parent in forecast.ids:
            children.setdefault(parent, []).append(forecast.row(child))
    for parent, rows in children.items():
        p = forecast.row(parent)
        median = np.round(np.sum(scen[0.5][rows], axis=0), 3)
        change = median - base[0.5][p]
        scen[0.5][p] = median
        for q in (0.1, 0.9):
            scen[q][p] = np.maximum(base[q][p] + change, 0.0)
    for q in QUANTILES:
        scen[q] = np.round(scen[q], 3)
    return Outcome(ids=list(forecast.ids), baseline=base, scenario=scen, affected=list(affected))


def node_summary(
    outcome: Outcome,
    sid: str,
    index: Any,
    capacity: float | None,
    outage: float,
) -> dict[str, Any]:
    """Numbers of one node ready for a chart and a table."""
    i = outcome.ids.index(sid)
    base = {q: outcome.baseline[q][i] for q in QUANTILES}
    scen = {q: outcome.scenario[q][i] for q in QUANTILES}

    def series(v: dict[float, np.ndarray]) -> dict[str, list[float]]:
        return {f"p{int(q * 100)}": [round(float(x), 3) for x in v[q]] for q in QUANTILES}

    def peak(v: dict[float, np.ndarray]) -> dict[str, Any]:
        k = int(np.argmax(v[0.5]))
        return {
            "p10": round(float(np.max(v[0.1])), 3),
            "p50": round(float(v[0.5][k]), 3),
            "p90": round(float(np.max(v[0.9])), 3),
            "at": index[k].isoformat(),
        }

    delta = {q: scen[q] - base[0.5] for q in QUANTILES}
    out: dict[str, Any] = {
        "affected": sid in outcome.affected,
        "baseline": series(base),
        "scenario": series(scen),
        "delta": series(delta),
        "peak": {"baseline": peak(base), "scenario": peak(scen)},
        "energy": {
            "baseline": round(float(np.sum(base[0.5])), 3),
            "scenario": round(float(np.sum(scen[0.5])), 3),
            "delta": round(float(np.sum(scen[0.5]) - np.sum(base[0.5])), 3),
        },
    }
    if capacity is not None and capacity > 0:
        available = capacity - outage
        base_peak, scen_peak = float(np.max(base[0.5])), float(np.max(scen[0.5]))
        out["capacity"] = {
            "installed": round(capacity, 3),
            "outage": round(outage, 3),
            "available": round(available, 3),
        }
        out["balance"] = {
            "baseline": round(capacity - base_peak, 3),
            "scenario": round(available - scen_peak, 3),
            "scenario_p90": round(available - float(np.max(scen[0.9])), 3),
        }
        out["reserve_margin"] = {
            "baseline": _finite(reserve_margin(capacity, base_peak)),
            "scenario": _finite(reserve_margin(available, scen_peak)),
        }
    return out


def _finite(v: Any) -> float | None:
    f = float(v)
    return round(f, 4) if np.isfinite(f) else None
