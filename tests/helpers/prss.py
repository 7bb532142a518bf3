"""Plain-integer helpers of the PRSS tests (``tests/threshold/test_prss*.py``), independent of the
module under test."""

from __future__ import annotations

import numpy as np

from cryptoscore.hazmat.modmath import U64, uniform_below
from cryptoscore.hazmat.shamir import share
from cryptoscore.randomness import Rng
from cryptoscore.threshold.prss import PrssKeys, deal_prss_keys


def interpolate(points: dict[int, int], at: int, q: int) -> int:
    """Plain Python-int Lagrange interpolation of ``points`` (index → value) at ``at`` mod q."""
    nodes = list(points)
    total = 0
    for j in nodes:
        num, den = 1, 1
        for k in nodes:
            if k != j:
                num, den = num * (at - k) % q, den * (j - k) % q
        total += points[j] * num * pow(den, -1, q)
    return total % q


def set_keys(all_keys: tuple[PrssKeys, ...]) -> dict[tuple[int, ...], bytes]:
    """r_A of every set A, from the trustees' keys."""
    return {a: key for keys in all_keys for a, key in keys.set_keys}


def keys_and_c1(
    key_id: str, n: int, t: int, moduli: tuple[int, ...], degree: int, rng: Rng
) -> tuple[tuple[PrssKeys, ...], U64, list[U64], U64]:
    """A t-of-n committee's PRSS keys, a secret s (residues per prime), its Shamir shares s_j
    and a uniform c1 of ``degree`` coefficients, all from ``rng`` in that order."""
    all_keys = deal_prss_keys(key_id, n, t, rng=rng)
    secret = np.stack([uniform_below(q, degree, rng=rng) for q in moduli])
    key_shares = share(secret, moduli, t, list(range(1, n + 1)), rng=rng)
    c1 = np.stack([uniform_below(q, degree, rng=rng) for q in moduli])
    return all_keys, secret, key_shares, c1
