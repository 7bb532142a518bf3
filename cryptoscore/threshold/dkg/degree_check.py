"""The degree check: every trustee's Shamir shares lie on one polynomial of degree t − 1.

Dealer i shares its secret s_i with f_i(x) = s_i + a_1·x + … + a_{t−1}·x^{t−1} over each data
prime q_p, independently per NTT slot (as ``hazmat/shamir.share``), and sends f_i(k) to each
recipient k, sealed (``transport.py``), together with m_{0,i}(k), m_{1,i}(k): two masking
polynomials of degree t − 1 with all t coefficients uniform. Only after every contribution is
committed are the challenges r_{b,p} fixed, from the contributions' digest (Fiat–Shamir with
SHAKE-256); dealer i then publishes D_{b,i} = m_{b,i} + r_b·f_i (all t coefficients), and each
recipient k checks D_{b,i}(k) = m_{b,i}(k) + r_b·f_i(k) for b = 0, 1, every prime and slot.

Sound: if the shares k received from dealer i are not on one polynomial of degree t − 1 (some
prime and slot), then for the committed shares and masks at most one value of r_b makes
m_b + r_b·f agree with some polynomial of degree t − 1 at every point, so each check passes
with probability at most 1/(q_p − 1) and both with at most ≈ 1/q² (≈ 2^-86 at bfv-8192).
Hiding: m_b has all t coefficients uniform, so given any t − 1 points of f_i and m_b, the
published D_b is uniform — its constant term m_b(0) + r_b·s_i included. This is the
masked-polynomial consistency check of verifiable secret sharing by "blinding polynomials"
(Ben-Or–Goldwasser–Wigderson, STOC 1988; the cut-and-choose of Gennaro–Jarecki–Krawczyk–Rabin,
J. Cryptology 2007, with one public challenge instead of commitments).
"""

from __future__ import annotations

import os

import numpy as np

from cryptoscore.errors import ParameterError
from cryptoscore.hazmat.c1 import shake_uniform
from cryptoscore.hazmat.modmath import U64, addmod, mulmod, uniform_below
from cryptoscore.params import ParameterSet
from cryptoscore.randomness import Rng

__all__ = [
    "MASKS",
    "degree_challenges",
    "degree_polynomial",
    "evaluate",
    "mask_polynomial",
    "shamir_polynomial",
    "share_is_consistent",
]

MASKS = 2
"""Two independent checks (b = 0, 1): a cheater passes both with probability ≈ 1/q²."""
_DOMAIN = b"cryptoscore/dkg/degree/v1"


def shamir_polynomial(
    params: type[ParameterSet], secret: U64, threshold: int, *, rng: Rng = os.urandom
) -> U64:
    """f's coefficients ``[t][prime][coeff]`` over the data primes, f(0) = ``secret``
    (``[prime][coeff]``, NTT form); a_1..a_{t−1} drawn prime by prime from ``rng``, in
    ``hazmat/shamir.share``'s order."""
    primes = params.DATA_PRIMES
    n = params.POLY_MODULUS_DEGREE
    if secret.shape != (len(primes), n):
        raise ParameterError("the shared secret is [data prime][coeff]")
    out = np.empty((threshold, len(primes), n), dtype=np.uint64)
    out[0] = secret
    for i, q in enumerate(primes):
        for k in range(1, threshold):
            out[k, i] = uniform_below(q, n, rng=rng)
    return out


def mask_polynomial(params: type[ParameterSet], threshold: int, *, rng: Rng = os.urandom) -> U64:
    """A masking polynomial: all t coefficients uniform, ``[t][prime][coeff]`` (prime by
    prime from ``rng``)."""
    primes = params.DATA_PRIMES
    n = params.POLY_MODULUS_DEGREE
    out = np.empty((threshold, len(primes), n), dtype=np.uint64)
    for i, q in enumerate(primes):
        for k in range(threshold):
            out[k, i] = uniform_below(q, n, rng=rng)
    return out


def evaluate(params: type[ParameterSet], coefficients: U64, x: int) -> U64:
    """The polynomial at x (Horner), ``[prime][coeff]``."""
    out = np.zeros(coefficients.shape[1:], dtype=np.uint64)
    for i, q in enumerate(params.DATA_PRIMES):
        acc = np.zeros(coefficients.shape[-1], dtype=np.uint64)
        for k in range(coefficients.shape[0] - 1, -1, -1):
            acc = addmod(mulmod(acc, x, q), coefficients[k, i], q)
        out[i] = acc
    return out


def degree_challenges(params: type[ParameterSet], contributions_digest: str) -> list[list[int]]:
    """r[b][p], b < 2, one per data prime: uniform in [1, q_p) (0 would make the check
    vacuous) from SHAKE-256 of the domain, the contributions' digest, b and p (as
    ``c1.shake_uniform``)."""
    digest = bytes.fromhex(contributions_digest)
    out: list[list[int]] = []
    for b in range(MASKS):
        row = []
        for p, q in enumerate(params.DATA_PRIMES):
            label = b"|".join([_DOMAIN, params.ID.encode(), digest, bytes([b]), bytes([p])])
            row.append(int(shake_uniform(label, q - 1, 1)[0]) + 1)
        out.append(row)
    return out


def degree_polynomial(params: type[ParameterSet], mask: U64, f: U64, r: list[int]) -> U64:
    """D = m + r·f, coefficient by coefficient (``[t][prime][coeff]``)."""
    out = np.empty_like(f)
    for i, q in enumerate(params.DATA_PRIMES):
        out[:, i] = addmod(mask[:, i], mulmod(f[:, i], r[i], q), q)
    return out


def share_is_consistent(
    params: type[ParameterSet], d: U64, x: int, share: U64, mask_share: U64, r: list[int]
) -> bool:
    """Recipient x: D(x) = m(x) + r·f(x) at every prime and slot."""
    at_x = evaluate(params, d, x)
    for i, q in enumerate(params.DATA_PRIMES):
        want = addmod(mask_share[i], mulmod(share[i], r[i], q), q)
        if not np.array_equal(at_x[i], want):
            return False
    return True
