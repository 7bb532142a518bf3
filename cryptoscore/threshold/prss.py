"""Pseudo-random secret sharing (PRSS) of noise: Shamir shares of a small polynomial, from keys
dealt once, with no interaction per decryption.

Why. For robust threshold decryption (``threshold/robust.py``; docs/design.md, "Robust threshold
decryption (core)") every trustee j must answer d_j = s_j·c1 + E(j), where E is a degree-(t − 1)
Shamir sharing of a small smudging polynomial e = E(0): then all answers lie on one polynomial of
degree t − 1 in the trustee index, its value at 0 is c1·s + e, and wrong answers are found by
Reed–Solomon decoding. A trustee cannot draw its share of E alone — E must be one polynomial.

How (Cramer, Damgård, Ishai, "Share conversion, pseudorandom secret-sharing and applications to
secure computation", TCC 2005, §3; as used for RLWE threshold decryption by Urban and Rambaud,
"Robust multiparty computation from threshold encryption based on RLWE", ePrint 2024/1285).
For every set A of n − t + 1 trustees — the complement of a (t − 1)-subset, i.e. of a maximal
unqualified set — the members of A share a 32-byte key r_A. For a context ctx bound to the
polynomial being decrypted (:func:`decryption_context`), x_A = PRF(r_A, ctx) is a small noise
polynomial, and trustee j's share is

    E(j) = Σ_{A ∋ j} x_A · f_A(j)

with f_A the polynomial of degree ≤ t − 1 such that f_A(0) = 1 and f_A(i) = 0 for the t − 1
trustees i ∉ A, i.e. f_A(x) = Π_{i ∉ A} (i − x)/i (:func:`set_polynomial_at`). Every f_A has
degree ≤ t − 1, so E does, and E(0) = Σ_A x_A (:func:`shared_noise_at_zero`).

Security. A coalition C of t − 1 trustees holds every r_A except that of H, the complement of
C (the only set disjoint from C). f_H is ℓ_0, the Lagrange basis polynomial of 0 over the
points C ∪ {0}; the key polynomial is s(x) = Σ_{i ∈ C} s_i·ℓ_i(x) + s·ℓ_0(x) over those points.
So the answer polynomial P(x) = c1·s(x) + E(x) is [known to C] + ℓ_0(x)·(s·c1 + x_H): all n
answers tell C nothing but s·c1 + x_H, one decryption smudged by noise it does not know
(``tests/threshold/test_prss.py`` checks this identity for every coalition).

PRF: :func:`cryptoscore.randomness.seeded_stream` (AES-256-CTR under HKDF-SHA256 of r_A, with
a label naming the key, the set, the kind of noise, its bound, N and ctx), so the same question
gets the identical answer — no fresh samples to average — and different contexts or kinds get
independent noise. Samplers are those of ``hazmat/modmath.py`` (uniform, centered binomial)
and, for differential-privacy noise, the exact discrete Gaussian of
``threshold/discrete_gaussian.py``.

DP noise (kind ``dp-gaussian``, :func:`shared_dp_noise`): the same construction on ``count``
integers rather than a ring polynomial. z_A = N_Z(0, σ²)^count drawn from PRF(r_A, ctx), the
share Z(j) = Σ_{A ∋ j} z_A·f_A(j) mod a modulus, Z(0) = Σ_A z_A. A coalition of t − 1 knows
every z_A but z_H, which alone carries the guarantee, so σ is the single-trustee σ of the dp
calibration and the decoded noise has variance at most C(n, t − 1)·σ² (:func:`dp_noise_variance`)
instead of the t·σ² of t independent per-trustee draws — which cannot be used here, as they
would not lie on one polynomial.

Cost: trustee j derives C(n − 1, t − 1) noise polynomials per answer (the sets it is in);
:data:`MAX_SETS_PER_TRUSTEE` caps that (about 2 s of smudging per answer at bfv-16384's
release level; ``benchmarks/test_bench_robust.py``). The decoded noise is a sum of
C(n, t − 1) draws, which the smudging budget must hold (:func:`prss_smudging`).

Keys: :func:`deal_prss_keys` (a dealer; :func:`commitment` under the key id), or the dealerless
ceremony (``threshold/dkg/prss_dealing.py``: each set's leader draws r_A and commits to it with
:func:`ceremony_commitment`). Used by the live protocol for ceremonies whose record says
``answers == "shamir"`` (``threshold/partial.py``, ``threshold/pad_shares.py``; docs/design.md,
"Robust threshold decryption"); older ceremonies' trustees answer additively for a fixed active
set.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Literal

import numpy as np

from cryptoscore.envelope import Fields, pack_record, unpack_record
from cryptoscore.errors import FormatError, MismatchError, ParameterError
from cryptoscore.hazmat.modmath import (
    CBD_K,
    U64,
    addmod,
    cbd_bytes,
    centered_binomial_from,
    mulmod,
    reduce_signed,
    uniform_below,
    uniform_centered,
    uniform_centered_residues,
)
from cryptoscore.hazmat.shamir import lagrange_basis_at
from cryptoscore.params import ParameterSet
from cryptoscore.randomness import SEED_BYTES, Rng, seeded_stream
from cryptoscore.scoring.encoding import MAX_CLASSES
from cryptoscore.scoring.noise import (
    BUDGET_CORNERS,
    SMUDGING_BITS,
    TranscriptExposure,
    exposure_of,
    lifetime_decryptions,
    pad_error_terms,
    release_delta_half,
    release_noise_bound,
    worst_case_release_bound,
)
from cryptoscore.threshold.discrete_gaussian import discrete_gaussians

__all__ = [
    "DP_KIND",
    "MAX_COMMITTEE",
    "MAX_DP_COUNT",
    "MAX_SETS_PER_TRUSTEE",
    "NoiseKind",
    "PrssKeys",
    "PrssSet",
    "PrssSmudging",
    "ceremony_commitment",
    "check_committee",
    "check_committee_fits",
    "commitment",
    "deal_prss_keys",
    "decryption_context",
    "dp_noise_variance",
    "pad_context",
    "prss_sets",
    "prss_smudging",
    "set_commitments",
    "set_dp_noise",
    "set_noise",
    "set_polynomial_at",
    "sets_per_answer",
    "shamir_transcript_exposure",
    "shared_dp_noise",
    "shared_dp_noise_at_zero",
    "shared_noise",
    "shared_noise_at_zero",
    "trustee_sets",
]

PrssSet = tuple[int, ...]
"""A set A of trustee indices (1-based, strictly increasing) that share one PRSS key."""

NoiseKind = Literal["smudging", "pad-error", "mask"]
"""What x_A is: ``smudging`` uniform in [−B, B]; ``pad-error`` centered binomial (k = 21, as
pads use); ``mask`` uniform in [0, t_plain), for the caller to scale by Δ."""

_KINDS: tuple[str, ...] = ("smudging", "pad-error", "mask")

DP_KIND = "dp-gaussian"
"""The kind of :func:`set_dp_noise` in the PRF's label: z_A ~ N_Z(0, σ²) per released aggregate
(a separate function, not a :data:`NoiseKind`: it is integers, not a ring polynomial)."""

MAX_DP_COUNT = MAX_CLASSES**2
"""The most aggregates one DP draw covers: a K × K confusion matrix at the largest K."""

MAX_COMMITTEE = ParameterSet.MAX_TRUSTEES
"""n ≤ 16, as everywhere in the library."""

MAX_SETS_PER_TRUSTEE = 462
"""Largest C(n − 1, t − 1) allowed: the noise polynomials one answer derives. Measured at about
4 ms per smudging polynomial at bfv-16384's release level (3 primes, N = 16384, B ≈ 2^113) on
one core of the 2-core development machine: 462 sets took 1.9 s (6-of-12), the most an answer
may take (≈ 2 s). Every committee with n ≤ 12 fits (C(11, 5) = 462); at n = 13..16 only
thresholds near 1 or n do (for example 3-of-16, C(15, 2) = 105, and 14-of-16, C(15, 13) = 105;
8-of-16 would need C(15, 7) = 6435)."""

MAGIC = b"CSPRSSKY"
FORMAT_VERSION = 1

_LABEL = "cryptoscore/prss-noise/v1"
_COMMIT_DOMAIN = b"cryptoscore/prss-commitment/v1\x00"
_CEREMONY_COMMIT_DOMAIN = b"cryptoscore/prss-ceremony-commitment/v1\x00"
_CONTEXT_DOMAIN = b"cryptoscore/prss-context/v1\x00"
_PAD_CONTEXT_DOMAIN = b"cryptoscore/prss-pad-context/v1\x00"
_KEY_ID_BYTES = 32
_MAX_CONTEXT = 256


# -- the sets ---------------------------------------------------------------------------------


def sets_per_answer(n: int, t: int) -> int:
    """C(n − 1, t − 1): the sets trustee j belongs to, i.e. noise polynomials per answer."""
    return math.comb(n - 1, t - 1)


def check_committee(n: int, t: int) -> None:
    """Refuse committees PRSS does not serve: 1 ≤ t ≤ n ≤ 16 and C(n − 1, t − 1) within the
    cost cap :data:`MAX_SETS_PER_TRUSTEE`."""
    if not 1 <= t <= n <= MAX_COMMITTEE:
        raise ParameterError(f"PRSS needs 1 <= t <= n <= {MAX_COMMITTEE}, got {t}-of-{n}")
    per = sets_per_answer(n, t)
    if per > MAX_SETS_PER_TRUSTEE:
        raise ParameterError(
            f"PRSS for {t}-of-{n}: every answer derives C({n - 1}, {t - 1}) = {per} noise "
            f"polynomials, more than the {MAX_SETS_PER_TRUSTEE} allowed (about 2 s per answer "
            "at bfv-16384); choose a threshold nearer 1 or n, or a smaller committee"
        )


def prss_sets(n: int, t: int) -> tuple[PrssSet, ...]:
    """Every set of n − t + 1 trustees (the complements of the (t − 1)-subsets of 1..n), in
    the canonical order: lexicographic on the sorted tuples. C(n, t − 1) of them."""
    check_committee(n, t)
    return tuple(itertools.combinations(range(1, n + 1), n - t + 1))


def trustee_sets(n: int, t: int, index: int) -> tuple[PrssSet, ...]:
    """The sets trustee ``index`` belongs to, in canonical order: C(n − 1, t − 1) of them."""
    if not 1 <= index <= n:
        raise ParameterError(f"trustee index {index} is not in 1..{n}")
    return tuple(members for members in prss_sets(n, t) if index in members)


def set_polynomial_at(members: PrssSet, n: int, at: int, q: int) -> int:
    """f_A(at) mod q, with f_A of degree ≤ t − 1, f_A(0) = 1 and f_A(i) = 0 for every
    i ∈ 1..n outside A: the Lagrange basis polynomial of 0 over {0} ∪ (1..n minus A)."""
    outside = [i for i in range(1, n + 1) if i not in members]
    return lagrange_basis_at(0, [0, *outside], at, q)


# -- keys ------------------------------------------------------------------------------------


def commitment(key: bytes, members: PrssSet, key_id: str) -> bytes:
    """SHA-256 of a domain-separated encoding of (key id, set, r_A): published so that the
    members of A can check they hold the same key (r_A is 256 bits from a CSPRNG, so the hash
    reveals nothing about it)."""
    return _commit(_COMMIT_DOMAIN, _key_id_bytes(key_id), key, members)


def _commit(domain: bytes, bound_to: bytes, key: bytes, members: PrssSet) -> bytes:
    if len(key) != SEED_BYTES:
        raise ParameterError(f"a PRSS key has {SEED_BYTES} bytes, got {len(key)}")
    return hashlib.sha256(domain + bound_to + bytes([len(members), *members]) + key).digest()


def ceremony_commitment(key: bytes, members: PrssSet, ceremony_id: str) -> bytes:
    """:func:`commitment` bound to a dealerless ceremony instead of a key id, which is known
    only once the ceremony is over: SHA-256 over ``cryptoscore/prss-ceremony-commitment/v1\0``
    ‖ ceremony id (the plan's SHA-256) ‖ |A| ‖ A ‖ r_A. Its own domain tag, so the two kinds
    never collide (docs/design.md, "Key ceremony v2 (dealerless)", PRSS keys)."""
    ceremony = _key_id_bytes(ceremony_id)  # a ceremony id is 32 bytes of hex as well
    return _commit(_CEREMONY_COMMIT_DOMAIN, ceremony, key, members)


def _key_id_bytes(key_id: str) -> bytes:
    try:
        raw = bytes.fromhex(key_id)
    except ValueError:
        raise ParameterError("a key id is 32 bytes of lower-case hex") from None
    if len(raw) != _KEY_ID_BYTES or raw.hex() != key_id:
        raise ParameterError("a key id is 32 bytes of lower-case hex")
    return raw


@dataclass(frozen=True, slots=True)
class PrssKeys:
    """One trustee's PRSS keys for one BFV key (record magic ``CSPRSSKY``, version 1): the key
    id, n, t, its index, and the key r_A of every set A it belongs to, in canonical order.

    Secret: whoever holds every member's keys of a set knows its noise. Built and parsed with
    every field checked — the sets must be exactly those containing ``index``
    (:func:`trustee_sets`), each with a 32-byte key."""

    key_id: str
    n: int
    t: int
    index: int
    set_keys: tuple[tuple[PrssSet, bytes], ...] = field(repr=False)
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.format_version != FORMAT_VERSION:
            raise FormatError(f"PRSS keys: no format version {self.format_version}")
        try:
            _key_id_bytes(self.key_id)
        except ParameterError:
            raise FormatError("PRSS keys: the key id must be 32 bytes of lower-case hex") from None
        for name, value in (("n", self.n), ("t", self.t), ("index", self.index)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise FormatError(f"PRSS keys: {name} must be an integer")
        check_committee(self.n, self.t)
        if not 1 <= self.index <= self.n:
            raise FormatError(f"PRSS keys: trustee index {self.index} is not in 1..{self.n}")
        size = self.n - self.t + 1
        seen: set[PrssSet] = set()
        for members, key in self.set_keys:
            shown = list(members)
            if (
                len(members) != size
                or any(not isinstance(i, int) or isinstance(i, bool) for i in members)
                or list(members) != sorted(set(members))
                or not all(1 <= i <= self.n for i in members)
            ):
                raise FormatError(
                    f"PRSS keys: set {shown} is not {size} distinct increasing indices in "
                    f"1..{self.n}"
                )
            if self.index not in members:
                raise FormatError(f"PRSS keys: set {shown} does not contain trustee {self.index}")
            if members in seen:
                raise FormatError(f"PRSS keys: set {shown} appears twice")
            seen.add(members)
            if not isinstance(key, bytes) or len(key) != SEED_BYTES:
                raise FormatError(f"PRSS keys: the key of set {shown} is not {SEED_BYTES} bytes")
        expected = trustee_sets(self.n, self.t, self.index)
        if self.sets != expected:
            missing = sorted(set(expected) - seen)
            if missing:
                raise FormatError(
                    f"PRSS keys: {len(missing)} of trustee {self.index}'s sets are missing "
                    f"(first {list(missing[0])})"
                )
            raise FormatError("PRSS keys: the sets are not in canonical (lexicographic) order")

    @property
    def sets(self) -> tuple[PrssSet, ...]:
        return tuple(members for members, _ in self.set_keys)

    def commitments(self) -> tuple[tuple[PrssSet, bytes], ...]:
        """(A, :func:`commitment` of r_A) for every set this trustee is in."""
        return tuple((a, commitment(key, a, self.key_id)) for a, key in self.set_keys)

    def header(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "n": self.n,
            "t": self.t,
            "index": self.index,
            "sets": [list(a) for a in self.sets],
        }

    def to_bytes(self) -> bytes:
        return pack_record(MAGIC, FORMAT_VERSION, self.header(), b"".join(self._keys()))

    def _keys(self) -> list[bytes]:
        return [key for _, key in self.set_keys]

    @classmethod
    def from_bytes(cls, raw: bytes | memoryview) -> PrssKeys:
        header, body = unpack_record(raw, MAGIC, FORMAT_VERSION, "PRSS keys")
        f = Fields(header, "PRSS keys", {"key_id", "n", "t", "index", "sets"})
        n = f.integer("n", 1, MAX_COMMITTEE)
        t = f.integer("t", 1, n)
        index = f.integer("index", 1, n)
        sets_field = header["sets"]
        if not isinstance(sets_field, list) or len(sets_field) > MAX_SETS_PER_TRUSTEE:
            raise FormatError(
                f"PRSS keys: field 'sets' must be a list of at most {MAX_SETS_PER_TRUSTEE} sets"
            )
        sets: list[PrssSet] = []
        for item in sets_field:
            if not isinstance(item, list) or not all(
                isinstance(i, int) and not isinstance(i, bool) for i in item
            ):
                raise FormatError("PRSS keys: every set is a list of integers")
            sets.append(tuple(item))
        if len(body) != SEED_BYTES * len(sets):
            raise FormatError(
                f"PRSS keys: {len(body)} bytes of keys for {len(sets)} sets, expected "
                f"{SEED_BYTES * len(sets)}"
            )
        keys = [bytes(body[k * SEED_BYTES : (k + 1) * SEED_BYTES]) for k in range(len(sets))]
        return cls(
            key_id=f.hex("key_id", _KEY_ID_BYTES).hex(),
            n=n,
            t=t,
            index=index,
            set_keys=tuple(zip(sets, keys, strict=True)),
        )


def deal_prss_keys(key_id: str, n: int, t: int, *, rng: Rng = os.urandom) -> tuple[PrssKeys, ...]:
    """Dealer: draw r_A (32 bytes from ``rng``, by default ``os.urandom``) for every set A in
    canonical order, and return every trustee's :class:`PrssKeys`, trustee 1 first."""
    _key_id_bytes(key_id)
    keys = {members: rng(SEED_BYTES) for members in prss_sets(n, t)}
    if any(len(key) != SEED_BYTES for key in keys.values()):
        raise ParameterError(f"the rng must return {SEED_BYTES} bytes per PRSS key")
    return tuple(
        PrssKeys(key_id, n, t, j, tuple((a, keys[a]) for a in trustee_sets(n, t, j)))
        for j in range(1, n + 1)
    )


def set_commitments(keys: Sequence[PrssKeys]) -> tuple[tuple[PrssSet, bytes], ...]:
    """Every set's :func:`commitment`, in canonical order, from trustees' keys that together
    cover every set (the dealer's, for the ceremony record)."""
    by_set: dict[PrssSet, bytes] = {}
    for k in keys:
        by_set.update(k.commitments())
    return tuple(sorted(by_set.items()))


# -- noise -----------------------------------------------------------------------------------


def decryption_context(key_id: str, c1: bytes) -> bytes:
    """The context of one decryption: SHA-256 over a domain tag, the key id and the encoded
    c1 — every trustee derives the same ctx, and the same c1 always gets the same noise."""
    return hashlib.sha256(_CONTEXT_DOMAIN + _key_id_bytes(key_id) + c1).digest()


def pad_context(key_id: str, c1_seed: bytes, index: int) -> bytes:
    """The context of pad i of a pad request (``threshold/pad_shares.py``): SHA-256 over a
    domain tag, the key id, the request's c1 seed (which binds the whole request) and i. The
    pad share (kind ``pad-error``) and the noise check of the same a_i (its exact complement)
    derive the same E_pad from it; a_i is a function of (c1 seed, i), so no other ciphertext
    shares the context."""
    if not 0 <= index < 1 << 64:
        raise ParameterError("a pad index is a 64-bit unsigned integer")
    return hashlib.sha256(
        _PAD_CONTEXT_DOMAIN + _key_id_bytes(key_id) + c1_seed + index.to_bytes(8, "big")
    ).digest()


def _kind_parameter(kind: str, bound: int | None, plain_modulus: int | None) -> int:
    """The one number a kind's distribution depends on (bound into the PRF's label)."""
    if kind not in _KINDS:
        raise ParameterError(f"unknown PRSS noise kind {kind!r} (known: {', '.join(_KINDS)})")
    if kind == "smudging":
        if bound is None or plain_modulus is not None or bound < 1:
            raise ParameterError("smudging noise takes a bound B >= 1 and no plaintext modulus")
        return bound
    if kind == "mask":
        if plain_modulus is None or bound is not None or plain_modulus < 2:
            raise ParameterError("a mask takes a plaintext modulus >= 2 and no bound")
        return plain_modulus
    if bound is not None or plain_modulus is not None:
        raise ParameterError("pad errors are centered binomial: no bound, no plaintext modulus")
    return CBD_K


def set_noise(
    key: bytes,
    members: PrssSet,
    key_id: str,
    ctx: bytes,
    kind: NoiseKind,
    moduli: tuple[int, ...],
    degree: int,
    *,
    bound: int | None = None,
    plain_modulus: int | None = None,
) -> list[U64]:
    """x_A = PRF(r_A, ctx) as residues per prime (one uint64 array of ``degree`` per modulus).

    The stream is :func:`~cryptoscore.randomness.seeded_stream` under r_A with a label naming
    the key, A, the kind, its bound or modulus, N and ctx; the integer x_A does not depend on
    ``moduli`` (fewer primes give a prefix of the residues)."""
    parameter = _kind_parameter(kind, bound, plain_modulus)
    _checked_context(ctx)
    if degree < 1:
        raise ParameterError("the ring degree must be positive")
    _key_id_bytes(key_id)
    label = "|".join(
        [_LABEL, key_id, ",".join(map(str, members)), kind, str(parameter), str(degree), ctx.hex()]
    )
    stream = seeded_stream(key, label)
    if kind == "smudging":
        if 2 * parameter + 1 <= 1 << 63:
            small = uniform_centered(parameter, degree, rng=stream)
            out = [reduce_signed(small, q) for q in moduli]
            small.fill(0)
            return out
        return uniform_centered_residues(parameter, moduli, degree, rng=stream)
    if kind == "pad-error":
        errors = centered_binomial_from(stream(cbd_bytes(degree)), degree)
        out = [reduce_signed(errors, q) for q in moduli]
        errors.fill(0)
        return out
    values = uniform_below(parameter, degree, rng=stream)  # mask: below t_plain < every q
    out = [values % np.uint64(q) for q in moduli]
    values.fill(0)
    return out


def shared_noise(
    keys: PrssKeys,
    ctx: bytes,
    kind: NoiseKind,
    moduli: tuple[int, ...],
    degree: int,
    *,
    bound: int | None = None,
    plain_modulus: int | None = None,
) -> U64:
    """This trustee's Shamir share E(j) = Σ_{A ∋ j} x_A · f_A(j) of the noise Σ_A x_A, as
    residues, shape (len(moduli), degree), uint64 — C(n − 1, t − 1) derivations.

    For ``mask`` the shared value is M = Σ_A M_A as an integer below C(n, t − 1)·t_plain: Δ·M
    is Δ·(M mod t_plain) less M div t_plain (t·Δ ≡ −1 mod Q when Q ≡ 1 mod t, ``params.py``),
    a message offset plus an error of at most C(n, t − 1) the caller's noise budget holds."""
    if keys.index >= min(moduli):
        raise ParameterError("trustee index not below the primes")
    out = np.zeros((len(moduli), degree), dtype=np.uint64)
    for members, key in keys.set_keys:
        x = set_noise(
            key,
            members,
            keys.key_id,
            ctx,
            kind,
            moduli,
            degree,
            bound=bound,
            plain_modulus=plain_modulus,
        )
        for i, q in enumerate(moduli):
            weight = set_polynomial_at(members, keys.n, keys.index, q)
            out[i] = addmod(out[i], mulmod(x[i], weight, q), q)
            x[i].fill(0)
    return out


def shared_noise_at_zero(
    all_keys: Sequence[PrssKeys],
    ctx: bytes,
    kind: NoiseKind,
    moduli: tuple[int, ...],
    degree: int,
    *,
    bound: int | None = None,
    plain_modulus: int | None = None,
) -> U64:
    """E(0) = Σ_A x_A over every set, from trustees' keys that together cover every set
    (for tests and the dealer; no trustee can compute it alone). Refuses keys of different
    committees, and two trustees holding different keys for one set."""
    first, by_set = _keys_by_set(all_keys)
    out = np.zeros((len(moduli), degree), dtype=np.uint64)
    for members, key in by_set.items():
        x = set_noise(
            key,
            members,
            first.key_id,
            ctx,
            kind,
            moduli,
            degree,
            bound=bound,
            plain_modulus=plain_modulus,
        )
        for i, q in enumerate(moduli):
            out[i] = addmod(out[i], x[i], q)
            x[i].fill(0)
    return out


def _keys_by_set(all_keys: Sequence[PrssKeys]) -> tuple[PrssKeys, dict[PrssSet, bytes]]:
    """The first trustee's keys and r_A of every set, in canonical order, from keys that
    together cover every set; refuses keys of different committees, two trustees holding
    different keys for one set, and a set no one holds."""
    if not all_keys:
        raise ParameterError("no PRSS keys given")
    first = all_keys[0]
    by_set: dict[PrssSet, bytes] = {}
    for keys in all_keys:
        if (keys.key_id, keys.n, keys.t) != (first.key_id, first.n, first.t):
            raise MismatchError("PRSS keys of different BFV keys or committees")
        for members, key in keys.set_keys:
            if by_set.setdefault(members, key) != key:
                raise MismatchError(f"two trustees hold different keys for set {list(members)}")
    sets = prss_sets(first.n, first.t)
    missing = [a for a in sets if a not in by_set]
    if missing:
        raise ParameterError(f"the keys given miss {len(missing)} sets (first {list(missing[0])})")
    return first, {members: by_set[members] for members in sets}


# -- differential-privacy noise ------------------------------------------------------------------


def _checked_context(ctx: bytes) -> None:
    if not 1 <= len(ctx) <= _MAX_CONTEXT:
        raise ParameterError(f"a PRSS context has 1 to {_MAX_CONTEXT} bytes, got {len(ctx)}")


def _checked_dp(ctx: bytes, sigma2: Fraction, count: int) -> Fraction:
    """σ² as a Fraction, after checking the context, σ² > 0 (exact: no floats) and the count."""
    _checked_context(ctx)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_DP_COUNT:
        raise ParameterError(f"a DP draw covers 1 to {MAX_DP_COUNT} aggregates, got {count!r}")
    if isinstance(sigma2, bool) or not isinstance(sigma2, Fraction | int) or not sigma2 > 0:
        raise ParameterError(f"sigma^2 must be a positive Fraction, got {sigma2!r}")
    return Fraction(sigma2)


def set_dp_noise(
    key: bytes, members: PrssSet, key_id: str, ctx: bytes, sigma2: Fraction, count: int
) -> list[int]:
    """z_A = PRF(r_A, ctx): ``count`` independent draws of the discrete Gaussian N_Z(0, σ²)
    (``threshold/discrete_gaussian.py``) from :func:`~cryptoscore.randomness.seeded_stream`
    under r_A with a label naming the key, A, the kind ``dp-gaussian``, σ² (as p/q), count and
    ctx — identical for every member of A, independent across sets, contexts, σ² and counts."""
    exact = _checked_dp(ctx, sigma2, count)
    _key_id_bytes(key_id)
    label = "|".join(
        [
            _LABEL,
            key_id,
            ",".join(map(str, members)),
            DP_KIND,
            f"{exact.numerator}/{exact.denominator}",
            str(count),
            ctx.hex(),
        ]
    )
    return discrete_gaussians(exact, count, seeded_stream(key, label))


def shared_dp_noise(
    keys: PrssKeys, ctx: bytes, sigma2: Fraction, count: int, modulus: int
) -> list[int]:
    """This trustee's Shamir share Z(j) = Σ_{A ∋ j} z_A·f_A(j) mod ``modulus`` of the DP noise
    Σ_A z_A, one integer in [0, modulus) per released aggregate — C(n − 1, t − 1) draws of
    ``count`` values. ``modulus`` is a prime q or a product of primes Q (then Z(j) mod q_i is the
    residue for each), with no factor up to n so that every f_A is defined mod it.

    The answer at a released position gets Δ·Z(j) on top of s_j·c1 + E(j): all answers stay on
    one polynomial of degree t − 1, whose value at 0 carries Δ·Σ_A z_A."""
    if modulus <= keys.n or math.gcd(modulus, math.factorial(keys.n)) != 1:
        raise ParameterError(f"the modulus must have no factor up to n = {keys.n}")
    _checked_dp(ctx, sigma2, count)
    out = [0] * count
    for members, key in keys.set_keys:
        weight = set_polynomial_at(members, keys.n, keys.index, modulus)
        z = set_dp_noise(key, members, keys.key_id, ctx, sigma2, count)
        out = [(acc + value * weight) % modulus for acc, value in zip(out, z, strict=True)]
    return out


def shared_dp_noise_at_zero(
    all_keys: Sequence[PrssKeys], ctx: bytes, sigma2: Fraction, count: int
) -> list[int]:
    """Z(0) = Σ_A z_A over every set, as signed integers, from trustees' keys that together
    cover every set (for tests and the dealer; no trustee can compute it alone)."""
    first, by_set = _keys_by_set(all_keys)
    _checked_dp(ctx, sigma2, count)
    out = [0] * count
    for members, key in by_set.items():
        z = set_dp_noise(key, members, first.key_id, ctx, sigma2, count)
        out = [acc + value for acc, value in zip(out, z, strict=True)]
    return out


def dp_noise_variance(n: int, t: int, sigma2: Fraction) -> Fraction:
    """C(n, t − 1)·σ²: a bound on the variance of the decoded DP noise Σ_A z_A per aggregate
    (each discrete Gaussian's variance is at most σ²). Per-trustee draws would give t·σ²:
    2-of-3 3σ² against 2σ², 3-of-5 10σ² against 3σ², 4-of-7 35σ² against 4σ²."""
    check_committee(n, t)
    return math.comb(n, t - 1) * Fraction(sigma2)


# -- the smudging budget -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PrssSmudging:
    """The smudging budget of a PRSS-smudged release: the decoded noise is v + Σ_A x_A over
    ``sets`` = C(n, t − 1) draws, each uniform in [−B, B], and the honest set's x_H alone must
    hide v (B ≥ 2^40·B_release), while decryption needs B_release + sets·B < Δ/2."""

    sets: int
    release_bound: int
    proven: bool
    """B_release is the proven worst case (else the heuristic bound of ``scoring/noise.py``)."""
    delta_half: int
    set_bound: int
    """B per set: 2^40·B_release raised to half the room, (Δ/2 − B_release)/(2·sets); 0 when
    the budget does not fit."""

    @property
    def margin_bits(self) -> float:
        """log2 of Δ/2 over B_release + sets·2^40·B_release: negative means it does not fit."""
        need = self.release_bound + self.sets * (self.release_bound << SMUDGING_BITS)
        return math.log2(self.delta_half) - math.log2(need)

    @property
    def fits(self) -> bool:
        return self.set_bound > 0


def prss_smudging(
    params: type[ParameterSet],
    circuit: str,
    n_items: int,
    classes: int,
    aggregates: int,
    *,
    committee: int,
    threshold: int,
) -> PrssSmudging:
    """The PRSS smudging bound for a release of ``circuit`` with a ``threshold``-of-``committee``
    key: B_release as ``scoring/noise.smudging_bound`` chooses it (the proven bound where it
    fits, else the heuristic one), with C(n, t − 1) summed draws in place of T partials. The
    proven bound starts from inputs that passed a noise check of Shamir answers: C(n, t − 1)
    pad-error terms (``scoring/noise.pad_error_terms``), not T."""
    if not 1 <= threshold <= committee <= params.MAX_TRUSTEES:
        raise ParameterError(f"no {threshold}-of-{committee} committee at {params.ID}")
    sets = math.comb(committee, threshold - 1)
    release, _ = release_noise_bound(
        params, circuit, n_items, classes, aggregates, committee=committee
    )
    worst = worst_case_release_bound(
        params,
        circuit,
        n_items,
        classes,
        aggregates,
        pad_error_terms(committee, threshold),
        committee=committee,
    )
    delta_half = release_delta_half(params)
    proven = worst + sets * (worst << SMUDGING_BITS) < delta_half
    if proven:
        release = max(release, worst)
    set_bound = max(release << SMUDGING_BITS, (delta_half - release) // (2 * sets))
    if release + sets * set_bound >= delta_half:
        set_bound = 0
    return PrssSmudging(sets, release, proven, delta_half, set_bound)


def shamir_transcript_exposure(
    params: type[ParameterSet],
    submissions: int,
    n_items: int,
    classes: int,
    aggregates: int,
    validity_checks: int,
    *,
    committee: int,
    threshold: int,
) -> TranscriptExposure:
    """``scoring/noise.transcript_exposure`` for Shamir answers of a ``threshold``-of-``committee``
    key (docs/design.md, "Robust threshold decryption (core)", "Noise budget"): the same
    decryptions (``noise.lifetime_decryptions``: one per ciphertext, however many trustees
    answer — the answers to one c1 are one polynomial), each smudged by C(n, t − 1) PRSS draws
    (``draws``) of bound B = :func:`prss_smudging`'s ``set_bound``. A coalition of t − 1
    trustees knows every draw but the honest set's x_H, so each decryption's B_release is hidden
    by that one draw: B_release/(2B + 1) per coefficient. B is smaller than the additive E when
    C(n, t − 1) > t (the draws share the room under Δ/2), so the figure is larger. Raises
    :class:`ParameterError` where the PRSS budget does not fit (no B)."""
    pairs = []
    for circuit, count in (("validity/v1", validity_checks), ("score/v1", aggregates)):
        budget = prss_smudging(
            params, circuit, n_items, classes, count, committee=committee, threshold=threshold
        )
        if not budget.fits:
            raise ParameterError(
                f"{circuit} on {n_items} items: C({committee}, {threshold - 1}) = {budget.sets} "
                f"PRSS smudging draws do not fit under Δ/2 at {params.ID}"
            )
        pairs.append((budget.release_bound, budget.set_bound))
    return exposure_of(
        params,
        lifetime_decryptions(params, submissions, n_items, classes),
        pairs[0],
        pairs[1],
        draws_per_decryption=math.comb(committee, threshold - 1),
    )


def check_committee_fits(params: type[ParameterSet], n: int, t: int) -> None:
    """Refuse, at planning, a t-of-n committee whose PRSS noise does not fit at ``params``:
    :func:`check_committee` (cost), then :func:`prss_smudging` at every corner of
    ``scoring/noise.BUDGET_CORNERS`` at the largest size (C(n, t − 1) smudging draws, inputs
    bounded by a noise check of C(n, t − 1) pad-error terms). At bfv-8192 this refuses
    7-of-12, 11-of-14, 12-of-15 and 13-of-16 among the committees the cost cap allows; at
    bfv-16384 it refuses none."""
    check_committee(n, t)
    if n > params.MAX_TRUSTEES:
        raise ParameterError(f"at most {params.MAX_TRUSTEES} trustees at {params.ID}")
    for circuit, classes, aggregates in BUDGET_CORNERS:
        budget = prss_smudging(
            params, circuit, params.max_count(), classes, aggregates, committee=n, threshold=t
        )
        if not budget.fits:
            raise ParameterError(
                f"a {t}-of-{n} committee does not fit at {params.ID}: {circuit} with {classes} "
                f"classes at {params.max_count()} items decodes a noise of C({n}, {t - 1}) = "
                f"{budget.sets} smudging draws, which leaves no room under Δ/2 "
                f"({budget.margin_bits:.1f} bits); choose bfv-16384, or a threshold nearer 1 "
                "or n"
            )
