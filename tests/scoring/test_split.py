"""A public/private split: each part's circuit releases exactly numpy's counts over that part's
items, and nothing else (docs/design.md, "Public/private split")."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cryptoscore import ReleasePolicy, encrypt_labels, encrypt_predictions, score, validity
from cryptoscore.errors import InputError, MismatchError
from cryptoscore.scoring.decryption import decrypt_aggregate, decrypt_coefficients
from cryptoscore.scoring.encoding import draw_public_mask, split_label_indices
from cryptoscore.scoring.validity import is_valid
from tests.scoring.test_scoring_property import expected

N = 8192


def run_split(keys, p, y, public, classes, metrics):
    """Both parts' releases of one submission, checked against numpy over each part."""
    policy = ReleasePolicy(classes, metrics)
    preds = encrypt_predictions(p, keys.public, classes=classes, challenge="split")
    labels = encrypt_labels(
        split_label_indices(y, public, classes), keys.public, classes=2 * classes, challenge="split"
    )
    out = {}
    for part, members in (("public", public), ("private", ~public)):
        agg = score(preds, labels, policy, keys.evaluation, part=part, part_size=int(members.sum()))
        assert agg.circuit == f"score-{part}/v1"
        released = decrypt_aggregate(agg, keys.secret)
        assert released == expected(np.asarray(p)[members], np.asarray(y)[members], policy)
        coeffs = decrypt_coefficients(agg, keys.secret)
        assert not np.delete(coeffs, list(agg.positions)).any()  # nothing but the aggregates
        out[part] = released
    return out


@pytest.mark.parametrize("classes", [2, 3, 5])
def test_each_part_releases_its_own_counts(keys, classes):
    gen = np.random.default_rng(classes)
    n = N + 37  # two chunks, the last one partial
    y, p = gen.integers(0, classes, n), gen.integers(0, classes, n)
    public = draw_public_mask(n, n * 3 // 10)
    run_split(keys, p, y, public, classes, ("correct", "errors", "confusion"))


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    classes=st.sampled_from([2, 3, 4]),
    n=st.sampled_from([2, 3, 100, N + 1]),
    metrics=st.sampled_from([("correct",), ("errors",), ("confusion",), ("errors", "correct")]),
    seed=st.integers(0, 2**32 - 1),
)
def test_split_counts_property(keys, classes, n, metrics, seed):
    gen = np.random.default_rng(seed)
    y, p = gen.integers(0, classes, n), gen.integers(0, classes, n)
    public = draw_public_mask(n, int(gen.integers(1, n)))
    run_split(keys, p, y, public, classes, metrics)


def test_a_public_circuit_changes_with_no_private_label(keys):
    """Changing a private item's label leaves the public part's ciphertext's plaintext — its
    every coefficient — unchanged: the public circuit reads no private label vector."""
    classes, n = 3, 50
    gen = np.random.default_rng(7)
    y, p = gen.integers(0, classes, n), gen.integers(0, classes, n)
    public = draw_public_mask(n, 15)
    private_item = int(np.flatnonzero(~public)[0])
    y2 = y.copy()
    y2[private_item] = (y[private_item] + 1) % classes
    policy = ReleasePolicy(classes, ("confusion",))
    preds = encrypt_predictions(p, keys.public, classes=classes, challenge="split")
    coeffs = []
    for labels in (y, y2):
        bundle = encrypt_labels(
            split_label_indices(labels, public, classes),
            keys.public,
            classes=2 * classes,
            challenge="split",
        )
        agg = score(preds, bundle, policy, keys.evaluation, part="public", part_size=15)
        coeffs.append(decrypt_coefficients(agg, keys.secret))
    assert np.array_equal(coeffs[0], coeffs[1])


def test_split_labels_are_valid_one_hot_and_a_bad_mask_is_not(keys):
    """Round 1's validity check proves the mask well-formed: an item in both parts (two 1s
    among its 2K entries) or in neither fails V."""
    from cryptoscore import raw_encrypt_vectors

    classes, n = 3, 40
    gen = np.random.default_rng(3)
    y = gen.integers(0, classes, n)
    public = draw_public_mask(n, 12)
    good = encrypt_labels(
        split_label_indices(y, public, classes), keys.public, classes=2 * classes, challenge="s"
    )
    seed = bytes(range(32))
    assert is_valid(decrypt_aggregate(validity(good, seed, keys.evaluation), keys.secret))
    one_hot = np.zeros((2 * classes, N), dtype=np.int64)
    for i, c in enumerate(split_label_indices(y, public, classes)):
        one_hot[c, i] = 1
    both = one_hot.copy()
    both[y[0], 0] = both[classes + y[0], 0] = 1  # item 0 in the public and the private part
    neither = one_hot.copy()
    neither[:, 1] = 0  # item 1 in no part
    for vectors in (both, neither):
        bad = raw_encrypt_vectors(
            "labels", list(vectors), keys.public, classes=2 * classes, n=n, challenge="s"
        )
        assert not is_valid(decrypt_aggregate(validity(bad, seed, keys.evaluation), keys.secret))


def test_split_refuses_mismatched_inputs(keys):
    classes, n = 2, 10
    y = np.zeros(n, dtype=np.int64)
    preds = encrypt_predictions(y, keys.public, classes=classes, challenge="s")
    plain = encrypt_labels(y, keys.public, classes=classes, challenge="s")
    policy = ReleasePolicy(classes, ("correct",))
    with pytest.raises(MismatchError):  # labels without a split scored by a part's circuit
        score(preds, plain, policy, keys.evaluation, part="public", part_size=3)
    split = encrypt_labels(
        split_label_indices(y, draw_public_mask(n, 3), classes),
        keys.public,
        classes=4,
        challenge="s",
    )
    with pytest.raises(MismatchError):  # split labels scored by the circuit over every item
        score(preds, split, policy, keys.evaluation)
    with pytest.raises(MismatchError):
        score(preds, split, policy, keys.evaluation, part="public", part_size=n)


def test_public_mask_is_exact_and_varies():
    masks = [draw_public_mask(100, 30) for _ in range(5)]
    assert all(int(m.sum()) == 30 for m in masks)
    assert len({m.tobytes() for m in masks}) > 1
    with pytest.raises(InputError):
        draw_public_mask(10, 10)
    with pytest.raises(InputError):
        split_label_indices([0, 1], np.array([True, True]), 2)
