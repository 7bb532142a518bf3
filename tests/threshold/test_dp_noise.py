"""The differential-privacy noise of a score release (``threshold/dp_noise.py``): its
calibration against OpenDP's own accounting, what it draws and where, and the parameter check
that keeps a noised count from wrapping around mod t_plain."""

from __future__ import annotations

import dataclasses
import math
import random

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cryptoscore import ReleasePolicy, encrypt_labels, encrypt_predictions
from cryptoscore.errors import FormatError, ParameterError, RefusedError
from cryptoscore.params import BFV8192
from cryptoscore.protocol.rules import DpRule
from cryptoscore.scoring.policy import confusion_cell_name
from cryptoscore.threshold import partial as partial_module
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.dp_noise import (
    approx_dp_epsilon,
    calibrate,
    checked_rho,
    release_noise,
)
from cryptoscore.threshold.journal import PartialJournal
from cryptoscore.threshold.partial import partial_decrypt, standalone_lineage
from tests.helpers.committee import Committee

CONFUSION = ReleasePolicy(3, ("correct", "errors", "confusion"))
CORRECT = ReleasePolicy(2, ("correct", "errors"))


@pytest.mark.parametrize(("policy", "sensitivity"), [(CONFUSION, math.sqrt(2)), (CORRECT, 1.0)])
def test_sigma_gives_the_stated_rho_by_opendp(policy, sensitivity):
    """ρ = Δ₂²/(2σ²): confusion cells Δ₂ = √2, correct Δ₂ = 1; OpenDP's discrete Gaussian
    measurement states the same ρ for that σ."""
    cal = calibrate(policy, 0.05)
    assert cal.sensitivity == pytest.approx(sensitivity)
    assert cal.sigma == pytest.approx(sensitivity / math.sqrt(0.1))
    assert checked_rho(policy, 0.05) == pytest.approx(0.05, rel=1e-9)


def test_noise_is_post_processed_for_correct_and_errors():
    for _ in range(20):
        z = release_noise(CONFUSION, CONFUSION.aggregate_names(), 0.5)
        diagonal = sum(z[confusion_cell_name(c, c)] for c in range(3))
        assert z["correct"] == diagonal and z["errors"] == -diagonal
        assert set(z) == set(CONFUSION.aggregate_names())
        w = release_noise(CORRECT, CORRECT.aggregate_names(), 0.5)
        assert w["errors"] == -w["correct"]


def test_draws_spread_as_stated():
    """2,000 draws at σ ≈ 3.16: the sample variance is within 15% of σ² (a 10-sigma margin
    of the sample variance's own spread)."""
    cal = calibrate(CORRECT, 0.05)
    draws = [
        release_noise(CORRECT, CORRECT.aggregate_names(), 0.05)["correct"] for _ in range(2000)
    ]
    assert abs(np.mean(draws)) < 10 * cal.sigma / math.sqrt(2000)
    assert np.var(draws) == pytest.approx(cal.sigma**2, rel=0.15)


def test_approx_dp_is_at_most_bun_steinke():
    for rho in (0.01, 0.1, 1.0):
        eps = approx_dp_epsilon(rho, 1e-6)
        assert 0 < eps <= rho + 2 * math.sqrt(rho * math.log(1e6)) + 1e-9


def test_tail_bound_refuses_wrap_around():
    """n + τ must stay below t_plain/2: the smallest ρ with 15 classes, 16 trustees and
    400,000 items at bfv-8192 (t ≈ 2^20) is refused with the reason; a usable one passes."""
    wide = ReleasePolicy(15, ("correct", "confusion"))
    assert calibrate(wide, 1e-6, trustees=16).tail_of("correct") > 116_096
    with pytest.raises(ParameterError, match="t_plain/2"):
        calibrate(wide, 1e-6, trustees=16).check_fits(400_000, BFV8192.PLAIN_MODULUS)
    calibrate(CONFUSION, 0.01, trustees=3).check_fits(1000, BFV8192.PLAIN_MODULUS)


def test_dp_rule_validation():
    assert DpRule(0.1, 1.0).releases == 10
    assert DpRule.from_json(DpRule(0.1, 1.0).to_json()) == DpRule(0.1, 1.0)
    for bad in ((0, 1.0), (0.1, 0.05), (float("nan"), 1.0), (True, 1.0), (0.1, "1")):
        with pytest.raises(FormatError):
            DpRule(*bad)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def committee():
    return Committee(2, 3)


@pytest.fixture(scope="module")
def aggregate(committee, tmp_path_factory):
    """A score ciphertext of a 3-class challenge, as the whole local protocol computes it."""
    context = committee.context("dpunit", CONFUSION, 30)
    local = committee.local_challenge(
        context,
        tmp_path_factory.mktemp("dpunit"),
        Ed25519PrivateKey.generate(),
        participants=("p",),
    )
    gen = np.random.default_rng(3)
    y, p = gen.integers(0, 3, 30), gen.integers(0, 3, 30)
    local.upload_labels(
        encrypt_labels(y, context.public, classes=3, challenge="dpunit", pads=local.pads("labels"))
    )
    bundle = encrypt_predictions(
        p, context.public, classes=3, challenge="dpunit", pads=local.pads("predictions", "p")
    )
    assert local.submit("p", bundle) == "released"
    r2 = local.ledger.round2(bundle.digest)
    assert r2 is not None and r2.aggregate is not None
    return r2.aggregate


def test_noise_only_at_released_positions(committee, aggregate, tmp_path, monkeypatch):
    """The same partial with and without dp, from the same smudging randomness: they differ
    by Δ·z_j at the released aggregates' positions, and nowhere else."""
    active = ActiveSet.of(committee.record, ["trustee-1", "trustee-2"])
    drawn: list[dict[str, int]] = []
    real = partial_module.release_noise

    def record(*args, **kwargs):
        out = dict(real(*args, **kwargs))
        drawn.append(out)
        return out

    monkeypatch.setattr(partial_module, "release_noise", record)
    answers = []
    for rho, sub in ((None, "plain"), (0.05, "dp")):
        with PartialJournal(tmp_path / sub / "t1.journal") as journal:
            answers.append(
                partial_decrypt(
                    committee.shares["trustee-1"],
                    aggregate,
                    active,
                    f"req-{sub}",
                    committee.identity("trustee-1"),
                    journal,
                    committee.record,
                    lineage=standalone_lineage(aggregate, active),
                    rng=random.Random(7).randbytes,
                    dp_rho=rho,
                )
            )
    (z,) = drawn
    moduli = BFV8192.moduli(aggregate.level)
    delta = (math.prod(moduli) - 1) // BFV8192.PLAIN_MODULUS
    plain, noisy = answers[0].data(), answers[1].data()
    expected = np.zeros(BFV8192.POLY_MODULUS_DEGREE, dtype=object)
    for name, position in zip(aggregate.names, aggregate.positions, strict=True):
        expected[position] = z[name]
    for i, q in enumerate(moduli):
        diff = (noisy[i].astype(object) - plain[i].astype(object)) % q
        assert (diff == (expected * delta) % q).all()
    changed = {int(k) for k in np.nonzero(noisy[0] != plain[0])[0]}
    assert changed <= set(aggregate.positions)


def test_dp_noise_on_a_non_score_is_refused(committee, aggregate, tmp_path):
    active = ActiveSet.of(committee.record, ["trustee-1", "trustee-2"])
    not_a_score = dataclasses.replace(aggregate, circuit="validity/v1", policy=None)
    with PartialJournal(tmp_path / "t.journal") as journal, pytest.raises(RefusedError):
        partial_decrypt(
            committee.shares["trustee-1"],
            not_a_score,
            active,
            "req-x",
            committee.identity("trustee-1"),
            journal,
            committee.record,
            lineage=standalone_lineage(not_a_score, active),
            dp_rho=0.05,
        )
