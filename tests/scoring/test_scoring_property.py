"""Released counts equal numpy's, for every task shape and policy (docs/design.md, "BFV lane")."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cryptoscore import ReleasePolicy, encrypt_labels, encrypt_predictions, score
from cryptoscore.scoring.decryption import decrypt_aggregate, decrypt_coefficients

N = 8192
POLICIES = [
    ("correct",),
    ("errors",),
    ("correct", "errors"),
    ("confusion",),
    ("errors", "confusion", "correct"),
]


def expected(p: np.ndarray, y: np.ndarray, policy: ReleasePolicy) -> dict[str, int]:
    out = {"correct": int(np.count_nonzero(p == y)), "errors": int(np.count_nonzero(p != y))}
    for a in range(policy.classes):
        for b in range(policy.classes):
            out[f"confusion:{a}:{b}"] = int(np.count_nonzero((p == a) & (y == b)))
    return {name: out[name] for name in policy.aggregate_names()}


def run(keys, p, y, classes, metrics):
    policy = ReleasePolicy(classes, metrics)
    preds = encrypt_predictions(p, keys.public, classes=classes, challenge="prop")
    labels = encrypt_labels(y, keys.public, classes=classes, challenge="prop")
    agg = score(preds, labels, policy, keys.evaluation)
    released = decrypt_aggregate(agg, keys.secret)
    assert released == expected(np.asarray(p), np.asarray(y), policy)
    # nothing but the policy's aggregates: every other coefficient decrypts to exactly 0
    coeffs = decrypt_coefficients(agg, keys.secret)
    others = np.delete(coeffs, list(agg.positions))
    assert not others.any()
    return agg


@st.composite
def tasks(draw):
    classes = draw(st.sampled_from([2, 3, 10]))
    n = draw(st.sampled_from([1, 2, 100, N - 1, N, N + 1, 2 * N + 37, 3 * N - 5]))
    pattern = draw(st.sampled_from(["random", "all-correct", "all-wrong", "mostly-correct"]))
    seed = draw(st.integers(0, 2**32 - 1))
    gen = np.random.default_rng(seed)
    y = gen.integers(0, classes, n)
    if pattern == "random":
        p = gen.integers(0, classes, n)
    elif pattern == "all-correct":
        p = y.copy()
    elif pattern == "all-wrong":
        p = (y + gen.integers(1, classes, n)) % classes
    else:
        p = np.where(gen.random(n) < 0.9, y, gen.integers(0, classes, n))
    metrics = draw(st.sampled_from(POLICIES if classes <= 3 else POLICIES[:3]))
    return classes, p, y, metrics


@settings(max_examples=14, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(task=tasks())
def test_released_counts_equal_numpy(keys, task):
    classes, p, y, metrics = task
    run(keys, p, y, classes, metrics)


@pytest.mark.parametrize("classes", [2, 3, 10])
@pytest.mark.parametrize("pattern", ["all-correct", "all-wrong"])
def test_extremes_with_every_policy(keys, classes, pattern):
    n = N + 123
    y = np.arange(n) % classes
    p = y if pattern == "all-correct" else (y + 1) % classes
    metrics = ("correct", "errors", "confusion")
    run(keys, p, y, classes, metrics)


def test_k10_full_confusion_matrix(keys, rng):
    n = 2 * N + 11
    y = rng.integers(0, 10, n)
    p = np.where(rng.random(n) < 0.7, y, rng.integers(0, 10, n))
    agg = run(keys, p, y, 10, ("confusion", "correct"))
    assert len(agg.names) == 101


def test_deterministic_byte_identical_output(keys, rng):
    y = rng.integers(0, 3, 5000)
    p = rng.integers(0, 3, 5000)
    preds = encrypt_predictions(p, keys.public, classes=3, challenge="d")
    labels = encrypt_labels(y, keys.public, classes=3, challenge="d")
    policy = ReleasePolicy(3, ("correct", "confusion"))
    a = score(preds, labels, policy, keys.evaluation)
    b = score(preds, labels, policy, keys.evaluation)
    assert a.to_bytes() == b.to_bytes()
    assert a.inputs == (preds.digest, labels.digest)
    assert a.level == 2 and a.params.RELEASE_LEVEL == 2


def test_large_count_preset_binary(rng):
    from cryptoscore import BFV16384, generate_keys

    big = generate_keys(BFV16384)
    n = 16384 + 100
    y = rng.integers(0, 2, n)
    p = rng.integers(0, 2, n)
    run(big, p, y, 2, ("correct", "confusion"))
