"""Act as a malicious participant: craft encodings an honest client never produces.

Every one must make some validity aggregate non-zero (docs/design.md, "Validity"): otherwise a
weighted encoding would turn one released score into a vector of labels.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from cryptoscore import (
    BFV8192,
    MismatchError,
    ReleasePolicy,
    encrypt_labels,
    encrypt_predictions,
    raw_encrypt_vectors,
    score,
)
from cryptoscore.scoring.decryption import decrypt_aggregate
from cryptoscore.scoring.validity import is_valid, validity

N = 8192
T = BFV8192.PLAIN_MODULUS


def vectors(classes: int, idx: np.ndarray) -> list[np.ndarray]:
    """Honest slot vectors in bundle order (chunk-major, class-major inside a chunk)."""
    n = idx.size
    chunks = -(-n // N)
    out = []
    for k in range(chunks):
        part = idx[k * N : (k + 1) * N]
        for c in [1] if classes == 2 else range(classes):
            v = np.zeros(N, dtype=np.int64)
            v[: part.size] = part == c
            out.append(v)
    return out


def verdict(keys, vecs, classes, n, kind="predictions"):
    bundle = raw_encrypt_vectors(kind, vecs, keys.public, classes=classes, n=n, challenge="x")
    agg = validity(bundle, os.urandom(32), keys.evaluation)
    return is_valid(decrypt_aggregate(agg, keys.secret))


def test_honest_raw_vectors_pass(keys, rng):
    idx = rng.integers(0, 3, 10000)
    assert verdict(keys, vectors(3, idx), 3, 10000)


@pytest.mark.parametrize("value", [2, T - 1, 5, T // 2])
def test_non_binary_entry(keys, rng, value):
    idx = rng.integers(0, 2, 9000)
    vecs = vectors(2, idx)
    vecs[1][17] = value
    assert not verdict(keys, vecs, 2, 9000)


def test_weighted_encoding_two_pow_i(keys):
    # the attack: entry i = 2^i makes "correct" a bit vector of the labels
    n = 60
    vecs = [np.array([pow(2, i, T) for i in range(n)], dtype=np.int64)]
    assert not verdict(keys, vecs, 2, n)


def test_one_hot_row_with_two_classes(keys, rng):
    idx = rng.integers(0, 10, 500)
    vecs = vectors(10, idx)
    vecs[(idx[42] + 1) % 10][42] = 1
    assert not verdict(keys, vecs, 10, 500)


def test_one_hot_row_with_no_class(keys, rng):
    idx = rng.integers(0, 3, 500)
    vecs = vectors(3, idx)
    vecs[idx[499]][499] = 0
    assert not verdict(keys, vecs, 3, 500)


def test_one_hot_row_with_all_classes_halved_is_caught(keys, rng):
    # rows summing to 1 with non-binary entries (1/2 + 1/2 mod t) pass the row check only
    idx = rng.integers(0, 2, 100)
    vecs = vectors(3, idx)
    half = pow(2, -1, T)
    vecs[0][3], vecs[1][3], vecs[2][3] = half, half, 0
    assert not verdict(keys, vecs, 3, 100)


@pytest.mark.parametrize("classes", [2, 3])
def test_non_zero_padding(keys, rng, classes):
    n = N + 10
    idx = rng.integers(0, classes, n)
    vecs = vectors(classes, idx)
    vecs[-1][N - 1] = 1  # padding slot of the last chunk
    assert not verdict(keys, vecs, classes, n)


@pytest.mark.slow
def test_one_bad_entry_hidden_among_a_million(keys, rng):
    n = 1_000_000
    idx = rng.integers(0, 2, n)
    vecs = vectors(2, idx)
    vecs[77][4242] = 3
    assert not verdict(keys, vecs, 2, n)


def test_malicious_labels_are_caught_the_same_way(keys, rng):
    idx = rng.integers(0, 2, 200)
    vecs = vectors(2, idx)
    vecs[0][5] = 7
    assert not verdict(keys, vecs, 2, 200, kind="labels")


def test_label_bundle_submitted_as_predictions_is_refused(keys, rng):
    y = rng.integers(0, 2, 100)
    labels = encrypt_labels(y, keys.public, classes=2, challenge="x")
    policy = ReleasePolicy(2, ("correct",))
    with pytest.raises(MismatchError, match="kind is 'labels', expected 'predictions'"):
        score(labels, labels, policy, keys.evaluation)


def test_mismatched_pairs_are_refused(keys, other_keys, rng):
    y = rng.integers(0, 2, 100)
    labels = encrypt_labels(y, keys.public, classes=2, challenge="x")
    policy = ReleasePolicy(2, ("correct",))
    cases = [
        (encrypt_predictions(y[:99], keys.public, classes=2, challenge="x"), "number of items"),
        (encrypt_predictions(y, keys.public, classes=3, challenge="x"), "number of classes"),
        (encrypt_predictions(y, keys.public, classes=2, challenge="y"), "challenge"),
        (encrypt_predictions(y, other_keys.public, classes=2, challenge="x"), "key id"),
    ]
    for preds, message in cases:
        with pytest.raises(MismatchError, match=message):
            score(preds, labels, policy, keys.evaluation)
    preds = encrypt_predictions(y, keys.public, classes=2, challenge="x")
    with pytest.raises(MismatchError, match="policy is for 3 classes"):
        score(preds, labels, ReleasePolicy(3, ("correct",)), keys.evaluation)
    with pytest.raises(MismatchError, match="evaluation keys"):
        score(preds, labels, policy, other_keys.evaluation)
