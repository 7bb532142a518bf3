"""Liar reports (issue 14, layer 3): a trustee whose answer decoding corrects, or that re-sends a
different partial for one request, is named in a ``LiarReport`` anyone can re-run
(``threshold/liars.py``)."""

from __future__ import annotations

import dataclasses

import pytest

from cryptoscore import (
    BFV8192,
    FormatError,
    MismatchError,
    ReleasePolicy,
    encrypt_labels,
    encrypt_predictions,
    generate_keys,
    score,
)
from cryptoscore.errors import VerificationError
from cryptoscore.identity import TrusteeIdentity
from cryptoscore.protocol.release import BundleRelease
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.combine import decrypt_answers
from cryptoscore.threshold.liars import (
    LiarReport,
    LyingTrusteeError,
    check_resent,
    off_polynomial_reports,
    two_answers_report,
)
from tests.helpers.committee import Committee, binary_data
from tests.helpers.lying_trustee import reanswered, shifted_partial

N_ITEMS = 2000


@pytest.fixture(scope="module")
def committee():
    return Committee(3, 7, keys=generate_keys(BFV8192), robust=True)


@pytest.fixture(scope="module")
def aggregate(committee):
    y, p = binary_data(3, N_ITEMS)
    public, evaluation = committee.keys.public, committee.keys.evaluation
    preds = encrypt_predictions(p, public, classes=2, challenge="liars")
    labels = encrypt_labels(y, public, classes=2, challenge="liars")
    return score(preds, labels, ReleasePolicy(2, ("correct",)), evaluation)


@pytest.fixture
def answers(committee, aggregate, tmp_path):
    return committee.all_answers(aggregate, "r", tmp_path)


def test_a_corrected_liar_is_reported_and_the_report_re_runs(committee, aggregate, answers):
    answers[5] = shifted_partial(answers[5], committee.identity("trustee-5"), 0, 7)
    parts = list(answers.values())
    out = decrypt_answers(aggregate, parts, committee.record, "r", ActiveSet((1, 2, 3)))
    assert out.liars == ("trustee-5",)
    (report,) = off_polynomial_reports(out.liars, parts)
    assert report.finding == "off-polynomial" and len(report.answers) == 7
    again = LiarReport.from_bytes(report.to_bytes())
    assert again == report and again.to_bytes() == report.to_bytes()
    again.check(committee.record, aggregate, parts)
    # a report naming an honest trustee does not re-run
    framed = dataclasses.replace(report, trustee_id="trustee-2")
    with pytest.raises(VerificationError, match="does not find 'trustee-2'"):
        framed.check(committee.record, aggregate, parts)
    with pytest.raises(MismatchError, match="not the ones it names"):
        report.check(committee.record, aggregate, parts[:-1])


def test_a_different_re_sent_partial_names_its_trustee(committee, aggregate, answers):
    """The journal gives an honest trustee's outbox the stored partial: the same bytes again
    are accepted. A different partial for the same request, signed by the trustee, is a lie."""
    first = answers[4]
    active = first.active_set
    check_resent(first, first, aggregate, committee.record, "r", active)  # a plain re-send
    second = shifted_partial(first, committee.identity("trustee-4"), 0, 1)
    with pytest.raises(LyingTrusteeError, match="'trustee-4' lied") as info:
        check_resent(first, second, aggregate, committee.record, "r", active)
    report = info.value.report
    assert report == two_answers_report(first, second) and report.finding == "two-answers"
    report.check(committee.record, aggregate, [first, second])
    # a different partial someone else signed names nobody: it is refused as a forgery
    forged = reanswered(first, TrusteeIdentity.generate(), second.data())
    with pytest.raises(VerificationError):
        check_resent(first, forged, aggregate, committee.record, "r", active)


def test_a_round1_machine_refuses_a_different_re_sent_partial(committee, tmp_path):
    """Through round 1's state machine: the trustee's second, different partial for a request
    it answered raises the report instead of replacing the first."""
    context = committee.context("liars-r1", ReleasePolicy(2, ("correct",)), N_ITEMS)
    pads = committee.pads(context, "predictions", tmp_path / "pads")
    y, _ = binary_data(4, N_ITEMS)
    public = committee.keys.public
    bundle = encrypt_predictions(y, public, classes=2, challenge="liars-r1", pads=pads)
    release = BundleRelease(context, bundle)
    trustees = [committee.record.entry_by_index(i).trustee_id for i in release.active.indices]
    for tid in trustees:
        release.add_contribution(committee.contribute(tid, context, bundle.digest, tmp_path))
    (request, *_) = release.start("r1")
    evidence = {bundle.digest: release.evidence()}
    answer = committee.answer(
        trustees[0], request, context, {bundle.digest: bundle}, tmp_path, evidence
    )
    release.add_partial(answer)
    release.add_partial(answer)  # an outbox re-send: accepted
    lie = shifted_partial(answer, committee.identity(trustees[0]), 0, 3)
    with pytest.raises(LyingTrusteeError) as info:
        release.add_partial(lie)
    assert info.value.report.trustee_id == trustees[0]
    assert release.partials[request.request_id][trustees[0]] is answer


def test_liar_reports_are_validated_on_parsing(committee, aggregate, answers):
    report = two_answers_report(
        answers[1], shifted_partial(answers[1], committee.identity("trustee-1"), 0, 1)
    )
    for change in (
        {"finding": "rude"},
        {"answers": report.answers[:1]},
        {"answers": (report.answers[0], report.answers[0])},
        {"ciphertext_digest": "zz" * 32},
    ):
        with pytest.raises(FormatError):
            dataclasses.replace(report, **change)
