"""Noise bounds (``scoring/noise.py``): the round-1 bounds, the proven worst-case release bound, and
the smudging each released ciphertext gets."""

from __future__ import annotations

import io
import math

import numpy as np
import pytest
import tenseal.sealapi as seal

from cryptoscore import (
    BFV8192,
    BFV16384,
    EncryptedBundle,
    ReleasePolicy,
    encrypt_labels,
    encrypt_predictions,
    score,
)
from cryptoscore.hazmat.ciphertext import encode_ciphertext
from cryptoscore.hazmat.modmath import addmod
from cryptoscore.hazmat.seal_engine import engine_for
from cryptoscore.scoring.bundle import BundleWriter
from cryptoscore.scoring.decryption import decrypt_aggregate
from cryptoscore.scoring.noise import (
    SMUDGING_BITS,
    noise_check_bounds,
    pad_noise_bound,
    smudging_bound,
    transcript_exposure,
    worst_case_circuit_bound,
    worst_case_release_bound,
)
from cryptoscore.scoring.noise_check import noise_check_threshold
from cryptoscore.scoring.validity import check_count, validity
from tests.helpers.circuits import CIRCUITS
from tests.helpers.committee import Committee


def test_round1_bounds_are_consistent():
    for trustees in (1, 2, 3, 16):
        smudge, threshold, passed = noise_check_bounds(trustees)
        fresh = pad_noise_bound(trustees)
        assert fresh == (trustees + 1) * 21 + 1
        # answered with the pads' exact complements: no smudging, the residual is the
        # submitter's own error (≤ 21) and rounding, less ≤ T wraps of the masked message
        assert (smudge, threshold) == (0, 22 + trustees)
        assert (smudge, threshold) == noise_check_threshold(BFV8192, trustees)
        assert passed == fresh + 2 * trustees


@pytest.mark.parametrize(("circuit", "classes", "aggregates"), CIRCUITS)
@pytest.mark.parametrize("trustees", [1, 2, 3, 16])
def test_bfv16384_smudges_against_the_proven_bound_for_every_size(
    circuit, classes, aggregates, trustees
):
    for n in (1, BFV16384.POLY_MODULUS_DEGREE + 1, BFV16384.max_count()):
        bound = smudging_bound(
            BFV16384, circuit, n, classes, aggregates, trustees, committee=trustees
        )
        assert bound.proven
        assert bound.smudging_bound >= bound.worst_case_bound << SMUDGING_BITS
        assert bound.worst_case_bound + trustees * bound.smudging_bound < bound.delta_half


@pytest.mark.parametrize(("circuit", "classes", "aggregates"), CIRCUITS)
def test_bfv8192_smudging_fits_and_is_proven_for_small_committees(circuit, classes, aggregates):
    for trustees in (2, 16):
        bound = smudging_bound(
            BFV8192, circuit, BFV8192.max_count(), classes, aggregates, trustees, committee=16
        )
        # inputs that pass round 1 carry the honest noise bound, so the worst case fits at
        # N = 8192 for 2 trustees; with 16, V's worst case needs more room than Δ leaves
        assert bound.proven == (trustees == 2 or circuit == "score/v1")
        assert bound.smudging_bound >= bound.release_bound << SMUDGING_BITS
        assert bound.release_bound + trustees * bound.smudging_bound < bound.delta_half
        # E is half of what correct decryption leaves room for
        assert bound.smudging_bound == (bound.delta_half - bound.release_bound) // (2 * trustees)


def test_whole_transcript_figures():
    """SECURITY.md, "Share exposure": 10,000 submissions of 2^20 binary items, 3 trustees."""
    out = transcript_exposure(
        BFV16384, 10_000, 1 << 20, 2, 1, 3, check_count(BFV16384), committee=3
    )
    terms = {term.what: term for term in out.terms}
    assert terms["noise checks"].coefficients == 10_001 * 64 * 16384
    assert terms["validity"].coefficients == terms["scores"].coefficients + 16384
    # noise checks reveal no secret-dependent noise; every release is smudged ≥ 2^107-fold
    assert terms["noise checks"].bound == 0 and terms["noise checks"].distance_log2 == -math.inf
    # the proven bound is the mod-switch floor n·N + 3 (plus the circuit's scaled noise, < 2)
    assert terms["validity"].bound == 3 * BFV16384.POLY_MODULUS_DEGREE + 4
    assert terms["scores"].bound == 3 * BFV16384.POLY_MODULUS_DEGREE + 4
    assert terms["validity"].distance_log2 < -79.3 and terms["scores"].distance_log2 < -79.3
    assert -78.4 < out.distance_log2 < -78.3  # the target is 2^-40
    assert out.renyi_factor - 1 < 1e-12


def test_worst_case_grows_with_size_and_trustees():
    def bound(n_items, classes, aggregates, trustees):
        return worst_case_circuit_bound(
            BFV8192, "score/v1", n_items, classes, aggregates, trustees, committee=3
        )

    small = bound(10_000, 2, 2, 2)
    assert small < bound(1_000_000, 2, 2, 2)
    assert small < bound(10_000, 2, 2, 3)
    assert small < bound(10_000, 10, 100, 2)
    # after mod-switching to the release level, the floor n·N + 3 dominates
    for committee in (2, 3, 16):
        released = worst_case_release_bound(
            BFV8192, "score/v1", 1_000_000, 2, 2, 2, committee=committee
        )
        floor = committee * BFV8192.POLY_MODULUS_DEGREE + 3
        assert floor <= released <= floor + 1


def _with_noise(bundle: EncryptedBundle, bound: int, seed: int) -> EncryptedBundle:
    """Add noise uniform in [−bound, bound] to every c0 coefficient (test data)."""
    gen = np.random.default_rng(seed)
    moduli = bundle.header.params.moduli(bundle.header.level)
    out = io.BytesIO()
    writer = BundleWriter(bundle.header, out)
    for i in range(bundle.layout.ciphertexts):
        c0 = bundle.ciphertext(i)[:1]
        noise = [int(v) for v in gen.integers(-bound, bound, c0.shape[2], endpoint=True)]
        for j, q in enumerate(moduli):
            c0[0, j] = addmod(c0[0, j], np.array([v % q for v in noise], dtype=np.uint64), q)
        writer.add(encode_ciphertext(c0, moduli))
    writer.finish()
    return EncryptedBundle.from_bytes(out.getvalue())


def _noise_bits(committee: Committee, aggregate) -> float:
    """log2 of an upper estimate of ||v||∞ from SEAL's invariant noise budget."""
    engine = engine_for(BFV8192)
    ct = engine.bfv_ciphertext(aggregate.data())
    budget = seal.Decryptor(engine.bfv, committee.keys.secret.seal_secret_key())
    bits = budget.invariant_noise_budget(ct)
    q = math.prod(BFV8192.moduli(aggregate.level))
    return math.log2(q) - bits - math.log2(BFV8192.PLAIN_MODULUS)


def test_inputs_at_the_round1_bound_stay_under_the_worst_case(tmp_path):
    """Predictions and labels whose every c0 coefficient carries noise up to half the bound
    round 1 lets through: the released ciphertexts' noise stays below the proven worst case,
    and the scores still equal numpy's."""
    committee = Committee(2, 3)
    n = 20_000
    policy = ReleasePolicy(2, ("correct", "errors"))
    context = committee.context("noise", policy, n)
    gen = np.random.default_rng(4)
    y = gen.integers(0, 2, n)
    p = np.where(gen.random(n) < 0.8, y, 1 - y)
    public = committee.keys.public
    _, _, passed = noise_check_bounds(2)
    labels = encrypt_labels(
        y, public, classes=2, challenge="noise", pads=committee.pads(context, "labels", tmp_path)
    )
    preds = encrypt_predictions(
        p,
        public,
        classes=2,
        challenge="noise",
        pads=committee.pads(context, "predictions", tmp_path),
    )
    labels, preds = _with_noise(labels, passed // 2, 1), _with_noise(preds, passed // 2, 2)
    released = score(preds, labels, policy, committee.keys.evaluation)
    assert decrypt_aggregate(released, committee.keys.secret) == {
        "correct": int(np.count_nonzero(p == y)),
        "errors": int(np.count_nonzero(p != y)),
    }
    worst = worst_case_release_bound(BFV8192, "score/v1", n, 2, 2, 2, committee=3)
    assert _noise_bits(committee, released) <= math.log2(worst)
    check = validity(preds, bytes(32), committee.keys.evaluation)
    assert _noise_bits(committee, check) <= math.log2(
        worst_case_release_bound(BFV8192, "validity/v1", n, 2, 4, 2, committee=3)
    )


def test_which_sets_have_proven_smudging():
    from cryptoscore.scoring.noise import smudging_is_proven

    assert smudging_is_proven(BFV16384)
    assert not smudging_is_proven(BFV8192)
