"""Auditing a live challenge: work under way is reported as in progress, not as a failure —
but only where nothing logged depends on it, and every entry present is checked in full."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cryptoscore import ReleasePolicy, encrypt_labels, encrypt_predictions
from cryptoscore.protocol.driver import round1_prefix
from cryptoscore.verify import CHECKS, verify_bundle
from cryptoscore_cli.main import AUDIT_IN_PROGRESS, main
from tests.helpers.audit_zip import resigned, write_zip, zip_members
from tests.helpers.committee import Committee

CHALLENGE = "live"
N_ITEMS = 300
KEY = Ed25519PrivateKey.generate()


@dataclass(frozen=True)
class Stages:
    """Audit bundles of one submission's life, exported at each stage, and its score
    request's id."""

    paths: dict[str, Path]
    score_request: str
    noise_checks: str
    """The prefix of the submission's noise-check request ids."""


@pytest.fixture(scope="module")
def stages(tmp_path_factory) -> Stages:
    """The service's steps (``protocol/driver.py``) run one at a time, the trustees answering
    in between, with an export wherever the log shows work under way."""
    tmp = tmp_path_factory.mktemp("live")
    committee = Committee(2, 3)
    context = committee.context(CHALLENGE, ReleasePolicy(2, ("correct",)), N_ITEMS)
    local = committee.local_challenge(context, tmp, KEY, participants=("alice",))
    y = np.random.default_rng(4).integers(0, 2, N_ITEMS)
    local.upload_labels(
        encrypt_labels(y, context.public, classes=2, challenge=CHALLENGE, pads=local.pads("labels"))
    )
    out: dict[str, Path] = {}

    def export(name: str) -> None:
        local.sign_head()
        out[name] = tmp / f"{name}.zip"
        local.export_audit_bundle(out[name])

    def run(step) -> None:
        assert step is not None
        local.driver.run(*step)

    bundle = encrypt_predictions(
        y, context.public, classes=2, challenge=CHALLENGE, pads=local.pads("predictions", "alice")
    )
    digest = bundle.digest
    local._upload(bundle, "alice", local.participants["alice"])
    export("uploaded")
    release = local.ledger.round1(digest)
    first, second = local._agents(release.active)
    for agent in (first, second):
        contribution = agent.contribute(context, digest, local._log(agent.trustee_id))
        release.add_contribution(contribution)
        local.transcript.record_contribution(digest, contribution)
        if agent is first:
            export("one-contribution")
    run(("round1_start", digest))
    request = next(iter(release.requests.values()))
    evidence = {digest: release.evidence()}
    release.add_partial(local._answer(first, request, {digest: bundle}, evidence))
    export("noise-half-answered")
    run(local._answer_open(digest))  # the noise checks: passed, V asked
    run(local._answer_open(digest))  # V: valid
    assert release.state == "valid"
    export("valid")
    run(("round2_start", digest))
    score = local.ledger.round2(digest)
    assert score is not None and score.request is not None
    labels = local.labels
    assert labels is not None
    bundles = {digest: bundle, labels.bundle.digest: labels.bundle}
    both = {digest: release.evidence(), labels.bundle.digest: labels.evidence()}
    score.add_partial(local._answer(first, score.request, bundles, both))
    export("scoring")
    run(local._answer_open(digest))
    assert local.ledger.status(digest).state == "released"
    export("released")
    return Stages(out, score.request.request_id, round1_prefix(CHALLENGE, digest) + ":noise")


@pytest.mark.parametrize(
    ("stage", "waiting"),
    [
        ("uploaded", ["0 of 2 round-1 contributions", "round 1 has no verdict yet"]),
        ("one-contribution", ["1 of 2 round-1 contributions", "round 1 has no verdict yet"]),
        ("noise-half-answered", ["1 of 2 partials", "round 1 has no verdict yet"]),
        ("valid", ["valid, not yet released (no score)"]),
        ("scoring", ["{score}: 1 of 2 partials", "valid, not yet released (score request"]),
    ],
)
def test_live_challenge_is_in_progress_not_failed(stages, stage, waiting):
    report = verify_bundle(stages.paths[stage])
    assert report.ok, report.first_failure
    assert [c.name for c in report.checks] == list(CHECKS)
    assert not report.complete
    for text in (t.format(score=stages.score_request) for t in waiting):
        assert any(text in item for item in report.in_progress), (text, report.in_progress)


def test_finished_challenge_is_complete(stages):
    report = verify_bundle(stages.paths["released"])
    assert report.complete and report.in_progress == []


def test_cli_exit_status_tells_in_progress_from_failure(stages, capsys):
    assert main(["audit", str(stages.paths["released"])]) == 0
    with pytest.raises(SystemExit) as waiting:
        main(["audit", str(stages.paths["scoring"])])
    assert waiting.value.code == AUDIT_IN_PROGRESS
    out = capsys.readouterr()
    assert f"WAIT  {stages.score_request}: 1 of 2 partials" in out.out
    assert "in progress" in out.err


_members = zip_members


def _write(path: Path, members: dict[str, bytes], entries: list[dict]) -> Path:
    return write_zip(path, resigned(members, entries, KEY))


def test_what_a_verdict_rests_on_must_be_complete(stages, tmp_path):
    """A partial of a decided bundle's noise check dropped: not "in progress" — its verdict
    rests on it. And with the verdict dropped too, V was still asked before that noise check
    was answered: a failure either way."""
    members = _members(stages.paths["valid"])
    entries = [json.loads(line) for line in members["log.jsonl"].split(b"\n") if line]
    noise = next(
        i
        for i, e in enumerate(entries)
        if e["type"] == "partial" and e["request_id"].startswith(stages.noise_checks)
    )
    dropped = entries[:noise] + entries[noise + 1 :]
    report = verify_bundle(_write(tmp_path / "a.zip", dict(members), dropped))
    assert report.first_failure.name == "partials-valid"
    undecided = [e for e in dropped if e["type"] != "round1"]
    report = verify_bundle(_write(tmp_path / "b.zip", dict(members), undecided))
    assert report.first_failure.name == "round1-verdicts"
    assert "before every noise check" in report.first_failure.detail
