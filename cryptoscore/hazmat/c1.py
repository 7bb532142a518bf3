"""c1 expansion: the public polynomials a_i of seeded ciphertexts, from SHAKE-256 (FIPS 202).

A threshold challenge accepts only ciphertexts whose c1 nobody chose: a_i is expanded from a
public seed and the ciphertext's index, so a reader re-expands it instead of downloading it
(docs/design.md, "Encryption pads").
"""

from __future__ import annotations

import hashlib

import numpy as np

from cryptoscore.errors import FormatError
from cryptoscore.hazmat.seal_format import U64Array
from cryptoscore.params import ParameterSet

SEED_BYTES = 32


_C1_DOMAIN = b"cryptoscore/pad-c1/v1"


def shake_uniform(label: bytes, q: int, n: int) -> U64Array:
    """n residues exactly uniform modulo q, from SHAKE-256(label).

    Rejection sampling of 64-bit words masked to q's bit length: the first n accepted words of
    the stream. A word is accepted with probability p = q / 2^bits (0.88..0.99 for the primes
    of both parameter sets), so 1.05·n/p + 64 words suffice but with probability far below
    2^-40; otherwise a longer stream, which starts with the same words (SHAKE's output is a
    prefix of any longer output), is read. Distinct purposes must use distinct labels.
    """
    mask = np.uint64((1 << q.bit_length()) - 1)
    words = (21 * n << q.bit_length()) // (20 * q) + 64  # 1.05·n/p
    got = np.empty(0, dtype=np.uint64)
    while got.size < n:
        stream = hashlib.shake_256(label).digest(8 * words)
        raw = np.frombuffer(stream, dtype="<u8") & mask
        got = raw[raw < np.uint64(q)]
        words *= 2
    out: U64Array = got[:n].astype(np.uint64)
    return out


def expand_c1(params: type[ParameterSet], seed: bytes, index: int) -> U64Array:
    """a_index: uniform modulo every data prime, ``[prime][coeff]``, from SHAKE-256(seed, index)
    (:func:`shake_uniform`, one label per prime)."""
    if len(seed) != SEED_BYTES:
        raise FormatError(f"c1 seed must be {SEED_BYTES} bytes, got {len(seed)}")
    n = params.POLY_MODULUS_DEGREE
    primes = params.DATA_PRIMES
    out = np.empty((len(primes), n), dtype=np.uint64)
    for j, q in enumerate(primes):
        label = b"|".join(
            [_C1_DOMAIN, params.ID.encode(), seed, index.to_bytes(8, "big"), bytes([j])]
        )
        out[j] = shake_uniform(label, q, n)
    return out
