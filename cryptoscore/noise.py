"""Noise bounds of released ciphertexts and the smudging bound of partial decryptions.

BFV decryption of c = (c0, c1) computes c0 + c1·s = Δ·m + v (mod Q); v is the noise. A
threshold decryption reveals v + Σ e_j to the combiner, so every partial carries smudging
noise e_j uniform in [−E, E] with

    E = 2^SMUDGING_BITS · B_release            (SMUDGING_BITS = 40)

where B_release bounds ||v||∞ of the ciphertext being decrypted (DESIGN.md, "Noise" 3).
Decryption stays correct when B_release + T·E < Δ_release / 2 for T partials; the
parameter sets are chosen so that this holds for every circuit and size they admit with up
to ``params.MAX_TRUSTEES`` trustees, and :func:`smudging_bound` re-checks it.

How B_release is computed — in advance, from the parameter set and the circuit, never
measured with a key. A released ciphertext was mod-switched from the full modulus Q to
Q_rel (``params.RELEASE_LEVEL`` primes), so

    B_release = B_switch + ⌈(Q_rel / Q) · B_circuit⌉

* **B_switch = N + 3 (proven, worst case).** Each of the switches divides by a prime q with
  rounding: the error is (δ0 + δ1·s)/q with δ centered mod q, so each coefficient is at most
  (1 + ||s||_1)/2 ≤ (1 + N)/2 for a ternary secret; the second switch's error is added to the
  first one scaled down by q ≥ 2^40, and because Q ≡ Q_rel ≡ 1 (mod t) the message term
  contributes less than 1 more. Two switches: < 2·(1 + N)/2 + 2 = N + 3.
* **B_circuit (heuristic).** The noise of the circuit's output before switching, estimated
  with the standard average-case rules of BFV noise analysis (coefficients of products and
  sums of independent polynomials treated as independent; standard deviations multiply
  through products by √N and add in quadrature through sums — Costache and Smart, "Which
  ring based somewhat homomorphic encryption scheme is best?", CT-RSA 2016, §4; Kim, Polyakov,
  Zucca, ASIACRYPT 2021) with a tail factor of ``TAIL`` standard deviations. The automorphism
  sums of packing are bounded by the worst case N (automorphisms permute coefficients up to
  sign). For every circuit and size CryptoScore admits, B_circuit · Q_rel/Q is far below the
  proven term (below 2^10 at bfv-8192 for validity circuits, below 1 for score circuits), so
  B_release ≈ N + 3. A worst-case bound on B_circuit (norms multiplied through every product)
  would not leave room for 2^40 smudging at these parameters; SECURITY.md says so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ._rns.modmath import CBD_K
from .errors import ParameterError
from .params import ParameterSet
from .policy import ReleasePolicy

__all__ = [
    "SMUDGING_BITS",
    "NoiseBound",
    "fresh_noise_bound",
    "fresh_noise_std",
    "pad_noise_bound",
    "release_noise_bound",
    "smudging_bound",
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
    """B_fresh of trustee-assisted encryption (``pads.py``), proven worst case: an honest
    ciphertext (pad + ⌊Q·m/t⌉ + e, a) has noise Σ_j e_j + e + [rounding] with every error
    centered binomial, |e| ≤ ``CBD_K`` = 21, so |v| ≤ (T + 1)·21 + 1."""
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
        weight = float(1 << 12)  # ρ and the coefficients of R are below 2^12 (validity.py)
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


def smudging_bound(
    params: type[ParameterSet],
    circuit: str,
    n_items: int,
    classes: int,
    aggregates: int,
    trustees: int,
) -> NoiseBound:
    """E = 2^40 · B_release, checked to leave decryption correct for ``trustees`` partials."""
    if not 1 <= trustees <= params.MAX_TRUSTEES:
        raise ParameterError(f"at most {params.MAX_TRUSTEES} partials per decryption")
    release, std_after = release_noise_bound(params, circuit, n_items, classes, aggregates)
    smudge = release << SMUDGING_BITS
    q_rel = math.prod(params.moduli(params.RELEASE_LEVEL))
    delta_half = (q_rel - 1) // params.PLAIN_MODULUS // 2
    bound = NoiseBound(
        std_after, params.POLY_MODULUS_DEGREE + 3, release, smudge, delta_half, trustees
    )
    if release + trustees * smudge >= delta_half or 2 * smudge + 1 > 1 << 63:
        raise ParameterError(
            f"{circuit} on {n_items} items: smudging 2^{math.log2(smudge):.1f} with {trustees} "
            f"trustees does not fit under Δ/2 = 2^{math.log2(delta_half):.1f} at {params.ID}"
        )
    return bound


def policy_aggregates(policy: ReleasePolicy | None, validity_checks: int) -> int:
    return len(policy.aggregate_names()) if policy is not None else validity_checks
