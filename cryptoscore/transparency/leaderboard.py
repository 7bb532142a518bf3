"""The leaderboard: released submissions ranked, as the service, the audit bundle and the
auditor compute it.

The rows are a projection of the log kept as it grows (one row per release entry,
:func:`rows_from_entries`); :func:`rank` orders them by :data:`RANKING_RULE` (docs/design.md,
"Leaderboard"): every release for the audit bundle and the verifier, or each participant's
best one. :func:`with_accuracy` adds what a reader wants beside the exact counts: the
accuracy over the challenge's ``n`` items and its Wilson score 95% interval
(:func:`wilson_interval`). The verifier rebuilds the rows from the log it was given and
compares.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any, Literal

from cryptoscore.scoring.policy import ReleasePolicy, confusion_cell_name, correct_count
from cryptoscore.threshold.dp_noise import DpCalibration

__all__ = [
    "RANKING_RULE",
    "VIEWS",
    "Z_95",
    "LeaderboardRow",
    "View",
    "correct_count",
    "rank",
    "rows_from_entries",
    "wilson_interval",
    "with_accuracy",
]

Z_95 = 1.959963984540054
"""The standard normal quantile for a two-sided 95% interval, Φ⁻¹(0.975)."""

View = Literal["best", "all"]
VIEWS: tuple[View, ...] = ("best", "all")
"""``best``: each participant's best submission; ``all``: every released submission."""

RANKING_RULE = (
    "standard competition ranking (1224) by accuracy = correct / n, highest first: "
    "submissions with equal accuracy share a rank and the next rank skips as many places; "
    "within a rank, rows are in log order (earliest release first). correct is the released "
    "count, else n - errors, else the sum of the confusion matrix's diagonal. view=best keeps "
    "each participant's best submission (the earliest released among equals)"
)
"""How :func:`rank` orders and numbers rows (stated in the service's response and docs)."""


@dataclass(frozen=True, slots=True)
class LeaderboardRow:
    """One released submission: who uploaded it, its digest, its values, and the log index
    of its release entry (the tie-break)."""

    participant: str
    submission: str
    values: Mapping[str, int]
    order: int
    part: str | None = None
    """``public`` or ``private`` for a split challenge's release (a ``part_release`` entry);
    ``None`` for a challenge without a split."""
    laddered: bool = False
    """A release under the Ladder (a ``ladder_release`` entry): ``values`` is the shown count
    (``{"correct": s}``), not the exact values (docs/design.md, "Ladder")."""


def rows_from_entries(
    entries: Iterable[Mapping[str, Any]],
    owners: MutableMapping[str, str] | None = None,
    *,
    start: int = 0,
) -> list[LeaderboardRow]:
    """The rows of ``entries`` (log entries from index ``start`` on). ``owners`` maps bundle
    digests to uploaders; bundle entries seen here are added to it, so a caller that keeps
    it can feed the log a piece at a time."""
    owners = {} if owners is None else owners
    rows = []
    for i, entry in enumerate(entries, start):
        if entry.get("type") == "bundle":
            owners[str(entry["bundle"])] = str(entry["owner"])
        elif entry.get("type") in ("release", "part_release", "ladder_release"):
            part = None if entry["type"] == "release" else entry["part"]
            rows.append(
                LeaderboardRow(
                    owners.get(str(entry["predictions"]), "?"),
                    str(entry["predictions"]),
                    dict(entry["values"]),
                    i,
                    None if part is None else str(part),
                    entry["type"] == "ladder_release",
                )
            )
    return rows


def wilson_interval(
    successes: int, n: int, z: float = Z_95, noise_variance: float = 0.0
) -> tuple[float, float]:
    """The Wilson score interval for a binomial proportion: ``successes`` of ``n`` trials.

    With p̂ = successes / n, the bounds are

        (p̂ + z²/2n ± z·√(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n),

    the p where the score test of p̂ against p is at the edge of significance (E. B. Wilson,
    "Probable inference, the law of succession, and statistical inference", JASA 22, 1927).
    Unlike the Wald interval p̂ ± z·√(p̂(1 − p̂)/n) it stays inside [0, 1] and keeps close to
    its nominal coverage for small n and for p̂ near 0 or 1 (L. D. Brown, T. T. Cai and
    A. DasGupta, "Interval estimation for a binomial proportion", Statistical Science 16,
    2001). ``z`` = :data:`Z_95` gives 95%. The bound at 0 (no successes) or 1 (all) is exact.

    ``noise_variance``: the variance V of differential-privacy noise added to the count
    (docs/design.md, "Differential-privacy release"), widening the interval by adding the
    noised proportion's extra variance V/n² to the binomial one inside the square root:
    z·√(p̂(1 − p̂)/n + V/n² + z²/4n²). The count is then clamped to 0..n first, and no bound
    is exact.
    """
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"a proportion needs 0 <= successes <= n and n >= 1, got {successes}/{n}")
    p = successes / n
    zz = z * z / n
    centre = (p + zz / 2) / (1 + zz)
    half = z / (1 + zz) * math.sqrt(p * (1 - p) / n + noise_variance / n**2 + zz / (4 * n))
    exact = noise_variance == 0
    low = 0.0 if successes == 0 and exact else max(0.0, centre - half)
    high = 1.0 if successes == n and exact else min(1.0, centre + half)
    return low, high


def _ranked_count(row: LeaderboardRow, policy: ReleasePolicy) -> int | None:
    # n is the same for every row of a challenge: counting with n = 0 (−errors where the policy
    # releases only errors) orders and ties the rows exactly as correct / n does
    return correct_count(row.values, policy, 0)


_PART_ORDER = {None: 0, "public": 0, "private": 1}


def _sort_key(row: LeaderboardRow, policy: ReleasePolicy) -> tuple[int, bool, int, int]:
    count = _ranked_count(row, policy)
    return (_PART_ORDER.get(row.part, 2), count is None, -(count or 0), row.order)


def rank(
    rows: Iterable[LeaderboardRow],
    policy: ReleasePolicy,
    *,
    view: View = "all",
    part: str | None = None,
) -> list[dict[str, Any]]:
    """``[{"rank", "participant", "submission", "values"}]``, best first, numbered by
    :data:`RANKING_RULE`: every row (``view="all"``, the audit bundle's leaderboard) or each
    participant's best (``view="best"``). A split challenge's rows also carry ``"part"``; they
    are ranked within their part, public first (``part``: that part's rows only)."""
    if view not in VIEWS:
        raise ValueError(f"unknown leaderboard view {view!r} (known: {', '.join(VIEWS)})")
    chosen = [r for r in rows if part is None or r.part == part]
    ordered = sorted(chosen, key=lambda r: _sort_key(r, policy))
    if view == "best":
        best: dict[tuple[str | None, str], LeaderboardRow] = {}
        for row in ordered:
            best.setdefault((row.part, row.participant), row)  # the first seen is the best
        ordered = list(best.values())  # in insertion order: still best first
    board: list[dict[str, Any]] = []
    previous: tuple[str | None, int | None] | None = None
    start = 0  # the place before the first row of the current part
    for place, row in enumerate(ordered, 1):
        count = _ranked_count(row, policy)
        if board and row.part != ordered[place - 2].part:
            start, previous = place - 1, None  # a new part: ranks start again
        # a tie shares the rank above it; the next row's rank skips (its place in the list)
        shared = bool(board) and (row.part, count) == previous
        previous = (row.part, count)
        out: dict[str, Any] = {
            "rank": board[-1]["rank"] if shared else place - start,
            "participant": row.participant,
            "submission": row.submission,
            "values": dict(row.values),
        }
        if row.part is not None:
            out["part"] = row.part
        if row.laddered:
            out["release"] = "ladder"
        board.append(out)
    return board


def with_accuracy(
    board: Iterable[Mapping[str, Any]],
    policy: ReleasePolicy,
    n: int,
    part_sizes: Mapping[str, int] | None = None,
    noise: DpCalibration | None = None,
) -> list[dict[str, Any]]:
    """Each ranked row of :func:`rank` with ``n``, ``correct`` (:func:`correct_count`),
    ``accuracy`` = correct / n and its Wilson 95% interval ``accuracy_low``,
    ``accuracy_high`` (``None`` where the values do not give ``correct``, or give a count
    outside [0, n]). A split challenge's row counts over its part: ``n`` is
    ``part_sizes[row["part"]]``.

    Under differential-privacy noise (``noise``: the challenge's calibration, its trustees
    included) each row also carries ``release`` = ``"dp"``, ``expected_abs_error``
    (E|released correct − exact correct|, the Gaussian approximation
    √(2/π)·√V with V = t·draws·σ², ``DpCalibration.expected_abs_error``) and
    ``noise_variance`` V; ``correct`` is the released (noised) count, the accuracy is taken
    with it clamped to 0..n, and the Wilson interval is widened by V (:func:`wilson_interval`)."""
    out = []
    total = n
    variance = 0.0 if noise is None else noise.variance(_correct_source(policy))
    for row in board:
        n = total if "part" not in row or part_sizes is None else part_sizes[row["part"]]
        correct = correct_count(row["values"], policy, n)
        if noise is not None:
            out.append(_noised_accuracy(row, n, correct, variance, policy))
            continue
        # a count outside [0, n] is no proportion: released values are residues mod t, so a
        # wrong partial can release one; show the count, claim no accuracy for it
        possible = correct is not None and 0 <= correct <= n
        low, high = (
            wilson_interval(correct, n) if possible and correct is not None else (None, None)
        )
        out.append(
            {
                **row,
                "n": n,
                "correct": correct,
                "accuracy": correct / n if possible and correct is not None else None,
                "accuracy_low": low,
                "accuracy_high": high,
            }
        )
    return out


def _correct_source(policy: ReleasePolicy) -> str:
    """The aggregate ``correct`` is read from (:func:`correct_count`): its noise is that one's."""
    if "correct" in policy.metrics:
        return "correct"
    return "errors" if "errors" in policy.metrics else confusion_cell_name(0, 0)


def _noised_accuracy(
    row: Mapping[str, Any],
    n: int,
    correct: int | None,
    variance: float,
    policy: ReleasePolicy,
) -> dict[str, Any]:
    """One row of :func:`with_accuracy` under dp noise (its docstring)."""
    if correct is not None and not ("correct" in policy.metrics or "errors" in policy.metrics):
        # the diagonal: K cells' noise, not one cell's
        variance = variance * policy.classes
    clamped = None if correct is None else min(max(correct, 0), n)
    low, high = (None, None) if clamped is None else wilson_interval(clamped, n, Z_95, variance)
    return {
        **row,
        "n": n,
        "correct": correct,
        "accuracy": None if clamped is None else clamped / n,
        "accuracy_low": low,
        "accuracy_high": high,
        "release": "dp",
        "expected_abs_error": math.sqrt(2 / math.pi) * math.sqrt(variance),
        "noise_variance": variance,
    }
