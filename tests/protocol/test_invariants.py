"""The release invariants (``cryptoscore/protocol/invariants.py``): honest values — the policy's
aggregates computed in plaintext with numpy on random data — never trip them, for random
policies, class counts and sizes; every single shift of one count where the policy releases a
related aggregate does; the round-1 domains hold for every value a combination can give."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cryptoscore import BFV8192
from cryptoscore.errors import CryptoScoreError, InconsistentReleaseError
from cryptoscore.protocol.invariants import (
    INVARIANTS,
    check_noise_residual,
    check_release,
    check_validity_values,
    fixed_label_histogram,
    label_histogram,
)
from cryptoscore.scoring.policy import METRICS, ReleasePolicy, confusion_cell_name
from cryptoscore.scoring.validity import validity_names


def honest_values(policy: ReleasePolicy, p: np.ndarray, y: np.ndarray) -> dict[str, int]:
    """What the score circuit releases, from plaintext."""
    out: dict[str, int] = {}
    for name in policy.aggregate_names():
        if name == "correct":
            out[name] = int(np.count_nonzero(p == y))
        elif name == "errors":
            out[name] = int(np.count_nonzero(p != y))
        else:
            _, a, b = name.split(":")
            out[name] = int(np.count_nonzero((p == int(a)) & (y == int(b))))
    return out


policies = st.builds(
    ReleasePolicy,
    st.integers(2, 6),
    st.lists(st.sampled_from(METRICS), min_size=1, max_size=3, unique=True).map(tuple),
)


@st.composite
def honest_runs(draw):
    policy = draw(policies)
    n = draw(st.integers(1, 400))
    seed = draw(st.integers(0, 2**32 - 1))
    gen = np.random.default_rng(seed)
    y = gen.integers(0, policy.classes, n)
    submissions = [gen.integers(0, policy.classes, n) for _ in range(draw(st.integers(1, 4)))]
    return policy, n, y, submissions


@settings(max_examples=200, deadline=None)
@given(honest_runs())
def test_honest_releases_never_break_an_invariant(run):
    policy, n, y, submissions = run
    earlier = []
    for p in submissions:
        values = honest_values(policy, p, y)
        check_release(values, policy, n, fixed_label_histogram(earlier, policy))
        earlier.append(values)
    if "confusion" in policy.metrics:
        want = tuple(int(np.count_nonzero(y == b)) for b in range(policy.classes))
        assert fixed_label_histogram(earlier, policy) == want
    else:
        assert fixed_label_histogram(earlier, policy) is None


@settings(max_examples=200, deadline=None)
@given(honest_runs(), st.data())
def test_one_shifted_count_breaks_an_invariant_when_it_has_a_partner(run, data):
    """A lie on one aggregate (mod t, as a partial's Δ·k gives) is caught whenever the policy
    releases something it must agree with (two metrics, or a confusion matrix)."""
    policy, n, y, submissions = run
    first = honest_values(policy, submissions[0], y)
    fixed = label_histogram(first, policy)
    values = honest_values(policy, submissions[-1], y)
    name = data.draw(st.sampled_from(policy.aggregate_names()))
    k = data.draw(st.integers(1, BFV8192.PLAIN_MODULUS - 1))
    lied = {**values, name: (values[name] + k) % BFV8192.PLAIN_MODULUS}
    partnered = len(policy.metrics) > 1 or "confusion" in policy.metrics
    if partnered:
        with pytest.raises(InconsistentReleaseError) as caught:
            check_release(lied, policy, n, fixed)
        assert caught.value.invariant in INVARIANTS
        assert str(caught.value).startswith(caught.value.invariant + ": ")
        assert caught.value.values == lied
    elif not 0 <= lied[name] <= n:
        with pytest.raises(InconsistentReleaseError, match=r"^count-range: "):
            check_release(lied, policy, n, fixed)
    else:  # one count alone, still in range: nothing to hold it to
        check_release(lied, policy, n, fixed)


def test_each_invariant_by_name():
    policy = ReleasePolicy(2, ("correct", "errors", "confusion"))
    good = {
        "correct": 7,
        "errors": 3,
        confusion_cell_name(0, 0): 3,
        confusion_cell_name(0, 1): 1,
        confusion_cell_name(1, 0): 2,
        confusion_cell_name(1, 1): 4,
    }
    check_release(good, policy, 10, (5, 5))
    cases = {
        "count-range": {**good, "correct": 11},
        "correct-plus-errors": {**good, "correct": 8},
        "confusion-total": {**good, confusion_cell_name(0, 1): 2},
        "correct-diagonal": {
            **good,
            "correct": 8,
            "errors": 2,
        },
        "errors-off-diagonal": None,  # implied by the two before it when all three hold
        "label-histogram": {
            **good,
            confusion_cell_name(1, 1): 5,
            confusion_cell_name(1, 0): 1,
            "correct": 8,
            "errors": 2,
        },
    }
    for invariant, values in cases.items():
        if values is None:
            continue
        with pytest.raises(InconsistentReleaseError, match=rf"^{invariant}: "):
            check_release(values, policy, 10, (5, 5))
    # errors against the off-diagonal, without correct to fail first
    only_errors = ReleasePolicy(2, ("errors", "confusion"))
    values = {k: v for k, v in good.items() if k != "correct"}
    check_release(values, only_errors, 10)
    with pytest.raises(InconsistentReleaseError, match=r"^errors-off-diagonal: "):
        check_release({**values, "errors": 4}, only_errors, 10)
    with pytest.raises(InconsistentReleaseError, match=r"^count-range: the values name"):
        check_release({"correct": 1}, policy, 10)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, BFV8192.PLAIN_MODULUS - 1), min_size=4, max_size=4))
def test_every_combined_v_is_in_its_domain(values):
    names = validity_names(BFV8192)
    check_validity_values(dict(zip(names, values, strict=True)), names, BFV8192.PLAIN_MODULUS)


def test_round1_domains_refuse_what_no_combination_gives():
    names = validity_names(BFV8192)
    t = BFV8192.PLAIN_MODULUS
    with pytest.raises(InconsistentReleaseError, match=r"^validity-domain: "):
        check_validity_values(dict.fromkeys(names, t), names, t)
    with pytest.raises(InconsistentReleaseError, match=r"^validity-domain: "):
        check_validity_values({"validity:0": 0}, names, t)
    check_noise_residual(0, 97)
    check_noise_residual(48, 97)
    for bad in (None, -1, 49):
        with pytest.raises(InconsistentReleaseError, match=r"^noise-residual-domain: "):
            check_noise_residual(bad, 97)
    assert issubclass(InconsistentReleaseError, CryptoScoreError)
