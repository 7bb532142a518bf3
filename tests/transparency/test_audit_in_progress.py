"""Auditing a live challenge: work under way is reported as in progress, not as a failure —
but only where nothing logged depends on it, and every entry present is checked in full."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cryptoscore import ReleasePolicy, encrypt_labels, encrypt_predictions
from cryptoscore.protocol.release import BundleRelease, SubmissionRelease
from cryptoscore.verify import CHECKS, verify_bundle
from cryptoscore_cli.main import AUDIT_IN_PROGRESS, main
from tests.helpers.committee import Committee

CHALLENGE = "live"
N_ITEMS = 300
KEY = Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def stages(tmp_path_factory) -> dict[str, Path]:
    """Audit bundles of one submission's life, exported at each stage."""
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

    bundle = encrypt_predictions(
        y, context.public, classes=2, challenge=CHALLENGE, pads=local.pads("predictions", "alice")
    )
    local._record_upload(bundle, "alice", local.participants["alice"])
    export("uploaded")
    release = BundleRelease(context, bundle)
    first, second = local._ids(release.active)
    for tid in (first, second):
        contribution = local.trustees[tid].agent.contribute(context, bundle.digest, local._log(tid))
        release.add_contribution(contribution)
        local.transcript.record_contribution(bundle.digest, contribution)
        if tid == first:
            export("one-contribution")
    requests = release.start("round1-alice")
    for request in requests:
        local.transcript.record_request(request, 1)
    local.sign_head()
    evidence = {bundle.digest: release.evidence()}
    release.add_partial(local._answer(first, requests[0], {bundle.digest: bundle}, evidence))
    export("noise-half-answered")
    for request in requests:
        for tid in (first, second):
            if (request, tid) != (requests[0], first):
                partial = local._answer(tid, request, {bundle.digest: bundle}, evidence)
                release.add_partial(partial)
    requests = release.advance()  # V
    while requests:
        for request in requests:
            local.transcript.record_request(request, 1)
            local.sign_head()
            evidence = {bundle.digest: release.evidence()}  # the noise checks' partials
            for tid in (first, second):
                partial = local._answer(tid, request, {bundle.digest: bundle}, evidence)
                release.add_partial(partial)
        requests = release.advance()
    local.transcript.record_round1(bundle.digest, release.state, release.reason)
    assert release.state == "valid"
    export("valid")
    sub = SubmissionRelease(context, release, local.labels)
    request = sub.start("round2-alice", local.active_set())
    local.transcript.record_request(request, 2)
    local.sign_head()
    bundles = {bundle.digest: bundle, local.labels.bundle.digest: local.labels.bundle}
    both = {bundle.digest: release.evidence(), local.labels.bundle.digest: local.labels.evidence()}
    ids = local._ids(request.active_set)
    sub.add_partial(local._answer(ids[0], request, bundles, both))
    export("scoring")
    sub.add_partial(local._answer(ids[1], request, bundles, both))
    values = sub.finish()
    local.transcript.record_release(
        bundle.digest, local.labels.bundle.digest, request.request_id, values
    )
    export("released")
    return out


@pytest.mark.parametrize(
    ("stage", "waiting"),
    [
        ("uploaded", ["0 of 2 round-1 contributions", "round 1 has no verdict yet"]),
        ("one-contribution", ["1 of 2 round-1 contributions", "round 1 has no verdict yet"]),
        ("noise-half-answered", ["1 of 2 partials", "round 1 has no verdict yet"]),
        ("valid", ["valid, not yet released (no score)"]),
        ("scoring", ["round2-alice: 1 of 2 partials", "valid, not yet released (score request"]),
    ],
)
def test_live_challenge_is_in_progress_not_failed(stages, stage, waiting):
    report = verify_bundle(stages[stage])
    assert report.ok, report.first_failure
    assert [c.name for c in report.checks] == list(CHECKS)
    assert not report.complete
    for text in waiting:
        assert any(text in item for item in report.in_progress), (text, report.in_progress)


def test_finished_challenge_is_complete(stages):
    report = verify_bundle(stages["released"])
    assert report.complete and report.in_progress == []


def test_cli_exit_status_tells_in_progress_from_failure(stages, capsys):
    assert main(["audit", str(stages["released"])]) == 0
    with pytest.raises(SystemExit) as waiting:
        main(["audit", str(stages["scoring"])])
    assert waiting.value.code == AUDIT_IN_PROGRESS
    out = capsys.readouterr()
    assert "WAIT  round2-alice: 1 of 2 partials" in out.out
    assert "in progress" in out.err


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _write(path: Path, members: dict[str, bytes], entries: list[dict]) -> Path:
    from cryptoscore.envelope import canonical_json
    from cryptoscore.transparency.log import MerkleLog, sign_tree_head

    raw = [canonical_json(e) for e in entries]
    members["log.jsonl"] = b"".join(r + b"\n" for r in raw)
    log = MerkleLog()
    for r in raw:
        log.append(r)
    manifest = json.loads(members["manifest.json"])
    import time

    sth = sign_tree_head(KEY, manifest["log_id"], log.size, log.root(), int(time.time() * 1000))
    manifest["tree_heads"] = [sth.to_json()]
    members["manifest.json"] = canonical_json(manifest)
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_what_a_verdict_rests_on_must_be_complete(stages, tmp_path):
    """A partial of a decided bundle's noise check dropped: not "in progress" — its verdict
    rests on it. And with the verdict dropped too, V was still asked before that noise check
    was answered: a failure either way."""
    members = _members(stages["valid"])
    entries = [json.loads(line) for line in members["log.jsonl"].split(b"\n") if line]
    noise = next(
        i
        for i, e in enumerate(entries)
        if e["type"] == "partial" and e["request_id"].startswith("round1-alice:noise")
    )
    dropped = entries[:noise] + entries[noise + 1 :]
    report = verify_bundle(_write(tmp_path / "a.zip", dict(members), dropped))
    assert report.first_failure.name == "partials-valid"
    undecided = [e for e in dropped if e["type"] != "round1"]
    report = verify_bundle(_write(tmp_path / "b.zip", dict(members), undecided))
    assert report.first_failure.name == "round1-verdicts"
    assert "before every noise check" in report.first_failure.detail
