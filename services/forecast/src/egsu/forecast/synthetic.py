"""Synthetic load series of a realistic shape, for tests and timing benchmarks.

Daily profile with morning and evening peaks, quieter weekends and holidays, an annual temperature
cycle with weather noise, heating and cooling demand on degree-days, and autocorrelated noise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import signal

from egsu.forecast.features import HolidayCalendar
from egsu.forecast.series import Panel


def synthetic_panel(
    n_series: int = 1,
    days: int = 70,
    step: str = "1h",
    *,
    start: str = "2024-01-01",
    tz: str | None = "Asia/Almaty",
    heat_share: float = 0.3,
    noise: float = 0.02,
    seed: int = 0,
    country: str | None = "KZ",
) -> Panel:
    """``n_series`` loads (MW) with a ``temperature`` column (°C) on a regular grid."""
    rng = np.random.default_rng(seed)
    index = pd.date_range(
        start, periods=int(pd.Timedelta(days=days) / pd.Timedelta(step)), freq=step, tz=tz
    )
    n = len(index)
    hour = np.asarray(index.hour + index.minute / 60, dtype=np.float64)
    day_of_year = np.asarray(index.day_of_year)
    weekend = np.asarray(index.day_of_week >= 5)
    holiday = HolidayCalendar(country).flags(index.normalize()).astype(bool)

    climate = 5 - 18 * np.cos(2 * np.pi * (day_of_year - 15) / 365.25)
    diurnal = 4 * np.sin(2 * np.pi * (hour - 9) / 24)
    # Weather: slow AR(1) anomalies per day, common to nearby series, plus a little local noise.
    day_codes = pd.factorize(index.normalize())[0]
    anomaly_daily = _ar1(rng, day_codes.max() + 1, 0.8, 3.0)
    regional = rng.normal(0, 1.5, size=(n_series, 1))
    temperature = climate + diurnal + anomaly_daily[day_codes] + regional
    temperature = temperature + rng.normal(0, 0.5, size=(n_series, n))

    profile = (
        0.75
        + 0.18 * np.exp(-(((hour - 9) / 2.5) ** 2))
        + 0.25 * np.exp(-(((hour - 19.5) / 2.5) ** 2))
        - 0.12 * np.exp(-(((hour - 3.5) / 3) ** 2))
    )
    calendar = np.where(weekend | holiday, 0.85, 1.0)
    size = rng.lognormal(4.5, 1.0, size=(n_series, 1))
    heating = np.maximum(16 - temperature, 0) * heat_share / 20
    cooling = np.maximum(temperature - 22, 0) * 0.02
    growth = 1 + 0.03 * np.arange(n) / max(n, 1) * rng.normal(1, 0.5, size=(n_series, 1))
    shape = profile * calendar * (1 + heating + cooling) * growth
    noise_ar = _ar1(rng, (n_series, n), 0.9, noise)
    load = size * shape * (1 + noise_ar)
    return Panel(
        index=pd.DatetimeIndex(index, freq=step),
        load=load,
        exog={"temperature": temperature},
        ids=tuple(f"series-{i}" for i in range(n_series)),
    )


def _ar1(
    rng: np.random.Generator, shape: int | tuple[int, int], phi: float, sigma: float
) -> np.ndarray:
    """Stationary AR(1) noise with standard deviation ``sigma`` along the last axis."""
    shocks = rng.normal(0, sigma * np.sqrt(1 - phi**2), size=shape)
    initial = rng.normal(0, sigma, size=np.shape(shocks)[:-1])
    out, _ = signal.lfilter([1.0], [1.0, -phi], shocks, axis=-1, zi=(phi * initial)[..., None])
    return out


def to_csv_frame(panel: Panel, series: int = 0) -> pd.DataFrame:
    """One series of a panel as a CSV-shaped frame: ``timestamp``, ``load``, exogenous columns."""
    frame = pd.DataFrame({"timestamp": panel.index.map(lambda t: t.isoformat())})
    frame["load"] = panel.load[series]
    for name, values in panel.exog.items():
        frame[name] = values[series]
    return frame
