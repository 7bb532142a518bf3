"""Round 1's noise check: is every ciphertext of a bundle as little noisy as an honest one?

BFV decryption reveals noise, and a ciphertext can decrypt to valid 0/1 values while carrying
noise close to Δ/2. Multiplied by the organizer's labels, such noise carries label-dependent
terms into a decrypted score (DESIGN.md, "Noise"). The validity aggregate cannot see noise,
so round 1 also decrypts, at the *full* level (where a large noise has room to show),

    Z = Σ_i r_i · P_i  +  Σ_j Mask_j

where P_i runs over the bundle's ciphertexts, each r_i is a random polynomial with
coefficients in {0, 1} expanded with SHAKE-256 from a seed drawn after the bundle is fixed,
and Mask_j are fresh encryptions of uniform plaintexts made by the trustees of the active set
(:func:`make_mask`; one honest trustee suffices to hide Σ r_i·P_i from the combiner). The
combiner learns a uniformly masked plaintext and the smudged residual noise of Z, and
accepts the bundle only if that residual is at most :func:`sanitize_threshold` — the honest
bound of Z plus the smudging of the partials.

Why polynomials and not scalars. A noise coefficient w ≡ Δ/2 (mod Δ) — the ciphertext then
acts as an encryption of "m + 1/2" — aliases to a message shift, invisible under the mask,
whenever it is multiplied by an even scalar: random scalar weights would miss it half the
time. With binary polynomials, output coefficient k of r_i·P_i includes input coefficient j
exactly when bit k − j of r_i is set; for any input coefficient not within the threshold of a
multiple of Δ, each of the N output coefficients passes for at most one value of an
independent bit, so the bundle passes with probability at most 2^-N.

What it guarantees: after round 1, every noise coefficient of every input ciphertext is
within about twice the threshold of a multiple of Δ, and multiples of Δ are message shifts
that the validity aggregate (its products see them as non-0/1 values) rejects. SECURITY.md
gives the numbers and what they mean for round 2.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from ._seal.engine import engine_for
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


def sanitize_polynomials(seed: bytes, count: int, n: int) -> list[npt.NDArray[np.uint64]]:
    """``count`` polynomials with coefficients uniform in {0, 1}, from SHAKE-256(seed)."""
    if len(seed) != 32:
        raise InputError("sanitize seed must be 32 bytes")
    stream = hashlib.shake_256(_DOMAIN + b"|" + seed).digest(count * n // 8)
    bits = np.unpackbits(np.frombuffer(stream, dtype=np.uint8), bitorder="little")
    return [bits[i * n : (i + 1) * n].astype(np.uint64) for i in range(count)]


def honest_bound(params: type[ParameterSet], n_items: int, classes: int, masks: int) -> int:
    """Heuristic bound on ||noise(Z)||∞ for honest inputs (see noise.py for the rules): a
    coefficient of r_i·v_i sums about N/2 coefficients of a fresh noise v_i."""
    chunks = -(-n_items // params.slot_count())
    vectors = 1 if classes == 2 else classes
    fresh = fresh_noise_std(params)
    std = fresh * math.sqrt(chunks * vectors * params.POLY_MODULUS_DEGREE / 2 + masks)
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
    n = params.POLY_MODULUS_DEGREE
    engine = engine_for(params)
    evaluator = engine.evaluator
    polys = sanitize_polynomials(seed, h.layout.ciphertexts, n)
    acc: Any = None
    for index, r in enumerate(polys):
        ct = engine.bfv_ciphertext(bundle.ciphertext(index))
        evaluator.multiply_plain_inplace(ct, engine.plaintext_from_coefficients(r))
        if acc is None:
            acc = ct
        else:
            evaluator.add_inplace(acc, ct)
    for mask in masks:
        if mask.key_id != h.key_id or mask.params is not params:
            raise MismatchError("a mask was encrypted under another key")
        data = decode_ciphertext(mask.ciphertext, moduli, n)
        evaluator.add_inplace(acc, engine.bfv_ciphertext(data))
    raw: Any = encode_ciphertext(engine.export(acc).data, moduli)
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
