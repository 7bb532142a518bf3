"""Round 1's noise check: is every ciphertext of a bundle as little noisy as an honest one?

BFV decryption reveals noise, and a ciphertext can decrypt to valid 0/1 values while carrying
noise close to Δ/2. Multiplied by the organizer's labels, such noise carries label-dependent
terms into a decrypted score (DESIGN.md, "Noise"). The validity aggregate cannot see noise,
so round 1 also decrypts, at the *full* level (where a large noise has room to show),

    Z = Σ_k Σ_c ρ[k, c] · P_kc  +  Σ_j Mask_j

with ρ uniform in [1, 2^32] from a seed drawn after the bundle is fixed, and Mask_j fresh
encryptions of uniform plaintexts made by the trustees of the active set (:func:`make_mask`;
one honest trustee suffices to hide Σρ·P from the combiner). The combiner learns a uniformly
masked plaintext and the smudged residual noise of Z, and accepts the bundle only if that
residual is at most :func:`sanitize_threshold` — the honest bound of Z plus the smudging of t
partials.

What it guarantees. Z's noise is Σ ρ·v_kc + Σ v_mask. A ciphertext whose noise has a
coefficient of magnitude ≫ ``threshold / 2^31`` makes the same coefficient of Z exceed the
threshold except with probability about 2^-31 over ρ (ρ spreads it over 2^32 distinct
multiples); noise near Δ/2 wraps modulo Q and lands anywhere. So a bundle that passes has
input noise below about 2^40 · √chunks · σ_fresh (``noise.sanitized_input_bound``), instead
of up to Δ/2; ``noise.py`` shows that this keeps the label-dependent part of any released
score's noise 2^40 below its smudging.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._rns.modmath import addmod, mulmod
from .aggregate import AggregateCiphertext
from .bundle import EncryptedBundle
from .ciphertext import ciphertext_nbytes, decode_ciphertext, encode_ciphertext
from .encryption import encrypt_slots
from .errors import FormatError, InputError, MismatchError
from .keys import PublicContext
from .noise import SMUDGING_BITS, TAIL, fresh_noise_std
from .params import ParameterSet, get_parameter_set
from .records import Fields, pack_record, unpack_record

__all__ = ["EncryptedMask", "make_mask", "sanitize", "sanitize_threshold"]

MASK_MAGIC = b"CSMASKCT"
FORMAT_VERSION = 1
WEIGHT_BITS = 32
SANITIZE_NAMES = ("masked",)
_DOMAIN = b"cryptoscore/sanitize/v1"


@dataclass(frozen=True, slots=True)
class EncryptedMask:
    """A trustee's encryption of a uniformly random plaintext (fresh level)."""

    params: type[ParameterSet]
    key_id: str
    trustee_id: str
    ciphertext: bytes = field(repr=False)

    def to_bytes(self) -> bytes:
        header = {"params": self.params.ID, "key_id": self.key_id, "trustee_id": self.trustee_id}
        return pack_record(MASK_MAGIC, FORMAT_VERSION, header, self.ciphertext)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @classmethod
    def from_bytes(cls, raw: bytes) -> EncryptedMask:
        header, body = unpack_record(raw, MASK_MAGIC, FORMAT_VERSION, "encrypted mask")
        f = Fields(header, "encrypted mask", {"params", "key_id", "trustee_id"})
        params = get_parameter_set(f.string("params"))
        moduli = params.moduli(params.fresh_level())
        decode_ciphertext(body, moduli, params.POLY_MODULUS_DEGREE)
        return cls(params, f.hex("key_id", 32).hex(), f.string("trustee_id", 64), bytes(body))


def make_mask(public: PublicContext, trustee_id: str) -> EncryptedMask:
    """Trustee: encrypt a fresh uniform plaintext (slots from ``os.urandom``); keep nothing."""
    from ._rns.modmath import uniform_below

    slots = uniform_below(public.params.PLAIN_MODULUS, public.params.slot_count())
    return EncryptedMask(public.params, public.key_id, trustee_id, encrypt_slots(public, slots))


def sanitize_weights(seed: bytes, count: int) -> list[int]:
    """ρ values uniform in [1, 2^32] from SHAKE-256(seed)."""
    if len(seed) != 32:
        raise InputError("sanitize seed must be 32 bytes")
    stream = hashlib.shake_256(_DOMAIN + b"|" + seed).digest(4 * count)
    return [int(v) + 1 for v in np.frombuffer(stream, dtype="<u4")]


def honest_bound(params: type[ParameterSet], n_items: int, classes: int, masks: int) -> int:
    """Heuristic bound on ||noise(Z)||∞ for honest inputs (see noise.py for the rules)."""
    layout_chunks = -(-n_items // params.slot_count())
    vectors = 1 if classes == 2 else classes
    fresh = fresh_noise_std(params)
    weight_rms = 2.0**WEIGHT_BITS / math.sqrt(3)
    std = fresh * math.sqrt(layout_chunks * vectors * weight_rms**2 + masks)
    return math.ceil(TAIL * std) + 2


def sanitize_threshold(
    params: type[ParameterSet], n_items: int, classes: int, masks: int, trustees: int
) -> tuple[int, int]:
    """(smudging bound E of a partial of Z, largest acceptable |residual| = B + T·E)."""
    bound = honest_bound(params, n_items, classes, masks)
    smudge = bound << SMUDGING_BITS
    return smudge, bound + trustees * smudge


def sanitize(
    bundle: EncryptedBundle, seed: bytes, masks: Sequence[EncryptedMask]
) -> AggregateCiphertext:
    """Service, trustee, auditor: Z for ``bundle`` (deterministic in bundle, seed and masks)."""
    h = bundle.header
    if not masks:
        raise InputError("sanitization needs at least one trustee mask")
    params = h.params
    level = params.fresh_level()
    moduli = params.moduli(level)
    weights = sanitize_weights(seed, h.layout.ciphertexts)
    acc = np.zeros((2, level, params.POLY_MODULUS_DEGREE), dtype=np.uint64)
    for index, rho in enumerate(weights):
        data = bundle.ciphertext(index)
        for p in range(2):
            for i, q in enumerate(moduli):
                acc[p, i] = addmod(acc[p, i], mulmod(data[p, i], rho, q), q)
    for mask in masks:
        if mask.key_id != h.key_id or mask.params is not params:
            raise MismatchError("a mask was encrypted under another key")
        data = decode_ciphertext(mask.ciphertext, moduli, params.POLY_MODULUS_DEGREE)
        for p in range(2):
            for i, q in enumerate(moduli):
                acc[p, i] = addmod(acc[p, i], data[p, i], q)
    raw: Any = encode_ciphertext(acc, moduli)
    if len(raw) != ciphertext_nbytes(moduli, params.POLY_MODULUS_DEGREE):
        raise FormatError("internal: sanitize output of the wrong size")
    return AggregateCiphertext(
        circuit="sanitize/v1",
        params=params,
        key_id=h.key_id,
        level=level,
        names=SANITIZE_NAMES,
        positions=(0,),
        inputs=(bundle.digest, *(m.digest for m in masks)),
        policy=None,
        seed=seed,
        n=h.n,
        classes=h.classes,
        ciphertext=raw,
    )
