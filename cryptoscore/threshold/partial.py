"""Partial decryption: a trustee's single-use, smudged, signed answer for one aggregate.

After claiming the ciphertext and its lineage slot in its
:class:`~cryptoscore.threshold.journal.PartialJournal`, trustee j computes

* (a ceremony record with ``answers == "shamir"``) the Shamir share d_j = s_j·c1 + E(j), with
  E a PRSS sharing of smudging noise (``threshold/prss.py``, kind ``smudging``, bound
  ``prss.prss_smudging``, context ``prss.decryption_context(key id, c1)``): no Lagrange
  coefficient and no per-answer randomness, so every answer lies on one polynomial of degree
  t − 1 and the same c1 always gets the identical answer (Urban, Rambaud, ePrint 2024/1285;
  docs/design.md, "Robust threshold decryption");
* (older ceremonies) h_j = c1·λ_j s_j + e_j, with λ_j its Lagrange coefficient in the
  request's active set and e_j uniform smudging noise in [−E, E] from ``rng`` (the OS CSPRNG;
  E = :func:`cryptoscore.scoring.noise.smudging_bound`).

A score of a challenge with a ``dp`` rule also carries differential-privacy noise Δ·z at the
released aggregates' positions (``threshold/dp_noise.py``). A round-1 noise check is answered
with the exact complement of the trustee's pad error instead of smudging
(:class:`PadComplement`), plus a mask. Threshold BFV with Shamir-shared keys and noise flooding:
Asharov et al., EUROCRYPT 2012; Boneh et al., CRYPTO 2018 (docs/design.md, "Threshold
decryption").
"""

from __future__ import annotations

import hashlib
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cryptoscore.envelope import Fields, canonical_json, pack_record, unpack_record
from cryptoscore.errors import FormatError, MismatchError, ParameterError, RefusedError
from cryptoscore.hazmat.ciphertext import ciphertext_nbytes, decode_ciphertext, encode_ciphertext
from cryptoscore.hazmat.modmath import (
    U64,
    addmod,
    mulmod,
    reduce_signed,
    uniform_below,
    uniform_centered,
    uniform_centered_residues,
)
from cryptoscore.hazmat.seal_engine import SealEngine, engine_for
from cryptoscore.hazmat.seal_format import build_ciphertext, build_plaintext
from cryptoscore.hazmat.shamir import lagrange_at_zero
from cryptoscore.identity import TrusteeIdentity
from cryptoscore.params import ParameterSet, get_parameter_set
from cryptoscore.randomness import Rng
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.scoring.noise import smudging_bound
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.ceremony import CeremonyRecord, KeyShare
from cryptoscore.threshold.dp_noise import release_noise, shared_release_noise
from cryptoscore.threshold.journal import PartialJournal, check_request_id
from cryptoscore.threshold.lineage import LineageClaim, aggregate_claim
from cryptoscore.threshold.prss import (
    PrssKeys,
    decryption_context,
    prss_smudging,
    shared_noise,
)

MAGIC = b"CSPARTIA"


FORMAT_VERSION = 2
"""2 adds the trustee's log view (:class:`LogView`); version 1 records are still read."""

_READABLE_VERSIONS = (1, 2)


@dataclass(frozen=True, slots=True)
class LogView:
    """The head of the challenge's log a trustee had verified when it answered: its size and
    root (``transparency/replica.py``). Signed into the partial, so an auditor can check every
    trustee saw the one public log, not a fork shown to it alone (docs/design.md, "Following
    the log")."""

    size: int
    root: bytes

    def __post_init__(self) -> None:
        if not 1 <= self.size < 1 << 62 or len(self.root) != 32:
            raise FormatError("a log view is a tree size of at least 1 and a 32-byte root")


_SIGN_DOMAIN = b"cryptoscore/partial-decryption/v1\x00"


def c1_digest(aggregate: AggregateCiphertext) -> str:
    """SHA-256 of the c1 polynomial: what the single-use rule is keyed on."""
    half = len(aggregate.ciphertext) // 2
    return hashlib.sha256(aggregate.ciphertext[half:]).hexdigest()


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
    log_view: LogView | None = None
    """The log head the trustee followed (None: answered outside a followed log)."""
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.format_version not in _READABLE_VERSIONS:
            raise FormatError(f"partial decryption: no format version {self.format_version}")
        if self.format_version == 1 and self.log_view is not None:
            raise FormatError("a version 1 partial decryption carries no log view")

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
            self.log_view,
            self.format_version,
        )

    def header(self) -> dict[str, Any]:
        if self.format_version >= 2:
            view = self.log_view
            extra: dict[str, Any] = {
                "log_size": view.size if view else 0,
                "log_root": view.root.hex() if view else "",
            }
        else:
            extra = {}
        return extra | {
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
        return pack_record(MAGIC, self.format_version, self.header(), self.partial)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    def data(self) -> U64:
        moduli = self.params.moduli(self.level)
        out: U64 = decode_ciphertext(self.partial, moduli, self.params.POLY_MODULUS_DEGREE, 1)[0]
        return out

    @classmethod
    def from_bytes(cls, raw: bytes) -> PartialDecryption:
        version = int.from_bytes(bytes(raw[8:10]), "little") if len(raw) >= 10 else 0
        if version not in _READABLE_VERSIONS:
            version = FORMAT_VERSION  # unpack_record names what is wrong
        header, body = unpack_record(raw, MAGIC, version, "partial decryption")
        keys = {
            "params",
            "key_id",
            "request_id",
            "trustee_id",
            "index",
            "active_set",
            "ciphertext",
            "level",
            "signature",
        }
        f = Fields(
            header,
            "partial decryption",
            keys | ({"log_size", "log_root"} if version >= 2 else set()),
        )
        view = None
        if version >= 2:
            size = f.integer("log_size", 0, (1 << 62) - 1)
            root = f.string("log_root", 64)
            if bool(size) != bool(root):
                raise FormatError(
                    "partial decryption: a log view has a size and a root, or neither"
                )
            view = LogView(size, f.hex("log_root", 32)) if size else None
        params = get_parameter_set(f.string("params"))
        level = f.integer("level", 1, len(params.DATA_PRIMES))
        expected = ciphertext_nbytes(params.moduli(level), params.POLY_MODULUS_DEGREE, 1)
        if len(body) != expected:
            raise FormatError(f"partial decryption: {len(body)} bytes, expected {expected}")
        request_id = f.string("request_id", 128)
        check_request_id(request_id)
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
            log_view=view,
            format_version=version,
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
    view: LogView | None,
    version: int,
) -> bytes:
    signed: dict[str, Any] = {
        "request_id": request_id,
        "ciphertext": ciphertext_digest,
        "partial": partial_digest,
        "active_set": list(active.indices),
        "trustee_id": trustee_id,
        "key_id": key_id,
    }
    if version >= 2:  # version 1 signed exactly the fields above
        signed["log"] = [view.size, view.root.hex()] if view else None
    return _SIGN_DOMAIN + canonical_json(signed)


@dataclass(frozen=True, slots=True)
class PadComplement:
    """What a noise check is answered against (``threshold/pad_shares.py``,
    ``scoring/noise_check.py``): the pad
    request's active set, lineage and key, the ciphertext's index, and how to re-derive this
    trustee's pad error of it as residues over the given primes — called only after the
    journal's claim, since it reads the share (``threshold/pad_shares.PadErrorSource``)."""

    active_set: tuple[int, ...]
    lineage: str
    key_id: str
    index: int
    errors: Callable[[tuple[int, ...]], U64] = field(repr=False)


def standalone_lineage(aggregate: AggregateCiphertext, active_set: ActiveSet) -> LineageClaim:
    """The lineage of a ciphertext decrypted outside a challenge (``threshold/lineage.py``):
    keyed on what re-randomization keeps, so a re-randomized copy is refused like the original."""
    return aggregate_claim(aggregate.circuit, aggregate.inputs, aggregate.names, active_set.indices)


def _aggregate_smudging(
    aggregate: AggregateCiphertext, trustees: int, record: CeremonyRecord
) -> int:
    """E for this ciphertext: computed from its circuit, size and parameters, the partials
    and the committee size (the key is bounded as the sum of that many ternary contributions,
    noise.py); for Shamir answers, the bound B of each PRSS set (``prss.prss_smudging``),
    refused when the committee's C(n, t − 1) draws do not fit."""
    if aggregate.circuit == "noise/v1":
        return 0  # answered with the pad's own errors (partial_decrypt), not smudged
    count = len(aggregate.names)
    committee = record.n
    if record.robust:
        budget = prss_smudging(
            aggregate.params,
            aggregate.circuit,
            aggregate.n,
            aggregate.classes,
            count,
            committee=committee,
            threshold=record.threshold,
        )
        if not budget.fits:
            raise ParameterError(
                f"{aggregate.circuit} on {aggregate.n} items: C({committee}, "
                f"{record.threshold - 1}) PRSS smudging draws do not fit under Δ/2 at "
                f"{aggregate.params.ID}"
            )
        return budget.set_bound
    bound = smudging_bound(
        aggregate.params,
        aggregate.circuit,
        aggregate.n,
        aggregate.classes,
        count,
        trustees,
        committee=committee,
    )
    return bound.smudging_bound


def _smudging_residues(bound: int, moduli: tuple[int, ...], n: int, rng: Rng) -> list[U64]:
    """Fresh e uniform in [−bound, bound] from ``rng``, as residues per prime."""
    if 2 * bound + 1 <= 1 << 63:
        noise = uniform_centered(bound, n, rng=rng)
        out = [reduce_signed(noise, q) for q in moduli]
        noise.fill(0)
        return out
    return uniform_centered_residues(bound, moduli, n, rng=rng)


def times_share(engine: SealEngine, c1: U64, share: U64) -> U64:
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


def _add_dp_noise(
    noise: list[U64],
    aggregate: AggregateCiphertext,
    rho: float,
    moduli: tuple[int, ...],
    keys: PrssKeys | None,
    ctx: bytes,
) -> None:
    """Add Δ·z at the released positions only: z_j the trustee's own draw
    (``threshold/dp_noise.release_noise``) for Lagrange answers, or with PRSS keys its Shamir
    share Z(j) of the PRSS-shared noise under the decryption context ``ctx``
    (``dp_noise.shared_release_noise``), so that Shamir answers stay on one polynomial."""
    assert aggregate.policy is not None
    modulus = math.prod(moduli)
    delta = (modulus - 1) // aggregate.params.PLAIN_MODULUS
    positions = np.array(aggregate.positions, dtype=np.int64)
    if keys is None:
        draw = release_noise(aggregate.policy, aggregate.names, rho)
        z = [draw[name] for name in aggregate.names]
    else:
        share = shared_release_noise(aggregate.policy, aggregate.names, rho, keys, ctx, modulus)
        z = [share[name] for name in aggregate.names]
    for i, q in enumerate(moduli):
        at = noise[i][positions]
        residues = np.array([v % q for v in z], dtype=np.uint64)
        noise[i][positions] = addmod(at, mulmod(residues, delta % q, q), q)
        residues.fill(0)
    z.clear()


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
    log_view: LogView | None = None,
    rng: Rng = os.urandom,
    dp_rho: float | None = None,
) -> PartialDecryption:
    """Trustee: one smudged, signed partial decryption of ``aggregate`` for ``active_set``,
    naming the log head it followed (``log_view``, signed with the rest).

    With ``mask`` (required for, and only allowed on, the round-1 noise check of ciphertext i
    of a bundle; ``pad`` names its pad request, :class:`PadComplement`) the trustee answers
    with the exact complement of its pad share, λ_j·s_j·a_i − e_ij + Δ·M: its own pad error
    e_ij re-derived (``threshold/pad_shares.PadErrors``) in place of smudging, and M ∈ Z_t^N
    fresh uniform, never kept. Only under the pad's own active set (so the same λ_j): then it
    adds nothing to what the pad share gave (h_ij + answer = Δ·M), and the combined residual
    is the submitter's own noise (``scoring/noise_check.py``). The smudging noise and M are
    drawn from ``rng`` (by default ``os.urandom``), in that order: smudging, then M.

    With Shamir answers (``record.robust``) the answer is d_j = s_j·c1 + E(j), E the PRSS
    smudging share, and for a noise check s_j·a_i − E_pad,i(j) + Δ·M(j), M the PRSS mask share:
    no Lagrange coefficient and nothing from ``rng``; the share's PRSS keys are checked against
    the record's commitments first. The active set still names who is asked.

    With ``dp_rho`` (a score of a challenge whose rules carry ``dp``; refused on any other
    circuit) the trustee adds Δ·z_j at each released aggregate's coefficient position, after
    the journal's claim: z_j its own discrete Gaussian draw (``threshold/dp_noise.release_noise``)
    for Lagrange answers, or with Shamir answers its share Z(j) of the PRSS-shared noise under
    the decryption context (``dp_noise.shared_release_noise``; no draw from ``rng``). The
    smudging term is unchanged, and nowhere else is anything added.

    Preconditions the caller (``protocol/answer.answer_request``) establishes first: the
    trustee recomputed ``aggregate`` itself from the logged inputs with the published circuit.
    This function enforces the rest: the key, the roster, the active set, and the journal —
    single use of c1, and ``lineage`` (``threshold/lineage.py``): one active set per lineage,
    each slot once.
    Every refusal happens before the share is read.
    """
    check_request_id(request_id)
    if share.key_id != aggregate.key_id or share.key_id != record.key_id:
        raise MismatchError("the key share does not belong to this ciphertext's key")
    entry = record.entry(share.trustee_id)
    if entry.index != share.index or entry.public_key != identity.public_key:
        raise MismatchError("the share or identity does not match this trustee's roster entry")
    active_set.check(record)
    if share.index not in active_set.indices:
        raise MismatchError(f"trustee {share.trustee_id!r} is not in the request's active set")
    if mask != (aggregate.circuit == "noise/v1"):
        raise RefusedError("masked partials are for the noise check, and the noise check only")
    if mask and pad is None:
        raise RefusedError("a noise check is answered against the pad request that made it")
    if pad is not None:
        if not mask:
            raise RefusedError("only a noise check is answered with the pad's own errors")
        if pad.active_set != active_set.indices and not record.robust:
            raise RefusedError(
                "a noise check is answered only under its pads' own active set: its pad errors "
                "under another Lagrange coefficient would give the share away"
            )
        if (lineage.lineage, lineage.slot) != (pad.lineage, f"noise:{pad.index}"):
            raise MismatchError("the noise check's lineage is not its pad request's")
        if pad.key_id != share.key_id:
            raise MismatchError("the pad request is for another key")
    if dp_rho is not None and aggregate.policy is None:
        raise RefusedError("differential-privacy noise is added to score releases only")
    params = aggregate.params
    keys: PrssKeys | None = None
    if record.robust:
        keys = share.prss_keys()
        record.check_prss_keys(keys, share.index)
    smudge = _aggregate_smudging(aggregate, len(active_set.indices), record)
    ciphertext_digest = aggregate.ciphertext_digest
    if lineage.active_set != active_set.indices:
        raise MismatchError("the lineage claim names another active set than the request")
    journal.claim(c1_digest(aggregate), request_id, lineage=lineage)  # write-ahead

    engine = engine_for(params)
    level = aggregate.level
    moduli = params.moduli(level)
    n = params.POLY_MODULUS_DEGREE
    c1 = aggregate.data()[1]
    half = len(aggregate.ciphertext) // 2
    ctx = decryption_context(share.key_id, aggregate.ciphertext[half:]) if keys else b""
    scaled = np.empty((level, n), dtype=np.uint64)
    residues = share.residues(level)
    for i, q in enumerate(moduli):
        lam = 1 if keys else lagrange_at_zero(share.index, list(active_set.indices), q)
        scaled[i] = mulmod(residues[i], lam, q)
    product = times_share(engine, c1, scaled)
    scaled.fill(0)
    noise: list[U64]
    if pad is not None:  # the exact complement of the pad share: −E_pad, no smudging
        errors = pad.errors(moduli)
        noise = [
            np.where(e == 0, np.uint64(0), np.uint64(q) - e)
            for e, q in zip(errors, moduli, strict=True)
        ]
        errors.fill(0)
    elif keys is not None:
        noise = list(shared_noise(keys, ctx, "smudging", moduli, n, bound=smudge))
    else:
        noise = _smudging_residues(smudge, moduli, n, rng)
    if mask:
        # Δ·M with M uniform in Z_t^N (or its PRSS share): an exact message offset, no noise
        delta = (math.prod(moduli) - 1) // params.PLAIN_MODULUS
        if keys is not None:
            masks = shared_noise(keys, ctx, "mask", moduli, n, plain_modulus=params.PLAIN_MODULUS)
        else:
            drawn = uniform_below(params.PLAIN_MODULUS, n, rng=rng)
            masks = np.stack([drawn % np.uint64(q) for q in moduli])
            drawn.fill(0)
        for i, q in enumerate(moduli):
            noise[i] = addmod(noise[i], mulmod(masks[i], delta % q, q), q)
        masks.fill(0)
    if dp_rho is not None and aggregate.policy is not None:
        _add_dp_noise(noise, aggregate, dp_rho, moduli, keys, ctx)
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
        log_view,
        FORMAT_VERSION,
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
        log_view=log_view,
    )
