"""A test committee: a single-key key set shared t-of-n exactly as the ceremony shares it,
keeping the whole key so tests can compare threshold results with SEAL's decryption — or,
``Committee(t, n, dealerless=True)``, keys from a dealerless ceremony, which has no single key
(only what needs no secret: ``keys.secret`` is absent)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cryptoscore import BFV8192, KeySet, encrypt_labels, encrypt_predictions, generate_keys
from cryptoscore.hazmat.shamir import share
from cryptoscore.identity import Identity, TrusteeIdentity
from cryptoscore.local import LocalChallenge, LocalTrustee, local_trustees
from cryptoscore.protocol.answer import answer_pad_request
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.contributions import Contribution
from cryptoscore.protocol.rules import ChallengeRules
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.scoring.keys import EvaluationKeys, PublicContext
from cryptoscore.scoring.pad_request import Pads
from cryptoscore.scoring.policy import ReleasePolicy
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.ceremony import (
    CeremonyRecord,
    KeyShare,
    RosterEntry,
    secret_key_residues,
)
from cryptoscore.threshold.dkg import run_dealerless_ceremony
from cryptoscore.threshold.journal import PartialJournal
from cryptoscore.threshold.pad_shares import PadKey, open_pads
from cryptoscore.threshold.partial import PartialDecryption, partial_decrypt, standalone_lineage
from cryptoscore.trustee.agent import TrusteeAgent


@dataclass(frozen=True)
class PublicKeys:
    """A dealerless committee's keys: the public ones only (nobody holds the secret key)."""

    public: PublicContext
    evaluation: EvaluationKeys


class Committee:
    """A key set shared t-of-n the way the ceremony does, keeping the single key for tests
    (dealer), or made by a dealerless ceremony run in process (``dealerless=True``)."""

    def __init__(
        self, t: int, n: int, keys: KeySet | None = None, *, dealerless: bool = False
    ) -> None:
        self.organizer = Identity.generate()
        self.identities = [TrusteeIdentity.generate() for _ in range(n)]
        self.roster = [
            RosterEntry(f"trustee-{i + 1}", i + 1, self.identities[i].public_key) for i in range(n)
        ]
        self.keys: KeySet | PublicKeys
        if dealerless:
            if keys is not None:
                raise ValueError("a dealerless committee makes its own keys")
            result = run_dealerless_ceremony(
                BFV8192,
                self.roster,
                t,
                None,
                identities={e.trustee_id: self.identities[e.index - 1] for e in self.roster},
                created_at="2026-11-25T00:00:00Z",
            )
            self.keys = PublicKeys(result.public, result.evaluation)
            self.shares = dict(result.shares)
            self.record = result.record
            return
        self.keys = keys or generate_keys(BFV8192)
        secret = secret_key_residues(self.keys.secret)
        shares = share(secret, BFV8192.DATA_PRIMES, t, [e.index for e in self.roster])
        self.shares = {
            e.trustee_id: KeyShare(BFV8192, self.keys.public.key_id, e.trustee_id, e.index, t, s)
            for e, s in zip(self.roster, shares, strict=True)
        }
        self.record = CeremonyRecord(
            params=BFV8192,
            key_id=self.keys.public.key_id,
            evaluation_keys=self.keys.evaluation.digest,
            threshold=t,
            roster=tuple(self.roster),
            share_commitments={e.trustee_id: "0" * 64 for e in self.roster},
            created_at="2026-11-25T00:00:00Z",
        )

    def identity(self, trustee_id: str) -> TrusteeIdentity:
        return self.identities[self.record.entry(trustee_id).index - 1]

    def partials(self, aggregate, trustee_ids, request_id, journal_dir):
        active = ActiveSet.of(self.record, trustee_ids)
        out = []
        for tid in trustee_ids:
            with PartialJournal(journal_dir / f"{tid}.journal") as journal:
                out.append(
                    partial_decrypt(
                        self.shares[tid],
                        aggregate,
                        active,
                        request_id,
                        self.identity(tid),
                        journal,
                        self.record,
                        lineage=standalone_lineage(aggregate, active),
                    )
                )
        return active, out

    def rules(self, **overrides) -> ChallengeRules:
        """Open enrolment, labels signed by this committee's organizer, roomy quotas."""
        fields = {
            "organizer": self.organizer.public_key,
            "enrolment": "open",
            "submissions_per_day": 20,
            "pad_requests_per_day": 40,
        }
        fields.update(overrides)
        return ChallengeRules(**fields)

    def context(
        self, challenge_id: str, policy: ReleasePolicy, n: int, rules=None
    ) -> ChallengeContext:
        """A challenge published under this committee's key (default rules: :meth:`rules`)."""
        return ChallengeContext(
            challenge_id,
            self.record,
            self.keys.public,
            self.keys.evaluation,
            policy,
            n,
            rules or self.rules(),
        )

    def local_challenge(
        self, context, journal_dir, service_key, offline=(), participants=(), **kwargs
    ) -> LocalChallenge:
        """``context`` in one process, its organizer this committee's; each name in
        ``participants`` enrolled with a fresh identity."""
        local = LocalChallenge(
            context,
            self.local_trustees(journal_dir, offline),
            service_key,
            self.organizer,
            **kwargs,
        )
        for name in participants:
            local.enrol(name, Identity.generate())
        return local

    @staticmethod
    def one_submission(
        local: LocalChallenge, name: str, seed: int
    ) -> tuple[EncryptedBundle, np.ndarray, np.ndarray]:
        """Random binary labels uploaded and ``name``'s predictions (80% right) submitted
        and released on ``local`` (a challenge with ``name`` enrolled); returns the
        predictions' bundle, the labels and the predictions."""
        context = local.context
        n, challenge = context.n, context.challenge_id
        gen = np.random.default_rng(seed)
        y = gen.integers(0, 2, n)
        p = np.where(gen.random(n) < 0.8, y, 1 - y)
        labels = local.pads("labels")
        local.upload_labels(
            encrypt_labels(y, context.public, classes=2, challenge=challenge, pads=labels)
        )
        bundle = encrypt_predictions(
            p, context.public, classes=2, challenge=challenge, pads=local.pads("predictions", name)
        )
        assert local.submit(name, bundle) == "released"
        return bundle, y, p

    def agent(self, tid, journal_dir) -> TrusteeAgent:
        """Trustee ``tid``'s agent (``trustee/agent.py``), journal in ``journal_dir``: the
        cryptographic rules alone, no log to follow (``LocalChallenge`` and the service's
        tests run the log rules too)."""
        return TrusteeAgent(
            self.shares[tid],
            self.identity(tid),
            journal_dir / f"{tid}.journal",
            say=_quiet,
            follows_log=False,
        )

    def answer(
        self, tid, request, context, bundles, journal_dir, evidence=None
    ) -> PartialDecryption:
        """Trustee ``tid`` answers ``request`` through its agent (checking round 1, its own
        contribution and recomputing it first), journal in journal_dir."""
        agent = self.agent(tid, journal_dir)
        try:
            return agent.answer(request, context, bundles, evidence or {})
        finally:
            agent.close()

    def contribute(self, tid, context, bundle_digest, journal_dir) -> Contribution:
        """Trustee ``tid``'s signed round-1 contribution (once per bundle, per its journal)."""
        agent = self.agent(tid, journal_dir)
        try:
            return agent.contribute(context, bundle_digest)
        finally:
            agent.close()

    def local_trustees(self, journal_dir, offline=()) -> dict[str, LocalTrustee]:
        """The committee as in-process trustees for ``cryptoscore.local.LocalChallenge``."""
        identities = {e.trustee_id: self.identity(e.trustee_id) for e in self.roster}
        return local_trustees(self.shares, identities, journal_dir, offline=offline)

    def pads(self, context: ChallengeContext, kind: str, journal_dir, trustee_ids=None) -> Pads:
        """A submitter's pads for one ``kind`` bundle of ``context``, answered by
        ``trustee_ids`` (default: the first t of the roster)."""
        ids = trustee_ids or [e.trustee_id for e in self.roster[: self.record.threshold]]
        key = PadKey.generate()
        request = context.pad_request(kind, key, ActiveSet.of(self.record, ids))
        shares = []
        for tid in ids:
            with PartialJournal(journal_dir / f"{tid}.journal") as journal:
                shares.append(
                    answer_pad_request(
                        request, context, self.shares[tid], self.identity(tid), journal
                    )
                )
        return open_pads(request, shares, self.record, key)


def _quiet(_line: str) -> None:
    pass
