"""Differential-privacy noise under Shamir answers (docs/design.md, "PRSS-shared DP noise";
issue 14 with issue 16 item 2): each trustee adds Δ·Z(j), its share of the PRSS-shared noise
over the decryption context, so a dp release of a 2-of-3 or 3-of-5 dealer ceremony decodes to the
plaintext count plus exactly Σ_A z_A (``dp_noise.shared_release_noise_at_zero``), every t-subset
agrees, and decoding all n answers finds no liar. A per-trustee draw (the Lagrange way) would
put the answers off one polynomial: the control shows decoding then names a liar."""

from __future__ import annotations

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cryptoscore import ReleasePolicy
from cryptoscore.errors import ParameterError, UndecidableAnswersError
from cryptoscore.params import BFV8192
from cryptoscore.scoring.policy import confusion_cell_name
from cryptoscore.threshold import partial as partial_module
from cryptoscore.threshold.combine import decrypt_answers
from cryptoscore.threshold.dp_noise import (
    calibrate,
    calibrate_for,
    release_noise,
    shared_release_noise_at_zero,
)
from cryptoscore.threshold.prss import decryption_context, dp_noise_variance
from tests.helpers.committee import Committee, set_with

POLICY = ReleasePolicy(2, ("correct", "errors", "confusion"))
RHO = 0.05
N_ITEMS = 30
COMMITTEES = [(2, 3), (3, 5)]


def _truth(p: np.ndarray, y: np.ndarray) -> dict[str, int]:
    values = {"correct": int(np.count_nonzero(p == y)), "errors": int(np.count_nonzero(p != y))}
    for a in range(2):
        for b in range(2):
            values[confusion_cell_name(a, b)] = int(np.count_nonzero((p == a) & (y == b)))
    return values


@pytest.fixture(scope="module", params=COMMITTEES, ids=lambda tn: f"{tn[0]}of{tn[1]}")
def scored(request, tmp_path_factory):
    """A Shamir-answer dealer committee and a score ciphertext of it, as the whole local
    protocol computes it (exact policy: the dp answers below are asked by hand)."""
    t, n = request.param
    committee = Committee(t, n, robust=True)
    context = committee.context("dpshamir", POLICY, N_ITEMS)
    local = committee.local_challenge(
        context,
        tmp_path_factory.mktemp("dpshamir"),
        Ed25519PrivateKey.generate(),
        participants=("p",),
    )
    bundle, y, p = Committee.one_submission(local, "p", 11)
    r2 = local.ledger.round2(bundle.digest)
    assert r2 is not None and r2.aggregate is not None
    return committee, r2.aggregate, _truth(p, y)


def _decode(committee, aggregate, parts, request_id):
    t = committee.record.threshold
    return decrypt_answers(
        aggregate,
        list(parts),
        committee.record,
        request_id,
        set_with(tuple(range(1, t + 1)), parts[0].index),
        centered=True,
    )


def test_a_dp_release_decodes_to_the_count_plus_the_shared_noise(scored, tmp_path, monkeypatch):
    committee, aggregate, truth = scored
    drawn: list[object] = []
    monkeypatch.setattr(partial_module, "release_noise", lambda *a: drawn.append(a))
    answers = committee.all_answers(aggregate, "dp", tmp_path, dp_rho=RHO)
    assert drawn == []  # no OpenDP draw under Shamir answers
    half = len(aggregate.ciphertext) // 2
    ctx = decryption_context(aggregate.key_id, aggregate.ciphertext[half:])
    keys = [share.prss_keys() for share in committee.shares.values()]
    noise = shared_release_noise_at_zero(POLICY, aggregate.names, RHO, keys, ctx)
    assert any(noise.values())
    want = {name: truth[name] + noise[name] for name in aggregate.names}
    assert want["correct"] + want["errors"] == N_ITEMS  # post-processing keeps the invariant
    t = committee.record.threshold
    for subset in itertools.combinations(sorted(answers), t):
        out = _decode(committee, aggregate, [answers[j] for j in subset], "dp")
        assert out.values == want and out.liars == ()
    everyone = _decode(committee, aggregate, list(answers.values()), "dp")
    assert everyone.values == want and everyone.liars == ()
    assert everyone.verified == (len(answers) >= 2 * t - 1)


def test_per_trustee_draws_would_leave_the_polynomial(scored, tmp_path, monkeypatch):
    """The control: one trustee adding its own OpenDP draw instead of its share (the Lagrange
    way) puts its answer off the polynomial, and decoding all n answers refuses the value."""
    committee, aggregate, _ = scored
    real = partial_module.shared_release_noise
    target = committee.roster[0].index

    def own_draw(policy, names, rho, keys, ctx, modulus):
        if keys.index != target:
            return real(policy, names, rho, keys, ctx, modulus)
        draw = release_noise(policy, names, rho)
        while not any(draw.values()):
            draw = release_noise(policy, names, rho)
        return {name: draw[name] % modulus for name in names}

    monkeypatch.setattr(partial_module, "shared_release_noise", own_draw)
    answers = committee.all_answers(aggregate, "own", tmp_path, dp_rho=RHO)
    # n = 2t − 1 answers: one lie is detected (no value released) with the liar a suspect
    with pytest.raises(UndecidableAnswersError) as caught:
        _decode(committee, aggregate, list(answers.values()), "own")
    assert target in caught.value.suspects


@pytest.mark.parametrize(("t", "n"), COMMITTEES)
def test_the_calibration_counts_the_summed_draws(t, n):
    """Lagrange answers sum t draws, Shamir answers C(n, t − 1): the variance, expected error,
    tail and wrap-around check follow the key record's answers kind."""
    shamir = calibrate_for(POLICY, RHO, Committee(t, n, robust=True).record)
    lagrange = calibrate_for(POLICY, RHO, Committee(t, n).record)
    assert (shamir.answers, lagrange.answers) == ("shamir", "lagrange")
    assert (shamir.summed_draws, lagrange.summed_draws) == (math.comb(n, t - 1), t)
    assert lagrange == calibrate(POLICY, RHO, t)
    sigma2 = float(dp_noise_variance(n, t, shamir.sigma2))
    assert shamir.sigma2 == Fraction(1) / Fraction(RHO)  # Δ₂² = 2 for the confusion cells
    assert shamir.variance(confusion_cell_name(0, 1)) == pytest.approx(sigma2)
    assert shamir.variance("correct") == pytest.approx(2 * sigma2)  # K = 2 diagonal cells
    assert shamir.tail_of("correct") > lagrange.tail_of("correct")
    shamir.check_fits(1000, BFV8192.PLAIN_MODULUS)
    with pytest.raises(ParameterError, match=f"{math.comb(n, t - 1)} summed draws"):
        calibrate_for(POLICY, 1e-9, Committee(t, n, robust=True).record).check_fits(
            1000, BFV8192.PLAIN_MODULUS
        )
