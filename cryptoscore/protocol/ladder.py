"""The Ladder: a leaderboard that shows a participant's score only when it improves by a margin.

A. Blum and M. Hardt, "The Ladder: A Reliable Leaderboard for Machine Learning Competitions",
ICML 2015, Algorithm 1 (docs/design.md, "Ladder"). With step η, the shown loss starts at
R₀ = ∞; on the t-th submission, if its empirical loss is below R_{t−1} − η, the shown value
becomes that loss rounded to the nearest multiple of η, otherwise R_{t−1} is repeated. Here the
score is the number of correct items out of the ``n`` items scored (a split's public part, or
every item), so everything is an exact integer: the margin is ``m = η·n`` counts, a new exact
count ``c`` is shown only if ``c > S + m`` (``S`` the participant's previous shown count; the
first submission is always shown), and then as ``c`` rounded to the nearest multiple of ``m``
(a tie to the lower multiple), at most ``n``. The paper's parameter-free variant (Algorithm 2)
compares per-item losses of two submissions by a paired t-test; the combiner sees aggregates
only, never per-item losses, so it is not offered.

Who sees what: the combiner (the service) decrypts the exact values and decides; the log shows
the shown count and a commitment to the exact values (:func:`commit`: SHA-256 over a domain
tag, the request id, the exact values' canonical JSON and a 32-byte nonce from
``os.urandom``): hiding, since the nonce is secret, and binding, since SHA-256 is
collision-resistant. The exact values and the nonce (:class:`LadderOpening`) go only into the
restricted audit bundle, with the partials that combine to them.

The leakage bound (:func:`ladder_sequences_bits`): each shown count is one of
:func:`ladder_values` values (the multiples of ``m`` in 0..n, and n), and a participant's shown
sequence never decreases, so ``T`` submissions show one of ``C(V + T − 1, T)`` sequences: at
most ``log2 C(V + T − 1, T)`` bits about the labels per participant, however adaptive
(the paper's ``1/η + 1`` distinct values, ``O(log T / η)`` bits).
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from cryptoscore.envelope import Fields, canonical_json
from cryptoscore.errors import FormatError, ParameterError
from cryptoscore.randomness import Rng
from cryptoscore.scoring.policy import correct_count

if TYPE_CHECKING:
    from cryptoscore.protocol.challenge import ChallengeContext

__all__ = [
    "COMMITMENT_TAG",
    "LadderDecision",
    "LadderOpening",
    "LadderRule",
    "commit",
    "decide",
    "ladder_decision",
    "ladder_sequence",
    "ladder_sequences_bits",
    "ladder_step",
    "ladder_values",
    "margin_counts",
    "round_to_margin",
]

COMMITMENT_TAG = b"cryptoscore-ladder-commitment-v1\x00"
"""The domain tag of :func:`commit` (nothing else hashes under it)."""
NONCE_BYTES = 32


@dataclass(frozen=True, slots=True)
class LadderRule:
    """The Ladder's margin, in counts of the items it scores (``margin / n`` is the paper's
    η): an integer, so nothing logged is a float."""

    margin: int

    def __post_init__(self) -> None:
        if isinstance(self.margin, bool) or not isinstance(self.margin, int):
            raise FormatError(f"ladder: margin is a count, got {self.margin!r}")
        if not 1 <= self.margin <= 1 << 30:
            raise FormatError(f"ladder: margin must be in 1..{1 << 30}, got {self.margin}")

    def to_json(self) -> dict[str, Any]:
        return {"margin": self.margin}

    @classmethod
    def from_json(cls, obj: Any) -> LadderRule:
        if not isinstance(obj, Mapping):
            raise FormatError("challenge rules: ladder is an object")
        return cls(Fields(obj, "ladder", {"margin"}).integer("margin", 1, 1 << 30))


def margin_counts(eta: str, n: int) -> int:
    """η (a decimal string, 0 < η < 1) as a margin in counts of ``n`` items, exactly: η·n
    must be a whole number of items, at least 1 and below n."""
    try:
        value = Fraction(eta.strip())
    except (ValueError, ZeroDivisionError):
        raise ParameterError(f"ladder margin {eta!r} is not a number") from None
    if not 0 < value < 1:
        raise ParameterError(f"ladder margin must be strictly between 0 and 1, got {eta}")
    counts = value * n
    if counts.denominator != 1 or not 1 <= counts < n:
        low, high = max(1, math.floor(counts)), min(n - 1, max(1, math.ceil(counts)))
        raise ParameterError(
            f"ladder margin {eta} of {n} items is {float(counts):g} items: it must be a whole "
            f"number of items in 1..{n - 1} (nearest: {low}/{n} or {high}/{n})"
        )
    return int(counts)


def round_to_margin(count: int, margin: int, n: int) -> int:
    """``count`` rounded to the nearest multiple of ``margin`` (a tie to the lower one), at
    most ``n`` (the paper's [·]_η on counts)."""
    q, r = divmod(count, margin)
    return min(n, margin * (q + 1) if 2 * r > margin else margin * q)


def ladder_step(shown: int | None, exact: int, margin: int, n: int) -> int:
    """The Ladder's next shown count after an exact count ``exact``: ``shown`` (the previous
    shown count; ``None`` before the first) unless ``exact`` beats it by more than ``margin``."""
    if shown is not None and exact <= shown + margin:
        return shown
    return round_to_margin(exact, margin, n)


def ladder_sequence(exact: Iterable[int], margin: int, n: int) -> list[int]:
    """The shown counts of one participant's exact counts, in order."""
    out: list[int] = []
    shown: int | None = None
    for count in exact:
        shown = ladder_step(shown, count, margin, n)
        out.append(shown)
    return out


def ladder_values(margin: int, n: int) -> int:
    """How many counts the Ladder can show over ``n`` items: the multiples of ``margin`` in
    0..n, and n itself (``n/margin + 1`` = the paper's ``1/η + 1`` when ``margin`` divides n)."""
    return n // margin + 1 + (1 if n % margin else 0)


def ladder_sequences_bits(margin: int, n: int, submissions: int) -> float:
    """``log2`` of the shown sequences ``submissions`` submissions can produce: a
    non-decreasing sequence over :func:`ladder_values` values, ``C(V + T − 1, T)`` of them."""
    values = ladder_values(margin, n)
    return math.log2(math.comb(values + submissions - 1, submissions))


def _commitment(request_id: str, values: Mapping[str, int], nonce: bytes) -> str:
    body = canonical_json({"request_id": request_id, "values": dict(values)})
    return hashlib.sha256(COMMITMENT_TAG + body + nonce).hexdigest()


@dataclass(frozen=True, slots=True)
class LadderOpening:
    """What opens a ladder release's commitment: its request, the exact values the combiner
    decrypted and the nonce. In the restricted audit bundle only (``ladder.json``)."""

    request_id: str
    values: Mapping[str, int]
    nonce: bytes

    def __post_init__(self) -> None:
        if not isinstance(self.nonce, bytes) or len(self.nonce) != NONCE_BYTES:
            raise FormatError(f"ladder opening: the nonce is {NONCE_BYTES} bytes")
        if not isinstance(self.request_id, str) or not self.request_id:
            raise FormatError("ladder opening: request_id is a non-empty string")
        for name, value in self.values.items():
            if not isinstance(name, str) or isinstance(value, bool) or not isinstance(value, int):
                raise FormatError("ladder opening: values map names to integers")

    @property
    def commitment(self) -> str:
        """SHA-256 hex of the domain tag, the request id and values (canonical JSON), the nonce."""
        return _commitment(self.request_id, self.values, self.nonce)

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "values": dict(self.values),
            "nonce": self.nonce.hex(),
        }

    @classmethod
    def from_json(cls, obj: Any) -> LadderOpening:
        if not isinstance(obj, Mapping):
            raise FormatError("ladder opening: expected an object")
        f = Fields(obj, "ladder opening", {"request_id", "values", "nonce"})
        values = obj["values"]
        if not isinstance(values, Mapping):
            raise FormatError("ladder opening: values is an object")
        return cls(f.string("request_id", 512), dict(values), f.hex("nonce", NONCE_BYTES))


def commit(request_id: str, values: Mapping[str, int], *, rng: Rng = os.urandom) -> LadderOpening:
    """A fresh opening of ``values`` (its nonce from ``rng``, the OS CSPRNG by default); its
    :attr:`commitment` is what the log carries."""
    return LadderOpening(request_id, dict(values), rng(NONCE_BYTES))


@dataclass(frozen=True, slots=True)
class LadderDecision:
    """What the combiner logs for one release under the Ladder: the shown values
    (``{"correct": s}``) and the opening of the commitment to the exact ones."""

    shown: int
    opening: LadderOpening

    @property
    def values(self) -> dict[str, int]:
        return {"correct": self.shown}


def decide(
    rule: LadderRule,
    previous: int | None,
    request_id: str,
    exact: Mapping[str, int],
    correct: int,
    n: int,
) -> LadderDecision:
    """The Ladder on one release: ``previous`` is its owner's last shown count (``None``
    before its first), ``exact`` the decrypted values and ``correct`` their correct count over
    the ``n`` items scored."""
    return LadderDecision(ladder_step(previous, correct, rule.margin, n), commit(request_id, exact))


def ladder_decision(
    context: ChallengeContext, previous: int | None, request_id: str, exact: Mapping[str, int]
) -> LadderDecision:
    """:func:`decide` for a release of ``context`` (its rules have a ladder) whose owner last
    showed ``previous``: over the public part in a split challenge, else over every item."""
    rule = context.ladder
    if rule is None:
        raise ParameterError("the challenge releases exact values: it has no ladder")
    n = context.ladder_items
    correct = correct_count(exact, context.policy, n)
    if correct is None:
        raise FormatError("the released values do not give a correct count")
    return decide(rule, previous, request_id, exact, correct, n)
