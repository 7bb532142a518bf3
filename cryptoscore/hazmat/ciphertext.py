"""The canonical byte encoding of one RNS ciphertext.

Ciphertext-carrying wire records (the public key, bundles, aggregates, partials, pad shares)
never carry SEAL's own serialization: SEAL compresses with zstd, whose output may change
between library versions, while audit needs one canonical byte string per ciphertext (its hash
is what the log and the trustees sign). The records that do hold SEAL's bytes are the
evaluation keys (``CSEVALKY``, ``scoring/keys.py``), fixed once by the ceremony and named by
its hash, and the single-key secret key (``CSSECKEY``), which never goes on the wire
(docs/design.md, "Wire records"). The encoding is:

    for each polynomial (c0, c1, ...), for each prime q_i of the level, in order:
        N coefficients, each in exactly w_i = bitlen(q_i) bits, packed little-endian
        (coefficient j occupies bits j·w_i .. j·w_i + w_i − 1 of the row; N·w_i is a multiple
        of 64 for every supported N, so each row is a whole number of 64-bit words)

It has no header: the enclosing record names the parameter set, level and size, so the exact
length is known before parsing. Decoding checks the length, that every coefficient is below
its prime (a canonical representative), and that the ciphertext is not *transparent* (all
polynomials after the first zero), which SEAL also refuses and which would reveal the message.

At N=8192 and 4 primes (174 bits) a fresh ciphertext is 356,352 bytes; SEAL's zstd output for
the same ciphertext is ≈ 432 KB.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from cryptoscore.errors import FormatError
from cryptoscore.hazmat.seal_format import U64Array

__all__ = ["ciphertext_nbytes", "decode_ciphertext", "encode_ciphertext"]


@cache
def _unpack_plan(n: int, width: int) -> tuple[U64Array, U64Array, U64Array, U64Array]:
    bit = np.arange(n, dtype=np.uint64) * np.uint64(width)
    word = bit >> np.uint64(6)
    shift = bit & np.uint64(63)
    spills = (shift + np.uint64(width)) > np.uint64(64)
    # left shift for the high part; 0 where the value does not spill (masked out below)
    hi_shift = np.where(spills, np.uint64(64) - shift, np.uint64(0)).astype(np.uint64)
    return word, shift, hi_shift, spills.astype(np.uint64)


@cache
def _pack_plan(n: int, width: int) -> tuple[list[tuple[U64Array, U64Array, U64Array]], int]:
    words = n * width // 64
    k = np.arange(words, dtype=np.int64)
    start = 64 * k
    first = start // width  # value whose bits start this word (or straddle into it)
    offset = start - first * width  # bits of that value already in the previous word
    parts: list[tuple[U64Array, U64Array, U64Array]] = []
    for j in range(3):  # a 64-bit word overlaps at most 3 values when width >= 32
        idx = first + j
        lshift = j * width - offset  # where value idx starts inside the word
        valid = (lshift < 64) & (idx < n)
        right = np.where(lshift < 0, -lshift, 0)
        left = np.where(lshift > 0, lshift, 0)
        left = np.where(valid, left, 0)
        right = np.where(valid, right, 0)
        parts.append(
            (
                np.where(valid, idx, n).astype(np.int64).astype(np.uint64),
                left.astype(np.uint64),
                right.astype(np.uint64),
            )
        )
    return parts, words


def _check_widths(moduli: tuple[int, ...], n: int) -> list[int]:
    widths = [q.bit_length() for q in moduli]
    for w in widths:
        if not 32 <= w <= 57 or (n * w) % 64:
            raise FormatError(f"unsupported prime width {w} for N={n}")
    return widths


def ciphertext_nbytes(moduli: tuple[int, ...], n: int, size: int = 2) -> int:
    """Exact encoded length of a ciphertext with ``size`` polynomials over ``moduli``."""
    return size * sum(n * w // 8 for w in _check_widths(moduli, n))


def encode_ciphertext(data: U64Array, moduli: tuple[int, ...]) -> bytes:
    """Canonical bytes of ``data[poly, prime, coefficient]`` (values must be reduced)."""
    size, level, n = data.shape
    if level != len(moduli):
        raise FormatError(f"ciphertext has {level} primes, moduli give {len(moduli)}")
    widths = _check_widths(moduli, n)
    out = bytearray()
    for p in range(size):
        for i, (q, w) in enumerate(zip(moduli, widths, strict=True)):
            row = np.ascontiguousarray(data[p, i], dtype=np.uint64)
            if int(row.max(initial=0)) >= q:
                raise FormatError("coefficient not reduced modulo its prime")
            padded = np.concatenate([row, np.zeros(1, dtype=np.uint64)])
            parts, _ = _pack_plan(n, w)
            acc = np.zeros(parts[0][0].size, dtype=np.uint64)
            for idx, left, right in parts:
                vals = padded[idx.astype(np.int64)]
                acc |= (vals >> right) << left
            out += acc.astype("<u8").tobytes()
    return bytes(out)


def decode_ciphertext(
    raw: bytes | memoryview, moduli: tuple[int, ...], n: int, size: int = 2
) -> U64Array:
    """Parse canonical bytes into ``data[poly, prime, coefficient]``, validating everything."""
    widths = _check_widths(moduli, n)
    expected = ciphertext_nbytes(moduli, n, size)
    if len(raw) != expected:
        raise FormatError(
            f"ciphertext has {len(raw)} bytes, expected {expected} "
            f"({size} polynomials over {len(moduli)} primes at N={n})"
        )
    words_all = np.frombuffer(raw, dtype="<u8").astype(np.uint64)
    out = np.empty((size, len(moduli), n), dtype=np.uint64)
    pos = 0
    for p in range(size):
        for i, (q, w) in enumerate(zip(moduli, widths, strict=True)):
            nwords = n * w // 64
            words = np.concatenate([words_all[pos : pos + nwords], np.zeros(1, dtype=np.uint64)])
            pos += nwords
            word, shift, hi_shift, spills = _unpack_plan(n, w)
            lo = words[word.astype(np.int64)] >> shift
            hi = (words[word.astype(np.int64) + 1] << hi_shift) * spills
            vals = (lo | hi) & np.uint64((1 << w) - 1)
            if int(vals.max(initial=0)) >= q:
                bad = int(np.argmax(vals >= np.uint64(q)))
                raise FormatError(
                    f"coefficient {bad} of polynomial {p} is not reduced modulo prime {i} "
                    f"({q}): the ciphertext is malformed"
                )
            out[p, i] = vals
    if size >= 2 and not out[1:].any():
        raise FormatError("transparent ciphertext (all polynomials after the first are zero)")
    return out
