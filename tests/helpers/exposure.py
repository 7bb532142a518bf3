"""The share-exposure attacker's algebra (``cryptoscore/threshold/lineage.py``, SECURITY.md "Share
exposure"), shared by ``tests/threshold/test_attack_share_exposure.py`` (library level) and
``tests/server/test_attack_share_exposure_http.py`` (over HTTP, with the real trustee loop).

Trustee j's pad share is h = −λ_j(S0)·s_j·a + e (|e| ≤ 21, no smudging); a noise-check
partial of the same ciphertext under S1 was, on main 1a8c2c5, p = λ_j(S1)·s_j·a + E + Δ·M_j
(today's answer, the pad's exact complement λ_j·s_j·a − e + Δ·M_j, is given only under S0;
under S1 the same algebra would apply with −e for E). With
λ_j(S1)/λ_j(S0) = A/B, B·p + A·h ≡ Δ·M′ + (B·E + A·e − c) (mod Q): rounding gives M′ (so c),
the bracket modulo B is A·e mod B, and with B > 42 that is e, so λ_j(S0)·s_j·a = e − h.
"""

from __future__ import annotations

import hashlib
import itertools
from fractions import Fraction
from typing import Any

import numpy as np

from cryptoscore import BFV8192
from cryptoscore.hazmat.ciphertext import ciphertext_nbytes, decode_ciphertext, encode_ciphertext
from cryptoscore.hazmat.modmath import (
    addmod,
    crt_lift,
    mulmod,
    reduce_signed,
    uniform_below,
    uniform_centered_residues,
)
from cryptoscore.hazmat.seal_engine import engine_for
from cryptoscore.hazmat.shamir import lagrange_at_zero
from cryptoscore.scoring.noise import pad_noise_bound
from cryptoscore.threshold.pad_shares import PadErrors
from cryptoscore.threshold.partial import (
    FORMAT_VERSION,
    PartialDecryption,
    _signed_message,
    times_share,
)

__all__ = [
    "forged_noise_partial",
    "lagrange",
    "noise_of",
    "pad_share_of",
    "recover",
    "split",
    "truth",
    "unguarded_partial",
    "widest_pair",
]


def lagrange(j: int, active: tuple[int, ...]) -> Fraction:
    out = Fraction(1)
    for m in active:
        if m != j:
            out *= Fraction(m, m - j)
    return out


def widest_pair(n: int, t: int) -> tuple[int, tuple[int, ...], tuple[int, ...], Fraction]:
    """Trustee j and sets S0, S1 ∋ j whose ratio λ_j(S1)/λ_j(S0) has the largest denominator
    (the attacker's best choice)."""
    best: tuple[int, tuple[int, ...], tuple[int, ...], Fraction] | None = None
    for j in range(1, n + 1):
        sets = [s for s in itertools.combinations(range(1, n + 1), t) if j in s]
        for s0, s1 in itertools.product(sets, sets):
            ratio = lagrange(j, s1) / lagrange(j, s0)
            if best is None or ratio.denominator > best[3].denominator:
                best = (j, s0, s1, ratio)
    assert best is not None
    return best


FRESH_Q = 1
for _m in BFV8192.DATA_PRIMES:
    FRESH_Q *= _m


def split(x: int) -> tuple[int, int]:
    """A decrypted coefficient x = Δ·m + v (mod Q, fresh level, bfv-8192): (m, centered v)."""
    t = BFV8192.PLAIN_MODULUS
    m = (t * x + FRESH_Q // 2) // FRESH_Q % t
    v = (x - m * ((FRESH_Q - 1) // t)) % FRESH_Q
    return m, v - FRESH_Q if v > FRESH_Q // 2 else v


def noise_of(residues: list[np.ndarray]) -> list[int]:
    """The centered noise of every coefficient of a fresh-level polynomial (residues)."""
    return [split(x)[1] for x in crt_lift(list(residues), BFV8192.DATA_PRIMES)]


def recover(h: np.ndarray, p: np.ndarray, ratio: Fraction, masked: bool) -> list[int]:
    """B·p + A·h, rounded, reduced mod B: the candidate for λ_j(S0)·s_j·a (mod Q)."""
    moduli = BFV8192.moduli(BFV8192.fresh_level())
    q = FRESH_Q
    t = BFV8192.PLAIN_MODULUS
    a_num, b_den = ratio.numerator, ratio.denominator
    hs, ps = crt_lift(list(h), moduli), crt_lift(list(p), moduli)
    out = []
    for hv, pv in zip(hs, ps, strict=True):
        y = (b_den * pv + a_num * hv) % q
        if masked:
            m_prime, r = split(y)
            mask = m_prime * pow(b_den, -1, t) % t
            carry = (b_den * mask - m_prime) // t
        else:
            r, carry = (y - q if y > q // 2 else y), 0
        e = (r + carry) * pow(a_num, -1, b_den) % b_den if b_den > 1 else 0
        e = e - b_den if e > b_den // 2 else e
        out.append((e - hv) % q)
    return out


def truth(committee: Any, tid: str, a: np.ndarray, active: tuple[int, ...] | None) -> list[int]:
    """λ_j(S0)·s_j·a (mod Q), computed with the real share (``committee.shares[tid]``, a
    ``KeyShare``): what the attacker wants (``active`` None: s_j·a, Shamir answers' term)."""
    share = committee.shares[tid]
    level = BFV8192.fresh_level()
    moduli = BFV8192.moduli(level)
    scaled = np.empty((level, BFV8192.POLY_MODULUS_DEGREE), dtype=np.uint64)
    residues = share.residues(level)
    for i, q in enumerate(moduli):
        lam = 1 if active is None else lagrange_at_zero(share.index, list(active), q)
        scaled[i] = mulmod(residues[i], lam, q)
    return crt_lift(list(times_share(engine_for(BFV8192), a, scaled)), moduli)


def pad_share_of(committee, tid, request, share, key, index: int = 0) -> np.ndarray:
    """The submitter opens trustee ``tid``'s pad share of ciphertext ``index``: h
    (unsmudged)."""
    moduli = BFV8192.moduli(BFV8192.fresh_level())
    size = ciphertext_nbytes(moduli, BFV8192.POLY_MODULUS_DEGREE, 1)
    payload = key.open(share)
    chunk = payload[index * size : (index + 1) * size]
    return decode_ciphertext(chunk, moduli, BFV8192.POLY_MODULUS_DEGREE, 1)[0]


def unguarded_partial(
    committee: Any, tid: str, c1: np.ndarray, active: tuple[int, ...], *, complement_of=None
) -> np.ndarray:
    """What a trustee without the lineage rules answers for a noise check of ``c1`` under
    ``active`` (residues, as ``PartialDecryption.data()``): the smudged λ_j·s_j·c1 + E + Δ·M
    (E up to 2^40·B_fresh), or — with ``complement_of`` = the pad request of ciphertext 0 —
    the pad's exact complement λ_j·s_j·c1 − e + Δ·M, but under a set that is not the pad's."""
    share = committee.shares[tid]
    level = BFV8192.fresh_level()
    moduli = BFV8192.moduli(level)
    n = BFV8192.POLY_MODULUS_DEGREE
    scaled = np.empty((level, n), dtype=np.uint64)
    residues = share.residues(level)
    for i, q in enumerate(moduli):
        scaled[i] = mulmod(residues[i], lagrange_at_zero(share.index, list(active), q), q)
    product = times_share(engine_for(BFV8192), c1, scaled)
    if complement_of is None:
        noise = uniform_centered_residues(pad_noise_bound(len(active)) << 40, moduli, n)
    else:
        errors = PadErrors(share, complement_of).of(0)
        noise = [reduce_signed(-errors, q) for q in moduli]
    q_full = 1
    for q in moduli:
        q_full *= q
    mask = uniform_below(BFV8192.PLAIN_MODULUS, n)
    delta = (q_full - 1) // BFV8192.PLAIN_MODULUS
    out = np.empty((level, n), dtype=np.uint64)
    for i, q in enumerate(moduli):
        out[i] = addmod(addmod(product[i], noise[i], q), mulmod(mask, delta % q, q), q)
    return out


def forged_noise_partial(committee: Any, tid: str, aggregate: Any, request: Any) -> Any:
    """A noise-check partial a malicious trustee signs for ``request`` under any active set
    (the library's ``partial_decrypt`` refuses a noise check outside its pad set): what a
    tampered audit log carries."""
    share = committee.shares[tid]
    data = unguarded_partial(committee, tid, aggregate.data()[1], request.active_set.indices)
    encoded = encode_ciphertext(data[np.newaxis], BFV8192.moduli(aggregate.level))
    message = _signed_message(
        request.request_id,
        aggregate.ciphertext_digest,
        hashlib.sha256(encoded).hexdigest(),
        request.active_set,
        tid,
        share.key_id,
        None,
        FORMAT_VERSION,
    )
    return PartialDecryption(
        params=BFV8192,
        key_id=share.key_id,
        request_id=request.request_id,
        trustee_id=tid,
        index=share.index,
        active_set=request.active_set,
        ciphertext_digest=aggregate.ciphertext_digest,
        level=aggregate.level,
        partial=encoded,
        signature=committee.identity(tid).sign(message),
    )
