"""The auditor's ``decoding`` check (docs/audit.md, check 14a): every decision of a Shamir-answer
record re-decoded from its logged partials with no answer off the polynomial, and equal to the
log; verified where at least 2t − 1 trustees answered, "not checked" where fewer did; a lying
partial — validly signed by its trustee — fails it, naming that trustee and the request."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cryptoscore import BFV8192, ReleasePolicy, generate_keys
from cryptoscore.protocol.ladder import LadderRule
from cryptoscore.protocol.recompute import recompute
from cryptoscore.protocol.requests import DecryptionRequest
from cryptoscore.threshold.partial import PartialDecryption
from cryptoscore.verify import CHECKS, verify_bundle
from cryptoscore.verify.audit_bundle import read_bundle
from cryptoscore_cli.main import main
from tests.helpers.audit_zip import log_entries, resigned, write_zip, zip_members
from tests.helpers.committee import Committee, weighted_submission
from tests.helpers.every_trustee import EveryTrusteeChallenge
from tests.helpers.lying_trustee import shifted_partial
from tests.protocol.test_split_release import Split

N_ITEMS = 3000
SERVICE_KEY = Ed25519PrivateKey.generate()
POLICY = ReleasePolicy(2, ("correct", "errors"))


@pytest.fixture(scope="module")
def keys():
    return generate_keys(BFV8192)


def _every_trustee(keys, tmp: Path, t: int, n: int, participants: tuple[str, ...]):
    """A t-of-n challenge of Shamir answers whose every trustee answers every request, with
    ``participants`` enrolled."""
    committee = Committee(t, n, keys=keys, robust=True)
    context = committee.context(f"every-{t}of{n}", POLICY, N_ITEMS)
    local = committee.local_challenge(
        context, tmp, SERVICE_KEY, participants=participants, challenge=EveryTrusteeChallenge
    )
    return committee, context, local


@pytest.fixture(scope="module")
def every(keys, tmp_path_factory):
    """3-of-5, every trustee answers every request (m = 5 = 2t − 1): labels and alice's
    submission released, mallory's weighted one invalid (V non-zero)."""
    tmp = tmp_path_factory.mktemp("every")
    committee, context, local = _every_trustee(keys, tmp, 3, 5, ("alice", "mallory"))
    committee.one_submission(local, "alice", 11)
    assert local.submit("mallory", weighted_submission(local, "mallory")) == "invalid"
    path = tmp / "audit.zip"
    local.export_audit_bundle(path)
    return committee, context, path


def _detail(report, name: str) -> str:
    return next(c.detail for c in report.checks if c.name == name)


def test_an_honest_bundle_of_every_trustees_answers_is_verified(every):
    _, _, path = every
    members = zip_members(path)
    partials = [e for e in log_entries(members) if e["type"] == "partial"]
    # labels and alice: a noise check and V each, alice's score; mallory: noise check and V
    assert len(partials) == 7 * 5
    report = verify_bundle(path)
    assert report.ok, report.first_failure
    assert [c.name for c in report.checks] == list(CHECKS)
    assert _detail(report, "decoding") == (
        "7 decisions decode with no answer off the polynomial and equal the log; 7 verified "
        "(answered by at least 2t − 1 = 5 trustees); not checked: 0 decisions answered by "
        "fewer than 2t − 1 trustees"
    )


def _lie(path: Path, tmp_path: Path, committee, context, circuit: str, liar: str) -> Path:
    """The bundle with ``liar``'s partial of the first ``circuit`` request shifted by Δ·1 at
    the request's first aggregate position (a count by 1, V off 0, a masked noise-check
    coefficient), re-signed by
    the liar (its signature holds) and logged in place of the honest one (the service re-signs
    its head)."""
    members = zip_members(path)
    entries = log_entries(members)
    request = next(
        DecryptionRequest.from_bytes(members[f"blobs/{e['request']}"])
        for e in entries
        if e["type"] == "request" and e["circuit"] == circuit
    )
    entry = next(
        e
        for e in entries
        if e["type"] == "partial" and e["request_id"] == request.request_id and e["trustee"] == liar
    )
    aggregate = recompute(request, context, read_bundle(path).bundles)
    honest = PartialDecryption.from_bytes(members[f"blobs/{entry['partial']}"])
    lie = shifted_partial(honest, committee.identity(liar), aggregate.positions[0], 1)
    members[f"blobs/{lie.digest}"] = lie.to_bytes()
    entry["partial"] = lie.digest
    return write_zip(tmp_path / f"{liar}.zip", resigned(members, entries, SERVICE_KEY))


@pytest.mark.parametrize(
    ("circuit", "liar"),
    [("score/v1", "trustee-4"), ("validity/v1", "trustee-2"), ("noise/v1", "trustee-5")],
    ids=["score-outside-the-set", "v-inside-the-set", "noise-check"],
)
def test_a_lying_partial_fails_decoding_naming_its_trustee(every, tmp_path, circuit, liar):
    """One trustee's answer moved by Δ (a count by 1, V off 0, a noise check), signed by it: the
    signatures, the recomputation and the lineage rules all hold, and the decoding check names
    the liar — the one suspect at 3-of-5 — and the request."""
    committee, context, path = every
    lied = _lie(path, tmp_path, committee, context, circuit, liar)
    report = verify_bundle(lied)
    failure = report.first_failure
    assert failure is not None and failure.name == "decoding", failure
    passed = [c.name for c in report.checks if c.passed]
    assert passed == list(CHECKS[: CHECKS.index("decoding")])
    assert failure.detail.endswith(f"suspects: {liar}")
    assert "the 5 answers lie on no one polynomial" in failure.detail


def test_the_cli_prints_the_decoding_line(every, capsys):
    _, _, path = every
    main(["audit", "-q", str(path)])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["PASS", name] for name in CHECKS]
    decoding = next(line for line in lines if line.split()[1] == "decoding")
    assert decoding.split(None, 2)[2].startswith("7 decisions decode with no answer off")


@pytest.fixture(scope="module")
def corrected(keys, tmp_path_factory):
    """2-of-4, every trustee answers (m = 4: the decoder corrects one liar, radius 1)."""
    tmp = tmp_path_factory.mktemp("corrected")
    committee, context, local = _every_trustee(keys, tmp, 2, 4, ("alice",))
    committee.one_submission(local, "alice", 12)
    path = tmp / "audit.zip"
    local.export_audit_bundle(path)
    return committee, context, path


def test_a_lie_the_decoder_corrects_unreported_fails_decoding(corrected, tmp_path):
    """At 2-of-4 the combiner's decoder corrects one wrong answer: the released count is right,
    so re-combining (release-values) sees nothing. A log that names no liar for it fails the
    decoding check, naming the liar and the request: a combiner that hides a corrected lie is
    caught (a logged one passes: tests/server/test_attack_lying_trustee_http.py, the 2-of-4
    case, and tests/protocol/test_attack_lying_trustee_robust.py, 3-of-7). Without the check
    the bundle verifies."""
    committee, context, path = corrected
    assert verify_bundle(path).ok
    lied = _lie(path, tmp_path, committee, context, "score/v1", "trustee-3")
    report = verify_bundle(lied)
    failure = report.first_failure
    assert failure is not None and failure.name == "decoding", failure
    entries = log_entries(zip_members(lied))
    request_id = next(e["request_id"] for e in entries if e["type"] == "release")
    assert failure.detail == (
        f"{request_id}: the answer of trustee-3 is off the polynomial the other answers "
        "decode to (a lie, corrected) and the log names no liar for it"
    )


def test_without_the_check_a_corrected_lie_goes_unseen(corrected, tmp_path, monkeypatch):
    """Control: the same bundle passes every other check (so the test above can fail)."""
    import cryptoscore.verify as verify

    committee, context, path = corrected
    lied = _lie(path, tmp_path, committee, context, "score/v1", "trustee-3")
    monkeypatch.setattr(verify, "CHECKS", tuple(c for c in CHECKS if c != "decoding"))
    assert verify.verify_bundle(lied).ok


@pytest.fixture(scope="module")
def at_threshold(keys, tmp_path_factory):
    """2-of-3 under the Ladder with trustee-3 offline (``pad_sets: "any"``: under "checked"
    the trustees refuse a pad set of t): m = t = 2 answers per request."""
    committee = Committee(2, 3, keys=keys, robust=True)
    rules = committee.rules(ladder=LadderRule(3), pad_sets="any")
    context = committee.context("at-t", POLICY, N_ITEMS, rules)
    tmp = tmp_path_factory.mktemp("at-t")
    local = committee.local_challenge(
        context, tmp, SERVICE_KEY, ["trustee-3"], participants=("alice",)
    )
    committee.one_submission(local, "alice", 13)
    public, restricted = tmp / "public.zip", tmp / "restricted.zip"
    local.export_audit_bundle(public)
    local.export_audit_bundle(restricted, restricted=True)
    return public, restricted


def test_answers_of_t_trustees_are_not_checked(at_threshold):
    """m = t: decoding has no redundancy. Every decision is counted as not checked; the public
    Ladder bundle withholds the score's partials, and the detail says so."""
    public, restricted = at_threshold
    report = verify_bundle(restricted)
    assert report.ok, report.first_failure
    assert _detail(report, "decoding") == (
        "5 decisions decode with no answer off the polynomial and equal the log; 0 verified "
        "(answered by at least 2t − 1 = 3 trustees); not checked: 5 decisions answered by "
        "fewer than 2t − 1 trustees"
    )
    report = verify_bundle(public)
    assert report.ok, report.first_failure
    assert _detail(report, "decoding") == (
        "4 decisions decode with no answer off the polynomial and equal the log; 0 verified "
        "(answered by at least 2t − 1 = 3 trustees); not checked: 4 decisions answered by "
        "fewer than 2t − 1 trustees; not decoded: 1 score decisions whose partials this "
        "public Ladder bundle withholds (the restricted bundle holds them)"
    )


def test_a_splits_private_scores_are_decoded_too(keys, tmp_path):
    """A public/private split (docs/design.md, "Public/private split"), 2-of-3, every trustee
    answering: the labels' 6 noise checks and V, alice's 3 and V, her public score and, after
    the close, her private score — 13 decisions, each verified (m = 3 = 2t − 1)."""
    split = Split(
        Committee(2, 3, keys=keys, robust=True), tmp_path, challenge=EveryTrusteeChallenge
    )
    predictions = np.random.default_rng(9).integers(0, 3, split.local.context.n)
    digest = split.submit("alice", predictions)
    split.clock.pass_close()
    assert split.local.close() == {"alice": {digest: split.part(predictions, ~split.public)}}
    split.local.export_audit_bundle(tmp_path / "split.zip")
    report = verify_bundle(tmp_path / "split.zip")
    assert report.ok, report.first_failure
    assert _detail(report, "decoding") == (
        "13 decisions decode with no answer off the polynomial and equal the log; 13 verified "
        "(answered by at least 2t − 1 = 3 trustees); not checked: 0 decisions answered by "
        "fewer than 2t − 1 trustees"
    )
