"""BFV key generation in SEAL's exact layout, every draw from an injectable ``rng``.

Sources. The layout and formulas reproduce Microsoft SEAL 4.x: ``KeyGenerator``
(``keygenerator.cpp``: ``generate_sk``, ``generate_pk``, ``create_relin_keys``,
``create_galois_keys``, ``generate_one_kswitch_key``) and ``encrypt_zero_symmetric``
(``rlwe.cpp``). The share structure — every key-switching key built as a sum of per-party
shares against common uniform polynomials — is that of Mouchet, Troncoso-Pastoriza, Bossuat
and Hubaux, "Multiparty Homomorphic Encryption from Ring-Learning-with-Errors", PETS 2021
(§4: CKG, RTG; as in Lattigo's ``multiparty`` package), so a future dealerless ceremony reuses
:func:`public_key_share` and :func:`kswitch_key_share` unchanged; a single party's share is the
whole key (:func:`combine_shares` of one share).

Notation. N = ring degree, R_q = Z_q[X]/(X^N + 1); q_0..q_{L−1} the data primes and P the
special prime; the *key primes* are (q_0, .., q_{L−1}, P) (SEAL's key level). Polynomials are
numpy arrays ``[prime][coeff]`` of residues, in NTT form (``hazmat/ntt.py``) unless said
otherwise, so a·s is the coefficient-wise product modulo each prime.

* Secret (``generate_sk``): s ∈ R with every coefficient uniform in {−1, 0, 1}
  (:func:`sample_secret`, exact by rejection: ``uniform_below(3, N)`` − 1), stored as SEAL
  stores it: NTT form modulo every key prime (:func:`secret_ntt`), a ``Plaintext`` at the key
  parms_id with N·(L+1) words.
* Errors: e ∈ R with coefficients from the centered binomial distribution with k = 21
  (SEAL's default, |e| ≤ 21, ``modmath.centered_binomial``), sampled in coefficient form, then
  reduced modulo and NTT'd for every key prime (the same integer polynomial under each prime).
* Common polynomials a: uniform modulo every key prime. SEAL samples them directly in NTT form
  (uniform is uniform in either domain); here from ``rng`` (:func:`uniform_polys`) or expanded
  from a public seed (:func:`expand_common`: SHAKE-256, one label per purpose, index,
  decomposition component j and prime, rejection-sampled as ``c1.shake_uniform``).
* Public key (``generate_pk`` = ``encrypt_zero_symmetric`` at the key level, NTT form):
  pk = (p, a) with p = Σ_i p_i, share p_i = −a·s_i + e_i (:func:`public_key_share`).
  SEAL writes −(a·s + e); e's distribution is symmetric, so the two are the same distribution.
* Key-switching key from new_key s' to s (``generate_one_kswitch_key``), one component per data
  prime j = 0..L−1 (the RNS decomposition):
      ksk_j = (b_j, a_j),   b_j = −a_j·s + e_j + g_j·s',
  with fresh, independent uniform a_j (over all key primes) and error e_j per component and per
  key, and gadget g_j the integer ≡ P (mod q_j), ≡ 0 modulo every other key prime (P itself
  included): SEAL multiplies the j-th residue of s' by [P mod q_j] (``key_modulus.back()``,
  the special prime) and adds it to the j-th residue of component j's first polynomial only.
  Shares (:func:`kswitch_key_share`): b_{i,j} = −a_j·s_i + e_{i,j} + g_j·s'_i, which sum to a
  key for s' = Σ s'_i whenever s' is linear in s (Galois keys).
* Relinearization key (``create_relin_keys``): the key-switching key for s' = s² (dyadic
  square in NTT form, :func:`relin_target`); a ``RelinKeys`` with one entry. s² is not linear
  in the parties' secrets, so collectively it takes Mouchet et al.'s two rounds (§4, RKG; as
  Lattigo's ``RelinearizationKeyGenProtocol``), with ephemeral ternary u_i per party and the
  same gadget g_j:
      round 1 (:func:`relin_round1_share`):  h0_{i,j} = −u_i·a_j + g_j·s_i + e0_{i,j},
                                              h1_{i,j} =  s_i·a_j + e1_{i,j};
      h0_j = Σ_i h0_{i,j}, h1_j = Σ_i h1_{i,j} (:func:`sum_shares`);
      round 2 (:func:`relin_round2_share`):  h0'_{i,j} = s_i·h0_j + e2_{i,j},
                                              h1'_{i,j} = (u_i − s_i)·h1_j + e3_{i,j};
      ksk_j = (Σ_i h0'_{i,j} + Σ_i h1'_{i,j}, h1_j).
  Then b_j + s·h1_j = s·h0_j + u·h1_j + e2 + e3 = g_j·s² + (s·e0_j + u·e1_j + e2_j + e3_j)
  with s = Σ s_i, u = Σ u_i: a key-switching key for s² in SEAL's layout whose second
  polynomial is h1_j rather than a uniform a_j (pseudorandom under RLWE), and whose error
  is larger than a single party's (``scoring/noise.py``).
* Galois key for element g (``create_galois_keys``): s' = σ_g(s), σ_g(s)(X) = s(X^g) mod
  X^N + 1 (:func:`galois_automorphism`: coefficient i moves to i·g mod 2N, negated when that
  is ≥ N), then NTT; a ``GaloisKeys`` has N entries, the key of g at index g >> 1.

Never seed SEAL's own PRNG to make keys reproducible: ``set_random_generator`` with a fixed
``Blake2xbPRNGFactory`` seed makes every ``create()`` return the same stream, so all components
of a key-switching key (and all Galois keys) would share a_j and e_j, and the difference of two
components would reveal P·(g_j − g_k)·s², hence s. Here every a_j and e_j is a separate draw
(``tests/hazmat/test_keygen.py`` checks it).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from cryptoscore.errors import ParameterError
from cryptoscore.hazmat.c1 import SEED_BYTES, shake_uniform
from cryptoscore.hazmat.modmath import (
    U64,
    addmod,
    centered_binomial,
    mulmod,
    reduce_signed,
    submod,
    uniform_below,
)
from cryptoscore.hazmat.ntt import ntt_tables
from cryptoscore.hazmat.seal_format import build_ciphertext, build_kswitch_keys, build_plaintext
from cryptoscore.params import ParameterSet
from cryptoscore.randomness import Rng

__all__ = [
    "PURPOSES",
    "KeyMaterial",
    "combine_shares",
    "expand_common",
    "galois_automorphism",
    "galois_target",
    "generate_key_material",
    "key_primes",
    "kswitch_key_share",
    "public_key_share",
    "relin_round1_share",
    "relin_round2_share",
    "relin_target",
    "sample_error",
    "sample_secret",
    "secret_ntt",
    "sum_shares",
    "to_ntt",
    "uniform_polys",
]

I64 = npt.NDArray[np.int64]
ParmsId = tuple[int, int, int, int]

_COMMON_DOMAIN = b"cryptoscore/keygen-common/v1"
PURPOSES = frozenset({"public-key", "relin-key", "galois-key"})
"""Labels of the common polynomials :func:`expand_common` derives from a ceremony seed."""


def key_primes(params: type[ParameterSet]) -> tuple[int, ...]:
    """SEAL's key level: the data primes, then the special prime P."""
    return (*params.DATA_PRIMES, params.SPECIAL_PRIME)


# -- sampling ---------------------------------------------------------------------------------
def sample_secret(params: type[ParameterSet], *, rng: Rng = os.urandom) -> I64:
    """s in coefficient form: N coefficients each exactly uniform in {−1, 0, 1}."""
    out: I64 = uniform_below(3, params.POLY_MODULUS_DEGREE, rng=rng).astype(np.int64) - 1
    return out


def to_ntt(params: type[ParameterSet], poly: I64) -> U64:
    """Signed coefficient-form polynomials ``[..., coeff]`` (|v| < 2^62) to NTT form over
    every key prime, ``[..., prime, coeff]``."""
    n = params.POLY_MODULUS_DEGREE
    if poly.shape[-1] != n:
        raise ParameterError(f"polynomial has {poly.shape[-1]} coefficients, expected {n}")
    primes = key_primes(params)
    out = np.empty((*poly.shape[:-1], len(primes), n), dtype=np.uint64)
    for i, q in enumerate(primes):
        out[..., i, :] = ntt_tables(n, q).forward(reduce_signed(poly, q))
    return out


def secret_ntt(params: type[ParameterSet], s: I64) -> U64:
    """The secret as SEAL stores it: NTT form modulo every key prime, ``[prime][coeff]``."""
    return to_ntt(params, s)


def sample_error(params: type[ParameterSet], count: int, *, rng: Rng = os.urandom) -> I64:
    """``count`` error polynomials in coefficient form, ``[index][coeff]``: centered binomial,
    k = 21 (one ``rng`` draw for all of them)."""
    n = params.POLY_MODULUS_DEGREE
    out: I64 = centered_binomial(count * n, rng=rng).reshape(count, n)
    return out


def uniform_polys(params: type[ParameterSet], count: int, *, rng: Rng = os.urandom) -> U64:
    """``count`` common polynomials, uniform modulo every key prime, ``[index][prime][coeff]``
    (read as NTT form); drawn polynomial by polynomial, prime by prime, from ``rng``."""
    n = params.POLY_MODULUS_DEGREE
    primes = key_primes(params)
    out = np.empty((count, len(primes), n), dtype=np.uint64)
    for j in range(count):
        for i, q in enumerate(primes):
            out[j, i] = uniform_below(q, n, rng=rng)
    return out


def expand_common(
    params: type[ParameterSet], seed: bytes, purpose: str, index: int, count: int
) -> U64:
    """``count`` common polynomials from a public seed, ``[j][prime][coeff]``: residue i of
    component j is ``c1.shake_uniform`` of the label
    ``domain | params | seed | purpose | index (u64) | j (u64) | i (u8)`` — distinct for every
    (purpose, index: 0 or the Galois element, decomposition component j, prime i)."""
    if len(seed) != SEED_BYTES:
        raise ParameterError(f"common seed must be {SEED_BYTES} bytes, got {len(seed)}")
    if purpose not in PURPOSES:
        raise ParameterError(f"unknown common-polynomial purpose {purpose!r}")
    n = params.POLY_MODULUS_DEGREE
    primes = key_primes(params)
    out = np.empty((count, len(primes), n), dtype=np.uint64)
    for j in range(count):
        for i, q in enumerate(primes):
            label = b"|".join(
                [
                    _COMMON_DOMAIN,
                    params.ID.encode(),
                    seed,
                    purpose.encode(),
                    index.to_bytes(8, "big"),
                    j.to_bytes(8, "big"),
                    bytes([i]),
                ]
            )
            out[j, i] = shake_uniform(label, q, n)
    return out


# -- shares -----------------------------------------------------------------------------------
def _minus_as_plus_e(params: type[ParameterSet], s: U64, a: U64, e: I64) -> U64:
    """−a·s + e over every key prime (a: ``[..., prime, coeff]``, e coefficient form)."""
    primes = key_primes(params)
    if s.shape != (len(primes), params.POLY_MODULUS_DEGREE) or a.shape[-2:] != s.shape:
        raise ParameterError("secret and common polynomials must be [key prime][coeff]")
    e_ntt = to_ntt(params, e)
    out = np.empty(a.shape, dtype=np.uint64)
    for i, q in enumerate(primes):
        out[..., i, :] = submod(e_ntt[..., i, :], mulmod(a[..., i, :], s[i], q), q)
    e_ntt.fill(0)
    return out


def public_key_share(params: type[ParameterSet], s: U64, a: U64, *, rng: Rng = os.urandom) -> U64:
    """p_i = −a·s_i + e_i, NTT form over the key primes, ``[prime][coeff]``; e_i is one draw of
    :func:`sample_error`. ``s``: :func:`secret_ntt`; ``a``: one common polynomial."""
    e = sample_error(params, 1, rng=rng)[0]
    out = _minus_as_plus_e(params, s, a, e)
    e.fill(0)
    return out


def kswitch_key_share(
    params: type[ParameterSet], s: U64, new_key: U64, a: U64, *, rng: Rng = os.urandom
) -> U64:
    """b_{i,j} = −a_j·s_i + e_{i,j} + g_j·s'_i for j = 0..L−1, ``[j][prime][coeff]``: the
    gadget term [P mod q_j]·s'_i touches only residue j of component j (SEAL's
    ``generate_one_kswitch_key``). ``a``: L common polynomials ``[j][prime][coeff]``, one per
    component; the L errors are one draw of :func:`sample_error`, independent per component."""
    levels = len(params.DATA_PRIMES)
    if a.shape[0] != levels or new_key.shape != s.shape:
        raise ParameterError("a key-switching key needs one common polynomial per data prime")
    e = sample_error(params, levels, rng=rng)
    out = _minus_as_plus_e(params, s, a, e)
    e.fill(0)
    special = params.SPECIAL_PRIME
    for j, q in enumerate(params.DATA_PRIMES):
        out[j, j] = addmod(out[j, j], mulmod(new_key[j], special % q, q), q)
    return out


def combine_shares(params: type[ParameterSet], shares: Sequence[U64], a: U64) -> U64:
    """The key (Σ_i shares_i, a) ``[..., 2, prime, coeff]`` from the parties' shares (a single
    party's share gives that party's whole key)."""
    total = shares[0].copy()
    for share in shares[1:]:
        for i, q in enumerate(key_primes(params)):
            total[..., i, :] = addmod(total[..., i, :], share[..., i, :], q)
    return np.stack([total, a], axis=-3)


def sum_shares(params: type[ParameterSet], shares: Sequence[U64]) -> U64:
    """Σ_i shares_i, element by element modulo each key prime (``[..., prime, coeff]``)."""
    if not shares:
        raise ParameterError("nothing to sum")
    total = shares[0].copy()
    for share in shares[1:]:
        if share.shape != total.shape:
            raise ParameterError("shares to sum must have the same shape")
        for i, q in enumerate(key_primes(params)):
            total[..., i, :] = addmod(total[..., i, :], share[..., i, :], q)
    return total


def _times(params: type[ParameterSet], x: U64, polys: U64) -> U64:
    """x·polys_j for every component j (x: ``[prime][coeff]``, polys ``[j][prime][coeff]``)."""
    out = np.empty_like(polys)
    for i, q in enumerate(key_primes(params)):
        out[:, i, :] = mulmod(polys[:, i, :], x[i], q)
    return out


def _plus_error(params: type[ParameterSet], polys: U64, e: I64) -> U64:
    """polys + e (e in coefficient form, one per component), in place; returns ``polys``."""
    e_ntt = to_ntt(params, e)
    for i, q in enumerate(key_primes(params)):
        polys[:, i, :] = addmod(polys[:, i, :], e_ntt[:, i, :], q)
    e_ntt.fill(0)
    return polys


def relin_round1_share(
    params: type[ParameterSet], s: U64, u: U64, a: U64, *, rng: Rng = os.urandom
) -> tuple[U64, U64]:
    """Party i's first RKG round (module docstring): (h0_i, h1_i), each ``[j][prime][coeff]``.

    ``s``, ``u``: the party's secret and its ephemeral ternary u_i (:func:`secret_ntt` of
    :func:`sample_secret`); ``a``: the L common "relin-key" polynomials. Draws e0 (L errors),
    then e1 (L errors), from ``rng``."""
    levels = len(params.DATA_PRIMES)
    if a.shape[0] != levels or u.shape != s.shape:
        raise ParameterError("RKG round 1 needs one common polynomial per data prime")
    e0 = sample_error(params, levels, rng=rng)
    e1 = sample_error(params, levels, rng=rng)
    h0 = _minus_as_plus_e(params, u, a, e0)  # −u_i·a_j + e0
    special = params.SPECIAL_PRIME
    for j, q in enumerate(params.DATA_PRIMES):
        h0[j, j] = addmod(h0[j, j], mulmod(s[j], special % q, q), q)  # + g_j·s_i
    h1 = _plus_error(params, _times(params, s, a), e1)  # s_i·a_j + e1
    e0.fill(0)
    e1.fill(0)
    return h0, h1


def relin_round2_share(
    params: type[ParameterSet], s: U64, u: U64, h0: U64, h1: U64, *, rng: Rng = os.urandom
) -> tuple[U64, U64]:
    """Party i's second RKG round: (h0'_i, h1'_i) = (s_i·h0 + e2, (u_i − s_i)·h1 + e3), each
    ``[j][prime][coeff]``, from the round-1 sums h0, h1 (:func:`sum_shares`). Draws e2, then
    e3 (L errors each), from ``rng``."""
    levels = len(params.DATA_PRIMES)
    if h0.shape != h1.shape or h0.shape[0] != levels or u.shape != s.shape:
        raise ParameterError("RKG round 2 needs the round-1 sums, one per data prime")
    e2 = sample_error(params, levels, rng=rng)
    e3 = sample_error(params, levels, rng=rng)
    u_minus_s = np.empty_like(s)
    for i, q in enumerate(key_primes(params)):
        u_minus_s[i] = submod(u[i], s[i], q)
    h0p = _plus_error(params, _times(params, s, h0), e2)
    h1p = _plus_error(params, _times(params, u_minus_s, h1), e3)
    u_minus_s.fill(0)
    e2.fill(0)
    e3.fill(0)
    return h0p, h1p


# -- targets of key switching -------------------------------------------------------------
def relin_target(params: type[ParameterSet], s: U64) -> U64:
    """s², the relinearization key's new_key: dyadic square of :func:`secret_ntt`."""
    out = np.empty_like(s)
    for i, q in enumerate(key_primes(params)):
        out[i] = mulmod(s[i], s[i], q)
    return out


def galois_automorphism(poly: I64, g: int) -> I64:
    """σ_g(poly)(X) = poly(X^g) mod X^N + 1 in coefficient form, g odd: coefficient i moves to
    i·g mod 2N, negated (X^N = −1) when that index is ≥ N."""
    n = poly.shape[-1]
    if g % 2 == 0 or not 0 < g < 2 * n:
        raise ParameterError(f"Galois element must be odd in (0, 2N), got {g}")
    target = (np.arange(n, dtype=np.int64) * g) % (2 * n)
    out = np.empty_like(poly)
    out[..., target % n] = np.where(target >= n, -poly, poly)
    return out


def galois_target(params: type[ParameterSet], s: I64, g: int) -> U64:
    """σ_g(s) in NTT form over the key primes: the Galois key's new_key (s in coefficient
    form, :func:`sample_secret`)."""
    return to_ntt(params, galois_automorphism(s, g))


# -- the single-key path -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class KeyMaterial:
    """A whole key set as uncompressed SEAL objects (``seal_format.py``)."""

    public_key: U64
    """(p, a): ``[poly][key prime][coeff]``, NTT form."""
    secret_key: bytes = field(repr=False)
    """SEAL ``SecretKey``: a ``Plaintext`` at the key parms_id, NTT form, N·(L+1) words."""
    relin_keys: bytes = field(repr=False)
    """SEAL ``RelinKeys``."""
    galois_keys: bytes = field(repr=False)
    """SEAL ``GaloisKeys`` of the requested elements."""


def _kswitch_entry(
    params: type[ParameterSet],
    s: U64,
    new_key: U64,
    a: U64,
    parms_id: ParmsId,
    version: tuple[int, int],
    rng: Rng,
) -> list[bytes]:
    """One key-switching key as SEAL ``PublicKey`` objects, one per decomposition component."""
    key = combine_shares(params, [kswitch_key_share(params, s, new_key, a, rng=rng)], a)
    new_key.fill(0)
    return [build_ciphertext(parms_id, comp, version, is_ntt_form=True) for comp in key]


def generate_key_material(
    params: type[ParameterSet],
    galois_elts: Sequence[int],
    *,
    parms_id: ParmsId,
    version: tuple[int, int],
    common_seed: bytes | None = None,
    rng: Rng = os.urandom,
) -> KeyMaterial:
    """Secret, public, relinearization and Galois keys (single key: one party's shares).

    ``parms_id`` is SEAL's key-level parms_id and ``version`` the serialization version to
    write (both from ``seal_engine.SealEngine``). Draws from ``rng``, in this order: s
    (:func:`sample_secret`); the public key's a (unless ``common_seed``) then e; the relin
    key's a_0..a_{L−1} (unless ``common_seed``) then e_0..e_{L−1}; likewise for each Galois
    element in the order given. With ``common_seed`` every a is :func:`expand_common` of it.
    """
    n = params.POLY_MODULUS_DEGREE
    levels = len(params.DATA_PRIMES)
    if len(set(galois_elts)) != len(galois_elts):
        raise ParameterError("duplicate Galois element")

    def common(purpose: str, index: int, count: int) -> U64:
        if common_seed is None:
            return uniform_polys(params, count, rng=rng)
        return expand_common(params, common_seed, purpose, index, count)

    s_coeff = sample_secret(params, rng=rng)
    s = secret_ntt(params, s_coeff)
    try:
        a = common("public-key", 0, 1)[0]
        pk = combine_shares(params, [public_key_share(params, s, a, rng=rng)], a)
        relin = [
            _kswitch_entry(
                params,
                s,
                relin_target(params, s),
                common("relin-key", 0, levels),
                parms_id,
                version,
                rng,
            )
        ]
        galois: list[list[bytes]] = [[] for _ in range(n)]
        for g in galois_elts:
            galois[g >> 1] = _kswitch_entry(
                params,
                s,
                galois_target(params, s_coeff, g),
                common("galois-key", g, levels),
                parms_id,
                version,
                rng,
            )
        return KeyMaterial(
            public_key=pk,
            secret_key=build_plaintext(parms_id, s, version),
            relin_keys=build_kswitch_keys(parms_id, relin, version),
            galois_keys=build_kswitch_keys(parms_id, galois, version),
        )
    finally:
        s.fill(0)
        s_coeff.fill(0)
