"""Regions add up to the nation after reconciliation."""

from __future__ import annotations

import numpy as np
import pytest

from egsu.forecast.hierarchy import Hierarchy, choose_method, reconcile, reconcile_quantiles

PARENTS = {
    "north": "KZ",
    "south": "KZ",
    "north-a": "north",
    "north-b": "north",
    "south-a": "south",
    "south-b": "south",
    "south-c": "south",
}


def test_the_summing_matrix_follows_the_parents() -> None:
    h = Hierarchy.from_parents(PARENTS)
    assert h.nodes[0] == "KZ"
    assert h.bottom == ("north-a", "north-b", "south-a", "south-b", "south-c")
    assert h.summing[0].tolist() == [1, 1, 1, 1, 1]
    assert h.summing[h.nodes.index("south")].tolist() == [0, 0, 1, 1, 1]
    with pytest.raises(ValueError, match="cycle"):
        Hierarchy.from_parents({"a": "b", "b": "a"})


@pytest.mark.parametrize("method", ["bottom_up", "ols", "wls_struct", "wls_var", "mint_shrink"])
def test_every_method_gives_coherent_forecasts(method: str) -> None:
    h = Hierarchy.from_parents(PARENTS)
    rng = np.random.default_rng(0)
    base = rng.uniform(50, 150, size=(len(h.nodes), 24))
    residuals = rng.normal(0, 5, size=(len(h.nodes), 200))
    reconciled = reconcile(h, base, method, residuals)  # type: ignore[arg-type]
    assert not h.is_coherent(base)
    assert h.is_coherent(reconciled)
    # Forecasts that already add up stay as they are.
    coherent = h.aggregate(base[-h.n_bottom :])
    np.testing.assert_allclose(reconcile(h, coherent, method, residuals), coherent)  # type: ignore[arg-type]


def test_mint_uses_an_accurate_national_forecast_to_correct_noisy_regions() -> None:
    h = Hierarchy.from_parents(PARENTS)
    rng = np.random.default_rng(1)
    noise = np.array([2.0, 30.0, 30.0] + [15.0] * 5)[:, None]  # the nation is forecast best
    windows, base, actual = 40, [], []
    for _ in range(windows):
        truth = h.aggregate(rng.uniform(80, 120, size=(h.n_bottom, 24)))
        actual.append(truth)
        base.append(truth + rng.normal(0, 1, size=truth.shape) * noise)
    best, scores = choose_method(h, base, actual)
    assert best in ("mint_shrink", "wls_var")
    assert scores[best] < scores["bottom_up"] < scores["base"] * 1.5
    nation = [
        np.abs(reconcile(h, b, "bottom_up")[0] - a[0]).mean()
        for b, a in zip(base, actual, strict=True)
    ]
    assert scores["mint_shrink"] < np.mean(nation)


def test_quantiles_move_with_the_reconciled_median() -> None:
    h = Hierarchy.from_parents({"a": "all", "b": "all"})
    quantiles = {
        0.1: np.array([[80.0], [35.0], [35.0]]),
        0.5: np.array([[100.0], [40.0], [40.0]]),
        0.9: np.array([[120.0], [45.0], [45.0]]),
    }
    out = reconcile_quantiles(h, quantiles, "bottom_up")
    assert out[0.5][:, 0].tolist() == [80.0, 40.0, 40.0]
    assert out[0.1][0, 0] == 60.0 and out[0.9][0, 0] == 100.0
