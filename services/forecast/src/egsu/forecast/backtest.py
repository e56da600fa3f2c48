"""Rolling-origin back-test: every model forecasts each window knowing only what was known then.

The last ``origins`` windows of the schedule are scored; the ``warmup`` windows before them only
calibrate. Quantiles (P10/P50/P90) come from each model's own out-of-sample errors on the windows
before the one being forecast (split-conformal intervals), so they cost no extra training and are
honest by construction. The ensemble weighs the non-baseline models by their recent squared errors.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from egsu.forecast import metrics
from egsu.forecast.errors import ForecastInputError
from egsu.forecast.features import HolidayCalendar
from egsu.forecast.forecasters import Context, Forecaster, SeasonalNaive, default_models
from egsu.forecast.schedule import Schedule, Window
from egsu.forecast.series import DAY, Panel, format_duration

BASELINE = SeasonalNaive.name
ENSEMBLE = "ensemble"
QUANTILES = metrics.QUANTILES


class ResidualQuantiles:
    """Quantiles of a model's recent errors relative to the series level (per series)."""

    def __init__(self, memory: int = 56) -> None:
        self.memory = memory
        self._windows: deque[np.ndarray] = deque(maxlen=memory)

    def __len__(self) -> int:
        return len(self._windows)

    def add(self, actual: np.ndarray, forecast: np.ndarray, level: np.ndarray) -> None:
        """Remember one window's errors ``(actual - forecast) / level``."""
        self._windows.append((actual - forecast) / level)

    def errors(self) -> np.ndarray:
        """All remembered relative errors, shape ``(n_series, n)``."""
        return np.concatenate(list(self._windows), axis=1)

    def mean_squared(self) -> np.ndarray:
        """Mean squared relative error per series (NaN before any window was seen)."""
        if not self._windows:
            return np.array([np.nan])
        errors = self.errors()
        finite = np.isfinite(errors)
        counts = finite.sum(axis=1)
        total = np.where(finite, errors**2, 0.0).sum(axis=1)
        return np.where(counts > 0, total / np.maximum(counts, 1), np.nan)

    def offsets(self, levels: Sequence[float] = QUANTILES) -> dict[float, np.ndarray]:
        """Relative offset of each quantile per series, shape ``(n_series, 1)`` (NaN if unknown)."""
        if not self._windows:
            return {q: np.array([[np.nan]]) for q in levels}
        errors = self.errors()
        out = {}
        for q in levels:
            values = np.full(errors.shape[0], np.nan)
            has = np.isfinite(errors).any(axis=1)
            if has.any():
                values[has] = np.nanquantile(errors[has], q, axis=1)
            out[q] = values[:, None]
        return out


@dataclass
class ModelScore:
    """Accuracy of one model over the scored windows, plus its time."""

    mape: float
    smape: float
    mase: float
    rmse: float
    pinball: float
    coverage_p10_p90: float
    fit_seconds: float = 0.0
    predict_seconds: float = 0.0

    def as_dict(self) -> dict[str, float | None]:
        """Metrics for JSON (NaN becomes null)."""
        keys = ("mape", "smape", "mase", "rmse", "pinball", "coverage_p10_p90")
        return {k: _json_number(getattr(self, k)) for k in keys}


@dataclass
class BacktestResult:
    """What a back-test found: scores per model, the chosen model, and the forecasts themselves."""

    schedule: Schedule
    step: pd.Timedelta
    origins: list[pd.Timestamp]
    scores: dict[str, ModelScore]
    selected: str
    actual: np.ndarray
    forecasts: dict[str, np.ndarray]
    quantiles: dict[str, dict[float, np.ndarray]]
    targets: np.ndarray
    notes: list[str] = field(default_factory=list)
    baseline: str = BASELINE
    # The scored windows in order and the context they were forecast in (features, levels), so a
    # caller can slice the forecasts per window and fit the final models without rebuilding.
    windows: list[Window] = field(default_factory=list, repr=False)
    context: Context | None = field(default=None, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """The documented JSON object of ``egsu forecast backtest --json``."""
        return {
            "models": {name: score.as_dict() for name, score in self.scores.items()},
            "baseline": self.baseline,
            "selected": self.selected,
            "horizon": format_duration(self.schedule.horizon),
            "lead": None if self.schedule.issue_time else format_duration(self.schedule.lead),
            "issue_time": (
                self.schedule.issue_time.strftime("%H:%M") if self.schedule.issue_time else None
            ),
            "freq": format_duration(self.step),
            "origins": len(self.origins),
            "first_origin": self.origins[0].isoformat() if self.origins else None,
            "last_origin": self.origins[-1].isoformat() if self.origins else None,
        }


def backtest(
    panel: Panel,
    schedule: Schedule,
    *,
    calendar: HolidayCalendar | None = None,
    models: Sequence[Forecaster] | None = None,
    origins: int = 28,
    warmup: int = 14,
    refit_every: int = 7,
    ensemble: bool = True,
    progress: Callable[[int, int], None] | None = None,
    min_history: pd.Timedelta | None = None,
) -> BacktestResult:
    """Score every model on the last ``origins`` windows of ``schedule`` (see the module doc).

    ``min_history`` is the history a window needs before it (default: ``minimum_history``); a
    service that must forecast young series soon after their first readings may lower it.
    """
    context = Context(panel, schedule, calendar or HolidayCalendar())
    models = list(models) if models is not None else default_models()
    if not any(m.name == BASELINE for m in models):
        models.insert(0, SeasonalNaive())
    need = panel.steps(min_history) if min_history is not None else None
    scored, calibration, notes = _choose_windows(panel, schedule, origins, warmup, need)
    windows = calibration + scored
    names = [m.name for m in models]
    components = [n for n in names if n != BASELINE]
    with_ensemble = ensemble and len(components) >= 2
    all_names = names + ([ENSEMBLE] if with_ensemble else [])

    memory = max(warmup, 28)
    residuals = {n: ResidualQuantiles(memory) for n in all_names}
    fit_seconds = dict.fromkeys(all_names, 0.0)
    predict_seconds = dict.fromkeys(all_names, 0.0)
    collected: dict[str, list[np.ndarray]] = {n: [] for n in all_names}
    collected_q: dict[str, dict[float, list[np.ndarray]]] = {
        n: {q: [] for q in QUANTILES} for n in all_names
    }
    actual_parts: list[np.ndarray] = []
    last_fit = -(10**9)
    started = time.perf_counter()
    context.features  # noqa: B018 - built once, timed with the models that use it
    feature_seconds = time.perf_counter() - started

    for k, window in enumerate(windows):
        if k - last_fit >= refit_every:
            for model in models:
                began = time.perf_counter()
                model.fit(context, window.cut)
                fit_seconds[model.name] += time.perf_counter() - began
            last_fit = k
        actual = panel.load[:, window.targets]
        level = context.level(window)
        points: dict[str, np.ndarray] = {}
        for model in models:
            began = time.perf_counter()
            points[model.name] = model.predict(context, window)
            predict_seconds[model.name] += time.perf_counter() - began
        if with_ensemble:
            points[ENSEMBLE] = _combine({n: points[n] for n in components}, residuals)
        scoring = k >= len(calibration)
        for name in all_names:
            if scoring:
                offsets = residuals[name].offsets()
                collected[name].append(points[name])
                for q in QUANTILES:
                    collected_q[name][q].append(points[name] + offsets[q] * level)
            residuals[name].add(actual, points[name], level)
        if scoring:
            actual_parts.append(actual)
        if progress is not None:
            progress(k + 1, len(windows))

    for name in fit_seconds:
        if name not in (BASELINE, ENSEMBLE, "mstl"):
            fit_seconds[name] += feature_seconds
    actual = np.concatenate(actual_parts, axis=1)
    forecasts = {n: np.concatenate(v, axis=1) for n, v in collected.items()}
    quantiles = {
        n: {q: np.concatenate(v, axis=1) for q, v in qs.items()} for n, qs in collected_q.items()
    }
    first_cut = scored[0].cut
    naive_mae = metrics.seasonal_naive_mae(panel.load[:, :first_cut], context.week)
    scores = {
        n: _score(actual, forecasts[n], quantiles[n], naive_mae, fit_seconds[n], predict_seconds[n])
        for n in all_names
    }
    if with_ensemble:
        scores[ENSEMBLE].fit_seconds = sum(fit_seconds[n] for n in components)
        scores[ENSEMBLE].predict_seconds = sum(predict_seconds[n] for n in components)
    selected = min(all_names, key=lambda n: _rank(scores[n]))
    return BacktestResult(
        schedule=schedule,
        step=panel.step,
        origins=[w.origin for w in scored],
        scores=scores,
        selected=selected,
        actual=actual,
        forecasts=forecasts,
        quantiles=quantiles,
        targets=np.concatenate([w.targets for w in scored]),
        notes=[*panel.notes, *notes],
        windows=scored,
        context=context,
    )


def minimum_history(panel: Panel) -> int:
    """Steps a series needs before its first forecast: two weeks and a day, or 8 weeks if daily."""
    day = panel.steps(DAY)
    return 56 if day == 1 else 15 * day


def _choose_windows(
    panel: Panel, schedule: Schedule, origins: int, warmup: int, need: int | None = None
) -> tuple[list[Window], list[Window], list[str]]:
    if origins < 1:
        raise ForecastInputError("--origins must be at least 1")
    if schedule.horizon < panel.step:
        raise ForecastInputError(
            f"--horizon {format_duration(schedule.horizon)} is shorter than the step "
            f"{format_duration(panel.step)}"
        )
    if schedule.issue_time is None and schedule.horizon % panel.step != pd.Timedelta(0):
        raise ForecastInputError(
            f"--horizon {format_duration(schedule.horizon)} is not a whole number of "
            f"{format_duration(panel.step)} steps"
        )
    need = minimum_history(panel) if need is None else need
    finite = np.isfinite(panel.load).any(axis=0)
    windows = [
        w
        for w in schedule.windows(panel.index)
        if w.cut >= need and finite[w.targets].any() and finite[: w.cut].sum() >= need // 2
    ]
    span = panel.index[-1] - panel.index[0] + panel.step
    if len(windows) < 2:
        days = span / DAY
        need_days = need * panel.step / DAY
        raise ForecastInputError(
            f"too short: {days:.1f} days of data; the back-test needs {need_days:.0f} days of "
            f"history and at least two {schedule.describe()} windows after it"
        )
    notes = []
    if len(windows) >= origins + warmup:
        scored = windows[-origins:]
        calibration = windows[-origins - warmup : -origins] if warmup else []
    else:
        warm = min(warmup, max(1, len(windows) // 3))
        calibration, scored = windows[:warm], windows[warm:][-origins:]
        notes.append(f"the data allow {len(scored)} scored origins after {warm} calibration ones")
    if not calibration:
        calibration, scored = scored[:1], scored[1:]
    return scored, calibration, notes


def _combine(points: dict[str, np.ndarray], residuals: dict[str, ResidualQuantiles]) -> np.ndarray:
    """Weighted mean of the models' forecasts, weights ∝ 1 / recent mean squared error."""
    n_series = next(iter(points.values())).shape[0]
    weights = []
    for name in points:
        mse = np.broadcast_to(residuals[name].mean_squared(), (n_series,))
        weights.append(np.where(np.isfinite(mse) & (mse > 0), 1.0 / np.maximum(mse, 1e-12), np.nan))
    w = np.stack(weights)
    w = np.where(np.isfinite(w).all(axis=0), w, 1.0)
    w = w / w.sum(axis=0)
    stacked = np.stack(list(points.values()))
    return np.einsum("ms,msh->sh", w, stacked)


def _score(
    actual: np.ndarray,
    forecast: np.ndarray,
    quantiles: dict[float, np.ndarray],
    naive_mae: float,
    fit_seconds: float,
    predict_seconds: float,
) -> ModelScore:
    return ModelScore(
        mape=metrics.mape(actual, forecast),
        smape=metrics.smape(actual, forecast),
        mase=metrics.mase(actual, forecast, naive_mae),
        rmse=metrics.rmse(actual, forecast),
        pinball=metrics.pinball(actual, quantiles),
        coverage_p10_p90=metrics.coverage(actual, quantiles[0.1], quantiles[0.9]),
        fit_seconds=fit_seconds,
        predict_seconds=predict_seconds,
    )


def _rank(score: ModelScore) -> tuple[float, float]:
    """Lower is better: MASE (or RMSE when MASE is undefined)."""
    primary = score.mase if np.isfinite(score.mase) else score.rmse
    return (primary if np.isfinite(primary) else np.inf, score.pinball)


def _json_number(value: float) -> float | None:
    return round(float(value), 4) if np.isfinite(value) else None
