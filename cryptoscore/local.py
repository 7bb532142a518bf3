"""A whole challenge in one process: the roles' steps in order, every event logged.

:class:`LocalChallenge` plays the service (computing, logging, combining) and drives the
trustees it is given (their agents, ``trustee/agent.py``) through both rounds, exactly as
the networked service and ``trustee run`` do, but without HTTP or a database. It is what the
demo, the audit tests and the release benchmarks use, and a readable map of the protocol.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from cryptoscore.errors import MismatchError, RefusedError, StepError
from cryptoscore.identity import Identity, TrusteeIdentity
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.release import BundleRelease, SubmissionRelease
from cryptoscore.protocol.requests import DecryptionRequest, Round1Evidence
from cryptoscore.protocol.signed_inputs import Enrolment, sign_pad_request, sign_upload
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


def wall_clock_ms() -> int:
    return int(time.time() * 1000)


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
    participants: dict[str, Identity] = field(default_factory=dict, init=False)
    transcript: Transcript = field(init=False)
    labels: BundleRelease | None = field(default=None, init=False)
    submissions: dict[str, SubmissionRelease | BundleRelease] = field(
        default_factory=dict, init=False
    )
    _requests: int = field(default=0, init=False)

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
        self.sign_head()

    def sign_head(self) -> None:
        self.transcript.sign_head(self.clock())

    def enrol(self, name: str, identity: Identity) -> None:
        """A participant enrols ``identity`` under ``name`` (signed by that identity)."""
        rules = self.context.rules
        assert rules is not None  # checked when this challenge was made
        if not rules.may_enrol(identity.public_key):
            raise RefusedError(f"{name}'s identity is not invited to this challenge")
        if name in self.participants:
            raise StepError(f"{name} is enrolled already")
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

    def pads(self, kind: str, participant: str | None = None, key: PadKey | None = None) -> Pads:
        """A submitter's pads for one ``kind`` bundle (the organizer's for labels, enrolled
        ``participant``'s for predictions): it signs the request, the log holds it, the
        active trustees answer it (each once per seed, within quota), the submitter opens
        their shares (``threshold/pad_shares.py``)."""
        signer = self._signer(kind, participant)
        key = key or PadKey.generate()
        active = self.active_set()
        request = self.context.pad_request(kind, key, active)
        signature = sign_pad_request(
            signer, request.challenge_id, kind, request.seed, request.recipient
        )
        self.transcript.record_pad_request(request, signer.public_key, signature, self.clock())
        self.sign_head()
        shares = [
            self.trustees[tid].agent.answer_pads(request, self.context, self._log(tid))
            for tid in self._ids(active)
        ]
        return open_pads(request, shares, self.context.record, key)

    def _record_upload(self, bundle: EncryptedBundle, owner: str, signer: Identity) -> None:
        kind = bundle.header.kind
        self.context.check_bundle(bundle, kind)
        signature = sign_upload(signer, self.context.challenge_id, kind, bundle.digest)
        self.transcript.record_bundle(bundle, owner, signer.public_key, signature, self.clock())
        self.sign_head()

    def upload_labels(self, labels: EncryptedBundle) -> BundleRelease:
        """Organizer uploads labels (signed with its key); round 1 runs at once."""
        if labels.header.kind != "labels":
            raise StepError("upload_labels takes a labels bundle")
        self._record_upload(labels, "organizer", self.organizer)
        self.labels = self._round1(labels)
        self.sign_head()
        return self.labels

    def submit(self, participant: str, predictions: EncryptedBundle) -> str:
        """An enrolled participant submits (signed with its identity); round 1, then round 2
        if valid. Returns the final state."""
        if self.labels is None or self.labels.state != "valid":
            raise StepError("the challenge has no valid labels yet")
        if predictions.header.kind != "predictions":
            raise StepError("submit takes a predictions bundle")
        self._record_upload(predictions, participant, self._signer("predictions", participant))
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
