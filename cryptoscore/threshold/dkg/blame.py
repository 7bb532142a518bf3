"""Blame by replay: after an abort, name every trustee that deviated from the protocol.

Every message of a trustee is a deterministic function of its seed, the plan and earlier public
messages (``trustee.py``). On abort each trustee publishes its seed (a
:class:`~cryptoscore.threshold.dkg.messages.Reveal`; harmless: the key is discarded before
anything is encrypted under it, and the seed is ceremony-only). Anyone then recomputes each
trustee's messages and compares them byte for byte with what it signed: a mismatch names it
(message and round); no reveal names it ("withheld its seed"); a missing message names its
sender ("sent no <kind>"). Complaints are recomputed like any other message, so a false
complaint names the complainer and a true one names the dealer — a PRSS key that does not match
its leader's commitment included: the replay recomputes r_A, its commitment and the sealed
bytes from the leader's seed, so a leader that sealed another key or committed to another one
is named, and a member that complains of a key that matches is. This is identifiable abort by
opening (Ishai, Ostrovsky, Zikas, "Secure multi-party computation with identifiable abort",
CRYPTO 2014) — the complaint-and-reveal phase of Pedersen's DKG (Gennaro, Jarecki, Krawczyk,
Rabin, "Secure distributed key generation for discrete-log based cryptosystems", J. Cryptology
2007) with the whole seed opened instead of one share.

The completion round (round 5) is replayed too: an honest trustee's completion is a
deterministic function of its seed and rounds 1-4, sent exactly when their public checks pass
and its own shares check. So a completion over confirmations whose checks fail names its
sender without any seed, and when the checks pass nobody needs to reveal: a missing completion
names its sender ("sent no completion"), and a trustee that revealed after completing is named
for that.
"""

from __future__ import annotations

from collections.abc import Iterable

from cryptoscore.errors import CryptoScoreError
from cryptoscore.scoring.keys import EvaluationKeys, PublicContext
from cryptoscore.threshold.dkg.messages import KINDS, SignedMessage
from cryptoscore.threshold.dkg.transcript import (
    CONFIRMED_ROUNDS,
    CeremonyAbort,
    Transcript,
)
from cryptoscore.threshold.dkg.trustee import SeedReplay

__all__ = ["blame", "reveals_needed"]


def _stopped(transcript: Transcript) -> dict[str, str]:
    """The senders missing from the first incomplete round of 1-4 (empty: all complete)."""
    for kind in CONFIRMED_ROUNDS:
        missing = transcript.missing(kind)
        if missing:
            return {tid: f"sent no {kind}" for tid in missing}
    return {}


def _confirmed_keys(transcript: Transcript) -> tuple[PublicContext, EvaluationKeys] | None:
    """The keys if the checks of rounds 1-4 pass, else None."""
    try:
        return transcript.check_confirmations()
    except CeremonyAbort:
        return None


def reveals_needed(transcript: Transcript) -> list[str]:
    """The trustees whose seeds :func:`blame` still needs, in index order: none if a round of
    1-4 is incomplete or their checks pass (blame names the silent then, without replay);
    otherwise every trustee that has neither revealed nor completed (a completion over
    failing confirmations is its sender's fault by itself)."""
    if _stopped(transcript) or _confirmed_keys(transcript) is not None:
        return []
    seeds = transcript.reveals()
    return [
        e.trustee_id
        for e in transcript.plan.roster
        if e.trustee_id not in seeds and transcript.message("completion", e.trustee_id) is None
    ]


def blame(transcript: Transcript, reveals: Iterable[bytes | SignedMessage] = ()) -> dict[str, str]:
    """Trustee id → what it did wrong, for every trustee the transcript and the ``reveals``
    (added to ``transcript``; checked and signed like every message) show deviating.

    If a round of 1-4 is incomplete, its missing senders are named and nothing is replayed
    (the ceremony stopped there; nobody needs to reveal). If the checks of rounds 1-4 pass,
    every trustee should complete: the missing completions' senders are named, and any
    trustee that revealed after completing. Otherwise each trustee that completed is named
    for it, every other one must have revealed, and each revealed seed is replayed round by
    round. Empty only if every trustee followed the protocol (then an abort could only be an
    honest failure, which the parameters make negligible)."""
    stopped = _stopped(transcript)
    if stopped:
        return stopped
    for message in reveals:
        transcript.add(message)
    seeds = transcript.reveals()
    keys = _confirmed_keys(transcript)
    culprits: dict[str, str] = {}
    if keys is not None:
        # an honest completion needs no seed to replay: it names the keys rounds 1-4 give
        completion = transcript.honest_completion(*keys)
        previous = transcript.expected_previous("completion")
        for entry in transcript.plan.roster:
            tid = entry.trustee_id
            sent = transcript.message("completion", tid)
            if sent is None:
                culprits[tid] = "sent no completion"
            elif sent.unsigned != SignedMessage.unsigned_record(
                transcript.plan, tid, previous, completion
            ):
                culprits[tid] = (
                    f"its completion (round {KINDS['completion']}) is not what the transcript gives"
                )
            elif tid in seeds:
                culprits[tid] = "revealed its seed after completing"
        return culprits
    for entry in transcript.plan.roster:
        tid = entry.trustee_id
        if transcript.message("completion", tid) is not None:
            culprits[tid] = (
                f"its completion (round {KINDS['completion']}) answers confirmations whose "
                "checks fail"
            )
            continue
        seed = seeds.get(tid)
        if seed is None:
            culprits[tid] = "withheld its seed"
            continue
        replay = SeedReplay(transcript.plan, tid, seed)
        for kind in CONFIRMED_ROUNDS:
            sent = transcript.message(kind, tid)
            assert sent is not None  # every round is complete (above)
            try:
                honest = replay.unsigned(kind, transcript)
            except CryptoScoreError as exc:  # the transcript itself is unusable for it
                culprits[tid] = f"its {kind} (round {KINDS[kind]}) cannot be replayed: {exc}"
                break
            if honest != sent.unsigned:
                culprits[tid] = f"its {kind} (round {KINDS[kind]}) is not what its seed gives"
                break
    return culprits
