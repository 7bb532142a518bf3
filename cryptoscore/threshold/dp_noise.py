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

:func:`release_noise` is the one place a trustee's own noise is drawn, for keys whose trustees
answer additively (``answers`` "lagrange"). Under Shamir answers (``answers`` "shamir", robust
decryption) per-trustee draws would not lie on one polynomial, so each trustee adds its share
Z(j) of PRSS-shared noise instead (:func:`shared_release_noise`, ``prss.shared_dp_noise``): the
released value carries Σ_A z_A over the C(n, t − 1) sets A, and the one set H disjoint from a
coalition of t − 1 trustees carries the guarantee with its z_H, of the same σ (docs/design.md,
"PRSS-shared DP noise"). :class:`DpCalibration` counts the draws that add up accordingly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from cryptoscore.errors import ParameterError, PolicyError
from cryptoscore.scoring.policy import ReleasePolicy, confusion_cell_name
from cryptoscore.threshold.discrete_gaussian import zcdp_sigma2
from cryptoscore.threshold.prss import PrssKeys, shared_dp_noise, shared_dp_noise_at_zero

if TYPE_CHECKING:
    from cryptoscore.threshold.ceremony import CeremonyRecord

__all__ = [
    "TAIL_FAILURE_LOG2",
    "DpCalibration",
    "approx_dp_epsilon",
    "calibrate",
    "calibrate_for",
    "checked_rho",
    "release_noise",
    "shared_release_noise",
    "shared_release_noise_at_zero",
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
    ``trustees`` partials (t) of a key whose trustees answer ``answers``: "lagrange", each of
    the t adds its own draw; "shamir", the draws z_A of the C(n, t − 1) PRSS sets of a committee
    of ``n`` add up (:attr:`summed_draws`)."""

    policy: ReleasePolicy
    rho: float
    trustees: int = 1
    answers: str = "lagrange"
    n: int = 0
    """The committee size (needed for Shamir answers only)."""

    @property
    def summed_draws(self) -> int:
        """How many independent draws of each base value add up in a release: t for Lagrange
        answers, C(n, t − 1) for Shamir answers (``prss.dp_noise_variance``)."""
        if self.answers == "shamir":
            return math.comb(self.n, self.trustees - 1)
        return self.trustees

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

    @property
    def sigma2(self) -> Fraction:
        """σ² = Δ₂²/(2ρ) exactly (``discrete_gaussian.zcdp_sigma2``), for the exact sampler of
        PRSS-shared noise: the same σ as :attr:`sigma`."""
        return zcdp_sigma2(2 if self.confusion else 1, self.rho)

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
        return self.summed_draws * self.draws_in(name) * self.sigma**2

    def expected_abs_error(self, name: str) -> float:
        """E|released − exact| for ``name``: the Gaussian approximation √(2/π)·√variance of
        the sum of the trustees' discrete Gaussians (stated as an approximation)."""
        return math.sqrt(2 / math.pi) * math.sqrt(self.variance(name))

    def tail(self, draws: int) -> int:
        """τ with P(|sum of ``draws``·D independent N_Z(0, σ²)| > τ) ≤ 2^−40 / A, D the
        :attr:`summed_draws`, for the A aggregates a release names: each is σ-subgaussian
        (Canonne–Kamath–Steinke, Corollary 9), so the sum is subgaussian with variance proxy
        draws·D·σ² and P(|S| > τ) ≤ 2·exp(−τ²/(2·draws·D·σ²)), union-bounded over the
        aggregates."""
        count = len(self.policy.aggregate_names()) + 1  # + the confusion total
        log_terms = math.log(2 * count) - TAIL_FAILURE_LOG2 * math.log(2)
        return math.ceil(self.sigma * math.sqrt(2 * draws * self.summed_draws * log_terms))

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
                f"dp noise with rho {self.rho:g} and {self.summed_draws} summed draws "
                f"({self.answers} answers) has a tail of {widest} "
                f"(failure 2^{TAIL_FAILURE_LOG2}): {n} items plus it reach t_plain/2 = "
                f"{plain_modulus // 2}; raise rho or use a larger parameter set"
            )


def calibrate(
    policy: ReleasePolicy, rho: float, trustees: int = 1, *, answers: str = "lagrange", n: int = 0
) -> DpCalibration:
    """The calibration of ``policy`` at ρ per release with ``trustees`` partials of a key
    whose trustees answer ``answers`` (a committee of ``n`` for "shamir")."""
    if not rho > 0 or not math.isfinite(rho):
        raise ParameterError(f"dp: rho must be a positive number, got {rho!r}")
    if trustees < 1:
        raise ParameterError(f"dp: at least one trustee adds noise, got {trustees}")
    if answers not in ("lagrange", "shamir"):
        raise ParameterError(f"dp: answers must be lagrange or shamir, got {answers!r}")
    if answers == "shamir" and n < trustees:
        raise ParameterError(f"dp: Shamir answers need the committee size, got n = {n}")
    return DpCalibration(policy, rho, trustees, answers, n if answers == "shamir" else 0)


def calibrate_for(policy: ReleasePolicy, rho: float, record: CeremonyRecord) -> DpCalibration:
    """The calibration of a challenge's score releases under its key's ceremony record: t
    partials, and the record's ``answers`` kind with its committee size."""
    return calibrate(policy, rho, record.threshold, answers=record.answers, n=record.n)


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
    return _post_process(policy, names, base, None)


def _post_process(
    policy: ReleasePolicy, names: Sequence[str], base: Sequence[int], modulus: int | None
) -> dict[str, int]:
    """The released aggregates' noise from the base draw (cells, or ``correct``): linear, so
    it maps Shamir shares of the base to Shamir shares of the released noise (mod ``modulus``
    when given)."""
    k = policy.classes
    noise: dict[str, int] = {}
    if "confusion" in policy.metrics:
        for a in range(k):
            for b in range(k):
                noise[confusion_cell_name(a, b)] = base[a * k + b]
        diagonal = sum(base[c * k + c] for c in range(k))
    else:
        diagonal = base[0]
    if modulus is not None:
        diagonal %= modulus
    if "correct" in policy.metrics:
        noise["correct"] = diagonal
    if "errors" in policy.metrics:
        noise["errors"] = -diagonal % modulus if modulus is not None else -diagonal
    return {name: noise[name] for name in names}


def shared_release_noise(
    policy: ReleasePolicy,
    names: Sequence[str],
    rho: float,
    keys: PrssKeys,
    ctx: bytes,
    modulus: int,
) -> Mapping[str, int]:
    """One Shamir-answer trustee's share Z(j) mod ``modulus`` of the release's PRSS-shared noise
    at each released aggregate of ``names`` (``prss.shared_dp_noise`` of the base vector under
    ``ctx``, the decryption context, then the same post-processing as :func:`release_noise`):
    every member of a set derives the identical z_A, so all answers stay on one polynomial whose
    value at 0 carries Σ_A z_A. Nothing is drawn from the OS: the same ciphertext always gets
    the same noise, as a re-sent answer must."""
    cal = calibrate(policy, rho, keys.t, answers="shamir", n=keys.n)
    if set(names) != set(policy.aggregate_names()):
        raise PolicyError("dp noise is drawn for exactly the policy's released aggregates")
    base = shared_dp_noise(keys, ctx, cal.sigma2, cal.dimension, modulus)
    return _post_process(policy, names, base, modulus)


def approx_dp_epsilon(rho: float, delta: float = DEFAULT_DELTA) -> float:
    """ε of (ε, δ)-DP implied by ρ-zCDP, by OpenDP's conversion (``make_zCDP_to_approxDP``,
    Canonne–Kamath–Steinke's tight bound, at most ρ + 2√(ρ·ln(1/δ)) of Bun & Steinke)."""
    if not 0 < delta < 1:
        raise ParameterError(f"delta must be in (0, 1), got {delta!r}")
    dp = _opendp()
    measurement = _gaussian(1, 1 / math.sqrt(2 * rho))  # ρ at distance 1
    return float(dp.c.make_zCDP_to_approxDP(measurement).map(1.0).epsilon(delta))


def shared_release_noise_at_zero(
    policy: ReleasePolicy,
    names: Sequence[str],
    rho: float,
    all_keys: Sequence[PrssKeys],
    ctx: bytes,
) -> Mapping[str, int]:
    """The noise a Shamir-answer release carries at each of ``names``: the post-processed
    Σ_A z_A (``prss.shared_dp_noise_at_zero``), from keys that together cover every set (for
    tests and the dealer; no trustee can compute it alone)."""
    first = all_keys[0]
    cal = calibrate(policy, rho, first.t, answers="shamir", n=first.n)
    base = shared_dp_noise_at_zero(all_keys, ctx, cal.sigma2, cal.dimension)
    return _post_process(policy, names, base, None)
