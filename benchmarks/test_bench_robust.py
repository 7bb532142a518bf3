"""Robust threshold decryption core (``make bench``; docs/design.md, "Robust threshold decryption
(core)"): one trustee's PRSS smudging share per answer (``threshold/prss.shared_noise``, C(n − 1,
t − 1) noise polynomials) against today's single smudging draw per partial
(``threshold/partial._smudging_residues``), and robust reconstruction of n answers with 0 and 1
liars (``threshold/robust.reconstruct``), at the release level of bfv-8192 and bfv-16384 for
2-of-3, 3-of-5 and 4-of-7; and the mechanism's added cost at bfv-8192 (``benchmarks.robust_cost``,
which prints the table of docs/design.md): one score released from n Shamir answers decoded
against t additive answers summed, and one noise check of round 1 (a 1M-item bundle has 123),
answers and decision together."""

from __future__ import annotations

import itertools
import os

import numpy as np
import pytest

from benchmarks.robust_cost import Scheme, answers, decide, make_scheme
from cryptoscore import KeySet
from cryptoscore.params import BFV8192, BFV16384, ParameterSet
from cryptoscore.scoring.noise import smudging_bound
from cryptoscore.threshold.partial import _smudging_residues
from cryptoscore.threshold.prss import PrssKeys, deal_prss_keys, prss_smudging, shared_noise
from cryptoscore.threshold.robust import reconstruct

COMMITTEES = [(2, 3), (3, 5), (4, 7)]
KEY_ID = "ab" * 32


@pytest.fixture(
    scope="module",
    params=[(p, t, n) for p in (BFV8192, BFV16384) for t, n in COMMITTEES],
    ids=lambda v: f"{v[0].ID}-{v[1]}of{v[2]}",
)
def setting(request) -> tuple[type[ParameterSet], int, int, tuple[PrssKeys, ...], int]:
    params, t, n = request.param
    budget = prss_smudging(
        params, "score/v1", params.POLY_MODULUS_DEGREE, 2, 4, committee=n, threshold=t
    )
    return params, t, n, deal_prss_keys(KEY_ID, n, t), budget.set_bound


def _moduli(params: type[ParameterSet]) -> tuple[int, ...]:
    return params.moduli(params.RELEASE_LEVEL)


def test_prss_smudging_share_per_answer(benchmark, setting):
    params, _, _, keys, bound = setting
    ctx = os.urandom(32)
    moduli, degree = _moduli(params), params.POLY_MODULUS_DEGREE
    out = benchmark(shared_noise, keys[0], ctx, "smudging", moduli, degree, bound=bound)
    assert out.shape == (len(moduli), degree)


def test_todays_smudging_draw_per_partial(benchmark, setting):
    params, t, n, _, _ = setting
    moduli, degree = _moduli(params), params.POLY_MODULUS_DEGREE
    bound = smudging_bound(params, "score/v1", degree, 2, 4, t, committee=n).smudging_bound
    out = benchmark(_smudging_residues, bound, moduli, degree, os.urandom)
    assert len(out) == len(moduli)


@pytest.mark.parametrize("liars", [0, 1])
def test_robust_reconstruction_of_n_answers(benchmark, setting, liars):
    params, t, n, keys, bound = setting
    if liars > (n - t) // 2:
        pytest.skip(f"{t}-of-{n} corrects no liar")
    ctx = os.urandom(32)
    moduli, degree = _moduli(params), params.POLY_MODULUS_DEGREE
    answers = {k.index: shared_noise(k, ctx, "smudging", moduli, degree, bound=bound) for k in keys}
    if liars:
        answers[2] = answers[2].copy()
        answers[2][0, 3] = (int(answers[2][0, 3]) + 1) % moduli[0]
    result = benchmark(reconstruct, answers, t, moduli)
    assert result.liars == ((2,) if liars else ())
    assert np.all(result.value[0] < moduli[0])


@pytest.fixture(
    scope="module",
    params=[(t, n, robust) for t, n in COMMITTEES for robust in (False, True)],
    ids=lambda v: f"{v[0]}of{v[1]}-{'shamir' if v[2] else 'additive'}",
)
def scheme(request, keys: KeySet, tmp_path_factory) -> Scheme:
    t, n, robust = request.param
    return make_scheme(keys, t, n, robust, tmp_path_factory.mktemp("scheme"))


@pytest.mark.parametrize("kind", ["score", "noise"], ids=["release", "noise-check"])
def test_answers_and_decision(benchmark, scheme: Scheme, kind: str, tmp_path):
    """Every answering trustee's partial (fresh journals) and the combiner's decision: t
    additive answers summed, or n Shamir answers decoded."""
    runs = itertools.count()

    def one() -> None:
        journals = tmp_path / f"run{next(runs)}"
        journals.mkdir()
        partials, _ = answers(scheme, kind, journals)
        decide(scheme, kind, partials)

    benchmark.pedantic(one, rounds=5, iterations=1)
