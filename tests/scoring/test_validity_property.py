"""V = 0 for every valid bundle; honest data of every shape passes (docs/design.md, "Validity")."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cryptoscore import BFV8192, BFV16384, check_count, encrypt_labels, encrypt_predictions
from cryptoscore.scoring.decryption import decrypt_aggregate, decrypt_coefficients
from cryptoscore.scoring.encoding import Layout
from cryptoscore.scoring.validity import is_valid, validity, validity_weights

N = 8192


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    classes=st.sampled_from([2, 3, 10]),
    n=st.sampled_from([1, 77, N - 1, N, N + 1, 2 * N + 500]),
    seed=st.binary(min_size=32, max_size=32),
    data_seed=st.integers(0, 2**32 - 1),
    labels=st.booleans(),
)
def test_valid_bundles_pass(keys, classes, n, seed, data_seed, labels):
    idx = np.random.default_rng(data_seed).integers(0, classes, n)
    encrypt = encrypt_labels if labels else encrypt_predictions
    bundle = encrypt(idx, keys.public, classes=classes, challenge="v")
    agg = validity(bundle, seed, keys.evaluation)
    values = decrypt_aggregate(agg, keys.secret)
    assert values == {f"validity:{j}": 0 for j in range(check_count(BFV8192))}
    assert is_valid(values)
    coeffs = decrypt_coefficients(agg, keys.secret)
    assert not coeffs.any()  # all zero, positions included


def test_number_of_checks_reaches_2_pow_minus_40():
    # each check misses with probability <= 2^-12 (weights ρ) + 2^-12 (polynomial R) = 2^-11
    for params in (BFV8192, BFV16384):
        m = check_count(params)
        assert m == 4
        assert (2.0**-11) ** m <= 2.0**-40 < (2.0**-11) ** (m - 1)


def test_weights_deterministic_uniform_small_and_seed_dependent():
    layout = Layout.for_params(BFV8192, 3 * N, 3)
    seed = os.urandom(32)
    a = validity_weights(BFV8192, layout, seed)
    b = validity_weights(BFV8192, layout, seed)
    c = validity_weights(BFV8192, layout, os.urandom(32))
    assert len(a) == 4
    for wa, wb, wc in zip(a, b, c, strict=True):
        assert np.array_equal(wa.poly, wb.poly) and not np.array_equal(wa.poly, wc.poly)
        assert wa.chunk.shape == (3, 3) and wa.row_chunk.shape == (3,)
        for arr in (wa.poly, wa.row_poly):
            assert arr.min() >= 0 and arr.max() < 4096
        for arr in (wa.chunk, wa.row_chunk):
            assert arr.min() >= 1 and arr.max() <= 4096
    # the checks use independent weights
    assert not np.array_equal(a[0].poly, a[1].poly)
    # uniform over [0, 4096): mean near 2047.5, every value hit about twice
    assert abs(a[0].poly.mean() - 2047.5) < 40
    assert len(np.unique(a[0].poly)) > 3000


def test_validity_is_deterministic_and_names_its_inputs(keys):
    bundle = encrypt_predictions(np.arange(300) % 2, keys.public, classes=2, challenge="v")
    seed = bytes(range(32))
    a = validity(bundle, seed, keys.evaluation)
    b = validity(bundle, seed, keys.evaluation)
    assert a.to_bytes() == b.to_bytes()
    assert a.inputs == (bundle.digest,) and a.seed == seed and a.circuit == "validity/v1"


def test_bad_seed_length(keys):
    from cryptoscore import InputError

    bundle = encrypt_predictions([0, 1], keys.public, classes=2, challenge="v")
    with pytest.raises(InputError, match="seed must be 32 bytes"):
        validity(bundle, b"short", keys.evaluation)
