"""A whole challenge in one process: the roles' steps in order, every event logged.

:class:`LocalChallenge` plays the service (computing, logging, combining) and drives the
trustees it is given (their agents, ``trustee/agent.py``) through both rounds, exactly as
the networked service and ``trustee run`` do, but without HTTP or a database. It is what the
demo, the audit tests and the release benchmarks use, and a readable map of the protocol.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cryptoscore.errors import StepError
from cryptoscore.identity import TrusteeIdentity
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.release import BundleRelease, SubmissionRelease
from cryptoscore.protocol.requests import DecryptionRequest, Round1Evidence
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.scoring.pad_request import Pads
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.ceremony import KeyShare
from cryptoscore.threshold.pad_shares import PadKey, open_pads
from cryptoscore.threshold.partial import PartialDecryption
from cryptoscore.transparency.replica import LogReplica
from cryptoscore.transparency.transcript import Transcript
from cryptoscore.trustee.agent import TrusteeAgent

__all__ = ["LocalChallenge", "LocalTrustee", "local_trustees"]


@dataclass
class LocalTrustee:
    """A trustee in this process: its agent (``trustee/agent.py``: every rule it answers
    by), and whether it is online."""

    agent: TrusteeAgent
    online: bool = True

    @property
    def trustee_id(self) -> str:
        return self.agent.trustee_id


@dataclass
class LocalChallenge:
    context: ChallengeContext
    trustees: Mapping[str, LocalTrustee]
    service_key: Ed25519PrivateKey
    transcript: Transcript = field(init=False)
    labels: BundleRelease | None = field(default=None, init=False)
    submissions: dict[str, SubmissionRelease | BundleRelease] = field(
        default_factory=dict, init=False
    )
    _requests: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.transcript = Transcript(
            self.context.challenge_id, self.service_key, f"cryptoscore/{self.context.challenge_id}"
        )
        self.transcript.record_ceremony(
            self.context.record, self.context.public, self.context.evaluation
        )
        self.transcript.record_challenge(self.context)
        self.sign_head()

    def sign_head(self) -> None:
        self.transcript.sign_head(int(time.time() * 1000))

    def _log(self, tid: str) -> LogReplica:
        """Trustee ``tid``'s copy of the log, brought up to the latest signed head: what it
        decides by (``trustee/log_rules.py``), as over the network."""
        key = self.service_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return self.trustees[tid].agent.follow(self.transcript, self.context.challenge_id, key)

    def active_set(self) -> ActiveSet:
        """The first t online trustees, in roster order."""
        online = [
            e.trustee_id
            for e in self.context.record.roster
            if e.trustee_id in self.trustees and self.trustees[e.trustee_id].online
        ]
        if len(online) < self.context.record.threshold:
            raise StepError("fewer than t trustees are online")
        return ActiveSet.of(self.context.record, online[: self.context.record.threshold])

    def _ids(self, active: ActiveSet) -> list[str]:
        return [self.context.record.entry_by_index(i).trustee_id for i in active.indices]

    def _next_id(self, prefix: str) -> str:
        self._requests += 1
        return f"{prefix}-{self._requests}"

    def _round1(self, bundle: EncryptedBundle) -> BundleRelease:
        release = BundleRelease(self.context, bundle)  # answered by the bundle's pad set
        active = release.active
        for tid in self._ids(active):
            contribution = self.trustees[tid].agent.contribute(
                self.context, bundle.digest, self._log(tid)
            )
            release.add_contribution(contribution)
            self.transcript.record_contribution(bundle.digest, contribution)
        requests = release.start(self._next_id("round1"))  # the noise checks, then V
        while requests:
            for request in requests:
                self.transcript.record_request(request, 1)
                self.sign_head()  # trustees answer only what a signed head covers
                evidence = {bundle.digest: release.evidence()}  # V: trustees check noise
                for tid in self._ids(active):
                    partial = self._answer(tid, request, {bundle.digest: bundle}, evidence)
                    release.add_partial(partial)
            requests = release.advance()
        self.transcript.record_round1(bundle.digest, release.state, release.reason)
        return release

    def _answer(
        self,
        tid: str,
        request: DecryptionRequest,
        bundles: Mapping[str, EncryptedBundle],
        evidence: Mapping[str, Round1Evidence],
    ) -> PartialDecryption:
        partial = self.trustees[tid].agent.answer(
            request, self.context, bundles, evidence, self._log(tid)
        )
        self.transcript.record_partial(partial)
        return partial

    def pads(self, kind: str, key: PadKey | None = None) -> Pads:
        """A submitter's pads for one ``kind`` bundle: the active trustees answer the pad
        request (each once per seed), the submitter opens their shares
        (``threshold/pad_shares.py``)."""
        key = key or PadKey.generate()
        active = self.active_set()
        request = self.context.pad_request(kind, key, active)
        shares = [
            self.trustees[tid].agent.answer_pads(request, self.context) for tid in self._ids(active)
        ]
        return open_pads(request, shares, self.context.record, key)

    def upload_labels(self, labels: EncryptedBundle) -> BundleRelease:
        """Organizer uploads labels; round 1 runs at once."""
        self.context.check_bundle(labels, "labels")
        self.transcript.record_bundle(labels, "organizer")
        self.sign_head()
        self.labels = self._round1(labels)
        self.sign_head()
        return self.labels

    def submit(self, participant: str, predictions: EncryptedBundle) -> str:
        """A participant submits; round 1, then round 2 if valid. Returns the final state."""
        if self.labels is None or self.labels.state != "valid":
            raise StepError("the challenge has no valid labels yet")
        self.context.check_bundle(predictions, "predictions")
        self.transcript.record_bundle(predictions, participant)
        self.sign_head()
        r1 = self._round1(predictions)
        if r1.state != "valid":
            self.submissions[participant] = r1
            self.sign_head()
            return r1.state
        sub = SubmissionRelease(self.context, r1, self.labels)
        active = self.active_set()
        request = sub.start(self._next_id("round2"), active)
        self.transcript.record_request(request, 2)
        self.sign_head()
        bundles = {predictions.digest: predictions, self.labels.bundle.digest: self.labels.bundle}
        for tid in self._ids(active):
            evidence = {
                predictions.digest: r1.evidence(),
                self.labels.bundle.digest: self.labels.evidence(),
            }
            sub.add_partial(self._answer(tid, request, bundles, evidence))
        values = sub.finish()
        self.transcript.record_release(
            predictions.digest, self.labels.bundle.digest, request.request_id, values
        )
        self.submissions[participant] = sub
        self.sign_head()
        return sub.state

    def released(self) -> dict[str, dict[str, int]]:
        return {
            name: sub.released
            for name, sub in self.submissions.items()
            if isinstance(sub, SubmissionRelease)
        }

    def rejected(self) -> dict[str, str]:
        return {
            name: sub.reason
            for name, sub in self.submissions.items()
            if isinstance(sub, BundleRelease)
        }

    def export_audit_bundle(self, path: str | Path) -> None:
        self.transcript.export(path, self.context.policy)


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
