"""Exact vectorized arithmetic modulo primes below 2^50, and CSPRNG sampling.

``mulmod`` uses the float64 quotient estimate + exact wrap-around correction technique
(as in SEAL-NOTES.md): with a, b < q < 2^50 the float quotient of a·b/q is off by at most a
few units, so a·b − ⌊a·b/q⌉·q computed in wrapping uint64 arithmetic is the true remainder
plus a small multiple of q, which fits an int64 and is reduced exactly.

Sampling draws bytes from ``rng`` (``cryptoscore/randomness.py``; by default ``os.urandom``,
the operating system's CSPRNG) with rejection, so values are exactly uniform; numpy's
generators are never used for secrets.
"""

from __future__ import annotations

import os

import numpy as np
import numpy.typing as npt

from cryptoscore.randomness import Rng

U64 = npt.NDArray[np.uint64]
MAX_MODULUS_BITS = 50


def mulmod(a: U64, b: U64 | int, q: int) -> U64:
    """(a · b) mod q element-wise, exact, for 0 <= a, b < q < 2^50."""
    if q.bit_length() > MAX_MODULUS_BITS:
        raise ValueError("modulus too large for exact float-assisted multiplication")
    bb = np.asarray(b, dtype=np.uint64)
    qf = float(q)
    quot = np.floor(a.astype(np.float64) * bb.astype(np.float64) / qf)
    with np.errstate(over="ignore"):
        r = (a * bb - quot.astype(np.uint64) * np.uint64(q)).view(np.int64)
    out: U64 = (r % np.int64(q)).astype(np.uint64)
    return out


def addmod(a: U64, b: U64, q: int) -> U64:
    s = a + b
    out: U64 = np.where(s >= np.uint64(q), s - np.uint64(q), s)
    return out


def submod(a: U64, b: U64, q: int) -> U64:
    out: U64 = np.where(a >= b, a - b, a + np.uint64(q) - b)
    return out


def uniform_below(bound: int, count: int, *, rng: Rng = os.urandom) -> U64:
    """``count`` integers uniform in [0, bound), bound <= 2^63, from ``rng``."""
    if not 1 <= bound <= 1 << 63:
        raise ValueError("bound out of range")
    limit = ((1 << 64) // bound) * bound  # accept v < limit: v mod bound is uniform
    out = np.empty(0, dtype=np.uint64)
    while out.size < count:
        need = count - out.size
        raw = np.frombuffer(rng(8 * (need + need // 8 + 8)), dtype="<u8").astype(np.uint64)
        if limit < 1 << 64:
            raw = raw[raw < np.uint64(limit)]
        out = np.concatenate([out, raw % np.uint64(bound)])
    result: U64 = out[:count]
    return result


def uniform_centered(bound: int, count: int, *, rng: Rng = os.urandom) -> npt.NDArray[np.int64]:
    """``count`` integers uniform in [-bound, bound], from ``rng``."""
    vals = uniform_below(2 * bound + 1, count, rng=rng).astype(np.int64)
    out: npt.NDArray[np.int64] = vals - np.int64(bound)
    return out


_LIMB_BITS = 48


def uniform_centered_residues(
    bound: int, moduli: tuple[int, ...], count: int, *, rng: Rng = os.urandom
) -> list[U64]:
    """``count`` integers e uniform in [-bound, bound] (any size), from ``rng``, returned
    as their residues e mod q for each q in ``moduli``: vectorized, no Python integer per
    value (E at bfv-16384's release level is ≈ 2^121).

    Rejection sampling: draw 48-bit limbs, the top one masked to the span's bit length, keep
    the values below span = 2·bound + 1 (compared limb by limb from the top), each kept with
    probability span / 2^bits > 1/2; then v mod q = Σ_k limb_k · (2^(48k) mod q), and
    e = v − bound.
    """
    span = 2 * bound + 1
    limbs = -(-span.bit_length() // _LIMB_BITS)
    top_bits = span.bit_length() - _LIMB_BITS * (limbs - 1)
    span_limbs = [(span >> (_LIMB_BITS * k)) & ((1 << _LIMB_BITS) - 1) for k in range(limbs)]
    accept = span / (1 << span.bit_length())  # in (1/2, 1]
    kept: list[npt.NDArray[np.uint64]] = []
    have = 0
    while have < count:
        need = int((count - have) * 1.05 / accept) + 64
        raw = np.frombuffer(rng(8 * need * limbs), dtype="<u8").reshape(limbs, need)
        draw = raw >> np.uint64(64 - _LIMB_BITS)
        draw[limbs - 1] >>= np.uint64(_LIMB_BITS - top_bits)
        below = np.zeros(need, dtype=bool)
        equal = np.ones(need, dtype=bool)
        for k in range(limbs - 1, -1, -1):
            s = np.uint64(span_limbs[k])
            below |= equal & (draw[k] < s)
            equal &= draw[k] == s
        chosen = draw[:, below]
        kept.append(chosen)
        have += chosen.shape[1]
    values = np.concatenate(kept, axis=1)[:, :count]
    out = []
    for q in moduli:
        acc = np.zeros(count, dtype=np.uint64)
        for k in range(limbs):
            weight = pow(2, _LIMB_BITS * k, q)
            acc = addmod(acc, mulmod(values[k] % np.uint64(q), weight, q), q)
        out.append(submod(acc, np.full(count, bound % q, dtype=np.uint64), q))
    values.fill(0)
    return out


CBD_K = 21
"""SEAL's error distribution: centered binomial with k = 21 (σ ≈ 3.24, |e| ≤ 21)."""


def centered_binomial(
    count: int, k: int = CBD_K, *, rng: Rng = os.urandom
) -> npt.NDArray[np.int64]:
    """``count`` samples of Σ_{i<k} b_i − Σ_{i<k} b'_i for bits from ``rng`` (|e| ≤ k)."""
    return centered_binomial_from(rng(cbd_bytes(count, k)), count, k)


def cbd_bytes(count: int, k: int = CBD_K) -> int:
    """Random bytes :func:`centered_binomial_from` needs for ``count`` samples."""
    return (2 * k * count + 7) // 8


def centered_binomial_from(stream: bytes, count: int, k: int = CBD_K) -> npt.NDArray[np.int64]:
    """Centered binomial samples from the given random bytes (``rng``, or a keyed XOF
    where the error must be re-derivable: ``threshold/pad_shares.PadErrors``)."""
    if len(stream) != cbd_bytes(count, k):
        raise ValueError("wrong number of random bytes for the centered binomial")
    bits = np.unpackbits(np.frombuffer(stream, dtype=np.uint8))
    pairs = bits[: 2 * k * count].reshape(count, 2, k).sum(axis=2, dtype=np.int64)
    out: npt.NDArray[np.int64] = pairs[:, 0] - pairs[:, 1]
    bits.fill(0)
    return out


def reduce_signed(values: npt.NDArray[np.int64], q: int) -> U64:
    """Signed integers (|v| < 2^63) to their representatives in [0, q)."""
    out: U64 = (values % np.int64(q)).astype(np.uint64)
    return out


def crt_lift(residues: list[U64], moduli: tuple[int, ...]) -> list[int]:
    """Integers in [0, Q) from their residues (Python ints; Q = Π moduli)."""
    big_q = 1
    for q in moduli:
        big_q *= q
    acc = np.zeros(residues[0].size, dtype=object)
    for r, q in zip(residues, moduli, strict=True):
        qi_hat = big_q // q
        coeff = qi_hat * pow(qi_hat, -1, q)
        acc = acc + r.astype(object) * coeff
    return [int(v) % big_q for v in acc]
