"""Threshold decryption: single-use, smudged, signed partial decryptions and their combination.

Protocol (DESIGN.md, "Threshold decryption"; the construction is the standard threshold BFV
with Shamir-shared keys and noise flooding — Asharov, Jain, López-Alt, Tromer,
Vaikuntanathan, Wichs, EUROCRYPT 2012; Boneh et al., "Threshold cryptosystems from threshold
FHE", CRYPTO 2018):

* A decryption **request** names the aggregate ciphertext (c0, c1) at the release level and
  its **active set** S (|S| = t) before anyone answers.
* Trustee j (:func:`partial_decrypt`) multiplies its share by the Lagrange coefficient
  λ_j(S) *before* adding noise, computes h_j = c1 · λ_j s_j + e_j with e_j uniform in [−E, E]
  drawn from the OS CSPRNG (E from ``noise.smudging_bound`` for the ciphertext's circuit and
  size), and signs (request id, ciphertext hash, partial hash, active set, its id) with its
  Ed25519 identity key. A round-1 noise check is the one exception: it is answered with the
  exact complement of the trustee's pad share, −e_ij in place of smudging (``sanitize.py``).
* It answers **once per ciphertext and lineage slot, under one active set per lineage**:
  its :class:`PartialJournal` (an fsync'ed append-only file) holds the hash of every c1 it
  has answered and every lineage slot (``lineage.py``). Two answers on one polynomial family
  under different Lagrange coefficients expose the share (B·p + A·h, reduced mod B), and
  re-randomizing (:func:`rerandomize`) does not make a new family: a re-randomized copy is
  the same lineage and slot, and is refused like the original.
* The combiner (:func:`combine`) checks t partials from distinct roster trustees of the named
  set, with valid signatures over this ciphertext and request, adds c0 + Σ h_j = Δ·m + v + Σe_j
  (mod Q_rel), and rounds t·x/Q_rel to m. It returns only the aggregates the record names.
"""

from __future__ import annotations

import fcntl
import hashlib
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from ._rns.modmath import (
    U64,
    addmod,
    crt_lift,
    mulmod,
    reduce_signed,
    uniform_below,
    uniform_centered,
    uniform_centered_residues,
)
from ._rns.shamir import lagrange_at_zero
from ._seal.engine import SealEngine, engine_for
from ._seal.format import build_ciphertext, build_plaintext
from .aggregate import AggregateCiphertext
from .ceremony import CeremonyRecord, KeyShare
from .ciphertext import ciphertext_nbytes, decode_ciphertext, encode_ciphertext
from .durable import fsync_dir
from .errors import FormatError, MismatchError, PolicyError
from .identity import TrusteeIdentity
from .keys import PublicContext
from .lineage import LineageClaim, LineageRecord, aggregate_claim, check_claim
from .noise import smudging_bound
from .params import ParameterSet, get_parameter_set
from .records import Fields, canonical_json, pack_record, unpack_record

__all__ = [
    "ActiveSet",
    "CombinedDecryption",
    "PadComplement",
    "PartialDecryption",
    "PartialJournal",
    "combine",
    "partial_decrypt",
    "rerandomize",
    "standalone_lineage",
]

MAGIC = b"CSPARTIA"
FORMAT_VERSION = 1
_SIGN_DOMAIN = b"cryptoscore/partial-decryption/v1\x00"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


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


def c1_digest(aggregate: AggregateCiphertext) -> str:
    """SHA-256 of the c1 polynomial: what the single-use rule is keyed on."""
    half = len(aggregate.ciphertext) // 2
    return hashlib.sha256(aggregate.ciphertext[half:]).hexdigest()


class PartialJournal:
    """A trustee's durable record of answered ciphertexts (append-only, fsync'ed, locked).

    Two kinds of line: ``<c1 sha256 or pad seed digest> <request id>`` (single use), and
    ``lineage <lineage> <slot> <active set> <request id>`` (``lineage.py``: one active set
    per lineage, each slot once, within the lineage's budget). Both are checked together
    and written and synced *before* the share is read and the answer leaves the trustee, so
    a crash can lose an answer but never allow a second one, and a refused request leaves
    the journal as it was.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        # What has been read so far: the journal only grows, so each check reads only the
        # lines appended since (by this or another process), not the whole file again.
        self._offset = 0
        self._digests: set[str] = set()
        self._lineages: dict[str, list[LineageRecord]] = {}

    def close(self) -> None:
        os.close(self._fd)

    def __enter__(self) -> PartialJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _catch_up(self) -> None:
        """Read complete lines appended since the last call (caller holds the lock). A torn
        last line (a crash mid-write, before the fsync: that answer never left) is skipped."""
        size = os.fstat(self._fd).st_size
        if size <= self._offset:
            return
        data = os.pread(self._fd, size - self._offset, self._offset)
        end = data.rfind(b"\n") + 1
        for raw in data[:end].split(b"\n"):
            parts = raw.decode("ascii", errors="replace").split()
            if not parts:
                continue
            if parts[0] == "lineage":
                try:
                    record = LineageRecord.parse(parts)
                except FormatError:
                    # only a line torn by a crash mid-write looks like this; the digest line
                    # written before it still blocks that ciphertext
                    continue
                self._lineages.setdefault(record.lineage, []).append(record)
            else:
                self._digests.add(parts[0])
        self._offset += end

    def _locked(self, mode: int) -> _JournalLock:
        return _JournalLock(self._fd, mode)

    def lineage_records(self) -> list[LineageRecord]:
        """Every lineage answer this trustee gave."""
        with self._locked(fcntl.LOCK_SH):
            self._catch_up()
            return [r for records in self._lineages.values() for r in records]

    def check(self, lineage: LineageClaim) -> None:
        """Read-only: raise PolicyError if ``lineage`` would be refused (a trustee calls it
        before expensive work; :meth:`claim` checks again atomically)."""
        with self._locked(fcntl.LOCK_SH):
            self._catch_up()
            check_claim(lineage, self._lineages.get(lineage.lineage, []))

    def answered(self, digest: str) -> bool:
        with self._locked(fcntl.LOCK_SH):
            self._catch_up()
            return digest in self._digests

    def claim(
        self,
        digest: str,
        request_id: str,
        *,
        lineage: LineageClaim,
        refusal: str | None = None,
    ) -> None:
        """Record ``digest`` and the ``lineage`` slot as answered; refuse, writing nothing, if
        the digest is already there or the lineage rules forbid the slot (atomic under the
        lock)."""
        _check_request_id(request_id)
        with self._locked(fcntl.LOCK_EX):
            self._catch_up()
            if digest in self._digests:
                raise PolicyError(
                    refusal
                    or "this trustee already produced a partial decryption of this ciphertext"
                )
            check_claim(lineage, self._lineages.get(lineage.lineage, []))
            record = LineageRecord(lineage.lineage, lineage.slot, lineage.active_set, request_id)
            size = os.fstat(self._fd).st_size
            torn = size > self._offset  # an unterminated last line: end it first
            text = ("\n" if torn else "") + f"{digest} {request_id}\n{record.line()}"
            os.write(self._fd, text.encode("ascii"))
            os.fsync(self._fd)
            self._catch_up()
        fsync_dir(self.path.parent)


class _JournalLock:
    """``flock`` held for a ``with`` block."""

    def __init__(self, fd: int, mode: int) -> None:
        self._fd = fd
        self._mode = mode

    def __enter__(self) -> None:
        fcntl.flock(self._fd, self._mode)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)


@dataclass(frozen=True, slots=True)
class PartialDecryption:
    """One trustee's signed answer to one request (record magic ``CSPARTIA``)."""

    params: type[ParameterSet]
    key_id: str
    request_id: str
    trustee_id: str
    index: int
    active_set: ActiveSet
    ciphertext_digest: str
    level: int
    partial: bytes = field(repr=False)
    """Canonical encoding of h_j (one polynomial over the level's primes)."""
    signature: bytes = field(repr=False)

    @property
    def partial_digest(self) -> str:
        return hashlib.sha256(self.partial).hexdigest()

    def signed_message(self) -> bytes:
        return _signed_message(
            self.request_id,
            self.ciphertext_digest,
            self.partial_digest,
            self.active_set,
            self.trustee_id,
            self.key_id,
        )

    def header(self) -> dict[str, Any]:
        return {
            "params": self.params.ID,
            "key_id": self.key_id,
            "request_id": self.request_id,
            "trustee_id": self.trustee_id,
            "index": self.index,
            "active_set": list(self.active_set.indices),
            "ciphertext": self.ciphertext_digest,
            "level": self.level,
            "signature": self.signature.hex(),
        }

    def to_bytes(self) -> bytes:
        return pack_record(MAGIC, FORMAT_VERSION, self.header(), self.partial)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    def data(self) -> U64:
        moduli = self.params.moduli(self.level)
        out: U64 = decode_ciphertext(self.partial, moduli, self.params.POLY_MODULUS_DEGREE, 1)[0]
        return out

    @classmethod
    def from_bytes(cls, raw: bytes) -> PartialDecryption:
        header, body = unpack_record(raw, MAGIC, FORMAT_VERSION, "partial decryption")
        f = Fields(
            header,
            "partial decryption",
            {
                "params",
                "key_id",
                "request_id",
                "trustee_id",
                "index",
                "active_set",
                "ciphertext",
                "level",
                "signature",
            },
        )
        params = get_parameter_set(f.string("params"))
        level = f.integer("level", 1, len(params.DATA_PRIMES))
        expected = ciphertext_nbytes(params.moduli(level), params.POLY_MODULUS_DEGREE, 1)
        if len(body) != expected:
            raise FormatError(f"partial decryption: {len(body)} bytes, expected {expected}")
        request_id = f.string("request_id", 128)
        _check_request_id(request_id)
        partial = cls(
            params=params,
            key_id=f.hex("key_id", 32).hex(),
            request_id=request_id,
            trustee_id=f.string("trustee_id", 64),
            index=f.integer("index", 1, 255),
            active_set=ActiveSet(tuple(f.int_list("active_set", 1, 255, 255))),
            ciphertext_digest=f.hex("ciphertext", 32).hex(),
            level=level,
            partial=bytes(body),
            signature=f.hex("signature", 64),
        )
        partial.data()  # coefficients reduced
        return partial


def _signed_message(
    request_id: str,
    ciphertext_digest: str,
    partial_digest: str,
    active: ActiveSet,
    trustee_id: str,
    key_id: str,
) -> bytes:
    return _SIGN_DOMAIN + canonical_json(
        {
            "request_id": request_id,
            "ciphertext": ciphertext_digest,
            "partial": partial_digest,
            "active_set": list(active.indices),
            "trustee_id": trustee_id,
            "key_id": key_id,
        }
    )


def _check_request_id(request_id: str) -> None:
    if not _REQUEST_ID.match(request_id):
        raise FormatError("request id must be 1-128 characters of [A-Za-z0-9._:-]")


@dataclass(frozen=True, slots=True)
class PadComplement:
    """What a noise check is answered against (``pads.py``, ``sanitize.py``): the pad
    request's active set, lineage and key, the ciphertext's index, and how to re-derive this
    trustee's pad errors of it — called only after the journal's claim, since it reads the
    share (``pads.PadErrors``)."""

    active_set: tuple[int, ...]
    lineage: str
    key_id: str
    index: int
    errors: Callable[[], npt.NDArray[np.int64]] = field(repr=False)


def standalone_lineage(aggregate: AggregateCiphertext, active_set: ActiveSet) -> LineageClaim:
    """The lineage of a ciphertext decrypted outside a challenge (``lineage.py``): keyed on
    what re-randomization keeps, so a re-randomized copy is refused like the original."""
    return aggregate_claim(aggregate.circuit, aggregate.inputs, aggregate.names, active_set.indices)


def _aggregate_smudging(aggregate: AggregateCiphertext, trustees: int) -> int:
    """E for this ciphertext: computed from its circuit, size and parameters (noise.py)."""
    if aggregate.circuit == "noise/v1":
        return 0  # answered with the pad's own errors (partial_decrypt), not smudged
    count = len(aggregate.names)
    bound = smudging_bound(
        aggregate.params, aggregate.circuit, aggregate.n, aggregate.classes, count, trustees
    )
    return bound.smudging_bound


def _smudging_residues(bound: int, moduli: tuple[int, ...], n: int) -> list[U64]:
    """Fresh e uniform in [−bound, bound], as residues per prime."""
    if 2 * bound + 1 <= 1 << 63:
        noise = uniform_centered(bound, n)
        out = [reduce_signed(noise, q) for q in moduli]
        noise.fill(0)
        return out
    return uniform_centered_residues(bound, moduli, n)


def _times_share(engine: SealEngine, c1: U64, share: U64) -> U64:
    """c1 · share mod q_i (share in NTT form), via SEAL's NTT on the compute context."""
    level = c1.shape[0]
    pid = engine.compute_level_ids[level]
    # (c1, c1) rather than (c1, 0): SEAL refuses transparent ciphertexts
    data = np.stack([c1, c1])
    ct = engine.load_compute_raw(build_ciphertext(pid, data, engine.version))
    engine.compute_evaluator.transform_to_ntt_inplace(ct)
    pt = engine.load_compute_plaintext(build_plaintext(pid, share, engine.version))
    engine.compute_evaluator.multiply_plain_inplace(ct, pt)
    engine.compute_evaluator.transform_from_ntt_inplace(ct)
    out: U64 = engine.export(ct).data[0]
    return out


def partial_decrypt(
    share: KeyShare,
    aggregate: AggregateCiphertext,
    active_set: ActiveSet,
    request_id: str,
    identity: TrusteeIdentity,
    journal: PartialJournal,
    record: CeremonyRecord,
    *,
    lineage: LineageClaim,
    mask: bool = False,
    pad: PadComplement | None = None,
) -> PartialDecryption:
    """Trustee: one smudged, signed partial decryption of ``aggregate`` for ``active_set``.

    With ``mask`` (required for, and only allowed on, the round-1 noise check of ciphertext i
    of a bundle; ``pad`` names its pad request, :class:`PadComplement`) the trustee answers
    with the exact complement of its pad share, λ_j·s_j·a_i − e_ij + Δ·M: its own pad error
    e_ij re-derived (``pads.PadErrors``) in place of smudging, and M ∈ Z_t^N fresh uniform,
    never kept. Only under the pad's own active set (so the same λ_j): then it adds nothing to
    what the pad share gave (h_ij + answer = Δ·M), and the combined residual is the
    submitter's own noise (``sanitize.py``).

    Preconditions the caller (``release.py``) establishes first: the trustee recomputed
    ``aggregate`` itself from the logged inputs with the published circuit. This function
    enforces the rest: the key, the roster, the active set, and the journal — single use of
    c1, and ``lineage`` (``lineage.py``): one active set per lineage, each slot once. Every
    refusal happens before the share is read.
    """
    _check_request_id(request_id)
    if share.key_id != aggregate.key_id or share.key_id != record.key_id:
        raise MismatchError("the key share does not belong to this ciphertext's key")
    entry = record.entry(share.trustee_id)
    if entry.index != share.index or entry.public_key != identity.public_key:
        raise MismatchError("the share or identity does not match this trustee's roster entry")
    active_set.check(record)
    if share.index not in active_set.indices:
        raise MismatchError(f"trustee {share.trustee_id!r} is not in the request's active set")
    if mask != (aggregate.circuit == "noise/v1"):
        raise PolicyError("masked partials are for the noise check, and the noise check only")
    if mask and pad is None:
        raise PolicyError("a noise check is answered against the pad request that made it")
    if pad is not None:
        if not mask:
            raise PolicyError("only a noise check is answered with the pad's own errors")
        if pad.active_set != active_set.indices:
            raise PolicyError(
                "a noise check is answered only under its pads' own active set: its pad errors "
                "under another Lagrange coefficient would give the share away"
            )
        if (lineage.lineage, lineage.slot) != (pad.lineage, f"noise:{pad.index}"):
            raise MismatchError("the noise check's lineage is not its pad request's")
        if pad.key_id != share.key_id:
            raise MismatchError("the pad request is for another key")
    params = aggregate.params
    smudge = _aggregate_smudging(aggregate, len(active_set.indices))
    ciphertext_digest = aggregate.ciphertext_digest
    if lineage.active_set != active_set.indices:
        raise MismatchError("the lineage claim names another active set than the request")
    journal.claim(c1_digest(aggregate), request_id, lineage=lineage)  # write-ahead

    engine = engine_for(params)
    level = aggregate.level
    moduli = params.moduli(level)
    n = params.POLY_MODULUS_DEGREE
    c1 = aggregate.data()[1]
    scaled = np.empty((level, n), dtype=np.uint64)
    residues = share.residues(level)
    for i, q in enumerate(moduli):
        lam = lagrange_at_zero(share.index, list(active_set.indices), q)
        scaled[i] = mulmod(residues[i], lam, q)
    product = _times_share(engine, c1, scaled)
    scaled.fill(0)
    if pad is not None:  # the exact complement of the pad share: −e_ij, no smudging
        errors = pad.errors()
        noise = [reduce_signed(-errors, q) for q in moduli]
        errors.fill(0)
    else:
        noise = _smudging_residues(smudge, moduli, n)
    if mask:
        # Δ·M with M uniform in Z_t^N: an exact message offset, no noise
        delta = (math.prod(moduli) - 1) // params.PLAIN_MODULUS
        mask_values = uniform_below(params.PLAIN_MODULUS, n)
        for i, q in enumerate(moduli):
            noise[i] = addmod(noise[i], mulmod(mask_values, delta % q, q), q)
        mask_values.fill(0)
    h = np.empty((1, level, n), dtype=np.uint64)
    for i, q in enumerate(moduli):
        h[0, i] = addmod(product[i], noise[i], q)
        noise[i].fill(0)
    partial = encode_ciphertext(h, moduli)
    active = active_set
    message = _signed_message(
        request_id,
        ciphertext_digest,
        hashlib.sha256(partial).hexdigest(),
        active,
        share.trustee_id,
        share.key_id,
    )
    return PartialDecryption(
        params=params,
        key_id=share.key_id,
        request_id=request_id,
        trustee_id=share.trustee_id,
        index=share.index,
        active_set=active,
        ciphertext_digest=ciphertext_digest,
        level=level,
        partial=partial,
        signature=identity.sign(message),
    )


@dataclass(frozen=True, slots=True)
class CombinedDecryption:
    values: dict[str, int]
    """The named aggregates, in ``0..t-1``."""
    max_noise: int | None
    """The largest |residual noise + smudging| over all N coefficients (only when asked
    for: it costs a full CRT lift)."""

    @property
    def noise_bits(self) -> float | None:
        return None if self.max_noise is None else math.log2(max(self.max_noise, 1))


def verify_partials(
    aggregate: AggregateCiphertext,
    partials: Sequence[PartialDecryption],
    record: CeremonyRecord,
    request_id: str,
    active_set: ActiveSet,
) -> None:
    """Combiner and auditor: every check a set of partials must pass before combination."""
    active_set.check(record)
    if len(partials) < record.threshold:
        raise MismatchError(
            f"{len(partials)} partial decryptions given, the threshold is {record.threshold}"
        )
    if len(partials) > record.threshold:
        raise MismatchError("more partials than the threshold: combine exactly the active set")
    seen: set[int] = set()
    for p in partials:
        entry = record.entry(p.trustee_id)  # refuses trustees outside the roster
        if entry.index != p.index:
            raise MismatchError(f"partial from {p.trustee_id!r} carries the wrong index")
        if p.active_set != active_set:
            raise MismatchError(f"partial from {p.trustee_id!r} was made for another active set")
        if p.index not in active_set.indices:
            raise MismatchError(f"{p.trustee_id!r} is not in the active set")
        if p.index in seen:
            raise MismatchError(f"two partials from {p.trustee_id!r}")
        seen.add(p.index)
        if p.request_id != request_id:
            raise MismatchError(f"partial from {p.trustee_id!r} answers another request")
        if p.ciphertext_digest != aggregate.ciphertext_digest:
            raise MismatchError(f"partial from {p.trustee_id!r} is for another ciphertext")
        if p.key_id != record.key_id or p.level != aggregate.level:
            raise MismatchError(f"partial from {p.trustee_id!r} is for another key or level")
        entry.public_key.verify(p.signature, p.signed_message(), f"partial from {p.trustee_id!r}")


def combine(
    aggregate: AggregateCiphertext,
    partials: Sequence[PartialDecryption],
    record: CeremonyRecord,
    request_id: str,
    active_set: ActiveSet,
    *,
    measure_noise: bool = False,
) -> CombinedDecryption:
    """Combiner: verify the partials, decrypt, return only the aggregates the record names."""
    verify_partials(aggregate, partials, record, request_id, active_set)
    params = aggregate.params
    moduli = params.moduli(aggregate.level)
    t = params.PLAIN_MODULUS
    data = aggregate.data()
    x = [data[0, i].copy() for i in range(len(moduli))]
    for p in partials:
        h = p.data()
        for i, q in enumerate(moduli):
            x[i] = addmod(x[i], h[i], q)
    big_q = 1
    for q in moduli:
        big_q *= q
    positions = list(aggregate.positions)
    at_positions = crt_lift([xi[positions] for xi in x], moduli)
    values = {
        name: (t * xk + big_q // 2) // big_q % t
        for name, xk in zip(aggregate.names, at_positions, strict=True)
    }
    max_noise: int | None = None
    if measure_noise:
        delta = (big_q - 1) // t  # exact: Q ≡ 1 (mod t)
        lifted_all = np.array(crt_lift(x, moduli), dtype=object)
        m = (lifted_all * t + big_q // 2) // big_q % t
        v = (lifted_all - m * delta) % big_q
        max_noise = int(np.minimum(v, big_q - v).max())
    return CombinedDecryption(values, max_noise)


def rerandomize(
    aggregate: AggregateCiphertext, public: PublicContext, seed: bytes
) -> AggregateCiphertext:
    """Add a fresh encryption of zero whose randomness is expanded from ``seed``.

    Anyone holding the seed (trustees, auditors) recomputes the re-randomized ciphertext
    exactly. It does **not** make a new lineage (``lineage.py``): c1 changes by pk1·u + e2
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
