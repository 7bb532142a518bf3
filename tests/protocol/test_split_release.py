"""A challenge with a public/private split, whole, in one process (``LocalChallenge``): public
scores during the challenge, the private part of each identity's final submissions once after
the close, and trustees that refuse every other private release (docs/design.md,
"Public/private split"). Each refusal is an attack by a malicious service that fails."""

from __future__ import annotations

import time

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cryptoscore import ReleasePolicy, encrypt_labels, encrypt_predictions
from cryptoscore.errors import RefusedError
from cryptoscore.local import LocalChallenge
from cryptoscore.protocol.requests import DecryptionRequest
from cryptoscore.protocol.rules import DAY_MS, SplitRule
from cryptoscore.scoring.encoding import draw_public_mask, split_label_indices
from tests.helpers.committee import Committee
from tests.scoring.test_scoring_property import expected

N_ITEMS = 30
PUBLIC = 9
CLASSES = 3
POLICY = ReleasePolicy(CLASSES, ("correct", "confusion"))
SERVICE_KEY = Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def committee():
    return Committee(2, 3)


class Clock:
    """The service's clock (ms), started two days ago; the close is one day later (so still
    in the trustees' past: what holds them back is the log's heads)."""

    def __init__(self) -> None:
        self.now = int(time.time() * 1000) - 2 * DAY_MS
        self.closes = self.now + DAY_MS

    def __call__(self) -> int:
        self.now += 1
        return self.now

    def pass_close(self) -> None:
        self.now = self.closes + 1


class Split:
    """A split challenge with ``participants``, its labels uploaded."""

    def __init__(self, committee, tmp_path, finals: int = 1, participants=("alice",), **challenge):
        self.clock = Clock()
        split = SplitRule(PUBLIC, self.clock.closes, finals)
        context = committee.context("split", POLICY, N_ITEMS, committee.rules(split=split))
        self.local: LocalChallenge = committee.local_challenge(
            context, tmp_path, SERVICE_KEY, participants=participants, clock=self.clock, **challenge
        )
        gen = np.random.default_rng(5)
        self.labels = gen.integers(0, CLASSES, N_ITEMS)
        self.public = draw_public_mask(N_ITEMS, PUBLIC)
        self.local.upload_labels(
            encrypt_labels(
                split_label_indices(self.labels, self.public, CLASSES),
                context.public,
                classes=2 * CLASSES,
                challenge="split",
                pads=self.local.pads("labels"),
            )
        )

    def submit(self, name: str, predictions: np.ndarray) -> str:
        bundle = encrypt_predictions(
            predictions,
            self.local.context.public,
            classes=CLASSES,
            challenge="split",
            pads=self.local.pads("predictions", name),
        )
        assert self.local.submit(name, bundle) == "released"
        return bundle.digest

    def part(self, predictions: np.ndarray, members: np.ndarray) -> dict[str, int]:
        return expected(predictions[members], self.labels[members], POLICY)


def test_public_during_private_once_after_the_close(committee, tmp_path):
    """Public scores at once; the private part of the final (by default the last valid)
    submission only after the close, exactly numpy's over the private items; never that of a
    submission that is not final; and once."""
    s = Split(committee, tmp_path)
    gen = np.random.default_rng(9)
    first, second = gen.integers(0, CLASSES, N_ITEMS), gen.integers(0, CLASSES, N_ITEMS)
    d1 = s.submit("alice", first)
    d2 = s.submit("alice", second)
    assert s.local.released()["alice"] == s.part(second, s.public)
    with pytest.raises(RefusedError, match="no close entry"):
        s.local.release_private(d2, "split:private:too-early")  # a service asking early
    s.local.transcript.record_close(s.clock())  # the service says "closed" a day early
    s.local.sign_head()
    with pytest.raises(RefusedError, match="no close entry at or after the close"):
        s.local.release_private(d2, "split:private:early")
    s.clock.pass_close()
    assert s.local.finals("alice") == (d2,)
    assert s.local.close() == {"alice": {d2: s.part(second, ~s.public)}}
    with pytest.raises(RefusedError, match="not among their owner's final submissions"):
        s.local.release_private(d1)
    assert d1 not in s.local.private


def test_a_signed_selection_before_the_close_names_the_finals(committee, tmp_path):
    """With finals = 2 an identity names two submissions; a selection logged after the close,
    or one forged by the service, counts for nothing."""
    s = Split(committee, tmp_path, finals=2)
    gen = np.random.default_rng(11)
    preds = [gen.integers(0, CLASSES, N_ITEMS) for _ in range(3)]
    d = [s.submit("alice", p) for p in preds]
    s.local.select_finals("alice", [d[0], d[1]])
    s.clock.pass_close()
    s.local.select_finals("alice", [d[2]])  # too late: after the close
    assert s.local.finals("alice") == (d[0], d[1])
    released = s.local.close()["alice"]
    assert released == {d[0]: s.part(preds[0], ~s.public), d[1]: s.part(preds[1], ~s.public)}
    with pytest.raises(RefusedError):
        s.local.release_private(d[2])


def test_a_forged_selection_is_ignored(committee, tmp_path):
    """The service logs a selection in the participant's name with a bad signature: the
    trustees ignore it and keep the default (the last valid submission)."""
    s = Split(committee, tmp_path)
    gen = np.random.default_rng(12)
    d1 = s.submit("alice", gen.integers(0, CLASSES, N_ITEMS))
    d2 = s.submit("alice", gen.integers(0, CLASSES, N_ITEMS))
    alice = s.local.participants["alice"].public_key
    s.local.transcript.record_selection(alice, 7, [d1], bytes(64), s.clock())
    s.local.sign_head()
    assert s.local.finals("alice") == (d2,)


def test_a_trustee_refuses_the_private_part_before_its_own_clock_reaches_the_close(
    committee, tmp_path
):
    """A service that signs heads past the close while the trustees' clocks read before it
    (within the skew a head may run ahead) gets no private part."""
    s = Split(committee, tmp_path)
    d = s.submit("alice", np.zeros(N_ITEMS, dtype=np.int64))
    s.clock.pass_close()
    for trustee in s.local.trustees.values():
        trustee.agent.clock = lambda: s.clock.closes - 1
    with pytest.raises(RefusedError, match="this trustee's clock"):
        s.local.release_private(d)


def test_the_circuit_over_every_item_is_refused_in_a_split_challenge(committee, tmp_path):
    """A service asking for the score over every item (public and private) of a submission:
    logged, but refused by every trustee before any work."""
    s = Split(committee, tmp_path)
    d = s.submit("alice", np.zeros(N_ITEMS, dtype=np.int64))
    uploaded = s.local.ledger.uploads[d]
    assert uploaded.round2 is not None and uploaded.round2.request is not None
    public = uploaded.round2.request
    request = DecryptionRequest(
        request_id="split:whole",
        challenge_id="split",
        circuit="score/v1",
        inputs=public.inputs,
        seed=b"",
        rerandomize_seed=b"",
        active_set=public.active_set,
        ciphertext_digest=public.ciphertext_digest,
    )
    s.local.transcript.record_request(request, 2)
    s.local.sign_head()
    bundles = {r.bundle.digest: r.bundle for r in (uploaded.round2.predictions, s.local.labels)}
    for agent in s.local._agents(public.active_set):
        with pytest.raises(RefusedError, match="public/private split"):
            s.local._answer(agent, request, bundles, {})


def test_finals_bound_each_identitys_private_releases(committee, tmp_path):
    """Once per submission, at most ``finals`` per identity: a service that re-asks the private
    part of a final (a second request) is refused."""
    s = Split(committee, tmp_path)
    d = s.submit("alice", np.ones(N_ITEMS, dtype=np.int64))
    s.clock.pass_close()
    s.local.close()
    uploaded = s.local.ledger.uploads[d]
    from cryptoscore.protocol.release import SubmissionRelease

    again = SubmissionRelease(s.local.context, uploaded.round1, s.local.labels, "private")
    request = again.start("split:private:again", uploaded.round1.active)
    s.local.transcript.record_request(request, 3)
    s.local.sign_head()
    bundles = {r.bundle.digest: r.bundle for r in (uploaded.round1, s.local.labels)}
    evidence = {r.bundle.digest: r.evidence() for r in (uploaded.round1, s.local.labels)}
    for agent in s.local._agents(request.active_set):
        with pytest.raises(RefusedError, match="scored once"):
            s.local._answer(agent, request, bundles, evidence)


def test_the_audit_of_a_split_challenge_passes(committee, tmp_path):
    """An auditor replays the whole split challenge — public releases, selection, close,
    private release, and a refused early request — and every check passes."""
    from cryptoscore import verify_bundle

    s = Split(committee, tmp_path / "journals")
    gen = np.random.default_rng(13)
    d1 = s.submit("alice", gen.integers(0, CLASSES, N_ITEMS))
    s.submit("alice", gen.integers(0, CLASSES, N_ITEMS))
    s.local.select_finals("alice", [d1])
    with pytest.raises(RefusedError):
        s.local.release_private(d1, "split:private:too-early")
    s.clock.pass_close()
    s.local.close()
    s.local.export_audit_bundle(tmp_path / "audit.zip")
    report = verify_bundle(tmp_path / "audit.zip")
    assert report.ok, report.checks


def test_the_leaderboard_says_which_part(committee, tmp_path):
    """Public rows during the challenge, private rows after the close, each labelled and
    ranked within its part; accuracy counted over the part's items."""
    from cryptoscore.transparency.leaderboard import with_accuracy

    s = Split(committee, tmp_path, participants=("alice", "bob"))
    gen = np.random.default_rng(17)
    preds = {name: gen.integers(0, CLASSES, N_ITEMS) for name in ("alice", "bob")}
    digests = {name: s.submit(name, p) for name, p in preds.items()}
    board = s.local.transcript.leaderboard(POLICY)
    assert {row["part"] for row in board} == {"public"} and len(board) == 2
    s.clock.pass_close()
    s.local.close()
    board = s.local.transcript.leaderboard(POLICY, view="best")
    assert [row["part"] for row in board] == ["public", "public", "private", "private"]
    private = s.local.transcript.leaderboard(POLICY, part="private")
    assert {row["rank"] for row in private} <= {1, 2} and private[0]["rank"] == 1
    for row in with_accuracy(
        private, POLICY, N_ITEMS, {"public": PUBLIC, "private": N_ITEMS - PUBLIC}
    ):
        name = "alice" if row["submission"] == digests["alice"] else "bob"
        want = s.part(preds[name], ~s.public)
        assert row["values"] == want and row["n"] == N_ITEMS - PUBLIC
        assert row["correct"] == want["correct"]


def test_the_audit_catches_a_private_part_released_before_the_close(
    committee, tmp_path, monkeypatch
):
    """Trustees whose close rule is broken (patched out) answer a service that asks for the
    private part before the close: the release happens, and the auditor's release-values check
    names it."""
    import cryptoscore.trustee.agent as agent_module
    from cryptoscore import verify_bundle

    monkeypatch.setattr(agent_module, "check_part_released", lambda *a, **k: None)
    s = Split(committee, tmp_path / "journals")
    d = s.submit("alice", np.zeros(N_ITEMS, dtype=np.int64))
    s.local.release_private(d)  # answered: the guard is gone
    s.local.export_audit_bundle(tmp_path / "audit.zip")
    report = verify_bundle(tmp_path / "audit.zip")
    failed = [c for c in report.checks if not c.passed]
    assert [c.name for c in failed] == ["release-values"]
    assert "before the close" in failed[0].detail
