"""The exact discrete Gaussian sampler (``threshold/discrete_gaussian.py``; Canonne, Kamath,
Steinke, NeurIPS 2020, Algorithms 1–3): its draws follow the discrete Gaussian pmf (chi-square
on 20,000 draws from a fixed seeded stream, so the outcome is deterministic), a fixed stream
gives a fixed draw, mean and variance agree with OpenDP's sampler, the building blocks have
their exact laws, uniform draws reject rather than reduce, and bad arguments are refused."""

from __future__ import annotations

import math
from collections import Counter
from fractions import Fraction

import pytest
from scipy import stats

from cryptoscore.errors import ParameterError
from cryptoscore.randomness import seeded_stream
from cryptoscore.threshold.discrete_gaussian import (
    MAX_SIGMA2,
    bernoulli,
    bernoulli_exp,
    discrete_gaussian,
    discrete_gaussians,
    discrete_laplace,
    uniform_int_below,
    zcdp_sigma2,
)

DRAWS = 20_000
SEED = bytes(range(32))


def _pmf(sigma2: Fraction, support: range) -> dict[int, float]:
    """The discrete Gaussian pmf on ``support`` (normalised over a support wide enough that the
    mass left out is below 1e-30)."""
    weight = {x: math.exp(-(x * x) / (2 * float(sigma2))) for x in support}
    total = sum(weight.values())
    return {x: w / total for x, w in weight.items()}


def _chi_square(draws: list[int], pmf: dict[int, float]) -> tuple[float, int]:
    """Pearson's statistic over the cells with expected count ≥ 5, the two tails pooled into
    one cell each side, and its degrees of freedom."""
    n = len(draws)
    counts = Counter(draws)
    inner = [x for x in pmf if n * pmf[x] >= 5]
    lo, hi = min(inner), max(inner)
    cells = [(counts[x], n * pmf[x]) for x in range(lo, hi + 1)]
    cells.append(
        (sum(c for x, c in counts.items() if x < lo), n * sum(p for x, p in pmf.items() if x < lo))
    )
    cells.append(
        (sum(c for x, c in counts.items() if x > hi), n * sum(p for x, p in pmf.items() if x > hi))
    )
    statistic = sum((o - e) ** 2 / e for o, e in cells)
    return statistic, len(cells) - 1


@pytest.mark.parametrize("sigma2", [Fraction(1, 3), Fraction(9, 2), Fraction(40)], ids=str)
def test_draws_follow_the_discrete_gaussian_pmf(sigma2):
    draws = discrete_gaussians(sigma2, DRAWS, seeded_stream(SEED, f"chi-square {sigma2}"))
    width = 20 * math.isqrt(math.ceil(sigma2)) + 20
    statistic, dof = _chi_square(draws, _pmf(sigma2, range(-width, width + 1)))
    # a fixed stream: the p-value is a fixed number; a wrong law (e.g. the Laplace proposal
    # without the Gaussian rejection, or σ off by 10%) is far beyond the 0.001 level at 20k
    assert stats.chi2.sf(statistic, dof) > 0.001, (statistic, dof)


def test_a_wrong_law_fails_the_same_chi_square():
    """The test has power: a discrete Gaussian of σ² 10% too large, and the Laplace proposal
    itself, are both rejected at the 0.001 level."""
    sigma2 = Fraction(9, 2)
    pmf = _pmf(sigma2, range(-80, 81))
    wider = discrete_gaussians(sigma2 * Fraction(11, 10), DRAWS, seeded_stream(SEED, "wider"))
    laplace = [discrete_laplace(3, seeded_stream(SEED, f"lap {i}")) for i in range(DRAWS // 4)]
    for draws in (wider, laplace):
        statistic, dof = _chi_square(draws, pmf)
        assert stats.chi2.sf(statistic, dof) < 0.001


def test_a_fixed_stream_gives_a_fixed_draw_and_another_stream_another():
    sigma2 = Fraction(50)
    first = discrete_gaussians(sigma2, 200, seeded_stream(SEED, "fixed"))
    assert discrete_gaussians(sigma2, 200, seeded_stream(SEED, "fixed")) == first
    assert discrete_gaussians(sigma2, 200, seeded_stream(SEED, "other")) != first
    one_by_one = seeded_stream(SEED, "fixed")
    assert [discrete_gaussian(sigma2, one_by_one) for _ in range(200)] == first


def test_mean_and_variance_agree_with_opendp():
    import opendp.prelude as dp

    dp.enable_features("contrib")
    sigma2 = Fraction(50)
    sigma = math.sqrt(50)
    ours = discrete_gaussians(sigma2, DRAWS, seeded_stream(SEED, "opendp comparison"))
    space = (dp.vector_domain(dp.atom_domain(T=int), size=DRAWS), dp.l2_distance(T=float))
    theirs = [int(v) for v in dp.m.make_gaussian(*space, scale=sigma)([0] * DRAWS)]
    for sample in (ours, theirs):
        mean = sum(sample) / DRAWS
        variance = sum((v - mean) ** 2 for v in sample) / (DRAWS - 1)
        assert abs(mean) < 5 * sigma / math.sqrt(DRAWS)
        # sd of the sample variance ≈ σ²·√(2/n) = 0.5 here: allow 5 of them
        assert abs(variance - 50) < 5 * 50 * math.sqrt(2 / DRAWS)
    mean_ours, mean_theirs = sum(ours) / DRAWS, sum(theirs) / DRAWS
    assert abs(mean_ours - mean_theirs) < 5 * sigma * math.sqrt(2 / DRAWS)
    # the same law: a two-sample chi-square (homogeneity) on the binned values does not reject
    edges = range(-20, 21, 4)
    table = [
        [sum(1 for v in sample if lo <= v < lo + 4) for lo in edges]
        + [sum(1 for v in sample if v < -20 or v >= 24)]
        for sample in (ours, theirs)
    ]
    assert stats.chi2_contingency(table).pvalue > 0.001


def test_bernoulli_exp_and_laplace_have_their_laws():
    n = 20_000
    for gamma in (Fraction(1, 3), Fraction(1), Fraction(5, 2)):
        rng = seeded_stream(SEED, f"bexp {gamma}")
        hits = sum(bernoulli_exp(gamma, rng) for _ in range(n))
        p = math.exp(-float(gamma))
        assert abs(hits - n * p) < 5 * math.sqrt(n * p * (1 - p)), gamma
    assert bernoulli_exp(Fraction(0), seeded_stream(SEED, "zero")) is True
    rng = seeded_stream(SEED, "bernoulli")
    assert not any(bernoulli(Fraction(0), rng) for _ in range(100))
    assert all(bernoulli(Fraction(1), rng) for _ in range(100))
    scale = 4
    rng = seeded_stream(SEED, "laplace")
    draws = [discrete_laplace(scale, rng) for _ in range(n)]
    weight = {x: math.exp(-abs(x) / scale) for x in range(-200, 201)}
    total = sum(weight.values())
    statistic, dof = _chi_square(draws, {x: w / total for x, w in weight.items()})
    assert stats.chi2.sf(statistic, dof) > 0.001


def _scripted(chunks: list[bytes]):
    feed = iter(chunks)

    def rng(size: int) -> bytes:
        chunk = next(feed)
        assert len(chunk) == size
        return chunk

    return rng


def test_uniform_draws_reject_values_out_of_range_rather_than_reduce_them():
    """bound 3 takes 2 bits: the byte 0xFF masks to 3, which a reduction mod 3 would turn into
    0 (so 0 would come out twice as often); it is rejected and the next byte used."""
    assert uniform_int_below(3, _scripted([b"\xff", b"\xfe"])) == 2
    assert uniform_int_below(3, _scripted([b"\x03", b"\x07", b"\x01"])) == 1
    assert uniform_int_below(1, _scripted([])) == 0
    assert uniform_int_below(1 << 16, _scripted([b"\x34\x12"])) == 0x1234
    assert uniform_int_below(257, _scripted([b"\xff\xff", b"\x00\x01"])) == 256
    rng = seeded_stream(SEED, "uniform")
    counts = Counter(uniform_int_below(3, rng) for _ in range(30_000))
    assert all(abs(counts[v] - 10_000) < 5 * math.sqrt(30_000 * 2 / 9) for v in range(3))
    with pytest.raises(ParameterError, match="returned 0 bytes"):
        uniform_int_below(5, lambda n: b"")


def test_bad_arguments_are_refused():
    rng = seeded_stream(SEED, "bad")
    for sigma2 in (Fraction(0), Fraction(-1), MAX_SIGMA2 + 1, 0.5, True):
        with pytest.raises(ParameterError, match="sigma"):
            discrete_gaussian(sigma2, rng)
    with pytest.raises(ParameterError):
        discrete_gaussians(Fraction(1), -1, rng)
    assert discrete_gaussians(Fraction(1), 0, rng) == []
    with pytest.raises(ParameterError):
        uniform_int_below(0, rng)
    with pytest.raises(ParameterError):
        bernoulli(Fraction(3, 2), rng)
    with pytest.raises(ParameterError):
        bernoulli_exp(Fraction(-1, 2), rng)
    with pytest.raises(ParameterError):
        discrete_laplace(0, rng)


def test_zcdp_sigma2_is_the_single_trustee_calibration_exactly():
    assert zcdp_sigma2(1, Fraction(1, 2)) == 1
    assert zcdp_sigma2(2, Fraction(1, 100)) == 100
    rho = 0.05  # a float converts exactly: σ² = Δ₂²/(2ρ) and σ = Δ₂/√(2ρ) as dp calibrates
    assert math.isclose(math.sqrt(zcdp_sigma2(2, rho)), math.sqrt(2) / math.sqrt(2 * rho))
    assert zcdp_sigma2(1, rho) == 1 / (2 * Fraction(rho))
    for bad in (0.0, -1.0, float("inf"), float("nan"), Fraction(0)):
        with pytest.raises(ParameterError, match="rho"):
            zcdp_sigma2(1, bad)
    for bad_sensitivity in (0, True):
        with pytest.raises(ParameterError, match="sensitivity"):
            zcdp_sigma2(bad_sensitivity, Fraction(1))
