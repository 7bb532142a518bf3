"""Active sets: the t trustees who answer one decryption request, named before any answer.

The Lagrange coefficient each trustee applies depends on the set, so a set is fixed with
the request and checked against the ceremony record (docs/design.md, "Threshold decryption").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptoscore.errors import MismatchError
from cryptoscore.threshold.ceremony import CeremonyRecord


@dataclass(frozen=True, slots=True)
class ActiveSet:
    """The t trustee indices that answer one decryption request, named before any answer."""

    indices: tuple[int, ...]

    def __post_init__(self) -> None:
        if list(self.indices) != sorted(set(self.indices)) or not self.indices:
            raise MismatchError("an active set lists distinct trustee indices in order")

    @classmethod
    def of(cls, record: CeremonyRecord, trustee_ids: Sequence[str]) -> ActiveSet:
        """The active set of the named roster trustees; exactly t of them."""
        indices = sorted(record.entry(tid).index for tid in trustee_ids)
        active = cls(tuple(indices))
        active.check(record)
        return active

    def check(self, record: CeremonyRecord) -> None:
        if len(self.indices) != record.threshold:
            raise MismatchError(
                f"an active set needs exactly t = {record.threshold} trustees, "
                f"got {len(self.indices)}"
            )
        for i in self.indices:
            record.entry_by_index(i)
