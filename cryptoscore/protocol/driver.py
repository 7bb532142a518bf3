"""The service's side of the two-round release, written once: what each step computes, what
it persists, and which step follows (docs/design.md, "Protocol driver").

The release is four steps per bundle, each named by a :data:`StepName` and run by
:class:`ReleaseDriver`:

* ``round1_start``  — the bundle's pad set contributed: ask for the noise checks;
* ``round1_finish`` — every trustee of the pad set answered the current phase: decide the
  noise checks (then ask for V) or decide V (the verdict); a valid submission goes on to round 2,
  valid labels send every waiting submission to round 2;
* ``round2_start``  — ask for the score of a valid submission against the valid labels,
  under the submission's round-1 active set (its pad set) — of the public part only, in a
  challenge with a public/private split (its private part is released after the close, to
  final submissions only);
* ``round2_finish`` — every trustee asked answered: decode the score's partials, check the
  release invariants against the label histogram earlier releases fixed
  (``protocol/invariants.py``), and release the policy's aggregates, or log the dispute and
  release nothing.

Every decision that corrected a trustee's answer (Shamir answers decoded within the radius,
``threshold/combine.decrypt_answers``) hands its liar reports to the ledger
(:meth:`ReleaseUpdate.name_liars`), which logs each once; a decision whose answers could not be
decoded is a dispute naming the suspects, who are not logged as liars (docs/design.md,
"Robust threshold decryption (core)": with t − 1 coordinated liars an honest trustee can be
among them).

A challenge with a public/private split has two more steps, for a final submission after the
close (docs/design.md, "Public/private split"), over a :class:`PrivateReleaseLedger`:

* ``private_start``  — ask for the score of the private part (round 3,
  :func:`private_request_id`) under the submission's round-1 active set;
* ``private_finish`` — combine its partials, check the release invariants over the private
  part's items against the histogram earlier private releases fixed, and release or dispute.

The trustees, not this driver, decide whether a private part may be decrypted (after the close,
a final submission, once): the driver only asks.

A step reads the state machines (:class:`~cryptoscore.protocol.release.BundleRelease`,
:class:`~cryptoscore.protocol.release.SubmissionRelease`) from a :class:`ReleaseLedger`, does
the heavy computation outside any lock, and then writes through
:meth:`ReleaseLedger.update`, which re-checks the bundle's state under the ledger's lock: a step
whose work another run did already writes nothing. Each step returns the steps that follow.

Two ledgers implement the interface: the service's database (``cryptoscore_server/jobs.py``,
each step an RQ or in-process job) and :class:`cryptoscore.local.LocalChallenge` (memory, one
process). The trustees' side is one agent too (``cryptoscore/trustee/agent.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.invariants import LabelHistogram
from cryptoscore.protocol.release import (
    BundleRelease,
    NamedLiar,
    ReleaseState,
    SubmissionRelease,
)
from cryptoscore.protocol.requests import DecryptionRequest

__all__ = [
    "ASKING",
    "NEXT_STEP",
    "PRIVATE_NEXT_STEP",
    "PRIVATE_PENDING",
    "BundleStatus",
    "PrivateReleaseLedger",
    "PrivateReleaseUpdate",
    "ReleaseDriver",
    "ReleaseLedger",
    "ReleaseUpdate",
    "Step",
    "StepName",
    "private_request_id",
    "round1_prefix",
    "round2_request_id",
]

StepName = Literal[
    "round1_start",
    "round1_finish",
    "round2_start",
    "round2_finish",
    "private_start",
    "private_finish",
]
Step = tuple[StepName, str]
"""A step and the digest of the bundle it moves on."""

ASKING = (ReleaseState.NOISE_CHECK, ReleaseState.VALIDITY)
"""Round 1 asked the trustees something; ``round1_finish`` decides it once answered."""

NEXT_STEP: dict[ReleaseState, StepName] = {
    ReleaseState.AWAITING_CONTRIBUTIONS: "round1_start",
    ReleaseState.NOISE_CHECK: "round1_finish",
    ReleaseState.VALIDITY: "round1_finish",
    ReleaseState.VALID: "round2_start",
    ReleaseState.SCORING: "round2_finish",
}
"""For a bundle in each unfinished state, the step that moves it on (a no-op until it can).
Valid labels are finished: ``round1_finish`` of the labels sends the waiting submissions on."""

PRIVATE_PENDING = "pending"
"""A final submission's private part after the close, before its request is stored."""
PRIVATE_NEXT_STEP: dict[str, StepName] = {
    PRIVATE_PENDING: "private_start",
    ReleaseState.SCORING.value: "private_finish",
}
"""For a final submission's private part in each unfinished state, the step that moves it on."""

_ID_DIGEST_CHARS = 16
"""Hex characters of the bundle digest in a request id (64 bits: ids stay unique per challenge
among bundles that are themselves unique by digest)."""


def round1_prefix(challenge_id: str, digest: str) -> str:
    """The prefix of round 1's request ids for a bundle (``…:noise:<i>``, ``…:validity``)."""
    return f"{challenge_id}:r1:{digest[:_ID_DIGEST_CHARS]}"


def round2_request_id(challenge_id: str, digest: str) -> str:
    """The id of a submission's score request."""
    return f"{challenge_id}:r2:{digest[:_ID_DIGEST_CHARS]}"


def private_request_id(challenge_id: str, digest: str) -> str:
    """The id of a final submission's private-part score request (a split challenge)."""
    return f"{challenge_id}:private:{digest[:_ID_DIGEST_CHARS]}"


@dataclass(frozen=True, slots=True)
class BundleStatus:
    """What a ledger knows of an uploaded bundle without reading it."""

    digest: str
    kind: str
    state: ReleaseState


class ReleaseUpdate(Protocol):
    """The writes of one step, made under the ledger's lock after the state was re-checked.
    Each logs what it stores (the request, the verdict, the release) and moves the bundle's
    state to the machine's."""

    def asked_already(self, request_id: str) -> bool:
        """Whether ``request_id`` is stored (another run of the step asked it)."""
        ...

    def ask_round1(self, release: BundleRelease, requests: Sequence[DecryptionRequest]) -> None:
        """Store and log round-1 ``requests`` with their ciphertexts; keep the active set."""
        ...

    def decide_round1(self, release: BundleRelease) -> None:
        """Log round 1's verdict (state and reason); close its requests."""
        ...

    def ask_round2(self, submission: SubmissionRelease) -> None:
        """Store and log the score request with its ciphertext."""
        ...

    def release(self, submission: SubmissionRelease) -> None:
        """Log the released values; close the score request."""
        ...

    def dispute(self, submission: SubmissionRelease) -> None:
        """Log that the score's combined values broke a release invariant (which, and why;
        no values); close the score request."""
        ...

    def name_liars(self, liars: Sequence[NamedLiar]) -> None:
        """Log each trustee decoding corrected as a ``liar`` (its ``off-polynomial`` report
        and its answer), once per report: a named liar is left out of later pad sets."""
        ...


class ReleaseLedger(Protocol):
    """Where one challenge's release state lives, for :class:`ReleaseDriver`."""

    @property
    def context(self) -> ChallengeContext: ...

    def status(self, digest: str) -> BundleStatus | None:
        """The bundle's kind and state, or None if it is not uploaded."""
        ...

    def labels(self) -> BundleStatus | None:
        """The challenge's one labels bundle, if uploaded."""
        ...

    def waiting(self) -> list[str]:
        """Valid submissions that wait for round 2, in the order they were uploaded."""
        ...

    def label_histogram(self, labels_digest: str) -> LabelHistogram | None:
        """The label histogram fixed by the releases against ``labels_digest`` so far
        (:func:`~cryptoscore.protocol.invariants.fixed_label_histogram` over their values in
        release order; None before the first, or for a policy without a confusion matrix)."""
        ...

    def round1(self, digest: str) -> BundleRelease:
        """Round 1 of an uploaded bundle as stored (restored and checked)."""
        ...

    def round2(self, digest: str) -> SubmissionRelease | None:
        """Round 2 of a submission in ``scoring`` or ``released``, as stored; None while its
        score request is not (or not exactly once) stored."""
        ...

    def update(
        self, digest: str, expect: Collection[ReleaseState]
    ) -> AbstractContextManager[ReleaseUpdate | None]:
        """Lock, re-check that the bundle is in one of ``expect`` states, and yield the writes
        (committed on leaving the block); yield None, writing nothing, if it is not."""
        ...


class PrivateReleaseUpdate(Protocol):
    """The writes of a private-part step (a split challenge), under the ledger's lock."""

    def ask_private(self, submission: SubmissionRelease) -> None:
        """Store and log the private part's score request (round 3) with its ciphertext."""
        ...

    def release_private(self, submission: SubmissionRelease) -> None:
        """Log the private part's released values (a ``part_release``); close its request."""
        ...

    def dispute_private(self, submission: SubmissionRelease) -> None:
        """Log that the private part's values broke a release invariant; close its request."""
        ...

    def name_liars(self, liars: Sequence[NamedLiar]) -> None:
        """As :meth:`ReleaseUpdate.name_liars`."""
        ...


@runtime_checkable
class PrivateReleaseLedger(ReleaseLedger, Protocol):
    """A ledger that also keeps the private parts of a split challenge's final submissions."""

    def private_state(self, digest: str) -> str | None:
        """``pending`` (a final, after the close), a :class:`ReleaseState` value (``scoring``,
        ``released``, ``disputed``), or None (not a final, or no split)."""
        ...

    def round3(self, digest: str) -> SubmissionRelease | None:
        """The private part's round as stored; None while its request is not stored."""
        ...

    def private_histogram(self, labels_digest: str) -> LabelHistogram | None:
        """The label histogram fixed by the private releases against ``labels_digest``."""
        ...

    def update_private(
        self, digest: str, expect: str
    ) -> AbstractContextManager[PrivateReleaseUpdate | None]:
        """Lock, re-check the private part's state is ``expect``, and yield the writes."""
        ...


class ReleaseDriver:
    """Runs the release's steps for one challenge over ``ledger``."""

    def __init__(self, ledger: ReleaseLedger) -> None:
        self.ledger = ledger
        self._steps: dict[StepName, Callable[[str], list[Step]]] = {
            "round1_start": self.round1_start,
            "round1_finish": self.round1_finish,
            "round2_start": self.round2_start,
            "round2_finish": self.round2_finish,
            "private_start": self.private_start,
            "private_finish": self.private_finish,
        }

    @property
    def challenge_id(self) -> str:
        return self.ledger.context.challenge_id

    def run(self, step: StepName, digest: str) -> list[Step]:
        """Run ``step`` for bundle ``digest``; return the steps that follow. A step that cannot
        run yet, or ran already, does nothing and returns []."""
        return self._steps[step](digest)

    def round1_start(self, digest: str) -> list[Step]:
        status = self.ledger.status(digest)
        if status is None or status.state != ReleaseState.AWAITING_CONTRIBUTIONS:
            return []
        release = self.ledger.round1(digest)
        if release.needs_contributions():
            return []
        requests = release.start(round1_prefix(self.challenge_id, digest))
        with self.ledger.update(digest, (ReleaseState.AWAITING_CONTRIBUTIONS,)) as update:
            if update is not None:
                update.ask_round1(release, requests)
        return []

    def round1_finish(self, digest: str) -> list[Step]:
        status = self.ledger.status(digest)
        if status is None or status.state not in ASKING:
            return []
        release = self.ledger.round1(digest)
        if not release.ready():
            return []
        asked = release.advance()  # the noise verdict and V's ciphertext, or V's verdict
        with self.ledger.update(digest, ASKING) as update:
            if update is None:
                return []
            update.name_liars(release.liars)
            if asked:
                if not update.asked_already(asked[0].request_id):
                    update.ask_round1(release, asked)
                return []
            update.decide_round1(release)
        if release.state != ReleaseState.VALID:
            return []
        if status.kind == "predictions":
            labels = self.ledger.labels()
            labels_valid = labels is not None and labels.state == ReleaseState.VALID
            return [("round2_start", digest)] if labels_valid else []
        return [("round2_start", waiting) for waiting in self.ledger.waiting()]

    def round2_start(self, digest: str) -> list[Step]:
        status, labels = self.ledger.status(digest), self.ledger.labels()
        if status is None or status.kind != "predictions" or labels is None:
            return []
        if status.state != ReleaseState.VALID or labels.state != ReleaseState.VALID:
            return []
        predictions = self.ledger.round1(digest)
        context = self.ledger.context
        submission = SubmissionRelease(  # a split's round 2 is its public part only
            context,
            predictions,
            self.ledger.round1(labels.digest),
            None if context.split is None else "public",
        )
        submission.start(round2_request_id(self.challenge_id, digest), predictions.active)
        with self.ledger.update(digest, (ReleaseState.VALID,)) as update:
            if update is not None:
                update.ask_round2(submission)
        return []

    def round2_finish(self, digest: str) -> list[Step]:
        status = self.ledger.status(digest)
        if status is None or status.state != ReleaseState.SCORING:
            return []
        submission = self.ledger.round2(digest)
        if submission is None or not submission.ready():
            return []
        with self.ledger.update(digest, (ReleaseState.SCORING,)) as update:
            if update is None:
                return []
            # decided under the ledger's lock: the histogram the releases fixed cannot change
            # between reading it and releasing against it (decoding n partials is cheap)
            submission.finish(self.ledger.label_histogram(submission.labels.bundle.digest))
            update.name_liars(submission.liars)
            if submission.state == ReleaseState.DISPUTED:
                update.dispute(submission)
            else:
                update.release(submission)
        return []

    # -- a split's private parts (docs/design.md, "Public/private split") -------------------
    def _private_ledger(self) -> PrivateReleaseLedger | None:
        ledger = self.ledger
        if self.ledger.context.split is None or not isinstance(ledger, PrivateReleaseLedger):
            return None
        return ledger

    def private_start(self, digest: str) -> list[Step]:
        ledger = self._private_ledger()
        if ledger is None or ledger.private_state(digest) != PRIVATE_PENDING:
            return []
        labels = ledger.labels()
        if labels is None or labels.state != ReleaseState.VALID:
            return []
        predictions = ledger.round1(digest)
        if predictions.state != ReleaseState.VALID:
            return []  # round 1 undecided: the sweep asks again once it is
        submission = SubmissionRelease(
            ledger.context, predictions, ledger.round1(labels.digest), "private"
        )
        submission.start(private_request_id(self.challenge_id, digest), predictions.active)
        with ledger.update_private(digest, PRIVATE_PENDING) as update:
            if update is not None:
                update.ask_private(submission)
        return []

    def private_finish(self, digest: str) -> list[Step]:
        ledger = self._private_ledger()
        if ledger is None or ledger.private_state(digest) != ReleaseState.SCORING.value:
            return []
        submission = ledger.round3(digest)
        if submission is None or not submission.ready():
            return []
        with ledger.update_private(digest, ReleaseState.SCORING.value) as update:
            if update is None:
                return []
            submission.finish(ledger.private_histogram(submission.labels.bundle.digest))
            update.name_liars(submission.liars)
            if submission.state == ReleaseState.DISPUTED:
                update.dispute_private(submission)
            else:
                update.release_private(submission)
        return []
