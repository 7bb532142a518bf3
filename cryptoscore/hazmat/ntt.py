"""SEAL's negacyclic number-theoretic transform, in numpy.

For a prime q ≡ 1 (mod 2N), SEAL 4.x (``util/ntt.cpp``, ``ntt_negacyclic_harvey``) represents
a polynomial a(X) of Z_q[X]/(X^N + 1) in NTT form as its values at the odd powers of ψ, in
bit-reversed order:

    NTT(a)[k] = a(ψ^(2·bitrev(k) + 1)),    k = 0 .. N−1, bitrev over log2 N bits,

where ψ is the *smallest* primitive 2N-th root of unity modulo q (``try_minimal_primitive_root``,
as ``NTTTables::get_root`` returns it). TenSEAL's ``sealapi`` exposes no NTT tables, so the
transform is recomputed here: twist a_i ← a_i·ψ^i (negacyclic → cyclic), then a radix-2
Gentleman–Sande (decimation in frequency) cyclic NTT with ω = ψ², which takes natural-order
input to bit-reversed output — exactly SEAL's order. The inverse undoes each butterfly in
reverse order, multiplies by N⁻¹ and untwists by ψ^(−i). Both act on the last axis of any
array of residues, so a batch of polynomials modulo one prime is one vectorized call. NTT form
is what makes the product of polynomials a coefficient-wise ("dyadic") product.

``tests/hazmat/test_keygen.py`` checks this against SEAL: SEAL's own secret key, inverse-
transformed here, is ternary and the same polynomial modulo every prime.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from cryptoscore.hazmat.modmath import U64, addmod, mulmod, submod

__all__ = ["NttTables", "minimal_primitive_root", "ntt_tables"]


def minimal_primitive_root(order: int, q: int) -> int:
    """The smallest primitive ``order``-th root of unity modulo the prime q (order a power of
    two dividing q − 1): the smallest of the odd powers of any one primitive root."""
    if order & (order - 1) or (q - 1) % order:
        raise ValueError("order must be a power of two dividing q - 1")
    cofactor = (q - 1) // order
    # x^((q−1)/order) is a primitive order-th root iff its (order/2)-th power is −1
    root = next(
        r for r in (pow(x, cofactor, q) for x in range(2, q)) if pow(r, order // 2, q) == q - 1
    )
    square = root * root % q
    best, x = root, root
    for _ in range(order // 2 - 1):
        x = x * square % q
        best = min(best, x)
    return best


def _powers(base: int, count: int, q: int) -> U64:
    out = np.empty(count, dtype=np.uint64)
    x = 1
    for i in range(count):
        out[i] = x
        x = x * base % q
    return out


class NttTables:
    """Twiddle factors of SEAL's negacyclic NTT for one (N, q). Get one with :func:`ntt_tables`."""

    def __init__(self, n: int, q: int) -> None:
        if n < 2 or n & (n - 1):
            raise ValueError("N must be a power of two")
        self.n, self.q = n, q
        self.psi = minimal_primitive_root(2 * n, q)
        psi_inv = pow(self.psi, -1, q)
        self._twist = _powers(self.psi, n, q)
        n_inv = pow(n, -1, q)
        self._untwist = mulmod(_powers(psi_inv, n, q), n_inv, q)
        omega = _powers(self.psi * self.psi % q, n, q)
        omega_inv = _powers(psi_inv * psi_inv % q, n, q)
        # stage with half-width h uses the (2h)-th root ω^(N/2h): twiddles ω^(i·N/2h), i < h
        self._stages: list[tuple[int, U64, U64]] = []
        h = n // 2
        while h >= 1:
            step = n // (2 * h)
            self._stages.append((h, omega[::step][:h].copy(), omega_inv[::step][:h].copy()))
            h //= 2

    def forward(self, a: U64) -> U64:
        """NTT form (SEAL's order) of coefficient-form residues in [0, q), last axis N."""
        q, n = self.q, self.n
        lead = a.shape[:-1]
        x = mulmod(np.ascontiguousarray(a, dtype=np.uint64), self._twist, q)
        for h, tw, _ in self._stages:
            x = x.reshape(*lead, n // (2 * h), 2, h)
            u, v = x[..., 0, :], x[..., 1, :]
            x = np.stack([addmod(u, v, q), mulmod(submod(u, v, q), tw, q)], axis=-2)
        out: U64 = x.reshape(*lead, n)
        return out

    def inverse(self, a: U64) -> U64:
        """Coefficient form of NTT-form residues (inverse of :meth:`forward`)."""
        q, n = self.q, self.n
        lead = a.shape[:-1]
        x = np.ascontiguousarray(a, dtype=np.uint64)
        for h, _, tw_inv in reversed(self._stages):
            x = x.reshape(*lead, n // (2 * h), 2, h)
            u, t = x[..., 0, :], mulmod(x[..., 1, :], tw_inv, q)
            x = np.stack([addmod(u, t, q), submod(u, t, q)], axis=-2)
        out: U64 = mulmod(x.reshape(*lead, n), self._untwist, q)
        return out


@lru_cache(maxsize=64)
def ntt_tables(n: int, q: int) -> NttTables:
    """The (cached) NTT tables of degree N modulo q."""
    return NttTables(n, q)
