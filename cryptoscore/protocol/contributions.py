"""Round-1 contributions: the trustees' randomness that seeds a bundle's validity weights.

The round-1 seed is SHA-256 over the bundle digest and every contribution of its pad set,
so nobody — the submitter least of all — knows it before the bundle is fixed
(docs/design.md, "Two-round release").
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field

from cryptoscore.errors import FormatError
from cryptoscore.protocol.challenge import ChallengeContext

__all__ = ["CONTRIBUTION_BYTES", "Contribution", "contribute", "derive_seed", "round1_seed"]

CONTRIBUTION_BYTES = 32
"""A contribution's randomness: 256 bits, so the round-1 seed has full strength even if all
but one contributing trustee are corrupt."""


@dataclass(frozen=True, slots=True)
class Contribution:
    """A trustee's round-1 input: CONTRIBUTION_BYTES random bytes for the validity weights."""

    trustee_id: str
    randomness: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.randomness) != CONTRIBUTION_BYTES:
            raise FormatError(f"a round-1 contribution carries {CONTRIBUTION_BYTES} random bytes")


def contribute(context: ChallengeContext, trustee_id: str) -> Contribution:
    """Trustee: fresh randomness from ``os.urandom``."""
    context.record.entry(trustee_id)
    return Contribution(trustee_id, os.urandom(CONTRIBUTION_BYTES))


def round1_seed(bundle_digest: str, contributions: Sequence[Contribution]) -> bytes:
    h = hashlib.sha256(b"cryptoscore/round1-seed/v1\x00" + bytes.fromhex(bundle_digest))
    for c in sorted(contributions, key=lambda c: c.trustee_id):
        h.update(c.trustee_id.encode() + b"\x00" + c.randomness)
    return h.digest()


def derive_seed(seed: bytes, purpose: bytes) -> bytes:
    return hashlib.sha256(b"cryptoscore/" + purpose + b"/v1\x00" + seed).digest()
