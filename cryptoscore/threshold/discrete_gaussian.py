"""An exact sampler of the discrete Gaussian N_Z(0, σ²) over a byte stream, for the
differential-privacy noise of a release (docs/design.md, "Robust threshold decryption (core)",
"PRSS-shared DP noise").

The algorithms are those of Canonne, Kamath and Steinke, "The Discrete Gaussian for Differential
Privacy", NeurIPS 2020: Algorithm 1 (Bernoulli(exp(−γ)) for rational γ ≥ 0, from Bernoulli
trials of rational probability), Algorithm 2 (the discrete Laplace of integer scale s, by
rejection) and Algorithm 3 (the discrete Gaussian, by rejection from the discrete Laplace of scale
⌊σ⌋ + 1). Everything is exact: σ² is a rational, every probability a :class:`fractions.Fraction`,
every Bernoulli trial compares a uniform integer below the denominator with the numerator, and
uniform integers are drawn by rejection from whole bytes (no modulo bias). There are no floats, so
the output's law is exactly

    P(x) = exp(−x²/(2σ²)) / Σ_{y ∈ Z} exp(−y²/(2σ²)),   x ∈ Z.

This is a sampler, not a primitive: all randomness comes from ``rng``, a function from a byte
count to that many bytes (:data:`cryptoscore.randomness.Rng`) — ``os.urandom`` for a fresh
draw, or :func:`cryptoscore.randomness.seeded_stream` for a draw that the members of a PRSS set
must all reproduce (``threshold/prss.shared_dp_noise``). Running time is random (a constant
expected number of trials for every σ) and depends on the draw; the noise is secret, so it must
only run where its timing is not observable per value — inside a trustee's answer, which is
computed in one piece.
"""

from __future__ import annotations

import math
import os
from fractions import Fraction

from cryptoscore.errors import ParameterError
from cryptoscore.randomness import Rng

__all__ = [
    "MAX_SIGMA2",
    "bernoulli",
    "bernoulli_exp",
    "discrete_gaussian",
    "discrete_gaussians",
    "discrete_laplace",
    "uniform_int_below",
    "zcdp_sigma2",
]

MAX_SIGMA2 = Fraction(1 << 80)
"""σ² above this is refused: noise of that size would wrap any plaintext modulus anyway, and the
bound keeps the rational arithmetic small."""

_ONE = Fraction(1)
_HALF = Fraction(1, 2)


def uniform_int_below(bound: int, rng: Rng = os.urandom) -> int:
    """A uniform integer in [0, ``bound``), bound ≥ 1, by rejection: draw ⌈b/8⌉ bytes for
    b = bit length of bound − 1, clear the bits above b, keep the value if it is below bound
    (probability > 1/2), else draw again. No reduction mod bound, hence no bias."""
    if bound < 1:
        raise ParameterError(f"a uniform draw needs a bound >= 1, got {bound}")
    if bound == 1:
        return 0
    bits = (bound - 1).bit_length()
    size = -(-bits // 8)
    mask = (1 << bits) - 1
    while True:
        raw = rng(size)
        if len(raw) != size:
            raise ParameterError(f"the rng returned {len(raw)} bytes, asked for {size}")
        value = int.from_bytes(raw, "little") & mask
        if value < bound:
            return value


def bernoulli(p: Fraction, rng: Rng = os.urandom) -> bool:
    """True with probability exactly p ∈ [0, 1]: a uniform integer below p's denominator is
    below its numerator."""
    if not 0 <= p <= 1:
        raise ParameterError(f"a Bernoulli probability is in [0, 1], got {p}")
    return uniform_int_below(p.denominator, rng) < p.numerator


def _bernoulli_exp_at_most_one(gamma: Fraction, rng: Rng) -> bool:
    """Algorithm 1, γ ∈ [0, 1]: K = 1; while Bernoulli(γ/K), K += 1; True iff K is odd
    (P = Σ_k (−γ)^k/k! = exp(−γ))."""
    k = 1
    while bernoulli(gamma / k, rng):
        k += 1
    return k % 2 == 1


def bernoulli_exp(gamma: Fraction, rng: Rng = os.urandom) -> bool:
    """True with probability exactly exp(−γ), γ ≥ 0 rational (Algorithm 1): ⌊γ⌋ trials of
    Bernoulli(exp(−1)) that must all succeed, then one of Bernoulli(exp(−(γ − ⌊γ⌋)))."""
    if gamma < 0:
        raise ParameterError(f"Bernoulli(exp(-gamma)) needs gamma >= 0, got {gamma}")
    whole = math.floor(gamma)
    for _ in range(whole):
        if not _bernoulli_exp_at_most_one(_ONE, rng):
            return False
    return _bernoulli_exp_at_most_one(gamma - whole, rng)


def discrete_laplace(scale: int, rng: Rng = os.urandom) -> int:
    """The discrete Laplace Lap_Z(s) of integer scale s ≥ 1, P(x) ∝ exp(−|x|/s)
    (Algorithm 2 with numerator 1): U uniform below s, kept with probability exp(−U/s);
    V geometric (count the successes of Bernoulli(exp(−1))); X = U + s·V; a fair sign,
    restarting on "−0" so that 0 is not counted twice."""
    if scale < 1:
        raise ParameterError(f"the discrete Laplace needs an integer scale >= 1, got {scale}")
    while True:
        u = uniform_int_below(scale, rng)
        if not bernoulli_exp(Fraction(u, scale), rng):
            continue
        v = 0
        while bernoulli_exp(_ONE, rng):
            v += 1
        x = u + scale * v
        negative = bernoulli(_HALF, rng)
        if negative and x == 0:
            continue
        return -x if negative else x


def _checked_sigma2(sigma2: Fraction | int) -> Fraction:
    if isinstance(sigma2, bool) or not isinstance(sigma2, Fraction | int):
        raise ParameterError(f"sigma^2 must be a Fraction or an int, got {type(sigma2).__name__}")
    value = Fraction(sigma2)
    if not 0 < value <= MAX_SIGMA2:
        raise ParameterError(f"sigma^2 must be in (0, 2^80], got {value}")
    return value


def discrete_gaussian(sigma2: Fraction | int, rng: Rng = os.urandom) -> int:
    """One draw of N_Z(0, σ²) (Algorithm 3): with s = ⌊σ⌋ + 1, draw Y from Lap_Z(s) and keep it
    with probability exp(−(|Y| − σ²/s)²/(2σ²)); a constant expected number of trials for
    every σ (the paper's analysis of Algorithm 3).
    ⌊σ⌋ = isqrt(⌊σ²⌋), exact for rational σ²."""
    s2 = _checked_sigma2(sigma2)
    return _draw(s2, math.isqrt(math.floor(s2)) + 1, rng)


def discrete_gaussians(sigma2: Fraction | int, count: int, rng: Rng = os.urandom) -> list[int]:
    """``count`` independent draws of N_Z(0, σ²) from one stream, in order."""
    s2 = _checked_sigma2(sigma2)
    if count < 0:
        raise ParameterError(f"cannot draw {count} values")
    scale = math.isqrt(math.floor(s2)) + 1
    return [_draw(s2, scale, rng) for _ in range(count)]


def _draw(sigma2: Fraction, scale: int, rng: Rng) -> int:
    shift = sigma2 / scale
    twice = 2 * sigma2
    while True:
        y = discrete_laplace(scale, rng)
        if bernoulli_exp((abs(y) - shift) ** 2 / twice, rng):
            return y


def zcdp_sigma2(sensitivity_squared: int, rho: Fraction | float) -> Fraction:
    """σ² = Δ₂²/(2ρ), the variance parameter at which N_Z(0, σ²) added to a query of L2
    sensitivity Δ₂ gives ρ-zCDP (Canonne–Kamath–Steinke), exactly: Δ₂² is an
    integer (1 for one count, 2 for confusion cells) and a float ρ converts exactly. The same σ
    as the single-trustee calibration of the dp release (σ = Δ₂/√(2ρ))."""
    if isinstance(sensitivity_squared, bool) or sensitivity_squared < 1:
        raise ParameterError(
            f"the squared sensitivity is an integer >= 1, got {sensitivity_squared}"
        )
    if isinstance(rho, float) and not math.isfinite(rho):
        raise ParameterError(f"rho must be a positive number, got {rho}")
    exact = Fraction(rho)
    if exact <= 0:
        raise ParameterError(f"rho must be a positive number, got {rho}")
    return _checked_sigma2(Fraction(sensitivity_squared) / (2 * exact))
