"""A whole challenge in one process: the roles' steps in order, every event logged.

:class:`LocalChallenge` plays the service and drives the trustees it is given (their agents,
``trustee/agent.py``) through both rounds. The service's steps are the protocol driver's
(``protocol/driver.py``), the same the networked service runs as jobs, here over a ledger in
memory (:class:`MemoryLedger`); the trustees answer each request as soon as it is logged, as
``trustee run`` does over the network, but without HTTP or a database. It is what the demo,
the audit tests and the release benchmarks use, and a readable map of the protocol.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cryptoscore.errors import MismatchError, RefusedError, StepError
from cryptoscore.identity import Identity, TrusteeIdentity
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.driver import (
    ASKING,
    BundleStatus,
    ReleaseDriver,
    Step,
    private_request_id,
)
from cryptoscore.protocol.invariants import LabelHistogram, fixed_label_histogram
from cryptoscore.protocol.ladder import LadderOpening, ladder_decision
from cryptoscore.protocol.release import (
    BundleRelease,
    NamedLiar,
    ReleaseState,
    SubmissionRelease,
)
from cryptoscore.protocol.requests import DecryptionRequest, Round1Evidence
from cryptoscore.protocol.signed_inputs import (
    Enrolment,
    sign_pad_request,
    sign_selection,
    sign_upload,
)
from cryptoscore.randomness import Rng
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.scoring.pad_request import Pads
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.ceremony import KeyShare
from cryptoscore.threshold.pad_shares import PadKey, open_pads
from cryptoscore.threshold.partial import PartialDecryption
from cryptoscore.transparency.replica import LogReplica
from cryptoscore.transparency.transcript import Transcript
from cryptoscore.trustee.agent import TrusteeAgent
from cryptoscore.trustee.log_rules import final_submissions

__all__ = ["LocalChallenge", "LocalTrustee", "MemoryLedger", "local_trustees"]


@dataclass
class LocalTrustee:
    """A trustee in this process: its agent (``trustee/agent.py``: every rule it answers
    by), and whether it is online."""

    agent: TrusteeAgent
    online: bool = True

    @property
    def trustee_id(self) -> str:
        return self.agent.trustee_id


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class _Uploaded:
    """One uploaded bundle in memory: its state (moved only by the driver's writes) and its
    live state machines."""

    owner: str
    round1: BundleRelease
    state: ReleaseState = ReleaseState.AWAITING_CONTRIBUTIONS
    round2: SubmissionRelease | None = None


class MemoryLedger:
    """The driver's ledger (``protocol/driver.py``, :class:`ReleaseLedger`) in one process:
    the live state machines, logged to ``transcript``, each step's writes ended by a signed
    head (trustees answer only what a signed head covers)."""

    def __init__(
        self, context: ChallengeContext, transcript: Transcript, sign_head: Callable[[], None]
    ) -> None:
        self._context, self.transcript, self._sign_head = context, transcript, sign_head
        self.uploads: dict[str, _Uploaded] = {}
        """By digest, in upload order."""
        self._released: list[_Uploaded] = []
        """Released submissions, in release order (the label histogram's first is fixed)."""
        self._asked: set[str] = set()
        self.shown: dict[str, int] = {}
        """Under the Ladder: each owner's last shown correct count (docs/design.md, "Ladder")."""
        self.openings: dict[str, LadderOpening] = {}
        """Under the Ladder: each release's exact values and nonce, by request id, in release
        order (the restricted audit bundle's ``ladder.json``; never logged)."""
        self.liars: set[str] = set()
        """The trustees a ``liar`` entry names (left out of later pad sets)."""

    def name_liars(self, liars: Sequence[NamedLiar]) -> None:
        """Log each trustee decoding corrected as a ``liar`` entry, once per report (under
        the key ``liar:<report digest>``, as the service keys it)."""
        for named in liars:
            key = f"liar:{named.report.digest}"
            self.transcript.record_liar(named.report, named.partial, key=key)
            self.liars.add(named.report.trustee_id)

    @property
    def context(self) -> ChallengeContext:
        return self._context

    def add(self, bundle: EncryptedBundle, owner: str) -> BundleRelease:
        """An uploaded bundle (answered by its pad set: its own active set)."""
        if bundle.digest in self.uploads:
            raise StepError("this bundle was uploaded already")
        release = BundleRelease(self._context, bundle)
        self.uploads[bundle.digest] = _Uploaded(owner, release)
        return release

    def status(self, digest: str) -> BundleStatus | None:
        found = self.uploads.get(digest)
        if found is None:
            return None
        return BundleStatus(digest, found.round1.bundle.header.kind, found.state)

    def labels(self) -> BundleStatus | None:
        for digest, found in self.uploads.items():
            if found.round1.bundle.header.kind == "labels":
                return self.status(digest)
        return None

    def waiting(self) -> list[str]:
        return [
            digest
            for digest, found in self.uploads.items()
            if found.round1.bundle.header.kind == "predictions"
            and found.state == ReleaseState.VALID
        ]

    def round1(self, digest: str) -> BundleRelease:
        return self.uploads[digest].round1

    def label_histogram(self, labels_digest: str) -> LabelHistogram | None:
        return fixed_label_histogram(
            (
                found.round2.released
                for found in self._released
                if found.round2 is not None and found.round2.labels.bundle.digest == labels_digest
            ),
            self._context.policy,
        )

    def round2(self, digest: str) -> SubmissionRelease | None:
        return self.uploads[digest].round2

    @contextmanager
    def update(
        self, digest: str, expect: Collection[ReleaseState]
    ) -> Iterator[_MemoryUpdate | None]:
        found = self.uploads.get(digest)
        if found is None or found.state not in expect:
            yield None
            return
        yield _MemoryUpdate(self, digest, found)
        self._sign_head()


class _MemoryUpdate:
    def __init__(self, ledger: MemoryLedger, digest: str, uploaded: _Uploaded) -> None:
        self.ledger, self.digest, self.uploaded = ledger, digest, uploaded

    def asked_already(self, request_id: str) -> bool:
        return request_id in self.ledger._asked

    def _ask(self, request: DecryptionRequest, round_: int) -> None:
        self.ledger.transcript.record_request(request, round_)
        self.ledger._asked.add(request.request_id)

    def ask_round1(self, release: BundleRelease, requests: Sequence[DecryptionRequest]) -> None:
        for request in requests:
            self._ask(request, 1)
        self.uploaded.state = release.state

    def decide_round1(self, release: BundleRelease) -> None:
        self.ledger.transcript.record_round1(self.digest, release.state, release.reason)
        self.uploaded.state = release.state

    @staticmethod
    def _round2_request(submission: SubmissionRelease, step: str) -> DecryptionRequest:
        """``submission``'s round-2 request; a :class:`StepError` before round 2 started."""
        if submission.request is None:
            raise StepError(f"round 2 has not started: nothing to {step}")
        return submission.request

    def ask_round2(self, submission: SubmissionRelease) -> None:
        self._ask(self._round2_request(submission, "ask"), 2)
        self.uploaded.round2 = submission
        self.uploaded.state = submission.state

    def release(self, submission: SubmissionRelease) -> None:
        request = self._round2_request(submission, "release")
        context, ledger = self.ledger.context, self.ledger
        values, commitment = submission.released, None
        if context.ladder is not None:  # the log shows the Ladder's count, commits to the rest
            decision = ladder_decision(
                context, ledger.shown.get(self.uploaded.owner), request.request_id, values
            )
            values, commitment = decision.values, decision.opening.commitment
            ledger.shown[self.uploaded.owner] = decision.shown
            ledger.openings[request.request_id] = decision.opening
        ledger.transcript.record_release(
            self.digest,
            submission.labels.bundle.digest,
            request.request_id,
            values,
            part=submission.part,
            commitment=commitment,
        )
        self.uploaded.state = submission.state
        self.ledger._released.append(self.uploaded)

    def name_liars(self, liars: Sequence[NamedLiar]) -> None:
        self.ledger.name_liars(liars)

    def dispute(self, submission: SubmissionRelease) -> None:
        request = self._round2_request(submission, "dispute")
        self.ledger.transcript.record_dispute(
            self.digest,
            submission.labels.bundle.digest,
            request.request_id,
            submission.invariant,
            submission.reason,
        )
        self.uploaded.state = submission.state


@dataclass
class LocalChallenge:
    """One challenge: ``context`` (with its rules), the trustees, the service's log key, and
    the organizer's identity (it signs the labels; ``context.rules.organizer`` is its key).
    Participants :meth:`enrol` with their own identities; each upload and pad request is
    signed by its owner (``protocol/signed_inputs.py``), as the CLI does over the network."""

    context: ChallengeContext
    trustees: Mapping[str, LocalTrustee]
    service_key: Ed25519PrivateKey
    organizer: Identity
    clock: Callable[[], int] = wall_clock_ms
    """The service's clock (Unix ms) for the log's times and heads."""
    rng: Rng = os.urandom
    """The submitters' draws here: pad keys and pad-request seeds (a fixed stream only for
    known-answer vectors; the trustees' draws are their agents')."""
    participants: dict[str, Identity] = field(default_factory=dict, init=False)
    transcript: Transcript = field(init=False)
    ledger: MemoryLedger = field(init=False)
    driver: ReleaseDriver = field(init=False)
    _latest: dict[str, str] = field(default_factory=dict, init=False)
    """Each participant's latest submission (digest)."""
    _selections: dict[str, int] = field(default_factory=dict, init=False)
    """Each participant's latest final selection's sequence number (a split challenge)."""
    private: dict[str, dict[str, int]] = field(default_factory=dict, init=False)
    """A split challenge's private-part releases, by predictions digest (after the close)."""
    private_disputed: dict[str, str] = field(default_factory=dict, init=False)
    """A split challenge's private parts whose values broke a release invariant: the reason
    (nothing of them is released)."""

    def __post_init__(self) -> None:
        rules = self.context.rules
        if rules is None or rules.organizer.raw != self.organizer.public_key.raw:
            raise MismatchError("the challenge's rules must name this organizer's key")
        self.transcript = Transcript(
            self.context.challenge_id, self.service_key, f"cryptoscore/{self.context.challenge_id}"
        )
        self.transcript.record_ceremony(
            self.context.record, self.context.public, self.context.evaluation
        )
        self.transcript.record_challenge(self.context)
        self.ledger = MemoryLedger(self.context, self.transcript, self.sign_head)
        self.driver = ReleaseDriver(self.ledger)
        self.sign_head()

    def sign_head(self) -> None:
        self.transcript.sign_head(self.clock())

    @property
    def labels(self) -> BundleRelease | None:
        """Round 1 of the challenge's labels, once uploaded."""
        labels = self.ledger.labels()
        return None if labels is None else self.ledger.round1(labels.digest)

    @property
    def submissions(self) -> dict[str, SubmissionRelease | BundleRelease]:
        """Each participant's latest submission: its round 2 once started, else its round 1."""
        out: dict[str, SubmissionRelease | BundleRelease] = {}
        for name, digest in self._latest.items():
            uploaded = self.ledger.uploads[digest]
            out[name] = uploaded.round2 or uploaded.round1
        return out

    def enrol(self, name: str, identity: Identity) -> None:
        """A participant enrols ``identity`` under ``name`` (signed by that identity)."""
        rules = self.context.rules
        assert rules is not None  # checked when this challenge was made
        if not rules.may_enrol(identity.public_key):
            raise RefusedError(f"{name}'s identity is not invited to this challenge")
        if name in self.participants:
            raise StepError(f"{name} is enrolled already")
        if rules.max_enrolled is not None and len(self.participants) >= rules.max_enrolled:
            raise RefusedError(
                f"{rules.max_enrolled} identities are enrolled: the challenge's cap; "
                f"{name} may not enrol"
            )
        enrolment = Enrolment.sign(identity, self.context.challenge_id, name)
        self.transcript.record_enrolment(enrolment)
        self.participants[name] = identity
        self.sign_head()

    def _signer(self, kind: str, participant: str | None) -> Identity:
        if kind == "labels":
            return self.organizer
        if participant not in self.participants:
            raise StepError(f"{participant!r} is not enrolled in this challenge")
        return self.participants[participant]

    def _log(self, tid: str) -> LogReplica:
        """Trustee ``tid``'s copy of the log, brought up to the latest signed head: what it
        decides by (``trustee/log_rules.py``), as over the network."""
        key = self.service_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return self.trustees[tid].agent.follow(self.transcript, self.context.challenge_id, key)

    def active_set(self) -> ActiveSet:
        """Who is asked for pads (and so answers the bundle's round 1 and its score): as the
        service asks, every online trustee not named a liar for Shamir answers — so that
        decoding checks the answers against each other — and the first t online, in roster
        order, for additive answers (exactly t)."""
        record = self.context.record
        online = [
            e.trustee_id
            for e in record.roster
            if e.trustee_id in self.trustees
            and self.trustees[e.trustee_id].online
            and not (record.robust and e.trustee_id in self.ledger.liars)
        ]
        if len(online) < record.threshold:
            raise StepError("fewer than t trustees are online")
        return ActiveSet.of(record, online if record.robust else online[: record.threshold])

    def _agents(self, active: ActiveSet) -> list[TrusteeAgent]:
        """The agents of ``active``'s trustees, all online (in-process, nobody waits)."""
        ids = [self.context.record.entry_by_index(i).trustee_id for i in active.indices]
        offline = [tid for tid in ids if tid not in self.trustees or not self.trustees[tid].online]
        if offline:
            raise StepError(f"trustees {offline} are offline: the release waits for them")
        return [self.trustees[tid].agent for tid in ids]

    # -- the trustees' side: what `trustee run` does when it finds a task -----------------
    def _contribute(self, release: BundleRelease) -> None:
        digest = release.bundle.digest
        for agent in self._agents(release.active):
            contribution = agent.contribute(self.context, digest, self._log(agent.trustee_id))
            release.add_contribution(contribution)
            self.transcript.record_contribution(digest, contribution)

    def _answer(
        self,
        agent: TrusteeAgent,
        request: DecryptionRequest,
        bundles: Mapping[str, EncryptedBundle],
        evidence: Mapping[str, Round1Evidence],
    ) -> PartialDecryption:
        partial = agent.answer(
            request, self.context, bundles, evidence, self._log(agent.trustee_id)
        )
        self.transcript.record_partial(partial)
        return partial

    def _answer_open(self, digest: str) -> Step | None:
        """The active trustees answer the bundle's open requests; returns the step that
        decides them (as the service's routes queue it once the last partial is in)."""
        status = self.ledger.status(digest)
        if status is not None and status.state in ASKING:
            r1 = self.ledger.round1(digest)
            bundles = {digest: r1.bundle}
            for request_id, request in r1.requests.items():
                evidence = {digest: r1.evidence()}  # V: trustees check the noise checks
                for agent in self._agents(r1.active):
                    if agent.trustee_id not in r1.partials[request_id]:
                        r1.add_partial(self._answer(agent, request, bundles, evidence))
            return ("round1_finish", digest)
        r2 = self.ledger.round2(digest)
        if status is None or status.state != ReleaseState.SCORING or r2 is None:
            return None
        assert r2.request is not None  # scoring: the request is asked
        both = (r2.predictions, r2.labels)
        bundles = {r.bundle.digest: r.bundle for r in both}
        evidence = {r.bundle.digest: r.evidence() for r in both}
        for agent in self._agents(r2.request.active_set):
            if agent.trustee_id not in r2.partials:
                r2.add_partial(self._answer(agent, r2.request, bundles, evidence))
        return ("round2_finish", digest)

    def _drive(self, digest: str) -> None:
        """Round 1 of an uploaded bundle and everything it leads to, to the end."""
        self._contribute(self.ledger.round1(digest))
        steps: deque[Step] = deque([("round1_start", digest)])
        while steps:
            step, on = steps.popleft()
            steps.extend(self.driver.run(step, on))
            answered = self._answer_open(on)
            if answered is not None:
                steps.append(answered)

    # -- the submitters' side -------------------------------------------------------------
    def pads(self, kind: str, participant: str | None = None, key: PadKey | None = None) -> Pads:
        """A submitter's pads for one ``kind`` bundle (the organizer's for labels, enrolled
        ``participant``'s for predictions): it signs the request, the log holds it, the
        active trustees answer it (each once per seed, within quota), the submitter opens
        their shares (``threshold/pad_shares.py``)."""
        signer = self._signer(kind, participant)
        key = key or PadKey.generate(rng=self.rng)
        active = self.active_set()
        request = self.context.pad_request(kind, key, active, rng=self.rng)
        signature = sign_pad_request(
            signer, request.challenge_id, kind, request.seed, request.recipient
        )
        self.transcript.record_pad_request(request, signer.public_key, signature, self.clock())
        self.sign_head()
        shares = [
            agent.answer_pads(request, self.context, self._log(agent.trustee_id))
            for agent in self._agents(active)
        ]
        return open_pads(request, shares, self.context.record, key)

    def _upload(self, bundle: EncryptedBundle, owner: str, signer: Identity) -> None:
        kind = bundle.header.kind
        self.context.check_bundle(bundle, kind)
        signature = sign_upload(signer, self.context.challenge_id, kind, bundle.digest)
        self.ledger.add(bundle, owner)
        self.transcript.record_bundle(bundle, owner, signer.public_key, signature, self.clock())
        self.sign_head()

    def upload_labels(self, labels: EncryptedBundle) -> BundleRelease:
        """Organizer uploads labels (signed with its key); round 1 runs at once."""
        if labels.header.kind != "labels":
            raise StepError("upload_labels takes a labels bundle")
        if self.ledger.labels() is not None:
            raise StepError("the challenge has its labels already")
        self._upload(labels, "organizer", self.organizer)
        self._drive(labels.digest)
        return self.ledger.round1(labels.digest)

    def submit(self, participant: str, predictions: EncryptedBundle) -> str:
        """An enrolled participant submits (signed with its identity); round 1, then round 2
        if valid. Returns the final state."""
        labels = self.ledger.labels()
        if labels is None or labels.state != ReleaseState.VALID:
            raise StepError("the challenge has no valid labels yet")
        if predictions.header.kind != "predictions":
            raise StepError("submit takes a predictions bundle")
        self._upload(predictions, participant, self._signer("predictions", participant))
        self._latest[participant] = predictions.digest
        self._drive(predictions.digest)
        status = self.ledger.status(predictions.digest)
        assert status is not None  # uploaded above
        return status.state.value

    # -- a public/private split (docs/design.md, "Public/private split") ----------------
    def select_finals(self, participant: str, submissions: Sequence[str]) -> None:
        """``participant`` chooses its final submissions (signed, logged with the log's time;
        a later selection replaces an earlier one; only one logged before the close counts)."""
        identity = self._signer("predictions", participant)
        sequence = self._selections.get(participant, 0) + 1
        signature = sign_selection(identity, self.context.challenge_id, sequence, list(submissions))
        self.transcript.record_selection(
            identity.public_key, sequence, list(submissions), signature, self.clock()
        )
        self._selections[participant] = sequence
        self.sign_head()

    def finals(self, participant: str) -> tuple[str, ...]:
        """The final submissions of ``participant`` as the trustees read them from the log
        (``trustee/log_rules.final_submissions``)."""
        split = self.context.split
        if split is None:
            raise StepError("the challenge has no public/private split")
        identity = self._signer("predictions", participant).public_key.hex()
        tid = self.context.record.roster[0].trustee_id
        return final_submissions(self._log(tid), identity, split, self.context.challenge_id)

    def release_private(self, predictions: str, request_id: str | None = None) -> dict[str, int]:
        """The service asks for the private part of submission ``predictions`` (logged as a
        round-3 request); the active trustees answer only if their rules allow it — after the
        close, for a final submission, within the identity's ``finals`` — else
        :class:`RefusedError`. Returns the released values ({} if they broke a release
        invariant: the dispute is logged, :attr:`private_disputed`)."""
        if self.context.split is None:
            raise StepError("the challenge has no public/private split")
        labels = self.ledger.labels()
        uploaded = self.ledger.uploads.get(predictions)
        if labels is None or uploaded is None or uploaded.round2 is None:
            raise StepError("only a submission whose public part was scored has a private part")
        if predictions in self.private:
            return self.private[predictions]
        if predictions in self.private_disputed:
            return {}
        round1 = uploaded.round1
        submission = SubmissionRelease(
            self.context, round1, self.ledger.round1(labels.digest), "private"
        )
        request = submission.start(
            request_id or private_request_id(self.context.challenge_id, predictions),
            round1.active,
        )
        self.transcript.record_request(request, 3)
        self.sign_head()
        both = (submission.predictions, submission.labels)
        bundles = {r.bundle.digest: r.bundle for r in both}
        evidence = {r.bundle.digest: r.evidence() for r in both}
        for agent in self._agents(request.active_set):
            submission.add_partial(self._answer(agent, request, bundles, evidence))
        fixed: LabelHistogram | None = fixed_label_histogram(
            self.private.values(), self.context.policy
        )  # the private part's own histogram: the public releases fix the public part's
        values = submission.finish(fixed)
        self.ledger.name_liars(submission.liars)
        if submission.state == ReleaseState.DISPUTED:
            self.transcript.record_dispute(
                predictions,
                labels.digest,
                request.request_id,
                submission.invariant,
                submission.reason,
            )
            self.sign_head()
            self.private_disputed[predictions] = submission.reason
            return {}
        self.transcript.record_release(
            predictions, labels.digest, request.request_id, values, part="private"
        )
        self.sign_head()
        self.private[predictions] = values
        return values

    def close(self) -> dict[str, dict[str, dict[str, int]]]:
        """The service logs the close (once, at its clock's time), then asks for the private
        part of every participant's final submissions (``{participant: {predictions digest:
        values}}``)."""
        self.transcript.record_close(self.clock())
        self.sign_head()
        return {
            name: {digest: self.release_private(digest) for digest in self.finals(name)}
            for name in self.participants
        }

    def released(self) -> dict[str, dict[str, int]]:
        return {
            name: sub.released
            for name, sub in self.submissions.items()
            if isinstance(sub, SubmissionRelease) and sub.state == ReleaseState.RELEASED
        }

    def disputed(self) -> dict[str, str]:
        """Each participant's latest submission whose score broke a release invariant: the
        reason (nothing of it is released)."""
        return {
            name: sub.reason
            for name, sub in self.submissions.items()
            if isinstance(sub, SubmissionRelease) and sub.state == ReleaseState.DISPUTED
        }

    def rejected(self) -> dict[str, str]:
        return {
            name: sub.reason
            for name, sub in self.submissions.items()
            if isinstance(sub, BundleRelease)
        }

    def shown(self) -> dict[str, int]:
        """Under the Ladder: each participant's shown correct count (what the log shows)."""
        return dict(self.ledger.shown)

    def export_audit_bundle(self, path: str | Path, *, restricted: bool = False) -> None:
        """The audit bundle: under the Ladder, the public one holds no exact value (nor the
        partials that combine to them); the ``restricted`` one, for the organizer or a
        designated auditor, adds them and the commitments' openings (docs/design.md,
        "Ladder")."""
        openings = list(self.ledger.openings.values()) if restricted else None
        ladder = self.context.ladder is not None
        self.transcript.export(path, self.context.policy, openings, ladder=ladder)


def local_trustees(
    shares: Mapping[str, KeyShare],
    identities: Mapping[str, TrusteeIdentity],
    journal_dir: Path,
    offline: Sequence[str] = (),
) -> dict[str, LocalTrustee]:
    return {
        tid: LocalTrustee(
            TrusteeAgent(shares[tid], identities[tid], journal_dir / f"{tid}.journal", say=_quiet),
            online=tid not in offline,
        )
        for tid in shares
    }


def _quiet(_line: str) -> None:
    """In-process trustees answer directly: there is no pass to report on."""
