"""Training and scoring of a group of series with the engine, for the service's jobs.

Training runs the engine's rolling-origin back-test on a group's panel, chooses each series' model
by its own back-test scores (MASE, then pinball loss), fits the learned models on everything known,
and keeps what scoring needs: the booster, each model's quantile offsets per series (the quantiles
of its relative errors over the last scored windows), the ensemble's error weights and, for the
national group, the reconciliation method that won on the back-test windows with the errors MinT
needs. Nothing here does I/O: a :class:`Trained` goes to and from bytes for the object store.
"""

from __future__ import annotations

import gzip
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import time as clock
from typing import Any

import numpy as np
import orjson
import pandas as pd

from egsu.forecast import metrics
from egsu.forecast.backtest import (
    BASELINE,
    ENSEMBLE,
    QUANTILES,
    ResidualQuantiles,
    _rank,
    _score,
    backtest,
)
from egsu.forecast.errors import ForecastInputError
from egsu.forecast.features import HolidayCalendar
from egsu.forecast.forecasters import (
    Context,
    DegreeDayNaive,
    Forecaster,
    GradientBoosting,
    SeasonalNaive,
    Statistical,
    TemperatureResponse,
)
from egsu.forecast.hierarchy import METHODS, Hierarchy, choose_method, reconcile_quantiles
from egsu.forecast.schedule import Schedule, Window
from egsu.forecast.series import DAY, WEEK, Panel

FORMAT = 1
HORIZONS = ("intraday", "day_ahead", "week_ahead")
HORIZON_SPAN = {"intraday": DAY, "day_ahead": DAY, "week_ahead": WEEK}
MEMORY = 28  # scored windows whose errors calibrate the deployed quantiles


def schedule_of(horizon: str, issue_time: clock = clock(12)) -> Schedule:
    """The engine's schedule of a horizon: rolling 24 h, day-ahead (issued the day before), 7 d."""
    if horizon == "intraday":
        return Schedule(horizon=DAY)
    if horizon == "day_ahead":
        return Schedule.day_ahead(issue_time)
    if horizon == "week_ahead":
        return Schedule(horizon=WEEK)
    raise ValueError(f"unknown horizon {horizon!r}")


@dataclass(frozen=True)
class TrainConfig:
    """The engine's knobs for one training run."""

    models: tuple[str, ...] = ("seasonal_naive", "degree_day", "lightgbm")
    rounds: int = 400
    origins: int = 28
    warmup: int = 14
    refit_every: int = 7
    min_history_days: float = 3.0
    country: str | None = "KZ"
    subdiv: str | None = None

    def calendar(self) -> HolidayCalendar:
        return HolidayCalendar(self.country, self.subdiv)

    def forecasters(self) -> list[Forecaster]:
        out: list[Forecaster] = [SeasonalNaive()]
        if "degree_day" in self.models:
            out.append(DegreeDayNaive())
        if "mstl" in self.models:
            out.append(Statistical())
        if "lightgbm" in self.models:
            out.append(GradientBoosting(rounds=self.rounds))
        return out


@dataclass
class Trained:
    """A group's fitted models for one horizon and what scoring needs besides them."""

    horizon: str
    schedule: Schedule
    step: pd.Timedelta
    ids: list[str]
    exog: list[str]
    models: list[str]
    selected: dict[str, str]
    default_model: str
    offsets: dict[str, dict[str, list[float]]]
    default_offsets: dict[str, list[float]]
    mse: dict[str, dict[str, float]]
    booster: str | None = None
    response: dict[str, Any] | None = None
    degree_day: dict[str, Any] | None = None
    reconciliation: dict[str, Any] | None = None
    scores: dict[str, dict[str, float | None]] = field(default_factory=dict)
    per_series: dict[str, dict[str, dict[str, float | None]]] = field(default_factory=dict)
    origins: int = 0
    data_from: str | None = None
    data_to: str | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    country: str | None = "KZ"
    subdiv: str | None = None
    _gbm: GradientBoosting | None = field(default=None, init=False, repr=False)

    # -- storage ----------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        body = {
            "format": FORMAT,
            "horizon": self.horizon,
            "schedule": {
                "horizon_s": self.schedule.horizon.total_seconds(),
                "lead_s": self.schedule.lead.total_seconds(),
                "issue_time": self.schedule.issue_time.strftime("%H:%M")
                if self.schedule.issue_time
                else None,
            },
            "step_s": self.step.total_seconds(),
            **{
                k: getattr(self, k)
                for k in (
                    "ids",
                    "exog",
                    "models",
                    "selected",
                    "default_model",
                    "offsets",
                    "default_offsets",
                    "mse",
                    "booster",
                    "response",
                    "degree_day",
                    "reconciliation",
                    "scores",
                    "per_series",
                    "origins",
                    "data_from",
                    "data_to",
                    "notes",
                    "seconds",
                    "country",
                    "subdiv",
                )
            },
        }
        return gzip.compress(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY), 6)

    @classmethod
    def from_bytes(cls, data: bytes) -> Trained:
        body = orjson.loads(gzip.decompress(data))
        if body.get("format") != FORMAT:
            raise ValueError(f"unknown model format {body.get('format')!r}")
        sched = body.pop("schedule")
        issue = sched["issue_time"]
        schedule = Schedule(
            horizon=pd.Timedelta(seconds=sched["horizon_s"]),
            lead=pd.Timedelta(seconds=sched["lead_s"]),
            issue_time=clock.fromisoformat(issue) if issue else None,
        )
        body.pop("format")
        step = pd.Timedelta(seconds=body.pop("step_s"))
        return cls(schedule=schedule, step=step, **body)

    # -- the fitted learned model ---------------------------------------------------------

    def gradient_boosting(self) -> GradientBoosting | None:
        """The fitted LightGBM model (loaded once), or None when it was not trained."""
        if self.booster is None:
            return None
        if self._gbm is None:
            import lightgbm as lgb

            gbm = GradientBoosting()
            gbm.booster = lgb.Booster(model_str=self.booster)
            if self.response is not None:
                r = self.response
                gbm.response = TemperatureResponse(
                    column=r["column"],
                    heating_base=r["heating_base"],
                    cooling_base=r["cooling_base"],
                    coefficients=np.asarray(r["coefficients"], dtype=np.float64),
                    low=r["low"],
                    high=r["high"],
                )
            self._gbm = gbm
        return self._gbm

    def forecaster(self, name: str) -> Forecaster:
        if name == BASELINE:
            return SeasonalNaive()
        if name == "mstl":
            return Statistical()
        if name == "lightgbm":
            gbm = self.gradient_boosting()
            return gbm if gbm is not None else SeasonalNaive()
        if name == "degree_day":
            model = DegreeDayNaive()
            if self.degree_day is not None:
                model.column = self.degree_day["column"]
                model.bases = tuple(self.degree_day["bases"])  # type: ignore[assignment]
                model.coefficients = np.asarray(self.degree_day["coefficients"])
            return model
        raise ValueError(f"no forecaster {name!r}")

    def calendar(self) -> HolidayCalendar:
        return HolidayCalendar(self.country, self.subdiv)


# --------------------------------------------------------------------------- training


def train(
    panel: Panel,
    horizon: str,
    config: TrainConfig,
    *,
    parents: Mapping[str, str | None] | None = None,
    issue_time: clock = clock(12),
) -> Trained:
    """Back-test the group's panel under the horizon's schedule and fit the chosen models.

    ``parents`` (series id → parent id) makes the group a hierarchy whose reconciliation method
    is chosen on the back-test windows. A ForecastInputError means the history is too short.
    """
    started = time.perf_counter()
    schedule = schedule_of(horizon, issue_time)
    calendar = config.calendar()
    result = backtest(
        panel,
        schedule,
        calendar=calendar,
        models=config.forecasters(),
        origins=config.origins,
        warmup=config.warmup,
        refit_every=config.refit_every,
        min_history=pd.Timedelta(days=config.min_history_days),
    )
    context = result.context
    assert context is not None
    windows = result.windows
    ids = list(panel.ids)
    names = list(result.forecasts)
    # Per-window slices of the concatenated back-test forecasts.
    bounds = np.cumsum([0, *(len(w.targets) for w in windows)])
    levels = [context.level(w) for w in windows]

    def part(values: np.ndarray, k: int) -> np.ndarray:
        return values[:, bounds[k] : bounds[k + 1]]

    # Each series' own scores and choice; the group's choice where a series has none.
    naive_mae = [
        metrics.seasonal_naive_mae(panel.load[i, : windows[0].cut], context.week)
        for i in range(len(ids))
    ]
    per_series: dict[str, dict[str, dict[str, float | None]]] = {}
    selected: dict[str, str] = {}
    for i, sid in enumerate(ids):
        row = slice(i, i + 1)
        scores = {
            m: _score(
                result.actual[row],
                result.forecasts[m][row],
                {q: result.quantiles[m][q][row] for q in QUANTILES},
                naive_mae[i],
                0.0,
                0.0,
            )
            for m in names
        }
        per_series[sid] = {m: s.as_dict() for m, s in scores.items()}
        best = min(names, key=lambda m: _rank(scores[m]))
        if math.isfinite(_rank(scores[best])[0]):
            selected[sid] = best

    # Calibration of the deployed quantiles: each model's errors on the last scored windows.
    offsets: dict[str, dict[str, list[float]]] = {}
    default_offsets: dict[str, list[float]] = {}
    mse: dict[str, dict[str, float]] = {}
    recent = range(max(0, len(windows) - MEMORY), len(windows))
    for m in names:
        memory = ResidualQuantiles(MEMORY)
        for k in recent:
            memory.add(part(result.actual, k), part(result.forecasts[m], k), levels[k])
        q = memory.offsets()
        table = np.column_stack(
            [np.broadcast_to(q[level][:, 0], (len(ids),)) for level in QUANTILES]
        )
        offsets[m] = {
            sid: [float(v) for v in table[i]]
            for i, sid in enumerate(ids)
            if np.isfinite(table[i]).all()
        }
        finite = table[np.isfinite(table).all(axis=1)]
        default_offsets[m] = (
            [float(v) for v in np.median(finite, axis=0)] if len(finite) else [0.0, 0.0, 0.0]
        )
        ms = np.broadcast_to(memory.mean_squared(), (len(ids),))
        mse[m] = {sid: float(ms[i]) for i, sid in enumerate(ids) if np.isfinite(ms[i])}

    # The learned models, fitted once more on everything known.
    booster = response = None
    if "lightgbm" in names:
        gbm = GradientBoosting(rounds=config.rounds)
        gbm.fit(context, panel.n_steps)
        if gbm.booster is not None:
            booster = gbm.booster.model_to_string()
        if gbm.response is not None:
            r = gbm.response
            response = {
                "column": r.column,
                "heating_base": r.heating_base,
                "cooling_base": r.cooling_base,
                "coefficients": [float(c) for c in r.coefficients],
                "low": r.low,
                "high": r.high,
            }

    degree_day = None
    if "degree_day" in names:
        dd = DegreeDayNaive()
        dd.fit(context, panel.n_steps)
        if dd.coefficients is not None:
            degree_day = {
                "column": dd.column,
                "bases": list(dd.bases),
                "coefficients": [float(c) for c in dd.coefficients],
            }

    reconciliation = None
    if parents:
        reconciliation = _choose_reconciliation(
            ids, parents, result, windows, bounds, selected, result.selected
        )

    return Trained(
        horizon=horizon,
        schedule=schedule,
        step=panel.step,
        ids=ids,
        exog=list(panel.exog),
        models=names,
        selected=selected,
        default_model=result.selected,
        offsets=offsets,
        default_offsets=default_offsets,
        mse=mse,
        booster=booster,
        response=response,
        degree_day=degree_day,
        reconciliation=reconciliation,
        scores={m: s.as_dict() for m, s in result.scores.items()},
        per_series=per_series,
        origins=len(result.origins),
        data_from=panel.index[0].isoformat(),
        data_to=(panel.index[-1] + panel.step).isoformat(),
        notes=list(result.notes),
        seconds=time.perf_counter() - started,
        country=config.country,
        subdiv=config.subdiv,
    )


def _choose_reconciliation(
    ids: Sequence[str],
    parents: Mapping[str, str | None],
    result: Any,
    windows: Sequence[Window],
    bounds: np.ndarray,
    selected: Mapping[str, str],
    default: str,
) -> dict[str, Any] | None:
    """The method (bottom-up … MinT) with the lowest back-test error, and MinT's residuals."""
    present = {p: parents[p] for p in ids if p in parents and parents[p] in ids}
    if not present:
        return None
    hierarchy = Hierarchy.from_parents(present)
    rows = [list(ids).index(n) for n in hierarchy.nodes]
    base, actual = [], []
    for k in range(len(windows)):
        sl = slice(bounds[k], bounds[k + 1])
        forecast = np.stack([result.forecasts[selected.get(ids[r], default)][r, sl] for r in rows])
        base.append(forecast)
        actual.append(result.actual[rows, sl])
    method, scores = choose_method(hierarchy, base, actual, METHODS, memory=MEMORY)
    recent = range(max(0, len(windows) - MEMORY), len(windows))
    residuals = np.concatenate([actual[k] - base[k] for k in recent], axis=1)
    return {
        "method": method,
        "nodes": list(hierarchy.nodes),
        "parents": {k: v for k, v in present.items()},
        "residuals": np.where(np.isfinite(residuals), residuals, np.nan).tolist(),
        "scores": {k: (v if math.isfinite(v) else None) for k, v in scores.items()},
    }


# --------------------------------------------------------------------------- scoring


@dataclass
class Forecast:
    """Forecasts of the panel's series over one window: P10/P50/P90 per series and step."""

    ids: list[str]
    index: pd.DatetimeIndex
    origin: pd.Timestamp
    cut: pd.Timestamp
    p10: np.ndarray
    p50: np.ndarray
    p90: np.ndarray
    model: dict[str, str]
    reconciliation: str | None = None

    def row(self, sid: str) -> int:
        return self.ids.index(sid)


def scoring_window(panel: Panel, trained: Trained, known: int) -> Window:
    """The window a scoring run forecasts: the horizon's last window on the panel's grid.

    The panel must end where the window ends (rolling horizons: ``known`` + span; day-ahead: the
    end of the target day); ``known`` is the number of steps whose readings have ended.
    """
    windows = trained.schedule.windows(panel.index)
    if not windows:
        raise ForecastInputError("no forecast window fits the panel")
    window = windows[-1]
    if trained.schedule.issue_time is None:
        window = Window(origin=window.origin, cut=min(window.cut, known), targets=window.targets)
    return window


def predict(panel: Panel, trained: Trained, window: Window) -> Forecast:
    """P10/P50/P90 of every series of ``panel`` over ``window`` with its chosen model.

    Series the model was not trained on take the group's model and median calibration (a global
    model forecasts any series from its own history). Values below zero become zero.
    """
    context = Context(panel, trained.schedule, trained.calendar())
    ids = list(panel.ids)
    choice = {sid: trained.selected.get(sid, trained.default_model) for sid in ids}
    needed = set(choice.values())
    if ENSEMBLE in needed:
        needed |= {m for m in trained.models if m not in (BASELINE, ENSEMBLE)}
    needed.discard(ENSEMBLE)
    gbm = trained.gradient_boosting() if "lightgbm" in needed else None
    if gbm is not None:
        names = tuple(context.features.names)
        expected = tuple(gbm.booster.feature_name())
        if names != expected:
            raise ForecastInputError(
                f"the features changed since training ({len(expected)} then, {len(names)} now)"
            )
    points = {m: trained.forecaster(m).predict(context, window) for m in needed}
    level = context.level(window)
    h = len(window.targets)
    out = {q: np.zeros((len(ids), h)) for q in QUANTILES}
    for i, sid in enumerate(ids):
        m = choice[sid]
        if m == ENSEMBLE:
            components = [c for c in trained.models if c not in (BASELINE, ENSEMBLE)]
            weights = np.array(
                [1.0 / max(trained.mse.get(c, {}).get(sid, np.nan), 1e-12) for c in components]
            )
            if not np.isfinite(weights).all():
                weights = np.ones(len(components))
            weights = weights / weights.sum()
            point = sum(w * points[c][i] for w, c in zip(weights, components, strict=True))
        else:
            point = points[m][i]
        offsets = trained.offsets.get(m, {}).get(sid) or trained.default_offsets[m]
        for q, o in zip(QUANTILES, offsets, strict=True):
            out[q][i] = np.maximum(point + o * level[i, 0], 0.0)
    return Forecast(
        ids=ids,
        index=panel.index[window.targets],
        origin=window.origin,
        cut=panel.index[window.cut] if window.cut < panel.n_steps else panel.index[-1],
        p10=out[0.1],
        p50=out[0.5],
        p90=out[0.9],
        model=choice,
    )


def reconcile(forecast: Forecast, parents: Mapping[str, str | None], trained: Trained) -> Forecast:
    """Make the hierarchy coherent: each parent's P50 is exactly the sum of its children's.

    The method chosen in training (MinT when it won) reconciles the medians and shifts every
    quantile by its median's change; the parents are then summed from their (rounded) children so
    that what is stored and served adds up exactly. Without a usable method: bottom-up.
    """
    present = {c: p for c, p in parents.items() if c in forecast.ids and p in forecast.ids}
    if not present:
        return forecast
    hierarchy = Hierarchy.from_parents(present)
    rows = [forecast.row(n) for n in hierarchy.nodes]
    quantiles = {q: getattr(forecast, f"p{int(q * 100)}")[rows] for q in QUANTILES}
    method, residuals = "bottom_up", None
    rec = trained.reconciliation
    if rec and rec["nodes"] == list(hierarchy.nodes):
        method = rec["method"]
        residuals = np.asarray(rec["residuals"], dtype=np.float64)
    try:
        coherent = reconcile_quantiles(hierarchy, quantiles, method, residuals)  # type: ignore[arg-type]
    except (np.linalg.LinAlgError, ValueError):
        method = "bottom_up"
        coherent = reconcile_quantiles(hierarchy, quantiles, method)
    values = {q: np.maximum(v, 0.0) for q, v in coherent.items()}
    # Exact sums of the rounded bottom values, parents from the leaves up.
    n_bottom = hierarchy.n_bottom
    bottom = {q: np.round(v[-n_bottom:], 3) for q, v in values.items()}
    median = np.round(hierarchy.aggregate(bottom[0.5]), 3)
    for q in QUANTILES:
        full = np.round(values[q], 3)
        full[-n_bottom:] = bottom[q]
        if q == 0.5:
            full = median
        else:  # keep P10 ≤ P50 ≤ P90 where rounding or summing moved the median
            full = np.minimum(full, median) if q < 0.5 else np.maximum(full, median)
        values[q] = full
    out = {q: getattr(forecast, f"p{int(q * 100)}").copy() for q in QUANTILES}
    for q in QUANTILES:
        out[q][rows] = values[q]
    return Forecast(
        ids=forecast.ids,
        index=forecast.index,
        origin=forecast.origin,
        cut=forecast.cut,
        p10=out[0.1],
        p50=out[0.5],
        p90=out[0.9],
        model=forecast.model,
        reconciliation=method,
    )
