"""Dealerless ceremonies for tests: fixed identities, plan and seeds, trustees that may deviate
(subclasses of ``DkgTrustee``), honest messages computed once and reused (every message is a
deterministic function of its seed and inputs: ``previous`` names the inputs), and threshold
releases by any active subset."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from cryptoscore import BFV8192, ReleasePolicy, encrypt_labels, encrypt_predictions, score
from cryptoscore.identity import Identity
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.scoring.policy import confusion_cell_name
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.ceremony import CeremonyRecord, KeyShare, RosterEntry
from cryptoscore.threshold.combine import decrypt_answers, rerandomize
from cryptoscore.threshold.dkg import (
    ROUNDS,
    CeremonyAbort,
    CeremonyPlan,
    DkgTrustee,
    SignedMessage,
    Transcript,
)
from cryptoscore.threshold.journal import PartialJournal
from cryptoscore.threshold.partial import partial_decrypt, standalone_lineage


class DkgRun:
    """One plan (t of n at bfv-8192) and its trustees' seeds, run as often as a test likes."""

    def __init__(self, t: int, n: int) -> None:
        self.identities = {f"trustee-{i}": Identity.generate() for i in range(1, n + 1)}
        self.roster = [
            RosterEntry(tid, i, ident.public_key)
            for i, (tid, ident) in enumerate(self.identities.items(), start=1)
        ]
        self.plan = CeremonyPlan.create(BFV8192, self.roster, t, created_at="2026-12-01T00:00:00Z")
        self.seeds = {tid: os.urandom(32) for tid in self.identities}
        self._honest: dict[tuple[str, str, str], SignedMessage] = {}

    def trustee(self, tid: str, cls: type[DkgTrustee] = DkgTrustee) -> DkgTrustee:
        return cls(self.plan, tid, self.identities[tid], self.seeds[tid])

    def run(
        self,
        deviants: dict[str, type[DkgTrustee]] | None = None,
        silent: dict[str, str] | None = None,
        *,
        reuse: bool = True,
    ) -> tuple[Transcript, dict[str, DkgTrustee]]:
        """Rounds 1-5 as far as they go: ``deviants`` play with their own class, ``silent``
        trustees send nothing in the named round (and the rounds after it stall); a trustee
        whose checks fail sends no completion. ``reuse``
        False recomputes every message (a test that patches the protocol's checks)."""
        deviants, silent = deviants or {}, silent or {}
        transcript = Transcript(self.plan)
        trustees = {tid: self.trustee(tid, deviants.get(tid, DkgTrustee)) for tid in self.seeds}
        for r, kind in enumerate(ROUNDS):
            if r and not transcript.complete(ROUNDS[r - 1]):
                break
            for tid, trustee in trustees.items():
                if silent.get(tid) == kind:
                    continue
                key = (tid, kind, transcript.expected_previous(kind))
                honest = type(trustee) is DkgTrustee and reuse
                if honest and key in self._honest:
                    transcript.add(self._honest[key])
                    continue
                try:
                    message = {
                        "hello": lambda t=trustee: t.hello(),
                        "contribution": lambda t=trustee: t.contribute(transcript),
                        "response": lambda t=trustee: t.respond(transcript),
                        "confirmation": lambda t=trustee: t.confirm(transcript),
                        "completion": lambda t=trustee: t.complete(transcript),
                    }[kind]()
                except CeremonyAbort:  # no completion on a transcript that aborts
                    continue
                if honest:
                    self._honest[key] = message
                transcript.add(message)
        return transcript, trustees

    def forced_completion(
        self, tid: str, transcript: Transcript, key_id: str | None = None
    ) -> SignedMessage:
        """``tid``'s completion over ``transcript``'s confirmations, whatever its checks say
        (naming the transcript's keys, or ``key_id``)."""
        honest = transcript.honest_completion(*transcript.assemble_keys())
        return SignedMessage.sign(
            self.plan,
            tid,
            self.identities[tid],
            transcript.expected_previous("completion"),
            dataclasses.replace(honest, key_id=key_id or honest.key_id),
        )

    def reveals(self, trustees: dict[str, DkgTrustee], withheld: tuple[str, ...] = ()):
        return [t.reveal() for tid, t in trustees.items() if tid not in withheld]


def accuracy_aggregate(public, evaluation, seed: int, n_items: int = 3000):
    """An encrypted accuracy aggregate of random predictions and labels, and its numpy value."""
    gen = np.random.default_rng(seed)
    y = gen.integers(0, 2, n_items)
    p = np.where(gen.random(n_items) < 0.7, y, 1 - y)
    preds = encrypt_predictions(p, public, classes=2, challenge="dkg")
    labels = encrypt_labels(y, public, classes=2, challenge="dkg")
    metrics = ("correct", "confusion")
    agg = score(preds, labels, ReleasePolicy(2, metrics), evaluation)
    want = {"correct": int(np.count_nonzero(p == y))}
    for a in range(2):
        for b in range(2):
            want[confusion_cell_name(a, b)] = int(np.count_nonzero((p == a) & (y == b)))
    return agg, want


def release(
    aggregate: AggregateCiphertext,
    public,
    record: CeremonyRecord,
    shares: dict[str, KeyShare],
    identities: dict[str, Identity],
    subset: tuple[str, ...],
    journal_dir: Path,
    request_id: str,
) -> dict[str, int]:
    """Threshold-decrypt a fresh re-randomization of ``aggregate`` by ``subset``."""
    fresh = rerandomize(aggregate, public, os.urandom(32))
    active = ActiveSet.of(record, list(subset))
    parts = []
    for tid in subset:
        with PartialJournal(journal_dir / f"{tid}.journal") as journal:
            parts.append(
                partial_decrypt(
                    shares[tid],
                    fresh,
                    active,
                    request_id,
                    identities[tid],
                    journal,
                    record,
                    lineage=standalone_lineage(fresh, active),
                )
            )
    return decrypt_answers(fresh, parts, record, request_id, active).values
