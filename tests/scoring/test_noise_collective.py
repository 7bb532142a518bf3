"""Noise bounds for collective keys (``scoring/noise.py``, "Which keys"): every bound holds for a
secret that is the sum of n = committee ternary contributions (the dealerless ceremony), is
monotone in n, reduces to the single-key figures at n = 1, keeps bfv-16384's smudging proven
for every committee up to 16, and bounds the noise of a real encryption under a collective
key."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from cryptoscore import BFV8192, BFV16384
from cryptoscore.errors import ParameterError
from cryptoscore.hazmat.ciphertext import decode_ciphertext, encode_ciphertext
from cryptoscore.hazmat.keygen import (
    combine_shares,
    key_primes,
    public_key_share,
    sample_secret,
    secret_ntt,
    uniform_polys,
)
from cryptoscore.hazmat.modmath import crt_lift, mulmod, reduce_signed
from cryptoscore.hazmat.ntt import ntt_tables
from cryptoscore.scoring.encryption import encrypt_slots
from cryptoscore.scoring.keys import PublicContext
from cryptoscore.scoring.noise import (
    fresh_noise_bound,
    fresh_noise_std,
    fresh_noise_worst_case,
    noise_check_bounds,
    pad_noise_bound,
    release_noise_bound,
    smudging_bound,
    smudging_is_proven,
    switch_noise_bound,
    worst_case_circuit_bound,
    worst_case_release_bound,
)
from tests.helpers.circuits import CIRCUITS

SETS = (BFV8192, BFV16384)
COMMITTEES = range(1, 17)


@pytest.mark.parametrize("params", SETS, ids=lambda p: p.ID)
def test_every_bound_is_monotone_in_the_committee(params):
    def non_decreasing(values):
        return all(a <= b for a, b in itertools.pairwise(values))

    for f in (switch_noise_bound, fresh_noise_bound, fresh_noise_worst_case, fresh_noise_std):
        values = [f(params, committee=n) for n in COMMITTEES]
        assert non_decreasing(values), f.__name__
        assert values[0] < values[-1]
    size = params.max_count()
    for circuit, classes, aggregates in CIRCUITS:
        for trustees in (1, 3):
            committees = range(trustees, 17)
            args = (params, circuit, size, classes, aggregates)
            circuit_bounds = [
                worst_case_circuit_bound(*args, trustees, committee=n) for n in committees
            ]
            worst = [worst_case_release_bound(*args, trustees, committee=n) for n in committees]
            heuristic = [release_noise_bound(*args, committee=n)[0] for n in committees]
            bounds = [smudging_bound(*args, trustees, committee=n) for n in committees]
            assert non_decreasing(circuit_bounds)
            assert non_decreasing(worst)
            assert non_decreasing(heuristic)
            assert non_decreasing([b.release_bound for b in bounds])
            assert non_decreasing([b.worst_case_bound for b in bounds])
            assert non_decreasing([b.switch_bound for b in bounds])
            # E is not a bound (2^40·B_release or half the room, whichever is larger), but
            # decryption stays correct at every n
            assert all(
                b.release_bound + b.trustees * b.smudging_bound < b.delta_half for b in bounds
            )


@pytest.mark.parametrize("params", SETS, ids=lambda p: p.ID)
def test_a_committee_of_one_is_the_single_key_figure(params):
    n = params.POLY_MODULUS_DEGREE
    assert switch_noise_bound(params, committee=1) == n + 3
    assert fresh_noise_std(params, committee=1) == 3.2 * math.sqrt(1 + 2 * (2 / 3) * n)
    assert fresh_noise_worst_case(params, committee=1) == 2 * 21 * n + 22
    for circuit, classes, aggregates in CIRCUITS[:4]:  # scores: the floor N + 4 at both sets
        bound = smudging_bound(
            params, circuit, params.max_count(), classes, aggregates, 1, committee=1
        )
        assert bound.switch_bound == n + 3
        assert bound.release_bound == bound.worst_case_bound == n + 4
    # and n·N + 3 for larger committees: ||s||_1 ≤ n·N
    assert switch_noise_bound(params, committee=7) == 7 * n + 3
    # round 1 does not depend on the key: the pads cancel whatever s is
    assert noise_check_bounds(3) == (0, 25, 91) and pad_noise_bound(3) == 85


def test_bfv16384_stays_proven_for_every_committee_up_to_16():
    n = BFV16384.POLY_MODULUS_DEGREE
    for committee in range(2, 17):
        assert smudging_is_proven(BFV16384, committee=committee)
        for circuit, classes, aggregates in CIRCUITS:
            for size in (1, n + 1, BFV16384.max_count()):
                for trustees in sorted({1, min(3, committee), committee}):
                    bound = smudging_bound(
                        BFV16384,
                        circuit,
                        size,
                        classes,
                        aggregates,
                        trustees,
                        committee=committee,
                    )
                    assert bound.proven
                    # the proven bound is the switching floor n·N + 4 exactly
                    assert bound.release_bound == bound.worst_case_bound == committee * n + 4
                    assert bound.smudging_bound >= bound.worst_case_bound << 40
                    assert bound.release_bound + trustees * bound.smudging_bound < (
                        bound.delta_half
                    )
    assert smudging_is_proven(BFV16384)  # the default: the largest committee
    worst = smudging_bound(BFV16384, "validity/v1", BFV16384.max_count(), 64, 4, 16, committee=16)
    assert math.log2(worst.smudging_bound / worst.release_bound) > 100.7


def test_bfv8192_proves_the_same_partials_for_every_committee():
    """docs/design.md, "Noise": scores proven up to 16 partials; V at the largest size up to
    3 partials with K = 64, 9 with K = 3, 13 with K = 2 — whatever the committee."""
    limits = {
        ("score/v1", 2, 4): 16,
        ("score/v1", 64, 4096): 16,
        ("validity/v1", 2, 4): 13,
        ("validity/v1", 3, 4): 9,
        ("validity/v1", 64, 4): 3,
    }
    size = BFV8192.max_count()
    for (circuit, classes, aggregates), limit in limits.items():
        for committee in (1, 3, 7, 13, 16):
            proven = [
                smudging_bound(
                    BFV8192, circuit, size, classes, aggregates, t, committee=committee
                ).proven
                for t in range(1, committee + 1)
            ]
            assert proven == [t <= limit for t in range(1, committee + 1)]
    assert smudging_is_proven(BFV8192, committee=3)
    assert not smudging_is_proven(BFV8192, committee=4)
    assert not smudging_is_proven(BFV8192)


def test_the_committee_is_checked():
    with pytest.raises(ParameterError):
        smudging_bound(BFV8192, "score/v1", 100, 2, 2, 3, committee=2)  # 3 partials of 2
    for committee in (0, 17):
        with pytest.raises(ParameterError):
            switch_noise_bound(BFV8192, committee=committee)


def _poly_mul(a: np.ndarray, b: np.ndarray, q: int) -> np.ndarray:
    n = a.shape[-1]
    tables = ntt_tables(n, q)
    return tables.inverse(mulmod(tables.forward(a), tables.forward(b), q))


def test_fresh_noise_under_a_real_collective_key():
    """Five ternary secrets, their public-key shares summed (``hazmat/keygen.py``), SEAL's
    public-key encryption under the sum: the measured noise, decrypted with s = Σ s_i, is below
    the heuristic and the proven fresh bound for n = 5. (Measured: ||v||∞ ≈ 180, std ≈ 48 =
    √(N·n·(2/3)/12) — SEAL encrypts at the key level and divides by P, so what is left is the
    rounding with the collective s; the heuristic bound is ≈ 6,000, the proven one ≈ 2^21.)"""
    params, committee = BFV8192, 5
    n, t = params.POLY_MODULUS_DEGREE, params.PLAIN_MODULUS
    secrets = [sample_secret(params) for _ in range(committee)]
    total = np.sum(secrets, axis=0)
    assert int(np.abs(total).max()) <= committee and int(np.abs(total).max()) > 1
    a = uniform_polys(params, 1)[0]
    shares = [public_key_share(params, secret_ntt(params, s), a) for s in secrets]
    pk = combine_shares(params, shares, a)
    public = PublicContext(params, encode_ciphertext(pk, key_primes(params)))

    gen = np.random.default_rng(5)
    moduli = params.moduli(params.fresh_level())
    q_full = math.prod(moduli)
    delta = (q_full - 1) // t
    worst = 0
    for _ in range(3):
        values = gen.integers(0, t, n, dtype=np.uint64)
        data = decode_ciphertext(encrypt_slots(public, values), moduli, n)
        x = [
            (data[0, i] + _poly_mul(data[1, i], reduce_signed(total, q), q)) % np.uint64(q)
            for i, q in enumerate(moduli)
        ]
        lifted = crt_lift([np.asarray(r, dtype=np.uint64) for r in x], moduli)
        for value in lifted:
            m = (value * t + q_full // 2) // q_full % t
            v = (value - m * delta) % q_full
            worst = max(worst, min(v, q_full - v))
    assert 0 < worst <= fresh_noise_bound(params, committee=committee)
    assert fresh_noise_bound(params, committee=committee) < fresh_noise_worst_case(
        params, committee=committee
    )
