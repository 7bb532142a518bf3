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


def expand_c1(params: type[ParameterSet], seed: bytes, index: int) -> U64Array:
    """a_index: uniform modulo every data prime, ``[prime][coeff]``, from SHAKE-256(seed, index).

    Rejection sampling of 64-bit words masked to the prime's bit length, so every residue is
    exactly uniform: the first N accepted words of the stream. A word is accepted with
    probability p = q / 2^bits (0.88..0.99 for the primes of both parameter sets), so
    1.05·N/p + 64 words suffice but with probability far below 2^-40; otherwise a longer
    stream, which starts with the same words (SHAKE's output is a prefix of any longer
    output), is read.
    """
    if len(seed) != SEED_BYTES:
        raise FormatError(f"c1 seed must be {SEED_BYTES} bytes, got {len(seed)}")
    n = params.POLY_MODULUS_DEGREE
    primes = params.DATA_PRIMES
    out = np.empty((len(primes), n), dtype=np.uint64)
    for j, q in enumerate(primes):
        mask = np.uint64((1 << q.bit_length()) - 1)
        label = b"|".join(
            [_C1_DOMAIN, params.ID.encode(), seed, index.to_bytes(8, "big"), bytes([j])]
        )
        words = (21 * n << q.bit_length()) // (20 * q) + 64  # 1.05·N/p
        got = np.empty(0, dtype=np.uint64)
        while got.size < n:
            stream = hashlib.shake_256(label).digest(8 * words)
            raw = np.frombuffer(stream, dtype="<u8") & mask
            got = raw[raw < np.uint64(q)]
            words *= 2
        out[j] = got[:n]
    return out
