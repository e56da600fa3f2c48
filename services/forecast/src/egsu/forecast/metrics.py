"""Forecast accuracy: MAPE, sMAPE, MASE, RMSE, pinball loss and interval coverage.

Every function takes arrays of the same shape, ignores steps whose actual value is missing, and
pools all steps (all origins, all series) into one number.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

QUANTILES = (0.1, 0.5, 0.9)


def _valid(actual: np.ndarray, *others: np.ndarray) -> np.ndarray:
    mask = np.isfinite(actual)
    for other in others:
        mask &= np.isfinite(other)
    return mask


def mape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean absolute percentage error, in percent (steps with a zero actual are skipped)."""
    mask = _valid(actual, forecast) & (actual != 0)
    if not mask.any():
        return float("nan")
    return float(np.mean(np.abs(forecast[mask] - actual[mask]) / np.abs(actual[mask])) * 100)


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Symmetric MAPE, in percent (0–200)."""
    mask = _valid(actual, forecast)
    denominator = np.abs(actual[mask]) + np.abs(forecast[mask])
    keep = denominator > 0
    if not keep.any():
        return float("nan")
    ratio = 2 * np.abs(forecast[mask] - actual[mask])[keep] / denominator[keep]
    return float(np.mean(ratio) * 100)


def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Mean absolute error."""
    mask = _valid(actual, forecast)
    return float(np.mean(np.abs(forecast[mask] - actual[mask]))) if mask.any() else float("nan")


def rmse(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Root mean squared error."""
    mask = _valid(actual, forecast)
    if not mask.any():
        return float("nan")
    return float(np.sqrt(np.mean((forecast[mask] - actual[mask]) ** 2)))


def mase(actual: np.ndarray, forecast: np.ndarray, naive_mae: float) -> float:
    """Mean absolute scaled error: MAE over the in-sample MAE of the seasonal-naive forecast."""
    if not naive_mae > 0:
        return float("nan")
    return mae(actual, forecast) / naive_mae


def seasonal_naive_mae(history: np.ndarray, season: int) -> float:
    """In-sample MAE of the seasonal-naive forecast ``y[t - season]`` along the last axis."""
    if history.shape[-1] <= season:
        return float("nan")
    diff = history[..., season:] - history[..., :-season]
    diff = diff[np.isfinite(diff)]
    return float(np.mean(np.abs(diff))) if diff.size else float("nan")


def pinball(actual: np.ndarray, quantiles: Mapping[float, np.ndarray]) -> float:
    """Pinball (quantile) loss averaged over the given quantile levels, in units of the load."""
    losses = []
    for level, forecast in quantiles.items():
        mask = _valid(actual, forecast)
        if not mask.any():
            return float("nan")
        diff = actual[mask] - forecast[mask]
        losses.append(np.mean(np.maximum(level * diff, (level - 1) * diff)))
    return float(np.mean(losses))


def coverage(actual: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> float:
    """Share of actual values inside ``[lower, upper]``, in percent."""
    mask = _valid(actual, lower, upper)
    if not mask.any():
        return float("nan")
    inside = (actual[mask] >= lower[mask]) & (actual[mask] <= upper[mask])
    return float(np.mean(inside) * 100)
