"""The historian's batch logic on plain arrays (no servers)."""

from __future__ import annotations

import numpy as np

from egsu.measurements.writer import dedup, months_of


def test_exact_repeats_are_dropped_and_conflicting_values_ranked_in_arrival_order() -> None:
    pid = np.array([1, 1, 1, 2, 1], dtype=np.int32)
    qid = np.array([1, 1, 1, 1, 1], dtype=np.int16)
    ts = np.array([900.0, 900.0, 900.0, 900.0, 1800.0])
    val = np.array([5.0, 5.0, 6.0, 1.0, 2.0])
    keep, rank, dup = dedup(pid, qid, ts, val)
    kept = [(int(pid[i]), ts[i], val[i]) for i in keep]
    assert kept == [(1, 900.0, 5.0), (1, 900.0, 6.0), (1, 1800.0, 2.0), (2, 900.0, 1.0)]
    assert rank.tolist() == [1, 2, 1, 1]
    assert dup.tolist() == [True, True, False, False]


def test_batch_without_repeats_keeps_everything_with_rank_one() -> None:
    pid = np.array([3, 1, 2], dtype=np.int32)
    keep, rank, dup = dedup(
        pid, np.ones(3, np.int16), np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 3.0])
    )
    assert sorted(keep.tolist()) == [0, 1, 2] and rank.tolist() == [1, 1, 1]
    assert not dup.any()


def test_months_of_interval_ends() -> None:
    ts = np.array(
        [1767225600.0, 1769904000.0 - 1, 1769904000.0]
    )  # 2026-01-01, end of Jan, 2026-02-01 UTC
    assert months_of(ts) == {(2026, 1), (2026, 2)}
