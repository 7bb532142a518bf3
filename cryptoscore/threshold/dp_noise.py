"""Differential-privacy noise drawn by each trustee inside its partial decryption of a score
(docs/design.md, "Differential-privacy release").

A challenge whose rules carry ``dp`` (``protocol/rules.DpRule``) releases m + Σ_{j∈S} z_j in
place of the exact aggregates m: each trustee j of the active set S adds Δ·z_j at the
coefficient positions of the released aggregates in its partial, and only there (the other
coefficients are never released). z_j is the integer discrete Gaussian N_Z(0, σ²) of Canonne,
Kamath & Steinke ("The Discrete Gaussian for Differential Privacy", NeurIPS 2020), which gives
ρ-zCDP (Bun & Steinke, "Concentrated Differential Privacy", TCC 2016) with ρ = Δ₂²/(2σ²) for a
query of L2 sensitivity Δ₂ — from **one** trustee's draw alone, so t − 1 trustees colluding
with a participant, who can subtract their own draws, cannot subtract the honest one's.

**Neighbouring**: one item's label changed. **What is noised** (the base vector, Δ₂):

* a policy releasing ``confusion``: the K² cells, one draw each. One label changed moves one
  item from cell (a, b) to (a, b′): two cells by 1, Δ₂ = √2;
* otherwise one draw for ``correct`` (one label changed moves it by at most 1, Δ₂ = 1).

Everything else released is *post-processing* of the noised base vector, so it costs no ρ and
keeps the exact arithmetic the release invariants check: ``correct`` with a confusion matrix
gets the diagonal's noise, and ``errors`` gets minus ``correct``'s (errors = n − correct).

:func:`release_noise` is the one place the noise is drawn. Issue 14 (robust Shamir answers with
PRSS-shared noise) will replace this per-trustee draw by a PRSS-shared one; nothing else moves.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptoscore.errors import ParameterError, PolicyError
from cryptoscore.scoring.policy import ReleasePolicy, confusion_cell_name

__all__ = [
    "TAIL_FAILURE_LOG2",
    "DpCalibration",
    "approx_dp_epsilon",
    "calibrate",
    "checked_rho",
    "release_noise",
]

TAIL_FAILURE_LOG2 = -40
"""log2 of the probability, per release, that any released aggregate's summed noise leaves its
tail bound (:meth:`DpCalibration.tail`): parameters are refused unless n plus that bound stays
below t_plain/2, so a released value never wraps around mod t_plain."""

DEFAULT_DELTA = 1e-6
"""δ of the (ε, δ) figure stated beside ρ (Bun & Steinke's conversion, computed by OpenDP)."""


def _opendp() -> Any:
    import opendp.prelude as dp  # imported on use: only dp challenges need it

    dp.enable_features("contrib")
    return dp


def _gaussian(dimension: int, sigma: float) -> Any:
    """OpenDP's discrete Gaussian measurement on integer vectors of ``dimension`` with scale
    ``sigma``, privacy measured in zCDP against L2 distance."""
    dp = _opendp()
    space = (
        dp.vector_domain(dp.atom_domain(T=int), size=dimension),
        dp.l2_distance(T=float),
    )
    return dp.m.make_gaussian(*space, scale=sigma)


@dataclass(frozen=True, slots=True)
class DpCalibration:
    """The noise of one release under ``policy`` with zCDP ``rho`` per release, decrypted by
    ``trustees`` partials (t: each adds its own draw)."""

    policy: ReleasePolicy
    rho: float
    trustees: int = 1

    @property
    def confusion(self) -> bool:
        return "confusion" in self.policy.metrics

    @property
    def sensitivity(self) -> float:
        """Δ₂ of the base vector: √2 for the confusion cells, 1 for ``correct``."""
        return math.sqrt(2) if self.confusion else 1.0

    @property
    def dimension(self) -> int:
        """How many draws one trustee makes per release: K² cells, or one."""
        return self.policy.classes**2 if self.confusion else 1

    @property
    def sigma(self) -> float:
        """σ with ρ = Δ₂²/(2σ²): one trustee's noise alone gives the stated ρ."""
        return self.sensitivity / math.sqrt(2 * self.rho)

    def draws_in(self, name: str) -> int:
        """How many of one trustee's base draws add up in aggregate ``name``: a cell 1,
        ``correct``/``errors`` K (the diagonal) with a confusion matrix, else 1."""
        if name not in self.policy.aggregate_names():
            raise PolicyError(f"{name!r} is not released by this policy")
        if self.confusion and name in ("correct", "errors"):
            return self.policy.classes
        return 1

    def variance(self, name: str) -> float:
        """Variance of the summed noise of ``name`` over the trustees' draws, stated with the
        continuous Gaussian's σ² (a discrete Gaussian's variance is at most σ², and within
        10⁻¹² of it for σ ≥ 1: Canonne–Kamath–Steinke, Corollary 9)."""
        return self.trustees * self.draws_in(name) * self.sigma**2

    def expected_abs_error(self, name: str) -> float:
        """E|released − exact| for ``name``: the Gaussian approximation √(2/π)·√variance of
        the sum of the trustees' discrete Gaussians (stated as an approximation)."""
        return math.sqrt(2 / math.pi) * math.sqrt(self.variance(name))

    def tail(self, draws: int) -> int:
        """τ with P(|sum of ``draws``·t independent N_Z(0, σ²)| > τ) ≤ 2^−40 / A
        for the A aggregates a release names: each is σ-subgaussian (Canonne–Kamath–Steinke,
        Corollary 9), so the sum is subgaussian with variance proxy draws·t·σ² and
        P(|S| > τ) ≤ 2·exp(−τ²/(2·draws·t·σ²)), union-bounded over the aggregates."""
        count = len(self.policy.aggregate_names()) + 1  # + the confusion total
        log_terms = math.log(2 * count) - TAIL_FAILURE_LOG2 * math.log(2)
        return math.ceil(self.sigma * math.sqrt(2 * draws * self.trustees * log_terms))

    def tail_of(self, name: str) -> int:
        """The tail bound of ``name``'s summed noise (:meth:`tail`)."""
        return self.tail(self.draws_in(name))

    def check_fits(self, n: int, plain_modulus: int) -> None:
        """Refuse (:class:`ParameterError`) parameters under which a released value could wrap
        around mod t_plain: every aggregate is in 0..n exactly, so it needs n + τ < t_plain/2
        for the widest tail τ (the values are read centered, in (−t/2, t/2])."""
        widest = max(
            [self.tail_of(name) for name in self.policy.aggregate_names()]
            + [self.tail(self.dimension)]
        )
        if n + widest >= plain_modulus // 2:
            raise ParameterError(
                f"dp noise with rho {self.rho:g} and {self.trustees} trustees has a tail of "
                f"{widest} "
                f"(failure 2^{TAIL_FAILURE_LOG2}): {n} items plus it reach t_plain/2 = "
                f"{plain_modulus // 2}; raise rho or use a larger parameter set"
            )


def calibrate(policy: ReleasePolicy, rho: float, trustees: int = 1) -> DpCalibration:
    """The calibration of ``policy`` at ρ per release with ``trustees`` partials."""
    if not rho > 0 or not math.isfinite(rho):
        raise ParameterError(f"dp: rho must be a positive number, got {rho!r}")
    if trustees < 1:
        raise ParameterError(f"dp: at least one trustee adds noise, got {trustees}")
    return DpCalibration(policy, rho, trustees)


def checked_rho(policy: ReleasePolicy, rho: float) -> float:
    """ρ as OpenDP's discrete Gaussian measurement states it for this policy's σ and Δ₂: a
    cross-check of :attr:`DpCalibration.sigma` against the library's own accounting."""
    cal = calibrate(policy, rho)
    return float(_gaussian(cal.dimension, cal.sigma).map(cal.sensitivity))


def release_noise(policy: ReleasePolicy, names: Sequence[str], rho: float) -> Mapping[str, int]:
    """One trustee's noise for one release: the integer z_j to add (times Δ) at each released
    aggregate of ``names``, drawn fresh.

    Drawn with OpenDP's discrete Gaussian measurement (``make_gaussian`` on an integer vector
    domain, Canonne–Kamath–Steinke's exact sampler; its random bits come from OpenDP's
    ``fill_bytes``, a thread-local CTR_DRBG seeded from the operating system's entropy — a
    CSPRNG, never a statistical PRNG). The K² cells (or the one ``correct``) are the draw;
    ``correct`` and ``errors`` are post-processing of it (the module docstring). Called by the
    trustee after its journal claimed the request, so each release is drawn once, and the
    journaled, signed partial carrying it is what a retry re-sends.
    """
    cal = calibrate(policy, rho)
    if set(names) != set(policy.aggregate_names()):
        raise PolicyError("dp noise is drawn for exactly the policy's released aggregates")
    base = [int(z) for z in _gaussian(cal.dimension, cal.sigma)([0] * cal.dimension)]
    if len(base) != cal.dimension:
        raise ParameterError("the discrete Gaussian sampler returned a vector of the wrong size")
    k = policy.classes
    noise: dict[str, int] = {}
    if cal.confusion:
        for a in range(k):
            for b in range(k):
                noise[confusion_cell_name(a, b)] = base[a * k + b]
        diagonal = sum(base[c * k + c] for c in range(k))
    else:
        diagonal = base[0]
    if "correct" in policy.metrics:
        noise["correct"] = diagonal
    if "errors" in policy.metrics:
        noise["errors"] = -diagonal
    return {name: noise[name] for name in names}


def approx_dp_epsilon(rho: float, delta: float = DEFAULT_DELTA) -> float:
    """ε of (ε, δ)-DP implied by ρ-zCDP, by OpenDP's conversion (``make_zCDP_to_approxDP``,
    Canonne–Kamath–Steinke's tight bound, at most ρ + 2√(ρ·ln(1/δ)) of Bun & Steinke)."""
    if not 0 < delta < 1:
        raise ParameterError(f"delta must be in (0, 1), got {delta!r}")
    dp = _opendp()
    measurement = _gaussian(1, 1 / math.sqrt(2 * rho))  # ρ at distance 1
    return float(dp.c.make_zCDP_to_approxDP(measurement).map(1.0).epsilon(delta))
