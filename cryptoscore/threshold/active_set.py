"""Active sets: the trustees asked to answer one decryption or pad request, named before any
answer.

Additive answers (``answers: "lagrange"``): exactly t trustees. The Lagrange coefficient each
applies depends on the set, so a set is fixed with the request and checked against the ceremony
record (docs/design.md, "Threshold decryption"); a set of any other size is refused, so a
trustee never answers under a coefficient of a set that is not a t-set.

Shamir answers (``answers: "shamir"``, ``CeremonyRecord.robust``): from t to n trustees. A
Shamir answer d_j = s_j·c1 + E(j) does not depend on the set, and asking more than t trustees is
what lets decoding check the answers against each other (docs/design.md, "Robust threshold
decryption (core)"): with m ≥ 2t − 1 answers any lie of up to t − 1 trustees is caught.
:func:`checked_set_size` is the smallest set whose answers are checked once ℓ trustees are
proven liars; under the rule ``pad_sets: "checked"`` (``protocol/rules.py``) trustees and
service refuse a smaller pad set (docs/design.md, "Checked pad sets").
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptoscore.errors import MismatchError
from cryptoscore.threshold.ceremony import CeremonyRecord

__all__ = ["ActiveSet", "checked_set_size"]


@dataclass(frozen=True, slots=True)
class ActiveSet:
    """The trustee indices that answer one request, named before any answer: exactly t for
    additive answers, t to n for Shamir answers (:meth:`check`)."""

    indices: tuple[int, ...]

    def __post_init__(self) -> None:
        if list(self.indices) != sorted(set(self.indices)) or not self.indices:
            raise MismatchError("an active set lists distinct trustee indices in order")

    @classmethod
    def of(cls, record: CeremonyRecord, trustee_ids: Sequence[str]) -> ActiveSet:
        """The active set of the named roster trustees (:meth:`check`: exactly t of them for
        additive answers, at least t for Shamir answers)."""
        indices = sorted(record.entry(tid).index for tid in trustee_ids)
        active = cls(tuple(indices))
        active.check(record)
        return active

    def check(self, record: CeremonyRecord) -> None:
        """Refuse a set of roster indices this record's answers cannot use: any size but t
        for additive answers, fewer than t for Shamir answers (at most n, each on the roster)."""
        t, size = record.threshold, len(self.indices)
        if record.robust and size < t:
            raise MismatchError(
                f"an active set of Shamir answers needs at least t = {t} trustees, got {size}"
            )
        if not record.robust and size != t:
            raise MismatchError(f"an active set needs exactly t = {t} trustees, got {size}")
        for i in self.indices:
            record.entry_by_index(i)

    def verifiable(self, record: CeremonyRecord) -> bool:
        """Whether answers of this set are checked against t − 1 coordinated liars: Shamir
        answers from at least 2t − 1 trustees (``robust.verifiable_max_liars``). Never for
        additive answers."""
        return record.robust and len(self.indices) >= 2 * record.threshold - 1


def checked_set_size(record: CeremonyRecord, named_liars: int) -> int:
    """The fewest trustees whose answers are checked against every liar still unknown, once
    ``named_liars`` trustees outside the set are proven liars (named in the log).

    Shamir answers with n ≥ 2t − 1: max(t, 2t − 1 − ℓ) for ℓ = ``named_liars``. Why: at most
    t − 1 trustees lie; ℓ of them are proven and left out of the set, so at most
    f = t − 1 − ℓ liars are among the m = 2t − 1 − ℓ asked. Decoding with radius 0 returns a
    value only when all m answers lie on one polynomial of degree t − 1. The true polynomial
    passes through the m − f ≥ t honest answers, so any other polynomial agrees with at most
    t − 1 of them (two degree-(t − 1) polynomials agreeing on t points are equal) plus the f
    lies: (t − 1 − ℓ) + (t − 1) = m − 1 < m answers. So a lie by any of them is detected, and
    a value that is returned is the true one. With fewer answers, f liars can answer on a
    wrong polynomial through t − 1 honest answers and every answer agrees: nothing is checked.

    Otherwise t: additive answers are never checked, and a roster of fewer than 2t − 1
    trustees cannot be (every set of it is as unchecked as t).
    """
    t, n = record.threshold, len(record.roster)
    if not record.robust or n < 2 * t - 1:
        return t
    if isinstance(named_liars, bool) or named_liars < 0:
        raise MismatchError(f"a count of named liars is a natural number, got {named_liars!r}")
    return max(t, 2 * t - 1 - named_liars)
