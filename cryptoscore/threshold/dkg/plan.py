"""The organizer's ceremony plan: what every message of a dealerless ceremony is bound to.

A :class:`CeremonyPlan` fixes the parameter set, the threshold t, the roster (each trustee's id,
Shamir index 1..n and Ed25519 public key, ``threshold/ceremony.RosterEntry``), 32 random bytes
(so two ceremonies of one roster never share a transcript) and the time. It is public and
unsigned: every trustee checks it before its first message, and its SHA-256 — the ceremony id —
is in every message header, every signature and the final record (docs/design.md, "Key ceremony
v2 (dealerless)"). Canonical JSON record, magic ``CSDKGPLN``, version 1.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptoscore.envelope import Fields, pack_record, unpack_record
from cryptoscore.errors import FormatError, ParameterError
from cryptoscore.params import ParameterSet, get_parameter_set
from cryptoscore.randomness import Rng
from cryptoscore.threshold.ceremony import RosterEntry, check_roster, roster_entry

__all__ = ["PLAN_MAGIC", "CeremonyPlan"]

PLAN_MAGIC = b"CSDKGPLN"
PLAN_VERSION = 1
NONCE_BYTES = 32


@dataclass(frozen=True, slots=True)
class CeremonyPlan:
    """A dealerless ceremony's public plan (see the module docstring)."""

    params: type[ParameterSet]
    threshold: int
    roster: tuple[RosterEntry, ...]
    nonce: bytes
    created_at: str

    def __post_init__(self) -> None:
        check_roster(self.roster, self.threshold)
        if len(self.roster) > self.params.MAX_TRUSTEES:
            raise ParameterError(f"at most {self.params.MAX_TRUSTEES} trustees are supported")
        if [e.index for e in self.roster] != list(range(1, len(self.roster) + 1)):
            raise FormatError("ceremony plan: the roster is listed in index order")
        if len(self.nonce) != NONCE_BYTES:
            raise FormatError(f"ceremony plan: the nonce has {NONCE_BYTES} bytes")
        if not self.created_at or len(self.created_at) > 64:
            raise FormatError("ceremony plan: created_at is a timestamp of at most 64 characters")

    @classmethod
    def create(
        cls,
        params: type[ParameterSet],
        roster: Sequence[RosterEntry],
        threshold: int,
        *,
        created_at: str | None = None,
        rng: Rng = os.urandom,
    ) -> CeremonyPlan:
        """Organizer: a new plan; the nonce is drawn from ``rng``."""
        return cls(
            params=params,
            threshold=threshold,
            roster=tuple(sorted(roster, key=lambda e: e.index)),
            nonce=rng(NONCE_BYTES),
            created_at=created_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        )

    @property
    def n(self) -> int:
        return len(self.roster)

    @property
    def test_set(self) -> tuple[int, ...]:
        """The indices whose confirmations carry the ceremony test's partials: the t lowest."""
        return tuple(range(1, self.threshold + 1))

    def entry(self, trustee_id: str) -> RosterEntry:
        return roster_entry(self.roster, trustee_id, "ceremony's roster")

    def header(self) -> dict[str, Any]:
        return {
            "params": self.params.ID,
            "threshold": self.threshold,
            "n": self.n,
            "roster": [e.to_json() for e in self.roster],
            "nonce": self.nonce.hex(),
            "created_at": self.created_at,
        }

    def to_bytes(self) -> bytes:
        return pack_record(PLAN_MAGIC, PLAN_VERSION, self.header())

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the plan: the ceremony id."""
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @classmethod
    def from_bytes(cls, raw: bytes) -> CeremonyPlan:
        header, body = unpack_record(raw, PLAN_MAGIC, PLAN_VERSION, "ceremony plan")
        if len(body):
            raise FormatError("ceremony plan: unexpected bytes after the header")
        f = Fields(
            header, "ceremony plan", {"params", "threshold", "n", "roster", "nonce", "created_at"}
        )
        roster_json = header["roster"]
        if not isinstance(roster_json, list) or len(roster_json) > 255:
            raise FormatError("ceremony plan: roster must be a list")
        roster = tuple(RosterEntry.from_json(e) for e in roster_json)
        if f.integer("n", 2, 255) != len(roster):
            raise FormatError("ceremony plan: n differs from the roster size")
        return cls(
            params=get_parameter_set(f.string("params")),
            threshold=f.integer("threshold", 2, 255),
            roster=roster,
            nonce=f.hex("nonce", NONCE_BYTES),
            created_at=f.string("created_at", 64),
        )
