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

How B_release is computed — in advance, from the parameter set and the circuit, never
measured with a key. A released ciphertext was mod-switched from the full modulus Q to
Q_rel (``params.RELEASE_LEVEL`` primes), so

    B_release = B_switch + ⌈(Q_rel / Q) · B_circuit⌉

* **B_switch = N + 3 (proven, worst case).** Each switch divides by a prime q with rounding:
  the error is (δ0 + δ1·s)/q with δ centered mod q, so each coefficient is at most
  (1 + ||s||_1)/2 ≤ (1 + N)/2 for a ternary secret, and because Q ≡ Q_rel ≡ 1 (mod t) the
  message term contributes less than 1 more. Each later switch scales the earlier errors down
  by its q ≥ 2^40, so however many switches there are (two at bfv-8192, 4 → 2 primes; three
  at bfv-16384, 6 → 3 primes) their sum is a geometric series below
  2·((1 + N)/2 + 1) = N + 3.
* **B_circuit (heuristic).** The noise of the circuit's output before switching, estimated
  with the standard average-case rules of BFV noise analysis (coefficients of products and
  sums of independent polynomials treated as independent; standard deviations multiply
  through products by √N and add in quadrature through sums — Costache and Smart, "Which
  ring based somewhat homomorphic encryption scheme is best?", CT-RSA 2016, §4; Kim, Polyakov,
  Zucca, ASIACRYPT 2021) with a tail factor of ``TAIL`` standard deviations. The automorphism
  sums of packing are bounded by the worst case N (automorphisms permute coefficients up to
  sign). For every circuit and size CryptoScore admits, B_circuit · Q_rel/Q is below the
  proven term: below 1 for score circuits at both sets and for validity circuits at bfv-16384,
  at most ≈ 2^12.3 for validity circuits at bfv-8192 (≈ 2^9.3 with K = 2), so B_release is
  N + 4 except for V at bfv-8192 (at most ≈ 2^13.7).
* **B_circuit (proven worst case)**, :func:`worst_case_circuit_bound`: every operation of the
  circuits bounded in the ∞-norm, on inputs at the bound round 1 proves for every bundle that
  passes (:func:`noise_check_bounds`). At bfv-16384 the resulting B_release is the switching
  floor N + 4 = 16,388 ≈ 2^14.0 for every circuit, size and up to 16 trustees (B_circuit is at
  most ≈ 2^127.3, times Q_rel/Q ≈ 2^-149.5), so :func:`smudging_bound` smudges against it and
  the guarantee is proven (``NoiseBound.proven``). At bfv-8192 it fits under Δ/2 with 2^40
  smudging for every score circuit (N + 4 ≈ 2^13.0, up to 16 trustees) and for V with up to 3
  trustees at every size and K (≤ ≈ 2^25.3; up to 13 trustees with K = 2), and is used there;
  beyond that (V with more trustees at the largest sizes) the heuristic bound applies
  (SECURITY.md, "Threshold decryption").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from cryptoscore.errors import ParameterError
from cryptoscore.hazmat.modmath import CBD_K
from cryptoscore.params import ParameterSet
from cryptoscore.scoring.validity import WEIGHT_BITS

__all__ = [
    "SMUDGING_BITS",
    "ExposureTerm",
    "NoiseBound",
    "TranscriptExposure",
    "fresh_noise_bound",
    "fresh_noise_std",
    "noise_check_bounds",
    "pad_noise_bound",
    "release_noise_bound",
    "smudging_bound",
    "smudging_is_proven",
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


def fresh_noise_std(params: type[ParameterSet]) -> float:
    """Std of a coefficient of fresh public-key encryption noise e·u + e1 + e2·s."""
    n = params.POLY_MODULUS_DEGREE
    return SEAL_NOISE_STD * math.sqrt(1 + 2 * TERNARY_VARIANCE * n)


def fresh_noise_bound(params: type[ParameterSet]) -> int:
    """B_fresh: TAIL standard deviations of fresh noise, plus the rounding of round(Q·m/t)."""
    return math.ceil(TAIL * fresh_noise_std(params)) + 2


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


def _key_switch_std(params: type[ParameterSet]) -> float:
    n = params.POLY_MODULUS_DEGREE
    levels = len(params.DATA_PRIMES)
    q_max = max(params.DATA_PRIMES)
    digits = math.sqrt(levels * n) * (q_max / math.sqrt(12)) * SEAL_NOISE_STD
    rounding = math.sqrt(n * TERNARY_VARIANCE) / math.sqrt(12) + 1
    return digits / params.SPECIAL_PRIME + rounding


def _circuit_std(
    params: type[ParameterSet], circuit: str, n_items: int, classes: int, aggregates: int
) -> float:
    n = params.POLY_MODULUS_DEGREE
    chunks = -(-n_items // n)
    vectors = 1 if classes == 2 else classes
    fresh = fresh_noise_std(params)
    ks = _key_switch_std(params)
    if circuit == "score/v1":
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
    return n * (1 << ell) * (per_aggregate + ks * log_n) + 1


def release_noise_bound(
    params: type[ParameterSet], circuit: str, n_items: int, classes: int, aggregates: int
) -> tuple[int, float]:
    """(B_release, heuristic circuit std after switching) — see the module docstring."""
    q_full = math.prod(params.DATA_PRIMES)
    q_rel = math.prod(params.moduli(params.RELEASE_LEVEL))
    std_after = _circuit_std(params, circuit, n_items, classes, aggregates) * q_rel / q_full
    switch = params.POLY_MODULUS_DEGREE + 3
    return switch + math.ceil(TAIL * std_after), std_after


def noise_check_bounds(trustees: int) -> tuple[int, int, int]:
    """Round 1's noise check for ``trustees`` partials: (E of each partial, the largest
    residual accepted, the proven bound on the noise of every input that passes).

    Each trustee answers with the exact complement of its pad share (``scoring/noise_check.py``): no
    smudging (E = 0), and the residual is v − Σ_j e_ij − k: the ciphertext's noise less the
    pad errors, less one for each of the k ≤ T wraps of the masked message m + Σ_j M_j past t
    (Δ·t ≡ −1 mod Q). For an honest bundle that is the submitter's own error and rounding,
    less k: |·| ≤ 21 + 1 + T. A bundle passes if every residual is at most that, and
    |Σ_j e_ij| ≤ T·21, so every input that passes has |v| ≤ 21 + 1 + 2T + 21T.
    """
    threshold = CBD_K + 1 + trustees
    return 0, threshold, threshold + trustees * (CBD_K + 1)


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


def worst_case_circuit_bound(
    params: type[ParameterSet],
    circuit: str,
    n_items: int,
    classes: int,
    aggregates: int,
    trustees: int,
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
      B_ks = L·N·q_max·B_e / P + (N + 1)/2 + 1: L digits below q_max times key errors
      |e| ≤ B_e = 21 (SEAL's centered binomial or 6σ-clipped Gaussian), divided by the
      special prime P, and the rounding of that division with a ternary secret;
    * multiplying by a plaintext with coefficients below c: noise times N·c, plus N·c/2 + 1
      for the message's wrap;
    * automorphisms permute coefficients up to sign; PackLWEs on 2^ℓ inputs gives
      4^ℓ·B + (4^ℓ − 1)/3·(B_ks + 2), each of the log N − ℓ trace steps 2B + B_ks + 1.
    """
    n = params.POLY_MODULUS_DEGREE
    t = params.PLAIN_MODULUS
    level = len(params.DATA_PRIMES)
    chunks = _ceil_div(n_items, n)
    vectors = 1 if classes == 2 else classes
    _, _, b_in = noise_check_bounds(trustees)
    ks = _ceil_div(level * n * max(params.DATA_PRIMES) * CBD_K, params.SPECIAL_PRIME)
    ks += (n + 1) // 2 + 2

    def product(b1: int, b2: int) -> int:
        return n * t * b1 * b2 + _ceil_div(n * t * (b1 + b2), 2) + _ceil_div(n * t, 4) + 1

    def times_plain(b: int, coefficient_bound: int) -> int:
        return n * coefficient_bound * b + _ceil_div(n * coefficient_bound, 2) + 1

    weight = 1 << WEIGHT_BITS  # ρ, ρ' ≤ 2^12 and R, R' < 2^12
    if circuit == "score/v1":
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
    bound: int = pack * per_aggregate + (pack - 1) // 3 * (ks + 2)
    for _ in range(ell, n.bit_length() - 1):
        bound = 2 * bound + ks + 1
    return bound + aggregates  # the public constants added to their coefficients


def worst_case_release_bound(
    params: type[ParameterSet],
    circuit: str,
    n_items: int,
    classes: int,
    aggregates: int,
    trustees: int,
) -> int:
    """Proven ||v||∞ of the released ciphertext: ⌈B_circuit · Q_rel / Q⌉ + N + 3."""
    q_full = math.prod(params.DATA_PRIMES)
    q_rel = math.prod(params.moduli(params.RELEASE_LEVEL))
    circuit_bound = worst_case_circuit_bound(
        params, circuit, n_items, classes, aggregates, trustees
    )
    return _ceil_div(circuit_bound * q_rel, q_full) + params.POLY_MODULUS_DEGREE + 3


def smudging_bound(
    params: type[ParameterSet],
    circuit: str,
    n_items: int,
    classes: int,
    aggregates: int,
    trustees: int,
) -> NoiseBound:
    """E for ``trustees`` partials of a released ciphertext: at least 2^40 · B_release, and
    as much more as decryption leaves room for.

    The extra room is hiding the whole transcript needs (:func:`transcript_exposure`): E is
    raised to (Δ/2 − B_release) / (2T) — half of what correctness allows, so where that term
    sets E the released noise may exceed its bound twofold and still decrypt. E above 2^62 is
    drawn as 48-bit limbs, vectorized (``threshold/partial._smudging_residues``,
    ``hazmat/modmath.uniform_centered_residues``). At bfv-16384 (release level 3) with 3
    trustees that is E ≈ 2^121.2 against B_release = N + 4 ≈ 2^14.0.
    """
    if not 1 <= trustees <= params.MAX_TRUSTEES:
        raise ParameterError(f"at most {params.MAX_TRUSTEES} partials per decryption")
    release, std_after = release_noise_bound(params, circuit, n_items, classes, aggregates)
    worst = worst_case_release_bound(params, circuit, n_items, classes, aggregates, trustees)
    q_rel = math.prod(params.moduli(params.RELEASE_LEVEL))
    delta_half = (q_rel - 1) // params.PLAIN_MODULUS // 2
    if worst + trustees * (worst << SMUDGING_BITS) < delta_half:
        release = max(release, worst)  # the proven bound fits: smudge against it
    least = release << SMUDGING_BITS
    smudge = max(least, (delta_half - release) // (2 * trustees))
    bound = NoiseBound(
        std_after, params.POLY_MODULUS_DEGREE + 3, release, smudge, delta_half, trustees, worst
    )
    if release + trustees * smudge >= delta_half:
        raise ParameterError(
            f"{circuit} on {n_items} items: smudging 2^{math.log2(smudge):.1f} with {trustees} "
            f"trustees does not fit under Δ/2 = 2^{math.log2(delta_half):.1f} at {params.ID}"
        )
    return bound


def smudging_is_proven(params: type[ParameterSet]) -> bool:
    """Whether every threshold release at ``params`` is smudged against the proven worst-case
    bound: checked at the largest size, classes, policy and number of trustees (the bound
    grows with each)."""
    corners = [
        ("score/v1", 2, 4),
        ("score/v1", 64, 64 * 64),
        ("validity/v1", 2, 4),
        ("validity/v1", 64, 4),
    ]
    return all(
        smudging_bound(params, circuit, params.max_count(), classes, aggregates, trustees).proven
        for circuit, classes, aggregates in corners
        for trustees in (1, params.MAX_TRUSTEES)
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
    """E: each honest trustee's uniform smudging in [−E, E]."""

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
    """
    n = params.POLY_MODULUS_DEGREE
    chunks = _ceil_div(n_items, n)
    ciphertexts = chunks * (1 if classes == 2 else classes)
    bundles = submissions + 1
    validity = smudging_bound(params, "validity/v1", n_items, classes, validity_checks, trustees)
    score_bound = smudging_bound(params, "score/v1", n_items, classes, aggregates, trustees)

    def term(what: str, decryptions: int, bound: int, smudging: int) -> ExposureTerm:
        return ExposureTerm(what, decryptions, decryptions * n, bound, smudging)

    return TranscriptExposure(
        (
            # answered with the pads' exact complements: the residual is the submitter's own
            # noise, and each answer is Δ·M_j less the pad share — no secret-dependent noise
            term("noise checks", bundles * ciphertexts, 0, 0),
            term("validity", bundles, validity.release_bound, validity.smudging_bound),
            term("scores", submissions, score_bound.release_bound, score_bound.smudging_bound),
        )
    )
