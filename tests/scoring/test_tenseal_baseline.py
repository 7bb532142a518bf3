"""The naive TenSEAL baselines compute the exact encrypted error count."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import tenseal as ts

from benchmarks.tenseal_baseline import (
    BaselineResult,
    amortized_sum,
    make_context,
    naive_per_chunk_dot,
)

N = 10_000

Baseline = Callable[[np.ndarray, np.ndarray, ts.Context | None], BaselineResult]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("baseline", "method"),
    [(naive_per_chunk_dot, "tenseal-naive-dot"), (amortized_sum, "tenseal-amortized-sum")],
)
def test_baseline_counts_errors_exactly(baseline: Baseline, method: str) -> None:
    rng = np.random.default_rng(1234)
    p = rng.integers(0, 2, size=N, dtype=np.int64)
    y = rng.integers(0, 2, size=N, dtype=np.int64)

    result = baseline(p, y, make_context())

    assert isinstance(result, BaselineResult)
    assert result.method == method
    assert result.n == N
    assert result.chunks == 3
    assert result.errors == int(np.count_nonzero(p != y))
    assert result.upload_bytes > 0
    assert result.client_encrypt_seconds > 0
    assert result.server_seconds > 0


@pytest.mark.parametrize("baseline", [naive_per_chunk_dot, amortized_sum])
def test_baseline_extremes_all_wrong_and_all_right(baseline: Baseline) -> None:
    ctx = make_context()
    y = np.resize(np.array([0, 1, 1], dtype=np.int64), 4100)  # 2 chunks, short last chunk
    assert baseline(1 - y, y, ctx).errors == y.size
    assert baseline(y.copy(), y, ctx).errors == 0
