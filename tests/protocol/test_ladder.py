"""The Ladder (Blum & Hardt, ICML 2015, Algorithm 1) on counts, against a plaintext reference
in exact fractions of the paper's η; its rule, commitment and leakage bound; and the
label-extraction attack of issue 16 under it, with the exact policy as the control."""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoscore.errors import FormatError, MismatchError, ParameterError, PolicyError
from cryptoscore.protocol.ladder import (
    LadderOpening,
    LadderRule,
    commit,
    ladder_sequence,
    ladder_sequences_bits,
    ladder_step,
    ladder_values,
    margin_counts,
)
from cryptoscore.protocol.leakage import label_leakage
from cryptoscore.protocol.rules import DP_WITH_LADDER, ChallengeRules, DpRule
from cryptoscore.scoring.policy import ReleasePolicy
from tests.helpers.committee import Committee


def reference(accuracies: list[Fraction], eta: Fraction) -> list[Fraction]:
    """Algorithm 1 on accuracies (higher is better) in exact fractions: the shown value starts
    unset; a submission beating it by more than η is shown rounded to the nearest multiple
    of η (a tie down), at most 1; otherwise the previous shown value is repeated."""
    shown: Fraction | None = None
    out = []
    for acc in accuracies:
        if shown is None or acc > shown + eta:
            steps = acc / eta
            low = math.floor(steps)
            nearest = low + 1 if steps - low > Fraction(1, 2) else low
            shown = min(Fraction(1), nearest * eta)
        out.append(shown)
    return out


@st.composite
def runs(draw):
    n = draw(st.integers(2, 400))
    margin = draw(st.integers(1, n - 1))
    counts = draw(st.lists(st.integers(0, n), min_size=1, max_size=40))
    return n, margin, counts


@settings(max_examples=300, deadline=None)
@given(runs())
def test_ladder_equals_the_papers_algorithm(run):
    n, margin, counts = run
    shown = ladder_sequence(counts, margin, n)
    want = reference([Fraction(c, n) for c in counts], Fraction(margin, n))
    assert [Fraction(s, n) for s in shown] == want
    assert all(a <= b for a, b in itertools.pairwise(shown))  # never falls
    assert len(set(shown)) <= ladder_values(margin, n)
    if n % margin == 0:  # the paper's 1/η + 1 distinct values
        assert ladder_values(margin, n) == n // margin + 1
    for prev, new in itertools.pairwise(shown):
        assert new == prev or new >= prev + margin  # each rise at least the margin


def test_ladder_exact_numbers():
    # n = 600, η = 0.01: a margin of 6 counts
    assert ladder_step(None, 500, 6, 600) == 498  # the first is shown: nearest multiple of 6
    assert ladder_step(498, 504, 6, 600) == 498  # not more than the margin above
    assert ladder_step(498, 505, 6, 600) == 504  # 505 > 504: rounded to 504
    assert ladder_step(504, 513, 6, 600) == 510  # 513 = 510 + 3: a tie goes down
    assert ladder_step(510, 480, 6, 600) == 510  # worse: the shown value stays
    assert ladder_step(None, 599, 7, 600) == 600  # 602 capped at n
    assert ladder_sequence([500, 505, 513, 480, 600], 6, 600) == [498, 504, 510, 510, 600]
    assert ladder_values(6, 600) == 101 and ladder_values(7, 600) == 87


def test_margin_in_counts_exactly():
    assert margin_counts("0.01", 600) == 6
    assert margin_counts("1/60", 600) == 10
    with pytest.raises(ParameterError, match=r"whole number of items .*nearest: 7/600 or 8/600"):
        margin_counts("0.0125", 600)
    for bad in ("0", "1", "-0.1", "1.5", "abc", "0.001"):
        with pytest.raises(ParameterError):
            margin_counts(bad, 600)


def test_rules_member_absent_leaves_the_json_unchanged(committee):
    plain = committee.rules()
    assert "ladder" not in plain.to_json()
    laddered = committee.rules(ladder=LadderRule(6))
    assert laddered.to_json() == {**plain.to_json(), "ladder": {"margin": 6}}
    assert ChallengeRules.from_json(laddered.to_json()) == laddered
    assert ChallengeRules.from_json(plain.to_json()) == plain
    for bad in ({"margin": 0}, {"margin": 1.5}, {"margin": 3, "x": 1}, [6]):
        with pytest.raises(FormatError):
            ChallengeRules.from_json({**plain.to_json(), "ladder": bad})
    with pytest.raises(MismatchError, match=r"margin of 1\.\.29 items"):
        committee.context(
            "c",
            ReleasePolicy(2, ("correct",)),
            30,
            laddered.__class__(**{**_fields(laddered), "ladder": LadderRule(30)}),
        )


def test_dp_and_the_ladder_are_refused_together(committee):
    """Rules with both dp noise and the Ladder are refused, built or read from JSON."""
    laddered = committee.rules(ladder=LadderRule(6))
    with pytest.raises(PolicyError, match="dp and the Ladder cannot be combined"):
        ChallengeRules(**{**_fields(laddered), "dp": DpRule(0.5, 1.0)})
    both = {**laddered.to_json(), "dp": {"rho": 0.5, "budget": 1.0}}
    with pytest.raises(PolicyError) as raised:
        ChallengeRules.from_json(both)
    assert str(raised.value) == DP_WITH_LADDER


def _fields(rules: ChallengeRules) -> dict:
    return {name: getattr(rules, name) for name in rules.__slots__}


def test_commitment_binds_and_opens():
    opening = commit("c:r2:abc", {"correct": 17, "errors": 13})
    again = LadderOpening.from_json(opening.to_json())
    assert again == opening and again.commitment == opening.commitment
    assert len(opening.nonce) == 32
    other = LadderOpening(opening.request_id, {"correct": 18, "errors": 12}, opening.nonce)
    assert other.commitment != opening.commitment
    assert commit("c:r2:abc", {"correct": 17, "errors": 13}).commitment != opening.commitment
    with pytest.raises(FormatError):
        LadderOpening.from_json({**opening.to_json(), "nonce": "00" * 31})


# -- the label-extraction attack of issue 16, correct/errors, adaptive -----------------------


class Oracle:
    """A participant's view of its releases: the exact correct count, or the Ladder's."""

    def __init__(self, labels: np.ndarray, margin: int | None) -> None:
        self.labels, self.margin, self.shown = labels, margin, None
        self.distinct: set[int] = set()

    def __call__(self, predictions: np.ndarray) -> int:
        exact = int((predictions == self.labels).sum())
        if self.margin is None:
            return exact
        self.shown = ladder_step(self.shown, exact, self.margin, len(self.labels))
        self.distinct.add(self.shown)
        return self.shown


def attack(oracle: Oracle, n: int, submissions: int) -> dict[int, int]:
    """One baseline (class 0 everywhere), then each submission flips one more item to class 1
    against it and reads the change: +1 → label 1, −1 → label 0, nothing read otherwise."""
    baseline = np.zeros(n, dtype=np.int64)
    base = oracle(baseline)
    found: dict[int, int] = {}
    for item in range(min(n, submissions - 1)):
        probe = baseline.copy()
        probe[item] = 1
        moved = oracle(probe) - base
        if moved == 1:
            found[item] = 1
        elif moved == -1:
            found[item] = 0
    return found


N, K, PER_DAY, DAYS = 600, 2, 5, 3
POLICY = ReleasePolicy(K, ("correct", "errors"))


def _leakage(margin: int | None):
    now = datetime.now(UTC)
    rule = None if margin is None else LadderRule(margin)
    return label_leakage(POLICY, N, PER_DAY, now, now + timedelta(days=DAYS), 1, None, ladder=rule)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_attack_on_exact_counts_reads_a_label_per_submission(seed):
    """The control: without the Ladder every submission after the baseline gives a label."""
    labels = np.random.default_rng(seed).integers(0, K, N)
    leakage = _leakage(None)
    budget = leakage.submissions_per_identity
    found = attack(Oracle(labels, None), N, budget)
    assert len(found) == budget - 1 == leakage.labels_per_identity
    assert all(labels[i] == v for i, v in found.items())


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("margin", [1, 6, 60])
def test_attack_under_the_ladder_stays_within_the_bound(seed, margin):
    labels = np.random.default_rng(seed).integers(0, K, N)
    leakage = _leakage(margin)
    budget = leakage.submissions_per_identity
    oracle = Oracle(labels, margin)
    found = attack(oracle, N, budget)
    assert len(found) == leakage.ladder_attack_labels == 0
    assert len(found) <= leakage.ladder_labels_bound
    assert len(oracle.distinct) <= leakage.ladder_shown_values
    # the bound itself: log2 C(V + T − 1, T) bits for T submissions over V shown values
    v = ladder_values(margin, N)
    assert leakage.ladder_bits_per_identity == ladder_sequences_bits(margin, N, budget)
    assert leakage.ladder_bits_per_identity == pytest.approx(
        math.log2(math.comb(v + budget - 1, budget))
    )


def test_margin_of_one_still_hides_one_item_changes():
    """Even a margin of 1 count shows no ±1 change: a change must exceed the margin."""
    labels = np.random.default_rng(4).integers(0, K, N)
    assert attack(Oracle(labels, 1), N, 15) == {}
    assert _leakage(1).ladder_attack_labels == 0


def test_demo_statement_numbers():
    """The demo: 600 items, 10 classes, 5 a day for 3 days, η = 0.01 (6 counts)."""
    now = datetime.now(UTC)
    leakage = label_leakage(
        ReleasePolicy(10, ("correct",)),
        600,
        5,
        now,
        now + timedelta(days=3),
        10,
        None,
        ladder=LadderRule(6),
    )
    assert leakage.ladder_shown_values == 101
    assert leakage.ladder_bits_per_identity == pytest.approx(math.log2(math.comb(115, 15)))
    assert round(leakage.ladder_bits_per_identity, 1) == 61.1
    assert round(leakage.ladder_labels_bound, 2) == 18.38
    line = leakage.statement()[-1]
    assert "log2 C(101 + 15 - 1, 15) = 61.1 bits (18.38 labels' worth" in line
    assert leakage.to_json()["ladder"]["shown_values"] == 101


@pytest.fixture(scope="module")
def committee():
    return Committee(2, 3)
