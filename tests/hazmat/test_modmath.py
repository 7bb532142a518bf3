"""Smudging samples of any size, as residues (``_rns/modmath.py``)."""

from __future__ import annotations

import collections

import pytest

from cryptoscore.hazmat.modmath import crt_lift, uniform_centered_residues
from cryptoscore.params import BFV8192, BFV16384


def _centered(residues, moduli) -> list[int]:
    q = 1
    for m in moduli:
        q *= m
    return [v - q if v > q // 2 else v for v in crt_lift(residues, moduli)]


@pytest.mark.parametrize(
    ("bound", "params", "level"),
    [(1 << 121, BFV16384, 3), ((1 << 64) + 12345, BFV8192, 2), ((1 << 47) - 1, BFV8192, 4)],
)
def test_values_lie_in_the_range_and_fill_it(bound, params, level):
    moduli = params.moduli(level)
    values = _centered(uniform_centered_residues(bound, moduli, 20000), moduli)
    assert min(values) >= -bound and max(values) <= bound
    # uniform on [-bound, bound]: mean ≈ 0, a quarter in each quarter of the range
    quarters = collections.Counter(min(3, (v + bound) * 4 // (2 * bound + 1)) for v in values)
    assert all(4500 < quarters[k] < 5500 for k in range(4))
    assert abs(sum(values) / len(values)) < bound / 50


def test_small_bound_is_exactly_uniform():
    moduli = BFV16384.moduli(3)
    counts = collections.Counter(_centered(uniform_centered_residues(2, moduli, 50000), moduli))
    assert set(counts) == {-2, -1, 0, 1, 2}
    assert all(9300 < c < 10700 for c in counts.values())


def test_residues_are_consistent_across_primes():
    """One integer per coefficient, reduced modulo every prime (not independent draws)."""
    moduli = BFV16384.moduli(3)
    residues = uniform_centered_residues(1 << 100, moduli, 1000)
    values = _centered(residues, moduli)
    for q, r in zip(moduli, residues, strict=True):
        assert [v % q for v in values] == [int(x) for x in r]
