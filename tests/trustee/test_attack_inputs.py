"""A malicious service against trustees that check who signed each input (issue 11).

The service logs whatever it likes, signs its heads and asks the trustees; the inputs it can
make itself carry its own signatures, not the organizer's or an enrolled participant's. Each
attack is refused by the trustee agent before its share is read or its journal written:

* self-made labels (signed by a key of the service's, not the organizer's);
* self-made predictions (signed by an identity that never enrolled; or, in an invite-only
  challenge, by one the service enrolled without an invitation; or, in an open challenge with
  a cap, by one the service enrolled beyond it);
* a pad request with no valid signature of its requester, and one in a participant's name;
* a participant over its daily quota of submissions, or of pad requests, counted from the log;
* a description of the challenge whose rules are not the logged definition's;
* log times that go backwards, and heads from the trustee's future.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cryptoscore import ReleasePolicy, encrypt_labels, encrypt_predictions
from cryptoscore.errors import RefusedError
from cryptoscore.identity import Identity
from cryptoscore.local import LocalChallenge
from cryptoscore.protocol.rules import DAY_MS
from cryptoscore.protocol.signed_inputs import Enrolment, sign_pad_request, sign_upload
from cryptoscore.threshold.pad_shares import PadKey
from cryptoscore.transparency.replica import ForkedLogError
from cryptoscore.transparency.transcript import Transcript
from tests.helpers.committee import Committee

CHALLENGE = "input-rules"
N_ITEMS = 300
POLICY = ReleasePolicy(2, ("correct",))
SERVICE_KEY = Ed25519PrivateKey.generate()
SERVICE_PUBLIC = SERVICE_KEY.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


@pytest.fixture(scope="module")
def committee():
    return Committee(2, 3)


class Clock:
    """The service's clock, in ms, starting two days ago (so tests can move it a day on)."""

    def __init__(self) -> None:
        self.now = int(time.time() * 1000) - 2 * DAY_MS

    def __call__(self) -> int:
        self.now += 1
        return self.now


def _challenge(committee, tmp_path: Path, **rules) -> tuple[LocalChallenge, Clock]:
    clock = Clock()
    context = committee.context(CHALLENGE, POLICY, N_ITEMS, committee.rules(**rules))
    local = committee.local_challenge(
        context, tmp_path, SERVICE_KEY, participants=("alice",), clock=clock
    )
    y = np.random.default_rng(1).integers(0, 2, N_ITEMS)
    local.upload_labels(
        encrypt_labels(y, context.public, classes=2, challenge=CHALLENGE, pads=local.pads("labels"))
    )
    assert local.labels is not None and local.labels.state == "valid"
    return local, clock


def _predictions(local: LocalChallenge, who: str = "alice"):
    y = np.random.default_rng(2).integers(0, 2, N_ITEMS)
    return encrypt_predictions(
        y, local.context.public, classes=2, challenge=CHALLENGE, pads=local.pads("predictions", who)
    )


def _journals(tmp_path: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(tmp_path.glob("*.journal"))}


def _refused(
    local: LocalChallenge, tmp_path: Path, share_reads, match: str, act: Callable[[], object]
) -> None:
    """``act`` is refused with ``match`` before any share is read or journal written."""
    before = _journals(tmp_path)
    share_reads.clear()
    with pytest.raises(RefusedError, match=match):
        act()
    assert share_reads == []
    assert _journals(tmp_path) == before


def _log_bundle(local: LocalChallenge, bundle, owner: str, signer: Identity) -> None:
    """The service logs ``bundle`` as signed by ``signer`` (whoever that is)."""
    signature = sign_upload(signer, CHALLENGE, bundle.header.kind, bundle.digest)
    local.transcript.record_bundle(bundle, owner, signer.public_key, signature, local.clock())
    local.sign_head()


def _contribute(local: LocalChallenge, digest: str, tid: str = "trustee-1"):
    return local.trustees[tid].agent.contribute(local.context, digest, local._log(tid))


def _enrol_anyway(local: LocalChallenge, name: str, identity: Identity) -> None:
    """A malicious service logs ``identity``'s (valid, self-signed) enrolment all the same."""
    local.transcript.record_enrolment(Enrolment.sign(identity, CHALLENGE, name))
    local.participants[name] = identity
    local.sign_head()


def _submission_refused(
    local: LocalChallenge, tmp_path: Path, share_reads, pads_of: str, name: str, match: str
) -> None:
    """Predictions encrypted with ``pads_of``'s pads, logged as signed by ``name``: no
    trustee contributes to them."""
    bundle = _predictions(local, pads_of)
    _log_bundle(local, bundle, name, local.participants[name])
    _refused(local, tmp_path, share_reads, match, lambda: _contribute(local, bundle.digest))


def test_self_made_labels_are_refused(committee, tmp_path, share_reads):
    """Issue 11's oracle, before the organizer's upload: the service logs "labels" it made
    (a unit vector), signed with a key of its own, and starts their round 1. No trustee
    contributes, so they are never checked, never valid, never scored against."""
    clock = Clock()
    context = committee.context(CHALLENGE, POLICY, N_ITEMS)
    local = committee.local_challenge(context, tmp_path, SERVICE_KEY, clock=clock)
    e_k = np.zeros(N_ITEMS, dtype=np.int64)
    e_k[3] = 1
    fake = encrypt_labels(
        e_k, context.public, classes=2, challenge=CHALLENGE, pads=local.pads("labels")
    )
    _log_bundle(local, fake, "organizer", Identity.generate())
    _refused(
        local,
        tmp_path,
        share_reads,
        "not signed by the challenge's organizer key",
        lambda: _contribute(local, fake.digest),
    )


def test_self_made_predictions_are_refused(committee, tmp_path, share_reads):
    """The service makes predictions of its own (to read the labels bit by bit) and signs
    them with an identity that never enrolled."""
    local, _ = _challenge(committee, tmp_path)
    forged = _predictions(local)
    _log_bundle(local, forged, "alice", Identity.generate())
    _refused(
        local,
        tmp_path,
        share_reads,
        "is not enrolled",
        lambda: _contribute(local, forged.digest),
    )


def test_predictions_signed_over_another_bundle_are_refused(committee, tmp_path, share_reads):
    """Alice's genuine signature, moved onto a bundle the service made."""
    local, _ = _challenge(committee, tmp_path)
    genuine = _predictions(local)
    forged = _predictions(local)
    signature = sign_upload(local.participants["alice"], CHALLENGE, "predictions", genuine.digest)
    alice = local.participants["alice"].public_key
    local.transcript.record_bundle(forged, "alice", alice, signature, local.clock())
    local.sign_head()
    _refused(
        local,
        tmp_path,
        share_reads,
        "signature does not verify",
        lambda: _contribute(local, forged.digest),
    )


def test_an_uninvited_enrolment_is_refused(committee, tmp_path, share_reads):
    """Invite-only challenge: the service enrols an identity of its own (a valid,
    self-signed enrolment — only the invitation is missing) and submits with it."""
    invited = Identity.generate()
    local, _ = _challenge(committee, tmp_path, enrolment="open")
    # the same challenge, but invite-only: the organizer invited ``invited`` alone
    rules = committee.rules(enrolment="invite", invited=(invited.public_key,))
    context = dataclasses.replace(local.context, rules=rules)
    clock = Clock()
    tmp2 = tmp_path / "invite"
    strict = committee.local_challenge(context, tmp2, SERVICE_KEY, clock=clock)
    strict.enrol("carol", invited)
    y = np.zeros(N_ITEMS, dtype=np.int64)
    strict.upload_labels(
        encrypt_labels(
            y, context.public, classes=2, challenge=CHALLENGE, pads=strict.pads("labels")
        )
    )
    intruder = Identity.generate()
    with pytest.raises(RefusedError, match="not invited"):
        strict.enrol("mallory", intruder)  # an honest service refuses; a malicious one logs it
    _enrol_anyway(strict, "mallory", intruder)
    # with pads of an invited participant
    _submission_refused(strict, tmp2, share_reads, "carol", "mallory", "is not enrolled")


def test_an_enrolment_beyond_the_cap_is_refused(committee, tmp_path, share_reads):
    """Open enrolment capped at one identity (issue 16: identities are what quotas count):
    alice is the first. An honest service refuses bob; a malicious one logs bob's enrolment
    anyway (valid, self-signed). The trustees count the log's enrolments themselves: bob,
    the second, gets no pads and no computation; alice is answered as before."""
    local, _ = _challenge(committee, tmp_path, max_enrolled=1)
    bob = Identity.generate()
    with pytest.raises(RefusedError, match="cap"):
        local.enrol("bob", bob)
    _enrol_anyway(local, "bob", bob)
    assert local._log("trustee-1").enrolment_rank(bob.public_key.hex()) == 2
    agent = local.trustees["trustee-1"].agent
    request = local.context.pad_request("predictions", PadKey.generate(), local.active_set())
    signature = sign_pad_request(bob, CHALLENGE, "predictions", request.seed, request.recipient)
    local.transcript.record_pad_request(request, bob.public_key, signature, local.clock())
    local.sign_head()
    _refused(
        local,
        tmp_path,
        share_reads,
        "enrolled as number 2 in the log; the challenge caps enrolment at 1",
        lambda: agent.answer_pads(request, local.context, local._log("trustee-1")),
    )
    # with pads of the enrolled participant
    _submission_refused(local, tmp_path, share_reads, "alice", "bob", "caps enrolment at 1")
    assert local.submit("alice", _predictions(local)) == "released"


def test_pad_requests_in_a_participants_name_are_refused(committee, tmp_path, share_reads):
    """A pad request the service made up: unsigned (a signature of its own, under alice's
    key), and one signed by an identity that is not enrolled."""
    local, _ = _challenge(committee, tmp_path)
    active = local.active_set()
    agent = local.trustees["trustee-1"].agent
    for signer, claimed, match in (
        (Identity.generate(), local.participants["alice"].public_key, "does not verify"),
        (Identity.generate(), None, "is not enrolled"),
    ):
        request = local.context.pad_request("predictions", PadKey.generate(), active)
        signature = sign_pad_request(
            signer, CHALLENGE, "predictions", request.seed, request.recipient
        )
        requester = claimed or signer.public_key
        local.transcript.record_pad_request(request, requester, signature, local.clock())
        local.sign_head()
        _refused(
            local,
            tmp_path,
            share_reads,
            match,
            lambda r=request: agent.answer_pads(r, local.context, local._log("trustee-1")),
        )


def test_a_pad_request_the_log_does_not_hold_is_refused(committee, tmp_path, share_reads):
    local, _ = _challenge(committee, tmp_path)
    request = local.context.pad_request("predictions", PadKey.generate(), local.active_set())
    agent = local.trustees["trustee-1"].agent
    _refused(
        local,
        tmp_path,
        share_reads,
        "not in the challenge's log",
        lambda: agent.answer_pads(request, local.context, local._log("trustee-1")),
    )


def test_a_participant_over_its_submission_quota_is_refused(committee, tmp_path, share_reads):
    """Two submissions a day: alice's third within 24 hours is refused (counted from the
    log, whatever the service says); a day later she may submit again."""
    local, clock = _challenge(committee, tmp_path, submissions_per_day=2)
    for _ in range(2):
        assert local.submit("alice", _predictions(local)) == "released"
    third = _predictions(local)
    _log_bundle(local, third, "alice", local.participants["alice"])
    _refused(local, tmp_path, share_reads, "over quota", lambda: _contribute(local, third.digest))
    clock.now += DAY_MS
    assert local.submit("alice", _predictions(local)) == "released"


def test_a_participant_over_its_pad_request_quota_is_refused(committee, tmp_path, share_reads):
    """Three pad requests a day: the fourth gets no pads."""
    local, _ = _challenge(committee, tmp_path, pad_requests_per_day=3)
    for _ in range(3):
        local.pads("predictions", "alice")
    _refused(local, tmp_path, share_reads, "over quota", lambda: local.pads("predictions", "alice"))


def test_rules_other_than_the_logged_definition_are_refused(committee, tmp_path, share_reads):
    """The service describes the challenge to a trustee with rules of its own (its key as the
    organizer's, a huge quota): the logged definition names other rules."""
    local, _ = _challenge(committee, tmp_path)
    lying = dataclasses.replace(
        local.context,
        rules=committee.rules(organizer=Identity.generate().public_key, submissions_per_day=999),
    )
    bundle = _predictions(local)
    _log_bundle(local, bundle, "alice", local.participants["alice"])
    agent = local.trustees["trustee-1"].agent
    _refused(
        local,
        tmp_path,
        share_reads,
        "not the one its log names",
        lambda: agent.contribute(lying, bundle.digest, local._log("trustee-1")),
    )


def test_log_times_that_go_backwards_are_refused(committee, tmp_path):
    """To fit more submissions into a day, the service logs one at an earlier time than the
    entry before it: the trustee refuses the head, and keeps the log it had."""
    local, clock = _challenge(committee, tmp_path)
    follower = local.trustees["trustee-1"].agent
    bundle = _predictions(local)
    size = local._log("trustee-1").size
    signature = sign_upload(local.participants["alice"], CHALLENGE, "predictions", bundle.digest)
    alice = local.participants["alice"].public_key
    local.transcript.record_bundle(bundle, "alice", alice, signature, clock.now - DAY_MS)
    local.sign_head()
    with pytest.raises(ForkedLogError, match="never decrease"):
        follower.follow(local.transcript, CHALLENGE, SERVICE_PUBLIC)
    assert follower._logs[CHALLENGE].size == size


def test_heads_from_the_future_are_refused(committee, tmp_path):
    """A head signed a day ahead (so its entries can carry tomorrow's times) is refused."""
    local, _ = _challenge(committee, tmp_path)
    follower = local.trustees["trustee-1"].agent
    fork = Transcript(CHALLENGE, SERVICE_KEY, local.transcript.log_id)
    for raw in local.transcript.entries:
        fork.append(json.loads(raw))
    fork.append(
        {"type": "round1", "bundle": os.urandom(32).hex(), "verdict": "valid", "reason": ""}
    )
    fork.sign_head(int(time.time() * 1000) + DAY_MS)
    with pytest.raises(ForkedLogError, match="future"):
        follower.follow(fork, CHALLENGE, SERVICE_PUBLIC)
