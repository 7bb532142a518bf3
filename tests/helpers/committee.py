"""A test committee: a single-key key set shared t-of-n exactly as the ceremony shares it,
keeping the whole key so tests can compare threshold results with SEAL's decryption — or,
``Committee(t, n, dealerless=True)``, keys from a dealerless ceremony, which has no single key
(only what needs no secret: ``keys.secret`` is absent)."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from cryptoscore import (
    BFV8192,
    KeySet,
    encrypt_labels,
    encrypt_predictions,
    generate_keys,
    raw_encrypt_vectors,
)
from cryptoscore.hazmat.ciphertext import encode_ciphertext
from cryptoscore.hazmat.shamir import share
from cryptoscore.identity import Identity, TrusteeIdentity
from cryptoscore.local import LocalChallenge, LocalTrustee, local_trustees
from cryptoscore.protocol.answer import answer_pad_request
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.contributions import Contribution
from cryptoscore.protocol.rules import ChallengeRules
from cryptoscore.scoring.bundle import BundleWriter, EncryptedBundle
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
from cryptoscore.threshold.prss import deal_prss_keys, set_commitments
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
        self,
        t: int,
        n: int,
        keys: KeySet | None = None,
        *,
        dealerless: bool = False,
        robust: bool = False,
    ) -> None:
        """``robust``: PRSS keys dealt as the dealer ceremony deals them, a version 4 record
        (answers are Shamir shares); otherwise a version 1 record (additive answers)."""
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
        key_id = self.keys.public.key_id
        prss = deal_prss_keys(key_id, n, t) if robust else (None,) * n
        self.shares = {
            e.trustee_id: KeyShare(BFV8192, key_id, e.trustee_id, e.index, t, s, prss=k)
            for e, s, k in zip(self.roster, shares, prss, strict=True)
        }
        robust_fields = (
            {"answers": "shamir", "prss_commitments": set_commitments(prss)} if robust else {}
        )
        self.record = CeremonyRecord(
            params=BFV8192,
            key_id=self.keys.public.key_id,
            evaluation_keys=self.keys.evaluation.digest,
            threshold=t,
            roster=tuple(self.roster),
            share_commitments={e.trustee_id: "0" * 64 for e in self.roster},
            created_at="2026-11-25T00:00:00Z",
            **robust_fields,
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

    def all_answers(
        self, aggregate, request_id, journal_dir, dp_rho: float | None = None
    ) -> dict[int, PartialDecryption]:
        """Every trustee's partial of ``aggregate`` (index → partial), each under a t-set
        naming it (:func:`set_with`): Shamir answers do not depend on the set. ``dp_rho``:
        with the dp release's noise."""
        base = tuple(range(1, self.record.threshold + 1))
        out = {}
        for e in self.roster:
            active = set_with(base, e.index)
            with PartialJournal(journal_dir / f"{e.trustee_id}.journal") as journal:
                out[e.index] = partial_decrypt(
                    self.shares[e.trustee_id],
                    aggregate,
                    active,
                    request_id,
                    self.identity(e.trustee_id),
                    journal,
                    self.record,
                    lineage=standalone_lineage(aggregate, active),
                    dp_rho=dp_rho,
                )
        return out

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
        self,
        context,
        journal_dir,
        service_key,
        offline=(),
        participants=(),
        challenge: type[LocalChallenge] = LocalChallenge,
        **kwargs,
    ) -> LocalChallenge:
        """``context`` in one process (a ``challenge``: ``LocalChallenge`` or a subclass), its
        organizer this committee's; each name in ``participants`` enrolled with a fresh
        identity."""
        local = challenge(
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
        y, p = binary_data(seed, n)
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


def set_with(base: tuple[int, ...], j: int) -> ActiveSet:
    """A t-set naming trustee j: ``base`` if j is in it, else base with its last swapped for j."""
    return ActiveSet(base if j in base else tuple(sorted((*base[:-1], j))))


def binary_data(seed: int, n: int, right: float = 0.8) -> tuple[np.ndarray, np.ndarray]:
    """Random binary labels y and predictions p, each right with probability ``right``."""
    gen = np.random.default_rng(seed)
    y = gen.integers(0, 2, n)
    p = np.where(gen.random(n) < right, y, 1 - y)
    return y, p


def weighted_submission(local: LocalChallenge, participant: str) -> EncryptedBundle:
    """``participant``'s weighted predictions on ``local`` (entry i = 2^(i mod 20)), encrypted
    with its pads: an invalid encoding round 1 must reject (docs/design.md, "Validity")."""
    context = local.context
    t = context.public.params.PLAIN_MODULUS
    weighted = [np.array([pow(2, i % 20, t) for i in range(context.n)])]
    return raw_encrypt_vectors(
        "predictions",
        weighted,
        context.public,
        classes=2,
        n=context.n,
        challenge=context.challenge_id,
        pads=local.pads("predictions", participant),
    )


def with_c0_offset(bundle: EncryptedBundle, offset: int) -> EncryptedBundle:
    """A seeded bundle with ``offset`` added to every coefficient of every c0: the same
    plaintext while the noise stays below Δ/2, and noise far above round 1's bound."""
    moduli = bundle.header.params.moduli(bundle.header.level)
    out = io.BytesIO()
    writer = BundleWriter(bundle.header, out)
    for i in range(bundle.layout.ciphertexts):
        c0 = bundle.ciphertext(i)[:1]
        for j, q in enumerate(moduli):
            c0[0, j] = (c0[0, j] + np.uint64(offset % q)) % np.uint64(q)
        writer.add(encode_ciphertext(c0, moduli))
    writer.finish()
    return EncryptedBundle.from_bytes(out.getvalue())


def _quiet(_line: str) -> None:
    pass
