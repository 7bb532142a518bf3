"""Combining partial decryptions: the combiner's and the auditor's checks, then decoding.

:func:`decrypt_answers` checks the partials (distinct roster trustees, valid signatures over
this ciphertext and request) and computes x = c0 + c1·s + e, then rounds t·x/Q to the released
aggregates:

* Shamir answers (a ``robust`` ceremony record): any m ≥ t answers, decoded by
  ``threshold/robust.reconstruct`` with the radius ``robust.verifiable_max_liars(m, t, t − 1)``
  — the value is returned only when decoding found at most that many answers off one
  polynomial (those trustees are named in ``liars``), else :class:`UndecidableAnswersError`
  names the suspects; ``verified`` says the value is safe against t − 1 coordinated liars
  (m ≥ 2t − 1);
* additive answers (older records): exactly the t partials of the named active set, summed
  (the old rule, so old records stay verifiable).

:func:`rerandomize` adds a published encryption of zero (docs/design.md, "Threshold
decryption", "Robust threshold decryption").
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from cryptoscore.errors import FormatError, MismatchError, UndecidableAnswersError
from cryptoscore.hazmat.ciphertext import encode_ciphertext
from cryptoscore.hazmat.modmath import (
    U64,
    addmod,
    crt_lift,
)
from cryptoscore.hazmat.seal_engine import engine_for
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.scoring.keys import PublicContext
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.ceremony import CeremonyRecord
from cryptoscore.threshold.partial import PartialDecryption
from cryptoscore.threshold.robust import reconstruct, verifiable_max_liars


@dataclass(frozen=True, slots=True)
class CombinedDecryption:
    values: dict[str, int]
    """The named aggregates, in ``0..t-1`` (centered: in (−t/2, t/2])."""
    max_noise: int | None
    """The largest |residual noise + smudging| over all N coefficients (only when asked
    for: it costs a full CRT lift)."""
    liars: tuple[str, ...] = ()
    """Shamir answers: the trustees whose answers were off the decoded polynomial, corrected."""
    verified: bool = False
    """Shamir answers: decoding checked the value against t − 1 coordinated liars
    (``robust.verifiable_max_liars``: m ≥ 2t − 1 answers); False for additive answers and for
    fewer answers, where nothing or only uncoordinated lies can be caught."""

    @property
    def noise_bits(self) -> float | None:
        return None if self.max_noise is None else math.log2(max(self.max_noise, 1))


def verify_partial(
    aggregate: AggregateCiphertext,
    partial: PartialDecryption,
    record: CeremonyRecord,
    request_id: str,
    active_set: ActiveSet,
) -> None:
    """One partial: from a roster trustee with its own index (additive answers: of
    ``active_set``, the set it was made for), for this request, ciphertext, key and level,
    signed by that trustee's roster key. Shamir answers do not depend on the set, so any
    roster trustee's answer counts."""
    p = partial
    entry = record.entry(p.trustee_id)  # refuses trustees outside the roster
    if entry.index != p.index:
        raise MismatchError(f"partial from {p.trustee_id!r} carries the wrong index")
    if not record.robust:
        if p.active_set != active_set:
            raise MismatchError(f"partial from {p.trustee_id!r} was made for another active set")
        if p.index not in active_set.indices:
            raise MismatchError(f"{p.trustee_id!r} is not in the active set")
    if p.request_id != request_id:
        raise MismatchError(f"partial from {p.trustee_id!r} answers another request")
    if p.ciphertext_digest != aggregate.ciphertext_digest:
        raise MismatchError(f"partial from {p.trustee_id!r} is for another ciphertext")
    if p.key_id != record.key_id or p.level != aggregate.level:
        raise MismatchError(f"partial from {p.trustee_id!r} is for another key or level")
    entry.public_key.verify(p.signature, p.signed_message(), f"partial from {p.trustee_id!r}")


def verify_partials(
    aggregate: AggregateCiphertext,
    partials: Sequence[PartialDecryption],
    record: CeremonyRecord,
    request_id: str,
    active_set: ActiveSet,
) -> None:
    """Combiner and auditor: every check a set of partials must pass before combination:
    at least t (additive answers: exactly t, the active set), distinct trustees."""
    active_set.check(record)
    if len(partials) < record.threshold:
        raise MismatchError(
            f"{len(partials)} partial decryptions given, the threshold is {record.threshold}"
        )
    if len(partials) > record.threshold and not record.robust:
        raise MismatchError("more partials than the threshold: combine exactly the active set")
    seen: set[int] = set()
    for p in partials:
        if p.index in seen:
            raise MismatchError(f"two partials from {p.trustee_id!r}")
        seen.add(p.index)
        verify_partial(aggregate, p, record, request_id, active_set)


def _names(record: CeremonyRecord, indices: Sequence[int]) -> tuple[str, ...]:
    return tuple(record.entry_by_index(i).trustee_id for i in indices)


def decode_answers(
    partials: Sequence[PartialDecryption], record: CeremonyRecord, moduli: tuple[int, ...]
) -> tuple[U64, tuple[str, ...], bool]:
    """c1·s + e from verified partials: (its residues, the liars corrected, verified).
    Additive answers are summed; Shamir answers decoded (module docstring)."""
    if not record.robust:
        total = partials[0].data().copy()
        for p in partials[1:]:
            h = p.data()
            for i, q in enumerate(moduli):
                total[i] = addmod(total[i], h[i], q)
        return total, (), False
    answers = {p.index: p.data() for p in partials}
    t = record.threshold
    radius = verifiable_max_liars(len(answers), t, t - 1)
    try:
        decoded = reconstruct(answers, t, moduli, max_liars=radius or 0)
    except UndecidableAnswersError as error:
        raise UndecidableAnswersError(
            f"{error}; suspects: {', '.join(_names(record, error.suspects))}", error.suspects
        ) from None
    verified = radius is not None and decoded.checked
    return decoded.value, _names(record, decoded.liars), verified


def decrypt_answers(
    aggregate: AggregateCiphertext,
    partials: Sequence[PartialDecryption],
    record: CeremonyRecord,
    request_id: str,
    active_set: ActiveSet,
    *,
    measure_noise: bool = False,
    centered: bool = False,
) -> CombinedDecryption:
    """Combiner: verify the partials, decode them (module docstring), decrypt, return only
    the aggregates the record names, the liars corrected and whether the value is verified;
    values in 0..t−1, or with ``centered`` in (−t/2, t/2] (a release carrying
    differential-privacy noise, which may take a count below 0: ``threshold/dp_noise.py``).
    Raises :class:`UndecidableAnswersError` (no value) when the answers are too far off one
    polynomial, naming the suspects."""
    verify_partials(aggregate, partials, record, request_id, active_set)
    params = aggregate.params
    moduli = params.moduli(aggregate.level)
    t = params.PLAIN_MODULUS
    data = aggregate.data()
    at_zero, liars, verified = decode_answers(partials, record, moduli)
    x = [addmod(data[0, i], at_zero[i], q) for i, q in enumerate(moduli)]
    big_q = 1
    for q in moduli:
        big_q *= q
    positions = list(aggregate.positions)
    at_positions = crt_lift([xi[positions] for xi in x], moduli)
    values = {
        name: (t * xk + big_q // 2) // big_q % t
        for name, xk in zip(aggregate.names, at_positions, strict=True)
    }
    if centered:
        values = {name: v - t if v > t // 2 else v for name, v in values.items()}
    max_noise: int | None = None
    if measure_noise:
        delta = (big_q - 1) // t  # exact: Q ≡ 1 (mod t)
        lifted_all = np.array(crt_lift(x, moduli), dtype=object)
        m = (lifted_all * t + big_q // 2) // big_q % t
        v = (lifted_all - m * delta) % big_q
        max_noise = int(np.minimum(v, big_q - v).max())
    return CombinedDecryption(values, max_noise, liars, verified)


def rerandomize(
    aggregate: AggregateCiphertext, public: PublicContext, seed: bytes
) -> AggregateCiphertext:
    """Add a fresh encryption of zero whose randomness is expanded from ``seed``.

    Anyone holding the seed (trustees, auditors) recomputes the re-randomized ciphertext
    exactly. It does **not** make a new lineage (``threshold/lineage.py``): c1 changes by pk1·u + e2
    with u public, so a trustee's journal treats the copy as the same polynomial family and
    slot — it is never a way to answer again, or under another active set. The seed need not
    be secret: the encryption of zero only has to change c1, not to hide anything.
    """
    if len(seed) != 32:
        raise FormatError("re-randomization seed must be 32 bytes")
    if public.key_id != aggregate.key_id:
        raise MismatchError("public context of another key")
    params = aggregate.params
    engine = engine_for(params)
    zero = engine.encrypt_zero_seeded(public.seal_public_key(), seed, aggregate.level)
    moduli = params.moduli(aggregate.level)
    data = aggregate.data()
    for poly in range(2):
        for i, q in enumerate(moduli):
            data[poly, i] = addmod(data[poly, i], zero[poly, i], q)
    return AggregateCiphertext(
        circuit=aggregate.circuit,
        params=params,
        key_id=aggregate.key_id,
        level=aggregate.level,
        names=aggregate.names,
        positions=aggregate.positions,
        inputs=aggregate.inputs,
        policy=aggregate.policy,
        seed=aggregate.seed,
        n=aggregate.n,
        classes=aggregate.classes,
        ciphertext=encode_ciphertext(data, moduli),
    )
