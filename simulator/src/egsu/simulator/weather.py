"""Synthetic outdoor temperature per region: observed (any instant) and day-ahead forecasts.

Temperature is a closed-form function of time, so any window can be computed on its own and live
mode, backfill and files agree: the seasonal cycle of the region's continental climate, a daily
cycle, and synoptic waves (periods of 2.7 to 23 days with phases drawn from the seed) that give
cold snaps down to −35…−40 °C in the north and +40 °C heat in the south.
"""

from __future__ import annotations

import numpy as np

from egsu.simulator import geo
from egsu.simulator.noise import normal

DAY = 86400.0
_PERIODS = np.array([2.7, 4.3, 6.1, 9.7, 15.3, 23.0])  # days
_AMPS = np.array([2.2, 2.6, 3.0, 3.0, 2.4, 1.8])  # °C, before the winter boost


class Weather:
    """Temperature of each region at any time, for one seed."""

    def __init__(self, seed: int) -> None:
        rng = np.random.default_rng(np.random.SeedSequence([seed, 7001]))
        n = len(geo.KATOS)
        # Neighbouring regions share weather: a common phase plus a regional offset.
        common = rng.uniform(0, 2 * np.pi, len(_PERIODS))
        self.phase = common[None, :] + rng.normal(0, 0.6, (n, len(_PERIODS)))
        self.seed = seed

    def smooth(self, region: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Temperature without the daily cycle (°C): the season and the synoptic weather."""
        doy = (t / DAY - 17.0) % 365.2425  # coldest around 17 January
        season = geo.T_MEAN[region] - geo.T_SEASON[region] * np.cos(2 * np.pi * doy / 365.2425)
        winter = np.clip(np.cos(2 * np.pi * doy / 365.2425), 0, 1)
        north = np.clip((geo.LAT[region] - 44.0) / 8.0, 0.2, 1.2)
        boost = 0.7 + 1.0 * winter * north
        waves = np.zeros(np.broadcast_shapes(region.shape, t.shape))
        for k, (p, a) in enumerate(zip(_PERIODS, _AMPS, strict=True)):
            waves = waves + a * np.sin(2 * np.pi * t / (p * DAY) + self.phase[region, k])
        return season + boost * waves  # type: ignore[no-any-return]

    def temperature(self, region: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Observed outdoor temperature (°C) in ``region`` (KATOS index) at UTC epoch seconds ``t``."""
        local_h = ((t + 5 * 3600) / 3600.0) % 24
        daily = geo.T_DAY[region] * np.cos(2 * np.pi * (local_h - 15.0) / 24)
        return self.smooth(region, t) + daily  # type: ignore[no-any-return]

    def forecast(self, region: np.ndarray, issued: np.ndarray, t: np.ndarray) -> np.ndarray:
        """The forecast of ``temperature(region, t)`` issued at ``issued``; error grows with lead."""
        lead_h = np.maximum((t - issued) / 3600.0, 0)
        sigma = 0.6 + 0.055 * lead_h
        k = (t // 3600).astype(np.int64)
        e1 = normal(self.seed, 7002, region * 1_000_003 + (issued // 3600).astype(np.int64), k)
        e2 = normal(self.seed, 7002, region * 1_000_003 + (issued // 3600).astype(np.int64), k - 1)
        return self.temperature(region, t) + sigma * (0.75 * e1 + 0.66 * e2)  # type: ignore[no-any-return]
