"""Noise bounds of released ciphertexts and the smudging bound of partial decryptions.

BFV decryption of c = (c0, c1) computes c0 + c1·s = Δ·m + v (mod Q); v is the noise. A
threshold decryption reveals v + Σ e_j to the combiner, so every release partial (V, scores;
a round-1 noise check reveals no secret-dependent noise and is not smudged,
:func:`noise_check_bounds`) carries smudging noise e_j uniform in [−E, E] with

    E ≥ 2^SMUDGING_BITS · B_release            (SMUDGING_BITS = 40)

where B_release bounds ||v||∞ of the ciphertext being decrypted (docs/design.md, "Noise" 3);
:func:`smudging_bound` raises E further, to half the room decryption leaves.
Decryption stays correct when B_release + T·E < Δ_release / 2 for T partials; the
parameter sets are chosen so that this holds for every circuit and size they admit with up
to ``params.MAX_TRUSTEES`` trustees, and :func:`smudging_bound` re-checks it.

Which keys. Every bound holds for a secret key that is the **sum of n ternary contributions**,
n = ``committee`` (the number of trustees in the ceremony record, ``CeremonyRecord.n``), with
every error a sum of n centered binomial errors (|e| ≤ ``CBD_K`` = 21 each): the dealerless
ceremony (Mouchet, Troncoso-Pastoriza, Bossuat, Hubaux, "Multiparty Homomorphic Encryption
from Ring-Learning-with-Errors", PETS 2021), where s = Σ s_i, so ||s||∞ ≤ n and
||s||_1 ≤ n·N, the public and Galois keys' errors are Σ e_i (≤ 21·n), and the two-round
relinearization key's error per component is s·e0 + u·e1 + e2 + e3 with u = Σ u_i ternary
and each e a sum of n errors, so ≤ 2·N·21n·n + 2·21n. Every key is bounded that way, the
legacy dealer ceremony's single ternary key included (||s||_1 ≤ N ≤ n·N, and its errors,
≤ 21, are within every bound above for any n ≥ 1): then no caller needs to know how the key
was made, only the committee size, which every party holding the ceremony record has
(``threshold/partial.py`` passes ``CeremonyRecord.n``). Not T, the partials of one
decryption: n ≥ T contributions went into the key. Round 1's
bounds (:func:`noise_check_bounds`, :func:`pad_noise_bound`) do not depend on the key at all.

How B_release is computed — in advance, from the parameter set, the circuit and n, never
measured with a key. A released ciphertext was mod-switched from the full modulus Q to
Q_rel (``params.RELEASE_LEVEL`` primes), so

    B_release = B_switch + ⌈(Q_rel / Q) · B_circuit⌉

* **B_switch = n·N + 3 (proven, worst case)**, :func:`switch_noise_bound`. Each switch divides
  by a prime q with rounding: the error is (δ0 + δ1·s)/q with δ centered mod q, so each
  coefficient is at most (1 + ||s||_1)/2 ≤ (1 + n·N)/2, and because Q ≡ Q_rel ≡ 1 (mod t) the
  message term contributes less than 1 more. Each later switch scales the earlier errors down
  by its q ≥ 2^40, so however many switches there are (two at bfv-8192, 4 → 2 primes; three
  at bfv-16384, 6 → 3 primes) their sum is a geometric series below
  2·((1 + n·N)/2 + 1) = n·N + 3 (N + 3 for n = 1, as for a single ternary key).
* **B_circuit (heuristic).** The noise of the circuit's output before switching, estimated
  with the standard average-case rules of BFV noise analysis (coefficients of products and
  sums of independent polynomials treated as independent; variances add through sums, and a
  coefficient of a product of independent polynomials has variance N·Var·Var — Costache and
  Smart, "Which ring based somewhat homomorphic encryption scheme is best?", CT-RSA 2016, §4;
  Kim, Polyakov, Zucca, ASIACRYPT 2021) with a tail factor of ``TAIL`` standard deviations.
  With σ² the error variance and Var(ternary) = 2/3, a sum of n contributions has n times
  the variance, so: fresh public-key encryption e_pk·u + e1 + e2·s has variance
  N·(nσ²)(2/3) + σ² + N·σ²·(2n/3) = σ²·(1 + (4/3)·n·N); a Galois key's error Σ e_i has nσ²;
  the relinearization key's s·e0 + u·e1 + e2 + e3 has
  2·N·(2n/3)·(nσ²) + 2nσ² = σ²·((4/3)·N·n² + 2n) (s and u independent of the e's); a key
  switch adds L digits uniform below q_max times that key error, over P, plus the rounding
  (δ0 + δ1·s), variance (1 + N·(2n/3))/12. The automorphism sums of packing are bounded by
  the worst case N (automorphisms permute coefficients up to sign). For every circuit, size
  and n ≤ 16 CryptoScore admits, TAIL · (Q_rel/Q) · σ_circuit is below 1 for score circuits
  at both sets and for validity circuits at bfv-16384, so the heuristic B_release is n·N + 4
  there; for V at bfv-8192 it is ≈ 2^12.3 at n = 1 and grows about linearly in n with the
  relinearization key's error (≈ 2^13.9 at n = 3, 2^15.1 at n = 7, 2^16.3 at n = 16; 2^9.3
  to 2^13.3 with K = 2), so B_release there is at most ≈ 2^13.7, 2^15.3, 2^16.5, 2^17.7.
* **B_circuit (proven worst case)**, :func:`worst_case_circuit_bound`: every operation of the
  circuits bounded in the ∞-norm, on inputs at the bound round 1 proves for every bundle that
  passes (:func:`noise_check_bounds`), with the collective keys' error bounds above. At
  bfv-16384 the resulting B_release is the switching floor n·N + 4 for every circuit, size,
  up to 16 partials and every committee n ≤ 16 (16,388 ≈ 2^14.0 at n = 1, 49,156 ≈ 2^15.6 at
  n = 3, 114,692 ≈ 2^16.8 at n = 7, 262,148 ≈ 2^18.0 at n = 16; B_circuit is at most
  ≈ 2^127.3, times Q_rel/Q ≈ 2^-149.5), so :func:`smudging_bound` smudges against it and the
  guarantee is proven (``NoiseBound.proven``; E ≥ 2^100.7 · B_release at T = n = 16) with
  decryption correct (B_release + T·E < Δ_rel/2: E is half the room). At bfv-8192 it fits
  under Δ/2 with 2^40 smudging, for every n ≤ 16, for every score circuit (n·N + 4: 2^13.0 at
  n = 1, 2^14.6 at n = 3, 2^15.8 at n = 7, 2^17.0 at n = 16; up to 16 partials) and for V at
  the largest size with up to 3 partials at every K (≤ ≈ 2^25.3), up to 9 with K = 3 and up
  to 13 with K = 2 (≤ ≈ 2^19.6 at T = 3, n = 16) — the same numbers of partials as for a
  single key: n moves V's bound by less than 2^0.3 — and is used there; beyond that (V with
  more partials at the largest sizes) the heuristic bound applies (SECURITY.md, "Threshold
  decryption").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cryptoscore.errors import ParameterError
from cryptoscore.hazmat.modmath import CBD_K
from cryptoscore.params import ParameterSet
from cryptoscore.scoring.keys import galois_elements
from cryptoscore.scoring.policy import SCORE_CIRCUITS
from cryptoscore.scoring.validity import WEIGHT_BITS

__all__ = [
    "BUDGET_CORNERS",
    "SMUDGING_BITS",
    "ExposureTerm",
    "NoiseBound",
    "TranscriptExposure",
    "ceremony_test_noise_bound",
    "ceremony_test_smudging_bound",
    "exposure_of",
    "fresh_noise_bound",
    "fresh_noise_std",
    "fresh_noise_worst_case",
    "galois_key_error_worst_case",
    "key_switch_worst_case",
    "lifetime_decryptions",
    "noise_check_bounds",
    "pad_error_terms",
    "pad_noise_bound",
    "product_worst_case",
    "release_delta_half",
    "release_noise_bound",
    "relin_key_error_worst_case",
    "smudging_bound",
    "smudging_is_proven",
    "switch_noise_bound",
    "transcript_exposure",
    "worst_case_circuit_bound",
    "worst_case_release_bound",
]

SMUDGING_BITS = 40
TAIL = 8.0
"""Standard deviations in the heuristic tail (Gaussian tail 2^-48 per coefficient)."""
SEAL_NOISE_STD = 3.2
"""SEAL's error distribution: centered discrete Gaussian, σ = 3.2, clipped at 6σ."""
TERNARY_VARIANCE = 2.0 / 3.0


@dataclass(frozen=True, slots=True)
class NoiseBound:
    circuit_std_after_switch: float
    switch_bound: int
    release_bound: int
    smudging_bound: int
    delta_half: int
    trustees: int
    """T: the partials of one decryption."""
    committee: int
    """n: the contributions the key is the sum of (the ceremony's committee size)."""
    worst_case_bound: int = 0
    """The proven worst-case bound on the released noise (:func:`worst_case_release_bound`)."""

    @property
    def proven(self) -> bool:
        """E is at least 2^40 times the *proven* bound, and decryption stays correct under
        it: the smudging guarantee holds without any heuristic (bfv-16384: always)."""
        w = self.worst_case_bound
        return (
            w > 0
            and self.smudging_bound >= w << SMUDGING_BITS
            and w + self.trustees * self.smudging_bound < self.delta_half
        )

    @property
    def margin_bits(self) -> float:
        """log2 of the room left: Δ/2 over (B_release + T·E)."""
        used = self.release_bound + self.trustees * self.smudging_bound
        return math.log2(self.delta_half / used)


def _check_committee(params: type[ParameterSet], committee: int) -> None:
    if not 1 <= committee <= params.MAX_TRUSTEES:
        raise ParameterError(
            f"a key is the sum of 1 to {params.MAX_TRUSTEES} contributions, got {committee}"
        )


def switch_noise_bound(params: type[ParameterSet], *, committee: int) -> int:
    """B_switch = n·N + 3 (proven): every mod-switch down to the release level, for a key that
    is the sum of ``committee`` ternary contributions (module docstring)."""
    _check_committee(params, committee)
    return committee * params.POLY_MODULUS_DEGREE + 3


def fresh_noise_std(params: type[ParameterSet], *, committee: int) -> float:
    """Std of a coefficient of fresh public-key encryption noise e_pk·u + e1 + e2·s, with
    e_pk = Σ e_i and s = Σ s_i over ``committee`` contributions: σ²·(1 + 2·(2/3)·n·N)."""
    _check_committee(params, committee)
    n = params.POLY_MODULUS_DEGREE
    return SEAL_NOISE_STD * math.sqrt(1 + 2 * TERNARY_VARIANCE * committee * n)


def fresh_noise_bound(params: type[ParameterSet], *, committee: int) -> int:
    """B_fresh (heuristic): TAIL standard deviations of fresh noise, plus the rounding of
    round(Q·m/t)."""
    return math.ceil(TAIL * fresh_noise_std(params, committee=committee)) + 2


def fresh_noise_worst_case(params: type[ParameterSet], *, committee: int) -> int:
    """B_fresh (proven) of SEAL public-key encryption by one encryptor: e_pk·u + e1 + e2·s +
    [rounding of ⌊Q·m/t⌉] with ||e_pk||∞ ≤ 21·n (n errors summed), u ternary, |e1|, |e2| ≤ 21
    and ||s||∞ ≤ n: at most N·21·n + 21 + N·21·n + 1. (SEAL encrypts at the key level and
    divides by P, which leaves less: at most that over P plus (1 + n·N)/2 + 1; measured
    ||v||∞ ≈ 180 at bfv-8192 with n = 5, ``tests/scoring/test_noise_collective.py``.)"""
    _check_committee(params, committee)
    n = params.POLY_MODULUS_DEGREE
    return 2 * n * CBD_K * committee + CBD_K + 1


def pad_noise_bound(trustees: int) -> int:
    """B_fresh of trustee-assisted encryption (``scoring/encryption.py``), proven worst case:
    an honest ciphertext (pad + ⌊Q·m/t⌉ + e, a) has noise Σ_j e_j + e + [rounding] with every
    error centered binomial, |e| ≤ ``CBD_K`` = 21, so |v| ≤ (T + 1)·21 + 1."""
    if trustees < 1:
        raise ParameterError("at least one trustee makes a pad")
    return (trustees + 1) * CBD_K + 1


def _product_std(params: type[ParameterSet], s1: float, s2: float) -> float:
    """Std of the noise of the raw tensor t·(c ⊗ d) (see circuits.py for the identity):
    t·v1·v2 + m1·v2 + m2·v1 + r, with plaintext coefficients uniform mod t."""
    n = params.POLY_MODULUS_DEGREE
    t = params.PLAIN_MODULUS
    m_std = t / math.sqrt(12)
    return math.sqrt(n) * math.sqrt(
        (t * s1 * s2) ** 2 + (m_std * s2) ** 2 + (m_std * s1) ** 2 + (t / 12) ** 2
    )


def _galois_key_error_std(committee: int) -> float:
    """Std of a Galois key's error Σ_i e_i (n independent errors)."""
    return SEAL_NOISE_STD * math.sqrt(committee)


def _relin_key_error_std(params: type[ParameterSet], committee: int) -> float:
    """Std of the two-round relinearization key's error s·e0 + u·e1 + e2 + e3 (module
    docstring): σ²·(2·N·(2/3·n)·n + 2n) — each product of a sum of n ternaries (variance
    2/3 each) and a sum of n errors (σ² each) has N terms per coefficient."""
    n = params.POLY_MODULUS_DEGREE
    variance = 2 * n * (TERNARY_VARIANCE * committee) * committee + 2 * committee
    return SEAL_NOISE_STD * math.sqrt(variance)


def _key_switch_std(params: type[ParameterSet], key_error_std: float, committee: int) -> float:
    """Std of the noise one key switch adds: L digits uniform below q_max times the key's
    error, divided by P, plus the rounding of that division, (δ0 + δ1·s) with s the sum of
    ``committee`` ternaries."""
    n = params.POLY_MODULUS_DEGREE
    levels = len(params.DATA_PRIMES)
    q_max = max(params.DATA_PRIMES)
    digits = math.sqrt(levels * n) * (q_max / math.sqrt(12)) * key_error_std
    rounding = math.sqrt(n * TERNARY_VARIANCE * committee) / math.sqrt(12) + 1
    return digits / params.SPECIAL_PRIME + rounding


def _circuit_std(
    params: type[ParameterSet],
    circuit: str,
    n_items: int,
    classes: int,
    aggregates: int,
    committee: int,
) -> float:
    n = params.POLY_MODULUS_DEGREE
    chunks = -(-n_items // n)
    vectors = 1 if classes == 2 else classes
    fresh = fresh_noise_std(params, committee=committee)
    ks = _key_switch_std(params, _relin_key_error_std(params, committee), committee)
    ks_galois = _key_switch_std(params, _galois_key_error_std(committee), committee)
    if circuit in SCORE_CIRCUITS:  # a split part: no more terms, over the same chunks
        # binary errors square (P − Y): its noise std is √2·fresh
        prod = _product_std(params, math.sqrt(2) * fresh, math.sqrt(2) * fresh)
        # at most K product terms per aggregate, coefficients |c| <= 2, plus linear terms
        per_aggregate = prod * math.sqrt(chunks * max(vectors, 3)) * 2 + ks
    elif circuit == "validity/v1":
        prod = _product_std(params, fresh, fresh)
        weight = float(1 << WEIGHT_BITS)  # ρ and the coefficients of R are below 2^12
        weighted = prod * math.sqrt(chunks * vectors) * weight
        poly_weights = math.sqrt(n) * weight / math.sqrt(3)  # multiply by R (RMS coefficient)
        per_aggregate = (weighted + ks) * poly_weights * math.sqrt(2)  # square and row parts
    else:
        raise ParameterError(f"unknown circuit {circuit!r}")
    # packing (worst case): PackLWEs on 2^ℓ inputs multiplies by ≤ 4^ℓ, the partial trace by
    # 2^(log N − ℓ): N·2^ℓ in all (automorphisms permute coefficients up to sign), plus one
    # key switch per automorphism carried along
    log_n = n.bit_length() - 1
    ell = (aggregates - 1).bit_length()
    return n * (1 << ell) * (per_aggregate + ks_galois * log_n) + 1


def release_noise_bound(
    params: type[ParameterSet],
    circuit: str,
    n_items: int,
    classes: int,
    aggregates: int,
    *,
    committee: int,
) -> tuple[int, float]:
    """(B_release, heuristic circuit std after switching) for a key of ``committee``
    contributions — see the module docstring."""
    q_full = math.prod(params.DATA_PRIMES)
    q_rel = math.prod(params.moduli(params.RELEASE_LEVEL))
    std = _circuit_std(params, circuit, n_items, classes, aggregates, committee)
    std_after = std * q_rel / q_full
    switch = switch_noise_bound(params, committee=committee)
    return switch + math.ceil(TAIL * std_after), std_after


def pad_error_terms(n: int, t: int) -> int:
    """How many centered binomial terms (|e| ≤ 21) a pad's decoded error sums when pads are
    Shamir answers with PRSS pad errors (``threshold/prss.py``; docs/design.md, "Encryption
    pads"): one x_A per PRSS set, C(n, t − 1). Also the number of masks M_A a noise check's
    decoded mask sums. Under additive (Lagrange) answers it is T, one per trustee of the set."""
    if not 1 <= t <= n:
        raise ParameterError(f"no {t}-of-{n} committee")
    return math.comb(n, t - 1)


def noise_check_bounds(trustees: int) -> tuple[int, int, int]:
    """Round 1's noise check for ``trustees`` pad-error terms (T partials under additive
    answers, :func:`pad_error_terms` = C(n, t − 1) under Shamir answers): (E of each partial,
    the largest residual accepted, the proven bound on the noise of every input that passes).

    Each trustee answers with the exact complement of its pad share (``scoring/noise_check.py``): no
    smudging (E = 0), and the residual is v − Σ_j e_ij − k: the ciphertext's noise less the
    pad errors, less one for each of the k ≤ T wraps of the masked message m + Σ_j M_j past t
    (Δ·t ≡ −1 mod Q). For an honest bundle that is the submitter's own error and rounding,
    less k: |·| ≤ 21 + 1 + T. A bundle passes if every residual is at most that, and
    |Σ_j e_ij| ≤ T·21, so every input that passes has |v| ≤ 21 + 1 + 2T + 21T.

    Under Shamir answers (docs/design.md, "Noise check") the same argument holds with T
    replaced by C = C(n, t − 1): the decoded pad error is Σ_A x_A, C centered binomial terms,
    and the decoded mask M = Σ_A M_A is an integer below C·t, so Δ·M = Δ·(M mod t) − ⌊M/t⌋
    (Δ·t ≡ −1 mod Q) and the masked message wraps past t at most C times in all (⌊M/t⌋ ≤ C − 1,
    and one more for m + (M mod t)). Threshold 21 + 1 + C; every input that passes has
    |v| ≤ 22 + 23·C.

    None of this depends on the key: the pads sum to −s·a_i + Σ_j e_ij for whatever s the
    shares reconstruct (a dealer's ternary key or a collective Σ s_i), and c0 + a_i·s cancels
    s exactly, so the bound holds unchanged under a collective key, and it is the bound
    :func:`worst_case_circuit_bound` starts from.
    """
    threshold = CBD_K + 1 + trustees
    return 0, threshold, threshold + trustees * (CBD_K + 1)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def relin_key_error_worst_case(params: type[ParameterSet], *, committee: int) -> int:
    """B_e of the two-round relinearization key, s·e0 + u·e1 + e2 + e3 with s, u sums of
    ``committee`` ternaries and each e a sum of ``committee`` errors (|e| ≤ ``CBD_K``):
    2·N·21·n² + 2·21·n (module docstring)."""
    _check_committee(params, committee)
    n = params.POLY_MODULUS_DEGREE
    return 2 * n * CBD_K * committee * committee + 2 * CBD_K * committee


def galois_key_error_worst_case(*, committee: int) -> int:
    """B_e of a Galois key (and of the public key): Σ_i e_i over ``committee`` errors, 21·n."""
    return CBD_K * committee


def key_switch_worst_case(params: type[ParameterSet], key_error: int, *, committee: int) -> int:
    """The noise one key switch adds, proven worst case: L digits below q_max times the key's
    errors |e| ≤ ``key_error``, divided by the special prime P, and the rounding of that
    division with a secret of ||s||_1 ≤ n·N: ⌈L·N·q_max·B_e / P⌉ + (n·N + 1)/2 + 2."""
    _check_committee(params, committee)
    n = params.POLY_MODULUS_DEGREE
    level = len(params.DATA_PRIMES)
    digits = _ceil_div(level * n * max(params.DATA_PRIMES) * key_error, params.SPECIAL_PRIME)
    return digits + (committee * n + 1) // 2 + 2


def product_worst_case(params: type[ParameterSet], b1: int, b2: int) -> int:
    """The noise of the raw tensor t·(c ⊗ d) of ciphertexts with noises ≤ b1, b2 (Q ≡ 1 mod
    t): t·v1·v2 − m1·v2 − m2·v1 + r, at most N·t·b1·b2 + ⌈N·t·(b1 + b2)/2⌉ + ⌈N·t/4⌉ + 1."""
    n = params.POLY_MODULUS_DEGREE
    t = params.PLAIN_MODULUS
    return n * t * b1 * b2 + _ceil_div(n * t * (b1 + b2), 2) + _ceil_div(n * t, 4) + 1


def worst_case_circuit_bound(
    params: type[ParameterSet],
    circuit: str,
    n_items: int,
    classes: int,
    aggregates: int,
    trustees: int,
    *,
    committee: int,
) -> int:
    """A proven bound on ||v||∞ of a circuit's output before mod-switching, for inputs that
    passed round 1 (|v| ≤ the third value of :func:`noise_check_bounds`).

    Worst case, integer arithmetic, following the operations of ``scoring/circuits.py``,
    ``scoring/validity.py`` and ``scoring/packing.py`` one by one; ||a·b||∞ ≤ N·||a||∞·||b||∞ in
    Z[X]/(X^N + 1) and plaintexts are centered (|m| ≤ t/2):

    * raw tensor of ciphertexts with noises v1, v2 (Q ≡ 1 mod t, ``params.py``): the noise of
      t·(c ⊗ d) is t·v1·v2 − m1·v2 − m2·v1 + r with ||r|| ≤ N·t/4 + 1;
    * multiplying by an integer scales the noise; adding adds it, plus 1 for the wrap of the
      message mod t;
    * key switching (relinearization, automorphisms) adds
      B_ks = L·N·q_max·B_e / P + (n·N + 1)/2 + 1: L digits below q_max times the key's
      errors |e| ≤ B_e, divided by the special prime P, and the rounding of that division
      with a secret of ||s||_1 ≤ n·N (n = ``committee``). B_e is 21·n for Galois keys (n
      centered binomial errors, |e| ≤ 21) and 2·N·21·n² + 2·21·n for the relinearization key
      (s·e0 + u·e1 + e2 + e3, module docstring) — at n = 1 that is more than a dealer's
      key's 21, so it covers both ceremonies;
    * multiplying by a plaintext with coefficients below c: noise times N·c, plus N·c/2 + 1
      for the message's wrap;
    * automorphisms permute coefficients up to sign; PackLWEs on 2^ℓ inputs gives
      4^ℓ·B + (4^ℓ − 1)/3·(B_ks + 2), each of the log N − ℓ trace steps 2B + B_ks + 1.
    """
    n = params.POLY_MODULUS_DEGREE
    t = params.PLAIN_MODULUS
    chunks = _ceil_div(n_items, n)
    vectors = 1 if classes == 2 else classes
    _, _, b_in = noise_check_bounds(trustees)
    _check_committee(params, committee)
    ks = key_switch_worst_case(
        params, relin_key_error_worst_case(params, committee=committee), committee=committee
    )
    ks_galois = key_switch_worst_case(
        params, galois_key_error_worst_case(committee=committee), committee=committee
    )

    def product(b1: int, b2: int) -> int:
        return product_worst_case(params, b1, b2)

    def times_plain(b: int, coefficient_bound: int) -> int:
        return n * coefficient_bound * b + _ceil_div(n * coefficient_bound, 2) + 1

    weight = 1 << WEIGHT_BITS  # ρ, ρ' ≤ 2^12 and R, R' < 2^12
    if circuit in SCORE_CIRCUITS:  # a split part: no more terms, over the same chunks
        squared = chunks * product(2 * b_in, 2 * b_in)  # binary (P − Y)², coefficient 1
        crossed = 2 * chunks * product(b_in, b_in) + 2 * chunks * b_in  # 2·P⊙Y, P, Y
        diagonal = max(classes, 2) * chunks * product(b_in, b_in)  # Σ_c P_c ⊙ Y_c
        per_aggregate = max(squared, crossed, diagonal) + 2 * chunks + ks
    elif circuit == "validity/v1":
        square = weight * chunks * vectors * (product(b_in, b_in) + b_in + 1) + ks
        square = times_plain(square, weight)
        if classes == 2:
            side = times_plain(times_plain(b_in, _ceil_div(t, 2)), weight)  # padding mask, R'
        else:
            side = times_plain(weight * chunks * (vectors * b_in + vectors), weight)
        per_aggregate = square + side + 1
    else:
        raise ParameterError(f"unknown circuit {circuit!r}")
    ell = (aggregates - 1).bit_length()
    pack = 1 << (2 * ell)  # 4^ℓ (int, so the bound stays an exact integer)
    bound: int = pack * per_aggregate + (pack - 1) // 3 * (ks_galois + 2)
    for _ in range(ell, n.bit_length() - 1):
        bound = 2 * bound + ks_galois + 1
    return bound + aggregates  # the public constants added to their coefficients


def worst_case_release_bound(
    params: type[ParameterSet],
    circuit: str,
    n_items: int,
    classes: int,
    aggregates: int,
    trustees: int,
    *,
    committee: int,
) -> int:
    """Proven ||v||∞ of the released ciphertext: ⌈B_circuit · Q_rel / Q⌉ + n·N + 3."""
    q_full = math.prod(params.DATA_PRIMES)
    q_rel = math.prod(params.moduli(params.RELEASE_LEVEL))
    circuit_bound = worst_case_circuit_bound(
        params, circuit, n_items, classes, aggregates, trustees, committee=committee
    )
    return _ceil_div(circuit_bound * q_rel, q_full) + switch_noise_bound(
        params, committee=committee
    )


def release_delta_half(params: type[ParameterSet]) -> int:
    """Δ_rel/2: decryption at the release level is correct while ||noise||∞ stays below it."""
    q_rel = math.prod(params.moduli(params.RELEASE_LEVEL))
    return (q_rel - 1) // params.PLAIN_MODULUS // 2


def _smudging(bound: int, delta_half: int, trustees: int) -> int:
    """E for ``trustees`` partials hiding noise ≤ ``bound``: at least 2^SMUDGING_BITS · bound,
    raised to half the room decryption leaves, (Δ/2 − bound) / (2T) (:func:`smudging_bound`)."""
    return max(bound << SMUDGING_BITS, (delta_half - bound) // (2 * trustees))


def smudging_bound(
    params: type[ParameterSet],
    circuit: str,
    n_items: int,
    classes: int,
    aggregates: int,
    trustees: int,
    *,
    committee: int,
) -> NoiseBound:
    """E for ``trustees`` partials of a released ciphertext: at least 2^40 · B_release, and
    as much more as decryption leaves room for.

    The extra room is hiding the whole transcript needs (:func:`transcript_exposure`): E is
    raised to (Δ/2 − B_release) / (2T) — half of what correctness allows, so where that term
    sets E the released noise may exceed its bound twofold and still decrypt. E above 2^62 is
    drawn as 48-bit limbs, vectorized (``threshold/partial._smudging_residues``,
    ``hazmat/modmath.uniform_centered_residues``). At bfv-16384 (release level 3) with 3
    partials that is E ≈ 2^121.2 against B_release = n·N + 4 (≈ 2^15.6 for a committee of
    n = 3, 2^18.0 for n = 16). ``committee`` (n ≥ ``trustees``) is the number of contributions
    the key is bounded as the sum of (module docstring).
    """
    if not 1 <= trustees <= params.MAX_TRUSTEES:
        raise ParameterError(f"at most {params.MAX_TRUSTEES} partials per decryption")
    _check_committee(params, committee)
    if trustees > committee:
        raise ParameterError(f"{trustees} partials from a committee of {committee}")
    release, std_after = release_noise_bound(
        params, circuit, n_items, classes, aggregates, committee=committee
    )
    worst = worst_case_release_bound(
        params, circuit, n_items, classes, aggregates, trustees, committee=committee
    )
    delta_half = release_delta_half(params)
    if worst + trustees * (worst << SMUDGING_BITS) < delta_half:
        release = max(release, worst)  # the proven bound fits: smudge against it
    smudge = _smudging(release, delta_half, trustees)
    bound = NoiseBound(
        std_after,
        switch_noise_bound(params, committee=committee),
        release,
        smudge,
        delta_half,
        trustees,
        committee,
        worst,
    )
    if release + trustees * smudge >= delta_half:
        raise ParameterError(
            f"{circuit} on {n_items} items: smudging 2^{math.log2(smudge):.1f} with {trustees} "
            f"trustees does not fit under Δ/2 = 2^{math.log2(delta_half):.1f} at {params.ID}"
        )
    return bound


BUDGET_CORNERS: tuple[tuple[str, int, int], ...] = (
    ("score/v1", 2, 4),
    ("score/v1", 64, 64 * 64),
    ("validity/v1", 2, 4),
    ("validity/v1", 64, 4),
)
"""(circuit, classes, aggregates) at which budgets are checked for every release, each at the
parameter set's largest size: the bounds grow with size, classes and aggregates."""


def smudging_is_proven(params: type[ParameterSet], *, committee: int | None = None) -> bool:
    """Whether every threshold release at ``params`` is smudged against the proven worst-case
    bound, for a key of ``committee`` contributions (default: the largest committee,
    ``MAX_TRUSTEES``): checked at the largest size, classes, policy and number of partials
    (the bound grows with each, and with the committee)."""
    committee = params.MAX_TRUSTEES if committee is None else committee
    return all(
        smudging_bound(
            params, circuit, params.max_count(), classes, aggregates, trustees, committee=committee
        ).proven
        for circuit, classes, aggregates in BUDGET_CORNERS
        for trustees in (1, committee)
    )


@dataclass(frozen=True, slots=True)
class ExposureTerm:
    """One kind of decryption over a challenge's lifetime, for :func:`transcript_exposure`."""

    what: str
    decryptions: int
    coefficients: int
    """Revealed noise coefficients: decryptions × N (a partial reveals all N)."""
    bound: int
    """B: the proven bound on the secret-dependent noise each coefficient hides."""
    smudging: int
    """E: the bound of the one smudging draw t − 1 colluders do not know, uniform in [−E, E]:
    an honest trustee's (additive answers) or the honest set's x_H (Shamir answers, PRSS)."""
    draws: int = 0
    """Smudging draws made over the lifetime, of which each decryption's one unknown draw is
    what :attr:`per_coefficient` counts: T per decryption for additive answers (one per partial),
    C(n, t − 1) for Shamir answers (one per PRSS set, whichever trustees answer)."""

    @property
    def per_coefficient(self) -> float:
        """Statistical distance of v + U from U, U uniform in [−E, E]: B / (2E + 1)."""
        return self.bound / (2 * self.smudging + 1)

    @property
    def distance_log2(self) -> float:
        """log2 of the summed statistical distance over every coefficient (−inf: none)."""
        if self.bound == 0:
            return -math.inf
        return math.log2(self.coefficients) + math.log2(self.per_coefficient)

    @property
    def renyi_log2(self) -> float:
        """log2 of the Rényi divergence of order ∞ over every coefficient, as log2 of the
        factor by which any event's probability can grow (see :func:`transcript_exposure`)."""
        return self.coefficients * math.log2(1 + 2 * self.per_coefficient)


@dataclass(frozen=True, slots=True)
class TranscriptExposure:
    terms: tuple[ExposureTerm, ...]

    @property
    def distance_log2(self) -> float:
        total = sum(2.0**term.distance_log2 for term in self.terms)
        return math.log2(total) if total > 0 else -math.inf

    @property
    def renyi_factor(self) -> float:
        """The factor R_∞ ≥ 1 by which the real transcript can raise the probability of any
        event (key or share recovery included) over an ideal one that reveals no noise."""
        return float(2.0 ** sum(term.renyi_log2 for term in self.terms))


def transcript_exposure(
    params: type[ParameterSet],
    submissions: int,
    n_items: int,
    classes: int,
    aggregates: int,
    trustees: int,
    validity_checks: int,
    *,
    committee: int,
) -> TranscriptExposure:
    """What every decryption of a challenge's lifetime reveals about the noise, summed over
    every coefficient: ``submissions`` valid submissions plus the labels, each with its noise
    checks (one per ciphertext; they reveal no secret-dependent noise, ``scoring/noise_check.py``)
    and V (``validity_checks`` aggregates), and one score of ``aggregates`` values per submission —
    the most the lineage budgets allow (``threshold/lineage.py``: every answer on a lineage is one
    of its slots, each answered once).

    Two figures (SECURITY.md, "Share exposure"):

    * **Statistical distance** (decisional: the whole transcript is that close to one made
      without the noise): Σ over coefficients of B/(2E + 1), each partial's honest smudging
      U uniform in [−E, E] hiding a noise |v| ≤ B.
    * **Rényi divergence of order ∞** (search: key, share or label recovery). The ideal
      transcript reveals U′ uniform in [−E − B, E + B] in place of v + U, independent of v;
      pointwise Pr[v + U = x] / Pr[U′ = x] ≤ (2E + 2B + 1)/(2E + 1), so over independent
      coefficients Pr_real[event] ≤ Π (1 + 2B/(2E + 1)) · Pr_ideal[event] (the probability
      preservation of R_∞: Bai, Langlois, Lepoint, Stehlé, Steinfeld, "Improved security
      proofs in lattice-based cryptography: using the Rényi divergence rather than the
      statistical distance", ASIACRYPT 2015, Lemma 2.9).

    This is the figure for additive answers (T partials, each with its own smudging); for
    Shamir answers, ``threshold/prss.shamir_transcript_exposure``.
    """
    validity = smudging_bound(
        params, "validity/v1", n_items, classes, validity_checks, trustees, committee=committee
    )
    score_bound = smudging_bound(
        params, "score/v1", n_items, classes, aggregates, trustees, committee=committee
    )
    return exposure_of(
        params,
        lifetime_decryptions(params, submissions, n_items, classes),
        (validity.release_bound, validity.smudging_bound),
        (score_bound.release_bound, score_bound.smudging_bound),
        draws_per_decryption=trustees,
    )


def lifetime_decryptions(
    params: type[ParameterSet], submissions: int, n_items: int, classes: int
) -> dict[str, int]:
    """The most decryptions a challenge's lifetime makes, by kind, within the lineage budgets
    (``threshold/lineage.py``): ``submissions`` valid submissions plus the labels, each with one
    noise check per ciphertext and one V, and one score per submission. Each is one decryption
    however many trustees answer it: a trustee answers a c1 once, and Shamir answers to one c1
    are one polynomial (``threshold/prss.py``)."""
    n = params.POLY_MODULUS_DEGREE
    ciphertexts = _ceil_div(n_items, n) * (1 if classes == 2 else classes)
    bundles = submissions + 1
    return {"noise checks": bundles * ciphertexts, "validity": bundles, "scores": submissions}


def exposure_of(
    params: type[ParameterSet],
    decryptions: dict[str, int],
    validity: tuple[int, int],
    scores: tuple[int, int],
    *,
    draws_per_decryption: int,
) -> TranscriptExposure:
    """The whole-transcript terms for ``decryptions`` (:func:`lifetime_decryptions`), V and the
    scores each hiding B_release under the one unknown draw of bound E, given as (B, E)."""
    n = params.POLY_MODULUS_DEGREE

    def term(what: str, bound: int, smudging: int, draws: int) -> ExposureTerm:
        count = decryptions[what]
        return ExposureTerm(what, count, count * n, bound, smudging, count * draws)

    return TranscriptExposure(
        (
            # answered with the pads' exact complements: the residual is the submitter's own
            # noise, and each answer is Δ·M_j less the pad share — no secret-dependent noise
            term("noise checks", 0, 0, 0),
            term("validity", *validity, draws_per_decryption),
            term("scores", *scores, draws_per_decryption),
        )
    )


def ceremony_test_noise_bound(params: type[ParameterSet], *, committee: int) -> int:
    """Proven ||v||∞ of the dealerless ceremony's test ciphertext at the release level
    (``threshold/dkg/transcript.Transcript.ceremony_test``), for a collective key of
    ``committee`` contributions: relin(c·c') + Σ_g σ_g(c_g), every input a fresh public-key
    encryption (:func:`fresh_noise_worst_case`), switched to the release level.

    Built from the same pieces as :func:`worst_case_release_bound`: the tensor
    (:func:`product_worst_case`) plus one relinearization (:func:`key_switch_worst_case` with
    :func:`relin_key_error_worst_case`), and per Galois element an automorphism (it permutes
    coefficients up to sign) plus its key switch (:func:`galois_key_error_worst_case`) and
    1 for the message's wrap when added; then ⌈B·Q_rel/Q⌉ + :func:`switch_noise_bound`."""
    fresh = fresh_noise_worst_case(params, committee=committee)
    relin = key_switch_worst_case(
        params, relin_key_error_worst_case(params, committee=committee), committee=committee
    )
    galois = key_switch_worst_case(
        params, galois_key_error_worst_case(committee=committee), committee=committee
    )
    circuit = product_worst_case(params, fresh, fresh) + relin
    circuit += len(galois_elements(params)) * (fresh + galois + 1)
    q_full = math.prod(params.DATA_PRIMES)
    q_rel = math.prod(params.moduli(params.RELEASE_LEVEL))
    return _ceil_div(circuit * q_rel, q_full) + switch_noise_bound(params, committee=committee)


def ceremony_test_smudging_bound(
    params: type[ParameterSet], *, committee: int, threshold: int
) -> int:
    """E of each of the ``threshold`` test partials of the ceremony test: the rule of
    :func:`smudging_bound` (at least 2^SMUDGING_BITS times :func:`ceremony_test_noise_bound`,
    raised to half the room decryption leaves). Refuses (:class:`ParameterError`) a
    parameter set where ``threshold`` smudged partials would not decrypt it."""
    if not 1 <= threshold <= committee:
        raise ParameterError(f"{threshold} test partials from a committee of {committee}")
    bound = ceremony_test_noise_bound(params, committee=committee)
    delta_half = release_delta_half(params)
    smudge = _smudging(bound, delta_half, threshold)
    if bound + threshold * smudge >= delta_half:
        raise ParameterError(
            f"the ceremony test does not fit {threshold} smudged partials at {params.ID}"
        )
    return smudge
