"""Ciphertext lineages: which polynomials a trustee's share was multiplied by, under which
Lagrange coefficient, and how often.

Why. Every answer of trustee j is a sample of its share s_j times a public polynomial:

* a pad share (``threshold/pad_shares.py``):      h = −λ_j(S0)·s_j·a + e   (|e| ≤ 21, no smudging)
* a partial decryption (``threshold/partial.py``): p = λ_j(S1)·s_j·c1 + E (+ Δ·M for a noise check)

If two answers touch the same c1 = a (or polynomials related to it by a known small
combination) under two active sets, write λ_j(S1)/λ_j(S0) = A/B in lowest terms. Then
B·p + A·h ≡ B·E + A·e (+ Δ·M′) (mod Q): the share cancels exactly, the smudging becomes the
multiple B·E of B, and reducing the bracket modulo B leaves A·e mod B. With B > 42 that is e
itself, so λ_j(S0)·s_j = (e − h)/a: the share, and with t such shares the key. Two smudged
answers under two sets give B·E1 − A·E2, i.e. E2 mod B: each such pair strips log2(B) bits
of smudging. The size of E does not help; only never giving the second sample does.

The rule (SECURITY.md, "Share exposure"). A **lineage** names a family of polynomials a
trustee may touch; every answer names its lineage, a **slot** in it, and its active set.
A trustee's journal (``threshold/journal.PartialJournal``) refuses, before the share is read:

1. an answer on a lineage under another active set than the lineage's first answer (so one
   Lagrange coefficient per lineage, ever);
2. a second answer in the same slot (re-randomized or not: re-randomizing never changes the
   lineage or the slot), and any slot the lineage does not have (so a lineage's answers are
   bounded by its **budget**, :func:`budget`).

Lineages:

``bundle:<c1 seed>``
    Everything derived from one pad request's c1 family a_0..a_{count−1}: the pad shares
    (slot ``pad``), the noise check of each ciphertext (``noise:i``, i < count) and the
    validity aggregate V (``validity``). Budget count + 2. Its active set is the pad
    request's, which the bundle carries, so round 1 is answered by the pad's own set
    (``protocol/answer.lineage_claim`` checks that statelessly too); when one of those
    trustees is gone the bundle is re-submitted with fresh pads, never re-routed.
``score:<predictions c1 seed>:<labels c1 seed>``
    The score of one submission against one labels bundle (slot ``score``). Budget 1; 2 in a
    challenge with a public/private split: its public part (``score``) and, after the close,
    its private part (``private``), two different circuits' outputs under the lineage's one
    active set — like a bundle's noise checks and V, never two Lagrange coefficients.
    Its c1 is not a known small combination of either bundle's a_i: every score circuit
    multiplies ciphertexts, and relinearization and the packing's key switches add
    Σ_k D_k(·)·k1_k with the evaluation keys' uniform k1_k, whose products with s_j no
    trustee ever reveals — so the score may use another active set than the bundles, once.
``aggregate:<sha256>``
    A ciphertext decrypted outside a challenge (tests, benchmarks, single-key tools): keyed
    on its circuit, inputs and names, which re-randomization keeps. Budget 1.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cryptoscore.errors import FormatError, RefusedError
from cryptoscore.scoring.pad_request import MAX_PAD_COUNT

__all__ = [
    "BUDGETS",
    "LineageClaim",
    "LineageRecord",
    "aggregate_claim",
    "budget",
    "bundle_claim",
    "bundle_lineage",
    "check_claim",
    "score_claim",
]

_LINEAGE = re.compile(
    r"^(bundle:[0-9a-f]{64}|score:[0-9a-f]{64}:[0-9a-f]{64}|aggregate:[0-9a-f]{64})$"
)
_SLOT = re.compile(r"^(pad|validity|score|private|decrypt|noise:[0-9]{1,7})$")


BUDGETS: Mapping[str, str] = MappingProxyType(
    {
        "bundle": "count + 2 answers per trustee, under the pad's active set: the pad, one "
        "noise check per ciphertext, the validity aggregate",
        "score": "1 answer per trustee (one submission against one labels bundle); 2 with a "
        "public/private split (its public part, then its private part), under one active set",
        "re-randomized": "same lineage and slot as the original: never a further answer",
    }
)
"""The per-lineage decryption budget, as ``cryptoscore params`` shows it (:func:`budget`)."""


def bundle_lineage(c1_seed: bytes) -> str:
    """The lineage of a pad request's c1 family (what a seeded bundle carries)."""
    if len(c1_seed) != 32:
        raise FormatError("a c1 seed is 32 bytes")
    return "bundle:" + c1_seed.hex()


@dataclass(frozen=True, slots=True)
class LineageClaim:
    """What one answer touches: a slot of a lineage, under an active set."""

    lineage: str
    slot: str
    active_set: tuple[int, ...]
    capacity: int
    """The lineage's budget: how many slots it has (``budget``)."""

    def __post_init__(self) -> None:
        if not _LINEAGE.match(self.lineage):
            raise FormatError(f"not a lineage: {self.lineage!r}")
        if not _SLOT.match(self.slot):
            raise FormatError(f"not a lineage slot: {self.slot!r}")
        if not self.active_set or list(self.active_set) != sorted(set(self.active_set)):
            raise FormatError("a lineage claim names an active set of distinct sorted indices")
        if self.capacity < 1:
            raise FormatError("a lineage has a budget of at least one answer")
        if self.slot.startswith("noise:") and int(self.slot[6:]) >= self.capacity - 2:
            raise RefusedError(f"{self.lineage[:24]}… has no ciphertext {self.slot[6:]}")
        allowed = {"bundle": ("pad", "validity", "noise"), "score": ("score", "private")}.get(
            self.kind, ("decrypt",)
        )
        if self.slot.split(":")[0] not in allowed:
            raise RefusedError(f"a {self.kind} lineage has no slot {self.slot!r}")

    @property
    def kind(self) -> str:
        return self.lineage.split(":", 1)[0]


def budget(lineage: str, count: int = 0) -> int:
    """How many answers a trustee gives on ``lineage``, at most: count + 2 for a bundle of
    ``count`` ciphertexts (its pad, one noise check each, V), 1 for a score or an aggregate."""
    if lineage.startswith("bundle:"):
        if not 1 <= count <= MAX_PAD_COUNT:
            raise FormatError(f"a bundle lineage has 1..{MAX_PAD_COUNT} ciphertexts")
        return count + 2
    return 1


def bundle_claim(
    c1_seed: bytes, count: int, slot: str, active_set: tuple[int, ...]
) -> LineageClaim:
    lineage = bundle_lineage(c1_seed)
    return LineageClaim(lineage, slot, tuple(active_set), budget(lineage, count))


def score_claim(
    predictions_seed: bytes,
    labels_seed: bytes,
    active_set: tuple[int, ...],
    part: str | None = None,
) -> LineageClaim:
    """A score's slot: ``score`` (every item, or a split's public part) or ``private``
    (a split's private part, docs/design.md "Public/private split") — each answered once; a
    split's lineage has both, so a budget of 2."""
    lineage = f"score:{predictions_seed.hex()}:{labels_seed.hex()}"
    slot = "private" if part == "private" else "score"
    return LineageClaim(lineage, slot, tuple(active_set), 1 if part is None else 2)


def aggregate_claim(
    circuit: str, inputs: tuple[str, ...], names: tuple[str, ...], active_set: tuple[int, ...]
) -> LineageClaim:
    """A stand-alone ciphertext's lineage: what re-randomization keeps (circuit, inputs,
    names), so a re-randomized copy is the same lineage and slot."""
    key = "\x00".join([circuit, *inputs, "\x01", *names]).encode()
    return LineageClaim(
        "aggregate:" + hashlib.sha256(key).hexdigest(), "decrypt", tuple(active_set), 1
    )


@dataclass(frozen=True, slots=True)
class LineageRecord:
    """One journal line: ``lineage <lineage> <slot> <i,j,k> <request id>``."""

    lineage: str
    slot: str
    active_set: tuple[int, ...]
    request_id: str

    def line(self) -> str:
        sets = ",".join(str(i) for i in self.active_set)
        return f"lineage {self.lineage} {self.slot} {sets} {self.request_id}\n"

    @classmethod
    def parse(cls, parts: list[str]) -> LineageRecord:
        if len(parts) != 5 or parts[0] != "lineage":
            raise FormatError("journal: malformed lineage line")
        try:
            active = tuple(int(i) for i in parts[3].split(","))
        except ValueError:
            raise FormatError("journal: malformed active set in a lineage line") from None
        return cls(parts[1], parts[2], active, parts[4])


def check_claim(claim: LineageClaim, records: list[LineageRecord]) -> None:
    """Refuse ``claim`` given the trustee's earlier answers (``records``): another active set
    on the lineage, a slot already answered, or a budget used up. Raises RefusedError."""
    mine = [r for r in records if r.lineage == claim.lineage]
    for r in mine:
        if r.active_set != claim.active_set:
            raise RefusedError(
                f"this trustee answered {claim.lineage[:24]}… under active set "
                f"{list(r.active_set)}; it never answers it under another set "
                f"({list(claim.active_set)}): two Lagrange coefficients on one polynomial "
                "expose the share. Re-submit with fresh pads."
            )
        if r.slot == claim.slot:
            raise RefusedError(
                f"this trustee already answered {claim.slot} of {claim.lineage[:24]}… "
                f"(request {r.request_id}); each slot of a lineage is answered once"
            )
    if len(mine) >= claim.capacity:
        raise RefusedError(
            f"the decryption budget of {claim.lineage[:24]}… ({claim.capacity}) is used up"
        )
