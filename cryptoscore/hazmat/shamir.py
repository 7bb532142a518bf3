"""Shamir secret sharing of RNS polynomials, one field per prime.

A polynomial s, given by its residues s_i ∈ Z_{q_i}^N (any fixed representation — SEAL keeps
the secret key in NTT form, and sharing commutes with the NTT because both are linear), is
shared t-of-n by sampling, independently for every prime and coefficient, a random polynomial
f(x) = s + a_1·x + ... + a_{t−1}·x^{t−1} over Z_{q_i} and giving trustee j the value f(j)
(A. Shamir, "How to share a secret", CACM 1979). Any t shares recover s by Lagrange
interpolation at 0; any t − 1 are uniformly distributed and independent of s. The
coefficients a_k come from ``rng`` (by default ``os.urandom``, the operating system's CSPRNG).
"""

from __future__ import annotations

import os

import numpy as np

from cryptoscore.hazmat.modmath import U64, addmod, mulmod, uniform_below
from cryptoscore.randomness import Rng


def share(
    secret: U64, moduli: tuple[int, ...], threshold: int, xs: list[int], *, rng: Rng = os.urandom
) -> list[U64]:
    """Shares ``[prime][coeff]`` of ``secret[prime][coeff]`` for evaluation points ``xs``."""
    if not 1 <= threshold <= len(xs):
        raise ValueError("threshold must be between 1 and the number of trustees")
    if len(set(xs)) != len(xs) or min(xs) < 1:
        raise ValueError("evaluation points must be distinct and non-zero")
    levels, n = secret.shape
    shares = [np.empty_like(secret) for _ in xs]
    for i, q in enumerate(moduli[:levels]):
        if max(xs) >= q:
            raise ValueError("evaluation point not below the prime")
        coeffs = [uniform_below(q, n, rng=rng) for _ in range(threshold - 1)]
        for j, x in enumerate(xs):
            # Horner: ((a_{t-1}·x + a_{t-2})·x + ... + a_1)·x + s
            acc = np.zeros(n, dtype=np.uint64)
            for a in reversed(coeffs):
                acc = mulmod(addmod(acc, a, q), x, q)
            shares[j][i] = addmod(acc, secret[i], q)
        for a in coeffs:
            a.fill(0)
    return shares


def lagrange_at_zero(x: int, active: list[int], q: int) -> int:
    """λ_x(S) = Π_{k ∈ S, k ≠ x} k / (k − x) mod q, so that Σ_{x∈S} λ_x f(x) = f(0)."""
    return lagrange_basis_at(x, active, 0, q)


def lagrange_basis_at(x: int, nodes: list[int], at: int, q: int) -> int:
    """ℓ_x(at) = Π_{k ∈ nodes, k ≠ x} (at − k) / (x − k) mod q: the Lagrange basis polynomial
    of node ``x`` over ``nodes`` (distinct mod q, 0 allowed), evaluated at ``at``, so that
    f(at) = Σ_{x ∈ nodes} ℓ_x(at)·f(x) for every f of degree < len(nodes)."""
    if x not in nodes or len({k % q for k in nodes}) != len(nodes):
        raise ValueError("the point must be one of distinct active points")
    num, den = 1, 1
    for k in nodes:
        if k != x:
            num = num * (at - k) % q
            den = den * (x - k) % q
    return num * pow(den, -1, q) % q
