"""Round-1 contributions: the trustees' signed randomness that seeds a bundle's validity weights.

The round-1 seed is SHA-256 over the bundle digest and every contribution of its pad set,
so nobody — the submitter least of all — knows it before the bundle is fixed
(docs/design.md, "Two-round release"). Each contribution is signed by its trustee's roster
identity (Ed25519, RFC 8032, from ``cryptography``) over the challenge, the bundle and the
randomness, so a service cannot fabricate one; a trustee contributes once per bundle (its
journal keeps the randomness, ``threshold/journal.PartialJournal.contribution``), so a service
cannot ask it again and pick; and a trustee answers V only if its own contribution is among
those the seed was derived from (:func:`check_own_contribution`), so a service cannot leave it
out (docs/design.md, "Signed contributions").
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptoscore.envelope import Fields, canonical_json, pack_record, unpack_record
from cryptoscore.errors import FormatError, MismatchError, RefusedError
from cryptoscore.identity import TrusteeIdentity
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.randomness import Rng
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.ceremony import CeremonyRecord

__all__ = [
    "CONTRIBUTION_BYTES",
    "Contribution",
    "check_contributions",
    "check_own_contribution",
    "contribute",
    "derive_seed",
    "round1_seed",
]

CONTRIBUTION_BYTES = 32
"""A contribution's randomness: 256 bits, so the round-1 seed has full strength as long as one
contributing trustee is honest and nobody else picks their randomness after seeing its (the
limit SECURITY.md states: a corrupt pad-set trustee moving last can grind the seed)."""

MAGIC = b"CSCONTRB"


FORMAT_VERSION = 1


_SIGN_DOMAIN = b"cryptoscore/round1-contribution/v1\x00"


@dataclass(frozen=True, slots=True)
class Contribution:
    """A trustee's signed round-1 input for one bundle (record magic ``CSCONTRB``)."""

    challenge_id: str
    bundle_digest: str
    trustee_id: str
    randomness: bytes = field(repr=False)
    signature: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.randomness) != CONTRIBUTION_BYTES:
            raise FormatError(f"a round-1 contribution carries {CONTRIBUTION_BYTES} random bytes")
        if len(self.bundle_digest) != 64 or self.bundle_digest.strip("0123456789abcdef"):
            raise FormatError("a round-1 contribution names its bundle by lower-case SHA-256 hex")
        if len(self.signature) != 64:
            raise FormatError("a round-1 contribution carries a 64-byte Ed25519 signature")

    @classmethod
    def sign(
        cls,
        identity: TrusteeIdentity,
        challenge_id: str,
        bundle_digest: str,
        trustee_id: str,
        randomness: bytes,
    ) -> Contribution:
        message = _signed_message(challenge_id, bundle_digest, trustee_id, randomness)
        return cls(challenge_id, bundle_digest, trustee_id, randomness, identity.sign(message))

    def signed_message(self) -> bytes:
        return _signed_message(
            self.challenge_id, self.bundle_digest, self.trustee_id, self.randomness
        )

    def verify(self, record: CeremonyRecord) -> None:
        """Raise :class:`~cryptoscore.errors.VerificationError` unless the roster key of
        ``trustee_id`` signed this contribution (:class:`MismatchError` for a trustee not on
        the roster)."""
        record.entry(self.trustee_id).public_key.verify(
            self.signature, self.signed_message(), f"contribution from {self.trustee_id!r}"
        )

    def to_bytes(self) -> bytes:
        return pack_record(
            MAGIC,
            FORMAT_VERSION,
            {
                "challenge": self.challenge_id,
                "bundle": self.bundle_digest,
                "trustee": self.trustee_id,
                "randomness": self.randomness.hex(),
                "signature": self.signature.hex(),
            },
        )

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @classmethod
    def from_bytes(cls, raw: bytes) -> Contribution:
        header, body = unpack_record(raw, MAGIC, FORMAT_VERSION, "round-1 contribution")
        if len(body):
            raise FormatError("round-1 contribution: unexpected bytes after the header")
        f = Fields(
            header,
            "round-1 contribution",
            {"challenge", "bundle", "trustee", "randomness", "signature"},
        )
        return cls(
            challenge_id=f.string("challenge", 128),
            bundle_digest=f.hex("bundle", 32).hex(),
            trustee_id=f.string("trustee", 64),
            randomness=f.hex("randomness", CONTRIBUTION_BYTES),
            signature=f.hex("signature", 64),
        )


def _signed_message(
    challenge_id: str, bundle_digest: str, trustee_id: str, randomness: bytes
) -> bytes:
    return _SIGN_DOMAIN + canonical_json(
        {
            "challenge": challenge_id,
            "bundle": bundle_digest,
            "trustee": trustee_id,
            "randomness": randomness.hex(),
        }
    )


def contribute(
    context: ChallengeContext,
    bundle_digest: str,
    trustee_id: str,
    identity: TrusteeIdentity,
    randomness: Rng,
) -> Contribution:
    """Trustee: sign ``randomness(CONTRIBUTION_BYTES)`` for ``bundle_digest``.

    ``randomness`` is where the bytes come from: the trustee agent passes its journal's
    once-per-bundle store (fresh bytes of its own ``randomness``, ``os.urandom`` by default,
    the first time; the same bytes ever after), tests a fixed source for known-answer
    vectors."""
    context.record.entry(trustee_id)
    return Contribution.sign(
        identity,
        context.challenge_id,
        bundle_digest,
        trustee_id,
        randomness(CONTRIBUTION_BYTES),
    )


def check_contributions(
    record: CeremonyRecord,
    challenge_id: str,
    bundle_digest: str,
    contributions: Sequence[Contribution],
    pad_set: ActiveSet,
) -> None:
    """Trustee, combiner, auditor: ``contributions`` are exactly one signed contribution of
    every trustee of the bundle's pad set, for this challenge and bundle; raise otherwise
    (:class:`RefusedError` for the wrong contributors, signature and naming errors as
    :class:`~cryptoscore.errors.VerificationError` / :class:`MismatchError`)."""
    pad_set.check(record)
    contributors = [c.trustee_id for c in contributions]
    if len(set(contributors)) != len(contributors) or len(contributors) != len(pad_set.indices):
        raise RefusedError(
            "round 1 needs one contribution from each trustee of the bundle's pad set "
            f"({len(pad_set.indices)} distinct trustees)"
        )
    indices = sorted(record.entry(tid).index for tid in contributors)
    if tuple(indices) != pad_set.indices:
        raise RefusedError("round-1 contributions: not from the bundle's pad set")
    for c in contributions:
        if (c.challenge_id, c.bundle_digest) != (challenge_id, bundle_digest):
            raise MismatchError(
                f"the contribution from {c.trustee_id!r} is for another challenge or bundle"
            )
        c.verify(record)


def check_own_contribution(
    trustee_id: str,
    own_randomness: bytes | None,
    contributions: Sequence[Contribution],
) -> None:
    """Trustee, before answering V: its own contribution — the one its journal kept — is
    among those the seed is derived from. Without this a service could derive V's seed from
    contributions of its choosing and grind it until an invalid bundle passes."""
    if own_randomness is None:
        raise RefusedError(
            "this trustee never contributed to this bundle's round 1: "
            "V's seed is not its to vouch for"
        )
    mine = [c for c in contributions if c.trustee_id == trustee_id]
    if len(mine) != 1 or mine[0].randomness != own_randomness:
        raise RefusedError(
            "V's seed is not derived from this trustee's own contribution: refusing to decrypt"
        )


def round1_seed(bundle_digest: str, contributions: Sequence[Contribution]) -> bytes:
    h = hashlib.sha256(b"cryptoscore/round1-seed/v1\x00" + bytes.fromhex(bundle_digest))
    for c in sorted(contributions, key=lambda c: c.trustee_id):
        h.update(c.trustee_id.encode() + b"\x00" + c.randomness)
    return h.digest()


def derive_seed(seed: bytes, purpose: bytes) -> bytes:
    return hashlib.sha256(b"cryptoscore/" + purpose + b"/v1\x00" + seed).digest()
