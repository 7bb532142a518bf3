"""Blame by replay: after an abort, name every trustee that deviated from the protocol.

Every message of a trustee is a deterministic function of its seed, the plan and earlier
public messages (``trustee.py``). On abort each trustee publishes its seed (a
:class:`~cryptoscore.threshold.dkg.messages.Reveal`; harmless: the key is discarded before
anything is encrypted under it, and the seed is ceremony-only). Anyone then recomputes each
trustee's messages and compares them byte for byte with what it signed: a mismatch names it
(message and round); no reveal names it ("withheld its seed"); a missing message names its
sender ("sent no <kind>"). Complaints are recomputed like any other message, so a false
complaint names the complainer and a true one names the dealer. This is identifiable abort by
opening (Ishai, Ostrovsky, Zikas, "Secure multi-party computation with identifiable abort",
CRYPTO 2014) — the complaint-and-reveal phase of Pedersen's DKG (Gennaro, Jarecki, Krawczyk,
Rabin, "Secure distributed key generation for discrete-log based cryptosystems",
J. Cryptology 2007) with the whole seed opened instead of one share.
"""

from __future__ import annotations

from collections.abc import Iterable

from cryptoscore.errors import CryptoScoreError
from cryptoscore.threshold.dkg.messages import KINDS, SignedMessage
from cryptoscore.threshold.dkg.transcript import ROUNDS, Transcript
from cryptoscore.threshold.dkg.trustee import SeedReplay

__all__ = ["blame"]


def blame(transcript: Transcript, reveals: Iterable[bytes | SignedMessage] = ()) -> dict[str, str]:
    """Trustee id → what it did wrong, for every trustee the transcript and the ``reveals``
    (added to ``transcript``; checked and signed like every message) show deviating.

    If a round is incomplete, its missing senders are named and nothing is replayed (the
    ceremony stopped there; nobody needs to reveal). Otherwise every trustee must have
    revealed, and each revealed seed is replayed round by round. Empty only if every trustee
    followed the protocol (then an abort could only be an honest failure, which the
    parameters make negligible)."""
    for kind in ROUNDS:
        missing = transcript.missing(kind)
        if missing:
            return {tid: f"sent no {kind}" for tid in missing}
    for message in reveals:
        transcript.add(message)
    seeds = transcript.reveals()
    culprits: dict[str, str] = {}
    for entry in transcript.plan.roster:
        tid = entry.trustee_id
        seed = seeds.get(tid)
        if seed is None:
            culprits[tid] = "withheld its seed"
            continue
        replay = SeedReplay(transcript.plan, tid, seed)
        for kind in ROUNDS:
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
