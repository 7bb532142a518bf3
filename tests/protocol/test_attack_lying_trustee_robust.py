"""Lying trustees against robust decoding through the release machines (issue 14, layer 3;
docs/design.md, "Robust threshold decryption (core)", "Two-round release").

A local challenge asks every online trustee, as the service does, so each decision decodes the
Shamir answers of all n trustees (``threshold/combine.decrypt_answers``, radius
``robust.verifiable_max_liars(n, t, t − 1)``):

* 3-of-5 (radius 0): one trustee shifting the score consistently (correct + k, errors − k: the
  release invariants cannot see it) leaves the submission ``disputed`` with exactly that
  trustee as the suspect and nothing released — also under the Ladder, whose dispute reasons
  otherwise withhold everything but the invariant. The suspect is not logged as a liar.
* 3-of-7 (radius 2): the same trustee lying in V of both bundles and in the score is
  corrected: the exact values are released, each lie is an ``off-polynomial`` report that
  re-runs, logged once as a ``liar`` entry; ``restore`` re-derives the same outcome, the
  audit bundle's ``liars`` check re-runs the reports, and the liar is left out of later pad
  sets.

The control that these tests can fail: the same lie under t answers (an additive record, or
Shamir answers of only t trustees) is released wrong — ``test_attack_lying_trustee_invariants``
(``test_a_consistent_lie_is_released_wrong``) and the HTTP control in
``tests/server/test_attack_lying_trustee_http.py``.
"""

from __future__ import annotations

import dataclasses
import zipfile

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cryptoscore import BFV8192, ReleasePolicy, encrypt_labels, encrypt_predictions, generate_keys
from cryptoscore.identity import Identity
from cryptoscore.local import LocalChallenge
from cryptoscore.protocol.ladder import LadderRule
from cryptoscore.protocol.release import BundleRelease, ReleaseState, SubmissionRelease
from cryptoscore.scoring.validity import validity_names
from cryptoscore.threshold.liars import LiarReport
from cryptoscore.transparency.entries import parse_entry
from cryptoscore.verify import verify_bundle
from tests.helpers.committee import Committee, binary_data
from tests.helpers.lying_trustee import LyingAgent

N_ITEMS = 120
POLICY = ReleasePolicy(2, ("correct", "errors"))
SERVICE_KEY = Ed25519PrivateKey.generate()
CONSISTENT = {"correct": 3, "errors": -3}
"""A lie every release invariant holds for: correct + errors = n still."""


@pytest.fixture(scope="module")
def keys():
    return generate_keys(BFV8192)


def _local(committee: Committee, tmp, liar: str, challenge: str, rules=None, offline=()):
    context = committee.context(challenge, POLICY, N_ITEMS, rules)
    trustees = committee.local_trustees(tmp, offline)
    honest = trustees[liar].agent
    lying = LyingAgent(honest.share, honest.identity, honest.journal_path, say=honest.say)
    trustees[liar].agent = lying
    local = LocalChallenge(context, trustees, SERVICE_KEY, committee.organizer)
    return local, lying


def _upload_labels(local: LocalChallenge, y: np.ndarray) -> BundleRelease:
    context = local.context
    labels = local.pads("labels")
    return local.upload_labels(
        encrypt_labels(y, context.public, classes=2, challenge=context.challenge_id, pads=labels)
    )


def _submit(local: LocalChallenge, name: str, p: np.ndarray) -> str:
    context = local.context
    local.enrol(name, Identity.generate())
    pads = local.pads("predictions", name)
    bundle = encrypt_predictions(
        p, context.public, classes=2, challenge=context.challenge_id, pads=pads
    )
    return local.submit(name, bundle)


def _entries(local: LocalChallenge, kind: str) -> list[dict]:
    return [e for e in map(parse_entry, local.transcript.store.entries()) if e["type"] == kind]


@pytest.mark.parametrize("ladder", [False, True], ids=["exact", "ladder"])
def test_one_liar_among_five_is_the_one_suspect_and_nothing_is_released(keys, tmp_path, ladder):
    committee = Committee(3, 5, keys=keys, robust=True)
    rules = committee.rules(ladder=LadderRule(3)) if ladder else None
    local, liar = _local(committee, tmp_path, "trustee-2", "robust-3of5", rules)
    y, p = binary_data(5, N_ITEMS)
    assert _upload_labels(local, y).state == ReleaseState.VALID
    liar.lies = dict(CONSISTENT)
    assert _submit(local, "alice", p) == "disputed"
    assert len(liar.lied) == 1
    submission = local.submissions["alice"]
    assert isinstance(submission, SubmissionRelease)
    assert submission.request is not None
    assert submission.request.active_set.indices == (1, 2, 3, 4, 5)  # every trustee asked
    assert submission.invariant == "answers-decoding"
    assert submission.released == {} and local.released() == {}
    assert not submission.verified and submission.liars == ()
    reason = local.disputed()["alice"]
    # the finding and the one suspect, by trustee id, and no value (under the Ladder too)
    assert reason == (
        f"answers-decoding: {submission.request.request_id}: the 5 answers are not within 0 "
        "of one polynomial of degree 2: too many are wrong to tell which; suspects: trustee-2"
    )
    disputes = _entries(local, "dispute")
    assert [(d["invariant"], d["reason"]) for d in disputes] == [("answers-decoding", reason)]
    assert [d["predictions"] for d in disputes] == [submission.predictions.bundle.digest]
    assert _entries(local, "liar") == []  # a suspect is not a proven liar: not logged
    assert not [e for e in _entries(local, "release") + _entries(local, "ladder_release")]
    # restore re-derives the dispute from the same partials
    restored = SubmissionRelease.restore(
        local.context, submission.predictions, submission.labels, submission.snapshot()
    )
    assert (restored.state, restored.reason) == (ReleaseState.DISPUTED, reason)


def test_control_the_same_lie_under_t_answers_is_released_wrong(keys, tmp_path):
    """The lie the test above catches, with two trustees offline (``pad_sets: "any"``): every
    request goes to exactly t = 3 trustees, decoding interpolates and checks nothing, and the
    shifted score is released. λ_2({1, 2, 3}) = −3, so correct − 9 and errors + 9: every
    invariant holds."""
    committee = Committee(3, 5, keys=keys, robust=True)
    offline = ("trustee-4", "trustee-5")
    rules = committee.rules(pad_sets="any")  # t of n asked: under "checked" trustees refuse
    local, liar = _local(committee, tmp_path, "trustee-2", "robust-3of5-t", rules, offline)
    y, p = binary_data(5, N_ITEMS)
    assert _upload_labels(local, y).state == ReleaseState.VALID
    liar.lies = dict(CONSISTENT)
    assert _submit(local, "alice", p) == "released"
    correct = int(np.count_nonzero(p == y))
    assert local.released()["alice"] == {"correct": correct - 9, "errors": N_ITEMS - correct + 9}
    submission = local.submissions["alice"]
    assert isinstance(submission, SubmissionRelease) and not submission.verified


@dataclasses.dataclass
class Corrected:
    committee: Committee
    local: LocalChallenge
    liar: LyingAgent
    labels: BundleRelease
    outcome: str
    truth: dict[str, int]


@pytest.fixture(scope="module")
def corrected(keys, tmp_path_factory) -> Corrected:
    """3-of-7, every trustee asked: trustee-4 lies in V of both bundles (validity:0 + 1) and in
    the score (correct + 5), and every lie is corrected. Named after the labels' round 1, it
    still answers alice's submission, whose pads were asked of it before."""
    committee = Committee(3, 7, keys=keys, robust=True)
    tmp = tmp_path_factory.mktemp("corrected")
    local, liar = _local(committee, tmp, "trustee-4", "robust-3of7")
    first = validity_names(BFV8192)[0]
    liar.lie_on = ("validity/v1", "score/v1")
    y, p = binary_data(6, N_ITEMS)
    # alice asks for pads before the labels' round 1 names trustee-4: her pad set holds it
    local.enrol("alice", Identity.generate())
    pads = local.pads("predictions", "alice")
    liar.lies = {first: 1}
    labels = _upload_labels(local, y)
    liar.lies = {first: 1, "correct": 5}
    context = local.context
    bundle = encrypt_predictions(p, context.public, classes=2, challenge="robust-3of7", pads=pads)
    outcome = local.submit("alice", bundle)
    correct = int(np.count_nonzero(p == y))
    return Corrected(
        committee, local, liar, labels, outcome, {"correct": correct, "errors": N_ITEMS - correct}
    )


def test_a_corrected_liar_is_named_and_the_exact_values_released(corrected):
    committee, local, labels = corrected.committee, corrected.local, corrected.labels
    assert len(corrected.liar.lied) == 3  # V of the labels, V of the predictions, the score
    assert labels.state == ReleaseState.VALID and corrected.outcome == "released"
    assert local.released() == {"alice": corrected.truth}
    submission = local.submissions["alice"]
    assert isinstance(submission, SubmissionRelease)
    assert submission.verified
    assert [named.report.trustee_id for named in submission.liars] == ["trustee-4"]
    (validity,) = [d for d in labels.decodings.values() if d.request_id.endswith(":validity")]
    assert validity.verified and [n.report.trustee_id for n in validity.liars] == ["trustee-4"]
    assert all(d.verified for d in labels.decodings.values())
    assert len(labels.decodings) == labels.bundle.layout.ciphertexts + 1  # noise checks and V
    # every report re-runs from exactly the partials it names and the recomputed ciphertext
    machines = [
        (labels, rid)
        for rid in labels.decodings
        if labels.decodings[rid].liars  # V only: the noise checks were answered honestly
    ] + [(submission.predictions, rid) for rid in submission.predictions.decodings]
    reports = []
    for release, rid in machines:
        for named in release.decodings[rid].liars:
            parts = list(release.partials[rid].values())
            named.report.check(committee.record, release.ciphertexts[rid], parts)
            reports.append(named.report)
    assert submission.aggregate is not None
    (score_liar,) = submission.liars
    score_liar.report.check(
        committee.record, submission.aggregate, list(submission.partials.values())
    )
    reports.append(score_liar.report)
    assert [(r.finding, r.trustee_id, len(r.answers)) for r in reports] == [
        ("off-polynomial", "trustee-4", 7)
    ] * 3
    assert score_liar.partial == submission.partials["trustee-4"]
    # a report of another trustee does not re-run
    framed = dataclasses.replace(score_liar.report, trustee_id="trustee-5")
    with pytest.raises(Exception, match="does not find 'trustee-5'"):
        framed.check(committee.record, submission.aggregate, list(submission.partials.values()))


def test_each_report_is_logged_once_and_restore_re_derives_it(corrected, tmp_path):
    local, labels = corrected.local, corrected.labels
    liars = _entries(local, "liar")
    assert [(e["trustee"], e["finding"]) for e in liars] == [("trustee-4", "off-polynomial")] * 3
    blobs = {LiarReport.from_bytes(local.transcript.store.blob(e["report"])) for e in liars}
    submission = local.submissions["alice"]
    assert isinstance(submission, SubmissionRelease)
    assert {named.report for named in submission.liars} <= blobs
    # logging the same reports again adds nothing (one entry per report)
    size = local.transcript.log.size
    local.ledger.name_liars(submission.liars)
    assert local.transcript.log.size == size
    restored = SubmissionRelease.restore(
        local.context, submission.predictions, submission.labels, submission.snapshot()
    )
    assert restored.state == ReleaseState.RELEASED and restored.verified
    assert restored.released == submission.released
    assert [n.report for n in restored.liars] == [n.report for n in submission.liars]
    again = BundleRelease.restore(local.context, labels.bundle, labels.snapshot())
    (rid,) = [r for r in labels.decodings if labels.decodings[r].liars]
    assert again.state == ReleaseState.VALID
    assert again.decodings[rid] == labels.decodings[rid]
    # the auditor re-runs every report
    path = tmp_path / "audit.zip"
    local.export_audit_bundle(path)
    report = verify_bundle(path)
    assert report.ok, report.first_failure
    checks = {c.name: c.detail for c in report.checks}
    assert checks["liars"] == "3 liar reports re-run (naming trustee-4)"
    with zipfile.ZipFile(path) as zf:
        assert b'"type":"liar"' in zf.read("log.jsonl")


def test_a_named_liar_is_left_out_of_later_pad_sets(corrected):
    local, liar = corrected.local, corrected.liar
    assert local.ledger.liars == {"trustee-4"}
    assert local.active_set().indices == (1, 2, 3, 5, 6, 7)
    liar.lies = {"correct": 5}
    _, p = binary_data(9, N_ITEMS)
    assert _submit(local, "bob", p) == "released"
    assert liar.lied[3:] == []  # never asked again
