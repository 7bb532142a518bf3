"""The organizer's ceremony plan: what every message of a dealerless ceremony is bound to.

A :class:`CeremonyPlan` fixes the parameter set, the threshold t, the roster (each trustee's id,
Shamir index 1..n and Ed25519 public key, ``threshold/ceremony.RosterEntry``), 32 random bytes
(so two ceremonies of one roster never share a transcript) and the time. It is public and
unsigned: every trustee checks it before its first message, and its SHA-256 — the ceremony id —
is in every message header, every signature and the final record (docs/design.md, "Key ceremony
v2 (dealerless)"). Canonical JSON record, magic ``CSDKGPLN``.

The plan's version fixes the protocol every message of the ceremony follows: version 2 (new
plans) also deals the PRSS keys of robust threshold decryption (``threshold/prss.py``; messages
``CSDKGMSG`` version 3, record ``CSCEREMO`` version 5, answers "shamir"), and needs a committee
``prss.check_committee`` serves; version 1 (:data:`LEGACY_PLAN_VERSION`, same header) is the
ceremony without them (messages version 2, record version 3, answers "lagrange"), still run
and parsed byte for byte as before.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptoscore.envelope import Fields, known_version, pack_record, unpack_record
from cryptoscore.errors import FormatError, ParameterError
from cryptoscore.params import ParameterSet, get_parameter_set
from cryptoscore.randomness import Rng
from cryptoscore.threshold.ceremony import RosterEntry, check_roster, roster_entry
from cryptoscore.threshold.prss import check_committee

__all__ = ["LEGACY_PLAN_VERSION", "PLAN_MAGIC", "PLAN_VERSION", "CeremonyPlan"]

PLAN_MAGIC = b"CSDKGPLN"
PLAN_VERSION = 2
"""Plans whose ceremony deals PRSS keys (module docstring)."""
LEGACY_PLAN_VERSION = 1
"""Plans whose ceremony deals no PRSS keys (the ceremony as it was before version 2)."""
_VERSIONS = (LEGACY_PLAN_VERSION, PLAN_VERSION)
NONCE_BYTES = 32


@dataclass(frozen=True, slots=True)
class CeremonyPlan:
    """A dealerless ceremony's public plan (see the module docstring)."""

    params: type[ParameterSet]
    threshold: int
    roster: tuple[RosterEntry, ...]
    nonce: bytes
    created_at: str
    version: int = PLAN_VERSION

    def __post_init__(self) -> None:
        if self.version not in _VERSIONS:
            raise FormatError(f"ceremony plan: no format version {self.version}")
        check_roster(self.roster, self.threshold)
        if len(self.roster) > self.params.MAX_TRUSTEES:
            raise ParameterError(f"at most {self.params.MAX_TRUSTEES} trustees are supported")
        if self.prss:
            check_committee(len(self.roster), self.threshold)
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
        version: int = PLAN_VERSION,
    ) -> CeremonyPlan:
        """Organizer: a new plan; the nonce is drawn from ``rng``. ``version``
        :data:`LEGACY_PLAN_VERSION` plans a ceremony without PRSS keys."""
        return cls(
            params=params,
            threshold=threshold,
            roster=tuple(sorted(roster, key=lambda e: e.index)),
            nonce=rng(NONCE_BYTES),
            created_at=created_at or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            version=version,
        )

    @property
    def n(self) -> int:
        return len(self.roster)

    @property
    def prss(self) -> bool:
        """The ceremony deals PRSS keys (a version 2 plan)."""
        return self.version >= PLAN_VERSION

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
        return pack_record(PLAN_MAGIC, self.version, self.header())

    @property
    def digest(self) -> str:
        """SHA-256 (hex) of the plan: the ceremony id."""
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @classmethod
    def from_bytes(cls, raw: bytes) -> CeremonyPlan:
        version = known_version(raw, (PLAN_VERSION, LEGACY_PLAN_VERSION))
        header, body = unpack_record(raw, PLAN_MAGIC, version, "ceremony plan")
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
            version=version,
        )
