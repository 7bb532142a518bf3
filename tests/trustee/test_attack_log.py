"""A malicious service against trustees that follow the challenge's log (issue 11).

The service runs an honest challenge in one process (``LocalChallenge``), then tries, as
issue 11's attacker did, to use the trustees as an oracle: a request it never logged, a
request naming a bundle the log does not hold, a self-made labels bundle to score a victim's
predictions against, a second score of one submission, and a forked log. Each is refused by
the trustee agent before its share is read or its journal written.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cryptoscore import ReleasePolicy, encrypt_labels, encrypt_predictions
from cryptoscore.errors import RefusedError
from cryptoscore.local import LocalChallenge
from cryptoscore.protocol.release import BundleRelease, SubmissionRelease
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.combine import rerandomize
from cryptoscore.transparency.replica import ForkedLogError
from cryptoscore.transparency.transcript import Transcript
from tests.helpers.committee import Committee

CHALLENGE = "log-rules"
N_ITEMS = 400
POLICY = ReleasePolicy(2, ("correct",))
SERVICE_KEY = Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def committee():
    return Committee(2, 3)


@dataclasses.dataclass
class Story:
    local: LocalChallenge
    alice: str
    journals: Path
    y: np.ndarray

    def journal(self, tid: str) -> bytes:
        path = self.journals / f"{tid}.journal"
        return path.read_bytes() if path.exists() else b""

    def log(self, tid: str):
        return self.local._log(tid)


@pytest.fixture
def story(committee, tmp_path) -> Story:
    context = committee.context(CHALLENGE, POLICY, N_ITEMS)
    local = committee.local_challenge(context, tmp_path, SERVICE_KEY, participants=("alice",))
    alice, y, p = committee.one_submission(local, "alice", 3)
    assert local.released()["alice"] == {"correct": int(np.count_nonzero(p == y))}
    return Story(local, alice.digest, tmp_path, y)


def _alice_r1(story: Story):
    sub = story.local.submissions["alice"]
    assert isinstance(sub, SubmissionRelease)
    return sub.predictions


def _score_request(story: Story, labels, request_id: str, active=None):
    sub = SubmissionRelease(story.local.context, _alice_r1(story), labels)
    return sub, sub.start(request_id, active or story.local.active_set())


def _inputs(story: Story, *releases):
    """Bundles and round-1 evidence of the releases a request names (what a service sends)."""
    releases = releases or (_alice_r1(story), story.local.labels)
    return (
        {r.bundle.digest: r.bundle for r in releases},
        {r.bundle.digest: r.evidence() for r in releases},
    )


def _refused(story: Story, tid: str, request, bundles, evidence, match: str, share_reads):
    before = story.journal(tid)
    share_reads.clear()
    with pytest.raises(RefusedError, match=match):
        story.local.trustees[tid].agent.answer(
            request, story.local.context, bundles, evidence, story.log(tid)
        )
    assert share_reads == []
    assert story.journal(tid) == before


def test_a_request_the_log_does_not_hold_is_refused(committee, tmp_path, share_reads):
    """Alice's score again, re-randomized, of the two trustees of a 2-of-4 committee that did
    not answer it (their journals allow it), and never logged: an extra decryption the
    service hoped no auditor would see."""
    story = _story_with(committee_4(committee), tmp_path)
    local = story.local
    sub = local.submissions["alice"]
    assert isinstance(sub, SubmissionRelease) and sub.aggregate is not None
    others = ActiveSet.of(local.context.record, ["trustee-3", "trustee-4"])
    _, request = _score_request(story, local.labels, "hidden", others)
    seed = os.urandom(32)
    again = rerandomize(sub.aggregate, local.context.public, seed)
    hidden = dataclasses.replace(
        request, rerandomize_seed=seed, ciphertext_digest=again.ciphertext_digest
    )
    bundles, evidence = _inputs(story)
    _refused(story, "trustee-3", hidden, bundles, evidence, "not in the challenge's", share_reads)


def test_self_made_labels_are_never_scored_against(story, share_reads):
    """Issue 11's oracle: the service makes its own "labels" (a unit vector e_k), runs an
    honest round 1 on them — it must log them for that — and asks the score of the victim's
    predictions against them, one bit of the victim's predictions per query. Even signed with
    the organizer's own key (``test_attack_inputs.py`` refuses any other signer), a second
    labels bundle is never scored against."""
    local = story.local
    e_k = np.zeros(N_ITEMS, dtype=np.int64)
    e_k[7] = 1
    fake = encrypt_labels(
        e_k, local.context.public, classes=2, challenge=CHALLENGE, pads=local.pads("labels")
    )
    local._upload(fake, "organizer", local.organizer)  # logged, signed by the organizer
    local._drive(fake.digest)  # an honest round 1 on it
    fake_r1 = local.ledger.round1(fake.digest)
    assert fake_r1.state == "valid"
    _, request = _score_request(story, fake_r1, "oracle-1")
    local.transcript.record_request(request, 2)
    local.sign_head()
    bundles, evidence = _inputs(story, _alice_r1(story), fake_r1)
    _refused(story, "trustee-1", request, bundles, evidence, "one labels bundle", share_reads)


def test_a_second_score_of_one_submission_is_refused(committee, tmp_path, share_reads):
    """In a 2-of-4 committee the service asks alice's score again of the two trustees that did
    not answer it (their journals allow it: another active set, their own first answer) and
    logs the second request, so every trustee sees it: each submission is scored once."""
    story = _story_with(committee_4(committee), tmp_path)
    local = story.local
    first = local.submissions["alice"]
    assert isinstance(first, SubmissionRelease) and first.request is not None
    others = ActiveSet.of(local.context.record, ["trustee-3", "trustee-4"])
    assert set(others.indices).isdisjoint(first.request.active_set.indices)
    _, second = _score_request(story, local.labels, "second-score", others)
    local.transcript.record_request(second, 2)
    local.sign_head()
    bundles, evidence = _inputs(story)
    _refused(story, "trustee-3", second, bundles, evidence, "scored once", share_reads)


def test_an_input_the_log_does_not_hold_is_refused(story, share_reads):
    """A bundle the service never logged: no contribution to it, no round 1 of it."""
    local = story.local
    ghost = encrypt_predictions(
        np.zeros(N_ITEMS, dtype=np.int64),
        local.context.public,
        classes=2,
        challenge=CHALLENGE,
        pads=local.pads("predictions", "alice"),
    )
    agent = local.trustees["trustee-1"].agent
    with pytest.raises(RefusedError, match="not in the challenge's log"):
        agent.contribute(local.context, ghost.digest, story.log("trustee-1"))
    release = BundleRelease(local.context, ghost)
    for tid in ("trustee-1", "trustee-2"):  # contributions from trustees not following the log
        unguarded = dataclasses.replace(local.trustees[tid].agent, follows_log=False)
        release.add_contribution(unguarded.contribute(local.context, ghost.digest))
    (noise, *_) = release.start("ghost")
    local.transcript.record_request(noise, 1)  # the request is logged, its bundle is not
    local.sign_head()
    _refused(
        story,
        "trustee-1",
        noise,
        {ghost.digest: ghost},
        {},
        "input .* is not in the challenge's log",
        share_reads,
    )


def test_a_forked_log_is_refused(story):
    """The service shows a trustee a log that does not extend the one it followed: the same
    log id and key, the entries rewritten (alice's upload dropped). Nothing is stored."""
    local = story.local
    follower = local.trustees["trustee-1"].agent
    followed = story.log("trustee-1")
    size = followed.size
    fork = Transcript(CHALLENGE, SERVICE_KEY, local.transcript.log_id)
    for raw in local.transcript.entries:
        if story.alice not in raw.decode():
            fork.append(json.loads(raw))
    for i in range(size - fork.log.size + 1):  # longer than what the trustee holds
        filler = {"type": "round1", "bundle": f"{i:064x}", "verdict": "valid", "reason": ""}
        fork.append(filler)
    fork.sign_head(1)
    key = SERVICE_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    with pytest.raises(ForkedLogError, match="forked log"):
        follower.follow(fork, CHALLENGE, key)
    assert story.log("trustee-1").size == size  # the honest log still follows
    other_key = (
        Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    restarted = dataclasses.replace(follower, _logs={})
    with pytest.raises(ForkedLogError, match="another log id or log key"):
        restarted.follow(local.transcript, CHALLENGE, other_key)


# -- helpers --------------------------------------------------------------------------------
_FOUR: dict[int, Committee] = {}


def committee_4(_committee: Committee) -> Committee:
    if 4 not in _FOUR:
        _FOUR[4] = Committee(2, 4)
    return _FOUR[4]


def _story_with(committee: Committee, tmp_path) -> Story:
    context = committee.context(CHALLENGE, POLICY, N_ITEMS)
    local = committee.local_challenge(
        context, tmp_path / "j4", SERVICE_KEY, participants=("alice",)
    )
    gen = np.random.default_rng(4)
    y = gen.integers(0, 2, N_ITEMS)
    local.upload_labels(
        encrypt_labels(y, context.public, classes=2, challenge=CHALLENGE, pads=local.pads("labels"))
    )
    alice = encrypt_predictions(
        y, context.public, classes=2, challenge=CHALLENGE, pads=local.pads("predictions", "alice")
    )
    assert local.submit("alice", alice) == "released"
    return Story(local, alice.digest, tmp_path / "j4", y)
