"""The leaderboard's ranking and numbers: competition ranks for ties, each participant's best
or every release, correct derived from whatever the policy releases, and the Wilson score
interval against known answers."""

from __future__ import annotations

import math

import pytest

from cryptoscore.scoring.policy import ReleasePolicy
from cryptoscore.transparency.leaderboard import (
    Z_95,
    LeaderboardRow,
    correct_count,
    rank,
    wilson_interval,
    with_accuracy,
)

CORRECT = ReleasePolicy(2, ("correct",))
ERRORS = ReleasePolicy(2, ("errors",))
CONFUSION = ReleasePolicy(2, ("confusion",))


def _wilson_by_roots(x: int, n: int) -> tuple[float, float]:
    """The Wilson bounds as the roots in p of (x − n·p)² = z²·n·p(1 − p): a different
    algebra from the library's centre ± half-width."""
    a = n * n + Z_95 * Z_95 * n
    b = -(2 * n * x + Z_95 * Z_95 * n)
    c = x * x
    root = math.sqrt(b * b - 4 * a * c)
    return (-b - root) / (2 * a), (-b + root) / (2 * a)


def test_z_is_the_95_percent_normal_quantile():
    from statistics import NormalDist

    assert NormalDist().inv_cdf(0.975) == pytest.approx(Z_95, abs=1e-15)


def test_wilson_known_answer():
    low, high = wilson_interval(81, 100)
    # 81/100: [0.7222, 0.8749] to 4 places (0.7222115, 0.8748525); the Wald interval
    # 0.81 ± 1.96·√(0.81·0.19/100) would be [0.7331, 0.8869]
    assert (round(low, 4), round(high, 4)) == (0.7222, 0.8749)
    assert (low, high) == pytest.approx(_wilson_by_roots(81, 100), abs=1e-12)


@pytest.mark.parametrize(("x", "n"), [(1, 3), (50, 100), (912, 1000), (9990, 10000)])
def test_wilson_equals_the_roots_of_the_score_test(x, n):
    assert wilson_interval(x, n) == pytest.approx(_wilson_by_roots(x, n), abs=1e-12)


def test_wilson_edges_are_exact_and_inside_0_1():
    assert wilson_interval(0, 10) == (0.0, pytest.approx(0.2775328, abs=1e-7))
    assert wilson_interval(10, 10) == (pytest.approx(0.7224672, abs=1e-7), 1.0)
    assert wilson_interval(1, 1)[1] == 1.0
    for bad in [(0, 0), (-1, 10), (11, 10)]:
        with pytest.raises(ValueError):
            wilson_interval(*bad)


def test_correct_is_derived_from_what_the_policy_releases():
    both = ReleasePolicy(2, ("correct", "errors"))
    assert correct_count({"correct": 7, "errors": 3}, both, 10) == 7
    assert correct_count({"errors": 3}, ERRORS, 10) == 7
    cells = {"confusion:0:0": 4, "confusion:0:1": 1, "confusion:1:0": 2, "confusion:1:1": 3}
    assert correct_count(cells, CONFUSION, 10) == 7
    assert correct_count({}, CORRECT, 10) is None


def _row(participant: str, correct: int, order: int) -> LeaderboardRow:
    return LeaderboardRow(participant, f"{order:064x}", {"correct": correct}, order)


ROWS = [
    _row("ann", 80, 3),
    _row("bob", 90, 5),
    _row("ann", 90, 7),  # ann's second try ties bob's, released later
    _row("cy", 70, 9),
    _row("ann", 90, 11),  # ann resubmits the same predictions: the same values again
    _row("dee", 80, 13),
]


def test_all_view_ties_share_a_rank_and_the_next_skips():
    board = rank(ROWS, CORRECT, view="all")
    assert [(r["rank"], r["participant"], r["values"]["correct"]) for r in board] == [
        (1, "bob", 90),
        (1, "ann", 90),
        (1, "ann", 90),
        (4, "ann", 80),
        (4, "dee", 80),
        (6, "cy", 70),
    ]
    assert [r["submission"] for r in board[:3]] == [f"{i:064x}" for i in (5, 7, 11)]  # log order


def test_best_view_keeps_one_row_per_participant():
    board = rank(ROWS, CORRECT, view="best")
    assert [(r["rank"], r["participant"], r["submission"]) for r in board] == [
        (1, "bob", f"{5:064x}"),
        (1, "ann", f"{7:064x}"),  # the earliest of ann's equal best, once
        (3, "dee", f"{13:064x}"),
        (4, "cy", f"{9:064x}"),
    ]
    assert rank(ROWS, CORRECT) == rank(ROWS, CORRECT, view="all")  # the audit bundle's
    with pytest.raises(ValueError):
        rank(ROWS, CORRECT, view="top")  # type: ignore[arg-type]


def test_errors_only_and_confusion_only_rank_by_correct():
    errors = [
        LeaderboardRow(p, p, {"errors": e}, i)
        for i, (p, e) in enumerate([("a", 5), ("b", 2), ("c", 5)])
    ]
    assert [(r["rank"], r["participant"]) for r in rank(errors, ERRORS)] == [
        (1, "b"),
        (2, "a"),
        (2, "c"),
    ]
    confusion = [
        LeaderboardRow(
            p,
            p,
            {"confusion:0:0": d, "confusion:1:1": 0, "confusion:0:1": 1, "confusion:1:0": 1},
            i,
        )
        for i, (p, d) in enumerate([("a", 3), ("b", 8)])
    ]
    assert [r["participant"] for r in rank(confusion, CONFUSION)] == ["b", "a"]


def test_with_accuracy_adds_n_accuracy_and_interval():
    [row] = with_accuracy(rank([_row("ann", 81, 0)], CORRECT), CORRECT, 100)
    low, high = wilson_interval(81, 100)
    assert row == {
        "rank": 1,
        "participant": "ann",
        "submission": f"{0:064x}",
        "values": {"correct": 81},
        "n": 100,
        "correct": 81,
        "accuracy": 0.81,
        "accuracy_low": low,
        "accuracy_high": high,
    }
    [blank] = with_accuracy([{"values": {}}], CORRECT, 100)
    assert blank["accuracy"] is blank["accuracy_low"] is blank["correct"] is None


def test_an_impossible_count_is_shown_as_such_not_a_crash():
    """A released count outside [0, n] (what a lying trustee's partial can produce: released
    values are residues mod t) gets no accuracy rather than breaking the public board."""
    policy = ReleasePolicy(2, ("correct", "errors"))
    board = [
        {"rank": 1, "participant": "liar", "submission": "a" * 64, "values": {"correct": 1100}},
        {"rank": 2, "participant": "ann", "submission": "b" * 64, "values": {"correct": -3}},
    ]
    rows = with_accuracy(board, policy, 1000)
    assert [(r["correct"], r["accuracy"], r["accuracy_low"]) for r in rows] == [
        (1100, None, None),
        (-3, None, None),
    ]


def test_dp_rows_carry_the_policy_expected_error_and_the_widened_interval():
    """Worked example (docs/design.md, "Differential-privacy release"): policy correct, rho
    0.25 per release, t = 2 trustees: σ² = 1/(2·0.25) = 2, V = t·σ² = 4. Released correct 81
    of n = 100: the Wilson half-width's variance p̂(1 − p̂)/n = 0.001539 gains V/n² = 0.0004,
    and the interval (0.7222, 0.8749) widens to (0.7134, 0.8837); the expected absolute error
    is √(2/π)·√4 = 1.596 items."""
    from cryptoscore.threshold.dp_noise import calibrate

    noise = calibrate(CORRECT, 0.25, trustees=2)
    assert noise.sigma**2 == pytest.approx(2.0) and noise.variance("correct") == pytest.approx(4.0)
    [exact] = with_accuracy(rank([_row("ann", 81, 0)], CORRECT), CORRECT, 100)
    [noisy] = with_accuracy(rank([_row("ann", 81, 0)], CORRECT), CORRECT, 100, noise=noise)
    assert (exact["accuracy_low"], exact["accuracy_high"]) == pytest.approx(
        (0.72221, 0.87485), abs=1e-5
    )
    assert (noisy["accuracy_low"], noisy["accuracy_high"]) == pytest.approx(
        (0.71339, 0.88368), abs=1e-5
    )
    assert noisy["release"] == "dp" and noisy["noise_variance"] == pytest.approx(4.0)
    assert noisy["expected_abs_error"] == pytest.approx(1.59577, abs=1e-5)
    assert "release" not in exact
    # a noised count past n is clamped for the proportion, never claimed exact at the edge
    [over] = with_accuracy(rank([_row("bo", 102, 0)], CORRECT), CORRECT, 100, noise=noise)
    assert over["correct"] == 102 and over["accuracy"] == 1.0 and over["accuracy_low"] < 1.0
    assert over["accuracy_high"] == 1.0
