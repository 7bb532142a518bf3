"""A trustee's ceremony seed file: its 32-byte seed and its status, sealed under a passphrase.

The seed is the only secret a trustee keeps during a dealerless ceremony (``trustee.py``);
the status (``session.SeedStatus``) is what stops it from ever revealing that seed once it has
completed. Both live in one record, magic ``CSDKGSED``, version 1, sealed exactly as the share
files are (``sealed_record.py``: scrypt, n = 2^15, r = 8, p = 1, 16-byte salt → AES-256-GCM
key; the record prefix is the associated data): the header {params, plan (digest), trustee_id,
status, kdf, nonce} is authenticated, the body is the encrypted seed. A wrong passphrase, an
edited byte or a truncation raise one :class:`FormatError` that never contains the seed.

Status moves only ACTIVE → COMPLETED → FINISHED or ACTIVE → REVEALED
(:meth:`SeedFile.with_status`); re-sealing draws a fresh salt and nonce. A file rolled back to
an older copy (ACTIVE after a completion) cannot be told apart by its own bytes: the step
driver also treats a transcript holding the trustee's completion as COMPLETED
(``session.step``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from cryptoscore.envelope import Fields, unpack_record
from cryptoscore.errors import FormatError, MismatchError, ParameterError, RefusedError
from cryptoscore.params import ParameterSet, get_parameter_set
from cryptoscore.randomness import SEED_BYTES, Rng
from cryptoscore.sealed_record import NONCE_BYTES, SALT_BYTES, open_sealed, scrypt_kdf, seal
from cryptoscore.threshold.dkg.plan import CeremonyPlan
from cryptoscore.threshold.dkg.session import SeedStatus
from cryptoscore.threshold.dkg.trustee import new_seed

__all__ = ["SEED_FILE_MAGIC", "SEED_FILE_VERSION", "SeedFile"]

SEED_FILE_MAGIC = b"CSDKGSED"
SEED_FILE_VERSION = 1
MIN_PASSPHRASE = 8
_TRANSITIONS = {
    SeedStatus.ACTIVE: {SeedStatus.COMPLETED, SeedStatus.REVEALED},
    SeedStatus.COMPLETED: {SeedStatus.FINISHED},
    SeedStatus.FINISHED: set(),
    SeedStatus.REVEALED: set(),
}
_FIELDS = {"params", "plan", "trustee_id", "status", "kdf", "nonce"}
_WHAT = "ceremony seed file"


@dataclass(frozen=True, slots=True)
class SeedFile:
    """A trustee's seed and status for one ceremony plan (module docstring). Never printed
    with its seed, compared by it, or pickled."""

    params: type[ParameterSet]
    plan: str
    """The plan's digest (the ceremony id)."""
    trustee_id: str
    status: SeedStatus
    seed: bytes = field(repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.seed) != SEED_BYTES:
            raise FormatError(f"{_WHAT}: the seed has {SEED_BYTES} bytes")
        if len(self.plan) != 64 or bytes.fromhex(self.plan).hex() != self.plan:
            raise FormatError(f"{_WHAT}: the plan digest is 32 bytes of lower hex")
        if not isinstance(self.status, SeedStatus):
            raise FormatError(f"{_WHAT}: unknown status {self.status!r}")

    def __reduce__(self) -> Any:
        raise TypeError("seed files cannot be pickled")

    @classmethod
    def new(cls, plan: CeremonyPlan, trustee_id: str, *, rng: Rng = os.urandom) -> SeedFile:
        """A new ACTIVE seed for ``trustee_id`` (on ``plan``'s roster), 32 bytes of ``rng``
        (the OS CSPRNG)."""
        plan.entry(trustee_id)
        return cls(plan.params, plan.digest, trustee_id, SeedStatus.ACTIVE, new_seed(rng=rng))

    def check_plan(self, plan: CeremonyPlan) -> None:
        """Refuse a plan other than the one this seed is for."""
        if plan.digest != self.plan or plan.params is not self.params:
            raise MismatchError(f"the seed file of {self.trustee_id!r} is for another ceremony")
        plan.entry(self.trustee_id)

    def with_status(self, status: SeedStatus) -> SeedFile:
        """The same seed with ``status``: only ACTIVE → COMPLETED → FINISHED and ACTIVE →
        REVEALED (the same status again is a no-op). Refuses (:class:`RefusedError`) anything
        else — above all COMPLETED → REVEALED: a trustee that completed never reveals."""
        if status is self.status:
            return self
        if status not in _TRANSITIONS[self.status]:
            raise RefusedError(
                f"a {self.status.value} ceremony seed cannot become {status.value}"
                + (
                    ": a trustee that completed never reveals its seed"
                    if status is SeedStatus.REVEALED
                    else ""
                )
            )
        return SeedFile(self.params, self.plan, self.trustee_id, status, self.seed)

    def header(self, salt: bytes, nonce: bytes) -> dict[str, Any]:
        return {
            "params": self.params.ID,
            "plan": self.plan,
            "trustee_id": self.trustee_id,
            "status": self.status.value,
            "kdf": scrypt_kdf(salt),
            "nonce": nonce.hex(),
        }

    def seal(self, passphrase: bytes, *, rng: Rng = os.urandom) -> bytes:
        """The sealed file. Draws the scrypt salt (16 bytes), then the AES-GCM nonce (12
        bytes), from ``rng``."""
        if len(passphrase) < MIN_PASSPHRASE:
            raise ParameterError(f"a seed-file passphrase has {MIN_PASSPHRASE}+ bytes")
        header = self.header(rng(SALT_BYTES), rng(NONCE_BYTES))
        return seal(SEED_FILE_MAGIC, SEED_FILE_VERSION, header, passphrase, self.seed)

    @classmethod
    def open(cls, raw: bytes, passphrase: bytes) -> SeedFile:
        """Check the header, decrypt the seed. Every way a well-formed file can fail to open
        (wrong passphrase, edited header or body, truncated body) raises the same
        :class:`FormatError`."""
        header, _ = unpack_record(raw, SEED_FILE_MAGIC, SEED_FILE_VERSION, _WHAT)
        f = Fields(header, _WHAT, _FIELDS)
        params = get_parameter_set(f.string("params"))
        plan = f.hex("plan", 32).hex()
        trustee_id = f.string("trustee_id", 64)
        try:
            status = SeedStatus(f.string("status", 16))
        except ValueError:
            raise FormatError(f"{_WHAT}: unknown status {header['status']!r}") from None
        _, seed = open_sealed(raw, SEED_FILE_MAGIC, SEED_FILE_VERSION, passphrase, _WHAT)
        if len(seed) != SEED_BYTES:
            raise FormatError(f"{_WHAT}: the seed has the wrong size")
        return cls(params, plan, trustee_id, status, seed)
