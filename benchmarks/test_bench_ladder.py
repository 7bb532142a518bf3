"""The Ladder's added cost per release (``make bench``; docs/design.md, "Ladder").

Under a ``ladder`` rule the combiner, after decrypting a release, takes one Ladder step on the
correct count and commits to the exact values (SHA-256 over the values and a 32-byte nonce from
the OS CSPRNG): :func:`cryptoscore.protocol.ladder.decide`. The auditor's ``ladder`` check opens
each commitment again. Both are measured here for a two-metric release and a 10-class confusion
release (102 values), beside the release's own combination of three partials in the same run
(``test_combine_three_partials``, from ``test_bench_threshold``), so the ratio is the Ladder's
share of a release's combiner time.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.test_bench_threshold import (  # noqa: F401  (fixtures and the baseline)
    aggregate,
    committee,
    test_combine_three_partials,
)
from cryptoscore import ReleasePolicy
from cryptoscore.protocol.ladder import LadderRule, decide

ITEMS = 600


def _exact(classes: int, rng: np.random.Generator) -> tuple[dict[str, int], int]:
    """The exact values of one release of ``classes`` classes over ``ITEMS`` items (confusion
    cells from benchmark data), and its correct count."""
    if classes == 2:
        correct = int(rng.integers(300, 600))
        return {"correct": correct, "errors": ITEMS - correct}, correct
    policy = ReleasePolicy(classes, ("correct", "errors", "confusion"))
    cells = rng.multinomial(ITEMS, np.full(classes * classes, 1 / (classes * classes)))
    values = {name: int(v) for name, v in zip(policy.aggregate_names()[2:], cells, strict=True)}
    correct = sum(int(cells[k * classes + k]) for k in range(classes))
    return {"correct": correct, "errors": ITEMS - correct, **values}, correct


@pytest.mark.parametrize("classes", [2, 10], ids=["correct-errors", "confusion-10"])
def test_ladder_decision(benchmark, data, classes):
    exact, correct = _exact(classes, data)
    rule = LadderRule(6)  # η = 0.01 of 600 items
    decision = benchmark(decide, rule, 480, "bench:score", exact, correct, ITEMS)
    assert decision.shown in (480, correct - correct % 6)


@pytest.mark.parametrize("classes", [2, 10], ids=["correct-errors", "confusion-10"])
def test_ladder_opening_checked(benchmark, data, classes):
    exact, correct = _exact(classes, data)
    opening = decide(LadderRule(6), None, "bench:score", exact, correct, ITEMS).opening
    commitment = opening.commitment
    assert benchmark(lambda: opening.commitment) == commitment
