"""The challenge context: everything the roles share about one challenge.

The ceremony record, public context, evaluation keys, policy, layout, participation rules
and the challenge's published circuits, fixed when the challenge is created (docs/design.md,
"Two-round release", "Signed inputs and enrolment"). :meth:`ChallengeContext.definition` is
what the log's ``challenge`` entry names, so followers check the rules they were given are
the logged ones.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from cryptoscore.envelope import canonical_json
from cryptoscore.errors import MismatchError
from cryptoscore.hazmat.c1 import SEED_BYTES
from cryptoscore.protocol.ladder import LadderRule
from cryptoscore.protocol.rules import ChallengeRules, DpRule, SplitRule
from cryptoscore.randomness import Rng
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.scoring.encoding import MAX_CLASSES, Layout
from cryptoscore.scoring.keys import EvaluationKeys, PublicContext
from cryptoscore.scoring.pad_request import PadRequest
from cryptoscore.scoring.policy import ReleasePolicy
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.ceremony import CeremonyRecord
from cryptoscore.threshold.dp_noise import DpCalibration, calibrate_for
from cryptoscore.threshold.pad_shares import PadKey


@dataclass(frozen=True, slots=True)
class ChallengeContext:
    """What a challenge publishes and every party uses to recompute circuits."""

    challenge_id: str
    record: CeremonyRecord
    public: PublicContext
    evaluation: EvaluationKeys
    policy: ReleasePolicy
    n: int
    rules: ChallengeRules | None = None
    """Who signs the labels, who may enrol, the quotas. ``None`` only for challenges created
    before signed inputs: trustees that follow the log answer nothing for those."""

    def __post_init__(self) -> None:
        # a dealerless record must carry every trustee's signed word that these are its keys
        # (every message signature, every completion naming this key): whoever builds a
        # context — service, trustee, organizer, auditor — refuses a record that does not
        self.record.verify_signatures()
        self.record.check_completions()
        self.record.check_keys(self.public, self.evaluation)
        self.public.params.check_count(self.n, "number of items")
        split = self.split
        if split is not None:
            if split.public_items >= self.n:
                raise MismatchError(
                    f"a split of {self.n} items has 1..{self.n - 1} public items, "
                    f"not {split.public_items}"
                )
            if 2 * self.policy.classes > MAX_CLASSES:
                raise MismatchError(
                    f"a split challenge has at most {MAX_CLASSES // 2} classes (its labels are "
                    "one-hot over part and class)"
                )
        noise = self.release_noise
        if noise is not None:  # a released value must never wrap around mod t_plain
            noise.check_fits(self.n, self.public.params.PLAIN_MODULUS)
        ladder = self.ladder
        if ladder is not None and ladder.margin >= self.ladder_items:
            items = self.ladder_items
            raise MismatchError(
                f"a ladder over {items} items has a margin of 1..{items - 1} items, "
                f"not {ladder.margin}"
            )

    @property
    def split(self) -> SplitRule | None:
        """The public/private split, if the rules have one (docs/design.md, "Public/private
        split")."""
        return None if self.rules is None else self.rules.split

    @property
    def dp(self) -> DpRule | None:
        """The differential-privacy noise rule, if the rules have one (docs/design.md,
        "Differential-privacy release")."""
        return None if self.rules is None else self.rules.dp

    @property
    def release_noise(self) -> DpCalibration | None:
        """The calibration of a dp challenge's score releases: its policy, ρ and the draws
        that add up in every release under its key's ``answers`` kind — the t trustees' own, or
        the C(n, t − 1) PRSS sets' (``threshold/dp_noise.calibrate_for``)."""
        dp = self.dp
        return None if dp is None else calibrate_for(self.policy, dp.rho, self.record)

    @property
    def ladder(self) -> LadderRule | None:
        """The Ladder release policy, if the rules have one (docs/design.md, "Ladder")."""
        return None if self.rules is None else self.rules.ladder

    @property
    def ladder_items(self) -> int:
        """The items the Ladder's counts are over: the public part's, or every item."""
        return self.n if self.split is None else self.split.public_items

    def classes_of(self, kind: str) -> int:
        """Classes a ``kind`` bundle of this challenge encodes: K, or 2K for a split's labels
        (one-hot over part and class, ``scoring/encoding.split_label_indices``)."""
        return 2 * self.policy.classes if kind == "labels" and self.split else self.policy.classes

    def definition(self) -> bytes:
        """The challenge's definition as its ``challenge`` log entry names it (canonical JSON):
        id, policy, item count, ceremony and, when it has them, its rules."""
        body = {
            "id": self.challenge_id,
            "policy": self.policy.to_json(),
            "n": self.n,
            "ceremony": self.record.digest,
        }
        if self.rules is not None:
            body["rules"] = self.rules.to_json()
        return canonical_json(body)

    @property
    def definition_digest(self) -> str:
        return hashlib.sha256(self.definition()).hexdigest()

    @property
    def layout(self) -> Layout:
        """The layout of a predictions bundle (and of labels, without a split)."""
        return Layout.for_params(self.public.params, self.n, self.policy.classes)

    def layout_of(self, kind: str) -> Layout:
        return Layout.for_params(self.public.params, self.n, self.classes_of(kind))

    def check_bundle(self, bundle: EncryptedBundle, kind: str) -> None:
        """Refuse a bundle of the wrong kind, key, challenge, size — or one whose submitter
        chose c1 (public-key encryption): threshold challenges take seeded bundles only."""
        bundle.expect(
            kind=kind,  # type: ignore[arg-type]
            params=self.public.params,
            key_id=self.public.key_id,
            challenge=self.challenge_id,
            classes=self.classes_of(kind),
            n=self.n,
        )
        if not bundle.header.seeded:
            raise MismatchError(
                "threshold challenges accept only bundles encrypted with trustee pads (c1 from "
                "a public seed); a bundle whose submitter chose c1 could make the secret key "
                "part of its noise (SECURITY.md)"
            )

    def pad_request(
        self,
        kind: str,
        key: PadKey,
        active_set: ActiveSet,
        seed: bytes | None = None,
        *,
        rng: Rng = os.urandom,
    ) -> PadRequest:
        """Submitter: the pad request for a ``kind`` bundle of this challenge (a fresh seed
        from ``rng`` unless ``seed`` is given)."""
        request = PadRequest(
            challenge_id=self.challenge_id,
            kind=kind,
            params=self.public.params,
            key_id=self.public.key_id,
            seed=seed if seed is not None else rng(SEED_BYTES),
            count=self.layout_of(kind).ciphertexts,
            active_set=active_set.indices,
            recipient=key.public_bytes,
        )
        self.check_pad_request(request)
        return request

    def check_pad_request(self, request: PadRequest) -> None:
        """Service and trustee: the request is for this challenge's key and bundle size."""
        if request.challenge_id != self.challenge_id:
            raise MismatchError(f"pad request is for challenge {request.challenge_id!r}")
        if request.params is not self.public.params or request.key_id != self.public.key_id:
            raise MismatchError("pad request is for another key or parameter set")
        expected = self.layout_of(request.kind).ciphertexts
        if request.count != expected:
            raise MismatchError(
                f"pad request asks for {request.count} pads, a {request.kind} bundle of this "
                f"challenge has {expected} ciphertexts"
            )
        ActiveSet(request.active_set).check(self.record)
