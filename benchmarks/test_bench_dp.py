"""Differential-privacy noise (``make bench``; docs/design.md, "Robust threshold decryption
(core)", "PRSS-shared DP noise"): the exact discrete Gaussian sampler
(``threshold/discrete_gaussian.py``) — 1,000 draws per round, so draws/second is 1,000 over the
reported time — on ``os.urandom`` and on a seeded stream, for σ² of 9/2, 50 (confusion cells at
ρ = 0.01) and 10^4; and one trustee's PRSS-shared DP noise per answer
(``threshold/prss.shared_dp_noise``) for a 10-class confusion matrix (100 aggregates) at 2-of-3,
3-of-5 and 4-of-7."""

from __future__ import annotations

import math
import os
from fractions import Fraction

import pytest

from cryptoscore.params import BFV16384
from cryptoscore.randomness import seeded_stream
from cryptoscore.threshold.discrete_gaussian import discrete_gaussians
from cryptoscore.threshold.prss import deal_prss_keys, shared_dp_noise

DRAWS = 1000
KEY_ID = "ab" * 32


@pytest.mark.parametrize("sigma2", [Fraction(9, 2), Fraction(50), Fraction(10**4)], ids=str)
@pytest.mark.parametrize("source", ["urandom", "seeded-stream"])
def test_discrete_gaussian_draws(benchmark, sigma2, source):
    rng = os.urandom if source == "urandom" else seeded_stream(os.urandom(32), "bench")
    out = benchmark(discrete_gaussians, sigma2, DRAWS, rng)
    assert len(out) == DRAWS


@pytest.mark.parametrize(("t", "n"), [(2, 3), (3, 5), (4, 7)], ids=lambda v: str(v))
def test_shared_dp_noise_per_answer(benchmark, t, n):
    keys = deal_prss_keys(KEY_ID, n, t)[0]
    modulus = math.prod(BFV16384.moduli(BFV16384.RELEASE_LEVEL))
    out = benchmark(shared_dp_noise, keys, os.urandom(32), Fraction(50), 100, modulus)
    assert len(out) == 100
