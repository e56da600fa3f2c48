"""Accuracy metrics on hand-checked numbers."""

from __future__ import annotations

import math

import numpy as np

from egsu.forecast import metrics


def test_point_metrics_on_known_values() -> None:
    actual = np.array([100.0, 200.0, np.nan, 400.0])
    forecast = np.array([110.0, 180.0, 999.0, 400.0])
    assert math.isclose(metrics.mape(actual, forecast), (10 + 10 + 0) / 3)
    assert math.isclose(metrics.rmse(actual, forecast), math.sqrt((100 + 400 + 0) / 3))
    assert math.isclose(metrics.mase(actual, forecast, naive_mae=10.0), 1.0)
    assert math.isclose(
        metrics.smape(actual, forecast), (2 * 10 / 210 + 2 * 20 / 380 + 0) / 3 * 100
    )


def test_pinball_and_coverage() -> None:
    actual = np.array([10.0, 10.0, 10.0, 10.0])
    low, mid, high = np.full(4, 8.0), np.full(4, 10.0), np.array([12.0, 12.0, 12.0, 9.0])
    # P10 below by 2 → 0.1·2; P50 exact → 0; P90 above by 2 (3×) → 0.1·2, below by 1 → 0.9·1
    expected = np.mean([0.2, 0.0, np.mean([0.2, 0.2, 0.2, 0.9])])
    assert math.isclose(metrics.pinball(actual, {0.1: low, 0.5: mid, 0.9: high}), expected)
    assert metrics.coverage(actual, low, high) == 75.0


def test_seasonal_naive_scale() -> None:
    history = np.array([1.0, 2.0, 3.0, 2.0, 4.0, 3.0])
    assert metrics.seasonal_naive_mae(history, 3) == np.mean([1.0, 2.0, 0.0])
    assert math.isnan(metrics.mape(np.zeros(3), np.ones(3)))
