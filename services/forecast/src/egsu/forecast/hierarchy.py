"""Coherent forecasts of a hierarchy: facilities add up to their region, regions to the nation.

Every method is a projection ``ỹ = S G ŷ`` of the base forecasts ``ŷ`` of all nodes onto the
coherent subspace spanned by the summing matrix ``S`` (Wickramasuriya, Athanasopoulos & Hyndman,
2019): bottom-up keeps the bottom forecasts, OLS/WLS/MinT choose ``G`` by generalised least squares
with an error covariance ``W`` (identity, the structure, the error variances, or the shrunk error
covariance). ``choose_method`` picks the one that does best on back-test windows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

Method = Literal["bottom_up", "ols", "wls_struct", "wls_var", "mint_shrink"]
METHODS: tuple[Method, ...] = ("bottom_up", "ols", "wls_struct", "wls_var", "mint_shrink")


@dataclass(frozen=True)
class Hierarchy:
    """Nodes (aggregates first, then the bottom series) and the summing matrix ``S``."""

    nodes: tuple[str, ...]
    bottom: tuple[str, ...]
    summing: np.ndarray

    @classmethod
    def from_parents(cls, parents: Mapping[str, str | None]) -> Hierarchy:
        """A hierarchy from each node's parent (``None`` for the top), e.g. region → nation."""
        nodes = set(parents) | {p for p in parents.values() if p is not None}
        children: dict[str, list[str]] = {n: [] for n in nodes}
        for child, parent in parents.items():
            if parent is not None:
                children[parent].append(child)
        for node in nodes:  # a cycle would make every sum infinite
            seen, current = set(), node
            while current is not None:
                if current in seen:
                    raise ValueError(f"the hierarchy has a cycle through {current!r}")
                seen.add(current)
                current = parents.get(current)
        bottom = tuple(sorted(n for n in nodes if not children[n]))
        aggregates = tuple(sorted((n for n in nodes if children[n]), key=_depth_key(parents)))
        order = aggregates + bottom
        column = {b: j for j, b in enumerate(bottom)}
        summing = np.zeros((len(order), len(bottom)))
        for i, node in enumerate(order):
            stack = [node]
            while stack:
                current = stack.pop()
                if not children[current]:
                    summing[i, column[current]] = 1.0
                stack.extend(children[current])
        return cls(nodes=order, bottom=bottom, summing=summing)

    @property
    def n_bottom(self) -> int:
        return len(self.bottom)

    def aggregate(self, bottom_values: np.ndarray) -> np.ndarray:
        """Values of every node from the bottom series' values, shape ``(n_nodes, …)``."""
        return np.tensordot(self.summing, bottom_values, axes=(1, 0))

    def is_coherent(self, values: np.ndarray, rtol: float = 1e-9) -> bool:
        """Whether every aggregate equals the sum of its bottom series."""
        bottom = values[-self.n_bottom :]
        return bool(np.allclose(self.aggregate(bottom), values, rtol=rtol, atol=1e-9))


def reconcile(
    hierarchy: Hierarchy,
    base: np.ndarray,
    method: Method = "bottom_up",
    residuals: np.ndarray | None = None,
) -> np.ndarray:
    """Coherent forecasts from base forecasts ``base`` (nodes × steps) by ``method``.

    ``residuals`` (nodes × observations, NaN allowed) are past forecast errors of every node; the
    methods ``wls_var`` and ``mint_shrink`` need them.
    """
    s = hierarchy.summing
    if base.shape[0] != s.shape[0]:
        raise ValueError(f"base has {base.shape[0]} rows for {s.shape[0]} nodes")
    if method == "bottom_up":
        return hierarchy.aggregate(base[-hierarchy.n_bottom :])
    if method == "ols":
        w_inv = np.eye(s.shape[0])
    elif method == "wls_struct":
        w_inv = np.diag(1.0 / s.sum(axis=1))
    elif method in ("wls_var", "mint_shrink"):
        if residuals is None:
            raise ValueError(f"{method} needs the residuals of past forecasts")
        covariance = (
            np.diag(_variances(residuals)) if method == "wls_var" else shrunk_covariance(residuals)
        )
        w_inv = np.linalg.pinv(covariance, hermitian=True)
    else:
        raise ValueError(f"unknown reconciliation method {method!r}")
    g = np.linalg.solve(s.T @ w_inv @ s, s.T @ w_inv)
    return s @ (g @ base)


def reconcile_quantiles(
    hierarchy: Hierarchy,
    quantiles: Mapping[float, np.ndarray],
    method: Method = "bottom_up",
    residuals: np.ndarray | None = None,
) -> dict[float, np.ndarray]:
    """Reconcile the median and move every other quantile of a node by the median's change."""
    median = quantiles[0.5]
    reconciled = reconcile(hierarchy, median, method, residuals)
    shift = reconciled - median
    return {q: values + shift for q, values in quantiles.items()}


def shrunk_covariance(residuals: np.ndarray) -> np.ndarray:
    """Error covariance shrunk towards its diagonal (Schäfer & Strimmer, 2005), NaN-tolerant."""
    x = residuals[:, np.isfinite(residuals).all(axis=0)]
    n = x.shape[1]
    if n < 3:
        return np.diag(_variances(residuals))
    x = x - x.mean(axis=1, keepdims=True)
    std = np.sqrt((x**2).sum(axis=1) / (n - 1))
    std = np.where(std > 0, std, 1e-12)
    z = x / std[:, None]
    corr = z @ z.T / (n - 1)
    # Variance of each sample correlation: sum over k of (z_ik z_jk - mean_ij)², as matrix products.
    products = z @ z.T
    var_corr = n / (n - 1) ** 3 * ((z**2) @ (z**2).T - products**2 / n)
    off = ~np.eye(len(corr), dtype=bool)
    denominator = (corr[off] ** 2).sum()
    weight = 1.0 if denominator == 0 else float(np.clip(var_corr[off].sum() / denominator, 0, 1))
    shrunk = corr * (1 - weight)
    np.fill_diagonal(shrunk, 1.0)
    return shrunk * np.outer(std, std)


def choose_method(
    hierarchy: Hierarchy,
    base: Sequence[np.ndarray],
    actual: Sequence[np.ndarray],
    methods: Sequence[Method] = METHODS,
    memory: int = 28,
) -> tuple[Method, dict[str, float]]:
    """The method with the lowest mean absolute error over back-test windows, and every score.

    ``base[k]`` and ``actual[k]`` are the nodes × steps forecasts and actuals of window ``k``; each
    window is reconciled with the errors of the windows before it only.
    """
    errors: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    errors["base"] = []
    for k in range(len(base)):
        past = [actual[j] - base[j] for j in range(max(0, k - memory), k)]
        residuals = np.concatenate(past, axis=1) if past else None
        errors["base"].append(np.abs(actual[k] - base[k]))
        for method in methods:
            if residuals is None and method in ("wls_var", "mint_shrink"):
                reconciled = reconcile(hierarchy, base[k], "wls_struct")
            else:
                reconciled = reconcile(hierarchy, base[k], method, residuals)
            errors[method].append(np.abs(actual[k] - reconciled))
    scores = {m: float(np.nanmean(np.concatenate(e, axis=1))) for m, e in errors.items()}
    best = min(methods, key=lambda m: scores[m])
    return best, scores


def _variances(residuals: np.ndarray) -> np.ndarray:
    finite = np.isfinite(residuals)
    counts = finite.sum(axis=1)
    mean = np.where(finite, residuals, 0).sum(axis=1) / np.maximum(counts, 1)
    sq = np.where(finite, (residuals - mean[:, None]) ** 2, 0).sum(axis=1)
    var = sq / np.maximum(counts - 1, 1)
    positive = var[var > 0]
    floor = positive.min() * 1e-6 if positive.size else 1.0
    return np.maximum(var, floor)


def _depth_key(parents: Mapping[str, str | None]):  # type: ignore[no-untyped-def]
    def depth(node: str) -> tuple[int, str]:
        d, current = 0, parents.get(node)
        while current is not None:
            d, current = d + 1, parents.get(current)
        return d, node

    return depth
