"""A trustee's step driver for the dealerless ceremony: the one thing due now, no I/O.

The CLI and the service's relay share it. A trustee's whole state is its seed and a
:class:`SeedStatus` (kept together in its seed file, ``seed_file.py``); :func:`step` looks at
them and the public :class:`~cryptoscore.threshold.dkg.transcript.Transcript` and returns a
:class:`StepOutcome`: the message to post (hello, contribution, response, confirmation,
completion or reveal), the share and record when it finishes, what it waits for, or why the
ceremony is over. Loops that post, fetch and call :func:`step` again belong to the callers.

The rules (docs/design.md, "Key ceremony v2 (dealerless)", the completion round):

* ACTIVE: send each round's message once the round before is complete; after the
  confirmations, **complete** when every public check of rounds 1-4 passes and the trustee's
  own shares check (status COMPLETED), else **reveal** (status REVEALED). Any other trustee's
  reveal also makes an active trustee reveal: the ceremony is void, and revealing is safe
  because no honest trustee can have finished without this trustee's completion.
* COMPLETED: never reveal. With every trustee's completion over the same confirmations,
  **finish**: the :class:`KeyShare` and the :class:`CeremonyRecord` (status FINISHED). A
  reveal by anyone else means nobody can finish: aborted.
* REVEALED: (re)post the reveal, then wait for the reveals blame needs
  (``blame.reveals_needed``), then aborted with the culprits ``blame`` names.
* FINISHED: done.

Every message is deterministic in the seed and the transcript (Ed25519 signatures are
deterministic, RFC 8032 §5.1.6), so a step re-run after a crash produces the identical bytes
and the relay keeps one copy. **The caller persists the new status BEFORE it posts a
completion or a reveal** (and writes the share file before it persists FINISHED): a trustee
that posted its completion and crashed must come back COMPLETED, never ACTIVE, or a later
abort could make it reveal the seed of a live key. As a second line, :func:`step` treats a
transcript that holds this trustee's completion as COMPLETED whatever the status says (a lost
or rolled-back status file) and returns the corrected status.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from cryptoscore.errors import MismatchError
from cryptoscore.identity import Identity
from cryptoscore.threshold.ceremony import CeremonyRecord, KeyShare
from cryptoscore.threshold.dkg.blame import blame, reveals_needed
from cryptoscore.threshold.dkg.messages import KINDS, SignedMessage
from cryptoscore.threshold.dkg.plan import CeremonyPlan
from cryptoscore.threshold.dkg.transcript import CONFIRMED_ROUNDS, CeremonyAbort, Transcript
from cryptoscore.threshold.dkg.trustee import DkgTrustee

__all__ = ["DUE", "SeedStatus", "StepOutcome", "step"]


class SeedStatus(enum.Enum):
    """Where a trustee is in the ceremony, kept with its seed (``seed_file.py``). Moves only
    ACTIVE → COMPLETED → FINISHED or ACTIVE → REVEALED."""

    ACTIVE = "active"
    """Sending rounds 1-4; may still reveal on abort."""
    COMPLETED = "completed"
    """Sent (or computed) its completion: never reveals."""
    FINISHED = "finished"
    """Holds its key share (written to its share file by the caller)."""
    REVEALED = "revealed"
    """Published its seed: the ceremony is void; never completes or finishes."""


DUE = (
    "hello",
    "contribution",
    "response",
    "confirmation",
    "completion",
    "finish",
    "reveal",
    "wait",
    "done",
    "aborted",
)
"""What a step can find due: a message kind to post, finish, wait, done or aborted."""


@dataclass(frozen=True, slots=True, eq=False)
class StepOutcome:
    """What :func:`step` found due, and its result."""

    due: str
    """One of :data:`DUE`."""
    status: SeedStatus
    """The trustee's status after this step: persist it before posting ``message``."""
    summary: str
    """One human-readable line."""
    message: SignedMessage | None = None
    """The message to post (due is a message kind, or "reveal")."""
    share: KeyShare | None = field(default=None, repr=False)
    """due "finish": this trustee's key share (the caller writes its share file)."""
    record: CeremonyRecord | None = None
    """due "finish": the ceremony record (the same bytes for every trustee)."""
    waiting_kind: str = ""
    """due "wait": the kind of message waited for."""
    waiting_for: tuple[str, ...] = ()
    """due "wait": the trustees it is waited from, in roster order."""
    culprits: Mapping[str, str] = field(default_factory=dict)
    """due "aborted": trustee id → what it did wrong (``blame``), when known."""


def _wait(kind: str, ids: list[str], status: SeedStatus) -> StepOutcome:
    return StepOutcome(
        "wait",
        status,
        f"waiting for the {kind} of {', '.join(ids)}",
        waiting_kind=kind,
        waiting_for=tuple(ids),
    )


def _aborted(transcript: Transcript, status: SeedStatus, why: str) -> StepOutcome:
    culprits = blame(transcript)
    named = "; ".join(f"{tid}: {reason}" for tid, reason in culprits.items())
    return StepOutcome(
        "aborted",
        status,
        f"the ceremony aborted ({why})" + (f": {named}" if named else ""),
        culprits=culprits,
    )


def _reveal(trustee: DkgTrustee, why: str) -> StepOutcome:
    return StepOutcome(
        "reveal",
        SeedStatus.REVEALED,
        f"the ceremony aborted ({why}): post the seed's reveal so anyone can name the deviators",
        message=trustee.reveal(),
    )


def step(
    plan: CeremonyPlan,
    trustee_id: str,
    identity: Identity,
    seed: bytes,
    status: SeedStatus,
    transcript: Transcript,
    *,
    progress: Callable[[int], None] | None = None,
) -> StepOutcome:
    """The one thing due now for trustee ``trustee_id`` (its roster ``identity``, its
    ``seed`` and ``status``) given the public ``transcript`` (module docstring). Computing a
    contribution takes a while; ``progress(done)`` counts its steps
    (``SeedReplay.contribution_steps``)."""
    if transcript.plan.digest != plan.digest:
        raise MismatchError("the transcript is another ceremony's")
    trustee = DkgTrustee(plan, trustee_id, identity, seed)
    own_reveal = trustee_id in transcript.reveals()
    if status is SeedStatus.ACTIVE and transcript.message("completion", trustee_id) is not None:
        status = SeedStatus.COMPLETED  # its completion is public: it never reveals
    elif status is SeedStatus.ACTIVE and own_reveal:
        status = SeedStatus.REVEALED
    if status is SeedStatus.FINISHED:
        return StepOutcome("done", status, f"{trustee_id} finished the ceremony")
    if status is SeedStatus.REVEALED:
        return _after_reveal(trustee, transcript, own_reveal)
    if status is SeedStatus.COMPLETED:
        return _after_completion(trustee, transcript)
    return _active(trustee, transcript, progress)


def _after_reveal(trustee: DkgTrustee, transcript: Transcript, own_reveal: bool) -> StepOutcome:
    if not own_reveal:
        return _reveal(trustee, "this trustee revealed; its reveal is not posted yet")
    needed = reveals_needed(transcript)
    if needed:
        return _wait("reveal", needed, SeedStatus.REVEALED)
    return _aborted(transcript, SeedStatus.REVEALED, f"{trustee.trustee_id} revealed its seed")


def _after_completion(trustee: DkgTrustee, transcript: Transcript) -> StepOutcome:
    status = SeedStatus.COMPLETED
    tid = trustee.trustee_id
    if transcript.message("completion", tid) is None:
        try:
            message = trustee.complete(transcript)
        except CeremonyAbort as exc:  # another view than the one it completed on
            return StepOutcome(
                "aborted",
                status,
                f"{tid} completed, but this transcript aborts ({exc}); it never reveals",
                culprits=exc.culprits,
            )
        return StepOutcome(
            "completion",
            status,
            f"{tid} completed: post its completion (round {KINDS['completion']}); "
            "it never reveals its seed from now on",
            message=message,
        )
    if transcript.complete("completion"):
        try:
            share = trustee.finish(transcript)
            record = transcript.check_transcript(created_at=trustee.plan.created_at)
        except CeremonyAbort as exc:
            return StepOutcome(
                "aborted", status, f"{tid} cannot finish: {exc}", culprits=exc.culprits
            )
        return StepOutcome(
            "finish",
            SeedStatus.FINISHED,
            f"{tid} finished: key {record.key_id[:16]}…; write the share file, then persist "
            "the status",
            share=share,
            record=record,
        )
    others = [who for who in transcript.reveals() if who != tid]
    if others:
        return _aborted(
            transcript, status, f"{', '.join(others)} revealed: the key is void, nobody finishes"
        )
    return _wait("completion", transcript.missing("completion"), status)


def _active(
    trustee: DkgTrustee, transcript: Transcript, progress: Callable[[int], None] | None
) -> StepOutcome:
    status = SeedStatus.ACTIVE
    tid = trustee.trustee_id
    others = [who for who in transcript.reveals() if who != tid]
    if others:
        return _reveal(trustee, f"{', '.join(others)} revealed")
    for r, kind in enumerate(CONFIRMED_ROUNDS):
        if transcript.message(kind, tid) is not None:
            continue
        if r:
            before = CONFIRMED_ROUNDS[r - 1]
            if not transcript.complete(before):
                return _wait(before, transcript.missing(before), status)
        if kind == "hello":
            message = trustee.hello()
        elif kind == "contribution":
            message = trustee.contribute(transcript, progress=progress)
        elif kind == "response":
            message = trustee.respond(transcript)
        else:
            message = trustee.confirm(transcript)
        return StepOutcome(
            kind, status, f"{tid}: post its {kind} (round {KINDS[kind]})", message=message
        )
    if not transcript.complete("confirmation"):
        return _wait("confirmation", transcript.missing("confirmation"), status)
    try:
        message = trustee.complete(transcript)
    except CeremonyAbort as exc:
        if not exc.needs_reveal:
            return StepOutcome("aborted", status, str(exc), culprits=exc.culprits)
        return _reveal(trustee, str(exc))
    return StepOutcome(
        "completion",
        SeedStatus.COMPLETED,
        f"{tid}: every check passed; persist the status COMPLETED, then post its completion "
        f"(round {KINDS['completion']}): it never reveals its seed from now on",
        message=message,
    )
