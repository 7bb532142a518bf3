"""SEAL's binary serialization format, read and written with numpy.

Layout (SEAL 4.x, little endian), see SEAL ``serialization.h`` / ``ciphertext.cpp``:

* header, 16 bytes: u16 magic 0xA15E | u8 header size (16) | u8 version major | u8 version
  minor | u8 compression (0 none, 1 zlib, 2 zstd) | u16 reserved (0) | u64 total size.
* Ciphertext payload: parms_id 4×u64 | u8 is_ntt_form | u64 size | u64 N | u64 L |
  f64 scale | u64 correction_factor | DynArray.
* Plaintext payload: parms_id 4×u64 | u64 coeff_count | f64 scale | DynArray.
* DynArray: a nested SEAL object (its own header, compression 0) whose payload is
  u64 count then count×u64.
* PublicKey / SecretKey: exactly a Ciphertext / Plaintext object (SEAL saves the wrapped one).
* KSwitchKeys payload (``kswitchkeys.cpp``, ``save_members``; RelinKeys and GaloisKeys are
  KSwitchKeys): parms_id 4×u64 | u64 dim1 | dim1 × (u64 dim2 | dim2 × a whole PublicKey
  object, each with its own header and compression 0). RelinKeys: dim1 = 1 (the key of s²,
  ``RelinKeys::get_index(2) = 0``). GaloisKeys: dim1 = N, the key of Galois element g at
  index g >> 1 (``GaloisKeys::get_index``), every other entry empty (dim2 = 0). Each key
  has one PublicKey per data prime (the decomposition), at the key level (all primes), NTT.

Compressed payloads are zstd frames without a content size, so they are decompressed with a
streaming decompressor and a hard output limit (a decompression bomb cannot exhaust memory).
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import zstandard

from cryptoscore.errors import FormatError

SEAL_MAGIC = 0xA15E
HEADER = struct.Struct("<HBBBBHQ")
COMPR_NONE, COMPR_ZLIB, COMPR_ZSTD = 0, 1, 2
_CT_META = struct.Struct("<4QBQQQdQ")  # parms_id, is_ntt, size, N, L, scale, correction
_PT_META = struct.Struct("<4QQd")  # parms_id, coeff_count, scale
_U64 = struct.Struct("<Q")

U64Array = npt.NDArray[np.uint64]


@dataclass(frozen=True, slots=True)
class SealHeader:
    version: tuple[int, int]
    compression: int
    total_size: int


def read_header(raw: bytes) -> SealHeader:
    if len(raw) < HEADER.size:
        raise FormatError(f"SEAL object truncated: {len(raw)} bytes, header needs 16")
    magic, hsize, vmaj, vmin, compr, reserved, total = HEADER.unpack_from(raw)
    if magic != SEAL_MAGIC or hsize != HEADER.size:
        raise FormatError("not a SEAL object (bad magic or header size)")
    if vmaj != 4 or reserved != 0:
        raise FormatError(f"unsupported SEAL serialization version {vmaj}.{vmin}")
    if compr not in (COMPR_NONE, COMPR_ZSTD):
        raise FormatError(f"unsupported SEAL compression mode {compr}")
    if total != len(raw):
        raise FormatError(f"SEAL object size mismatch: header says {total}, got {len(raw)} bytes")
    return SealHeader((vmaj, vmin), compr, total)


def payload(raw: bytes, max_payload: int) -> tuple[SealHeader, bytes]:
    """Header and (decompressed) payload of a SEAL object; payloads above the limit fail."""
    header = read_header(raw)
    body = raw[HEADER.size :]
    if header.compression == COMPR_ZSTD:
        dobj = zstandard.ZstdDecompressor().decompressobj()
        try:
            out = dobj.decompress(body)
        except zstandard.ZstdError as exc:
            raise FormatError(f"SEAL object: corrupt zstd payload ({exc})") from None
        if not dobj.eof:
            raise FormatError("SEAL object: truncated zstd payload")
        body = out
    if len(body) > max_payload:
        raise FormatError(f"SEAL payload of {len(body)} bytes exceeds limit {max_payload}")
    return header, body


def _build_header(version: tuple[int, int], total: int) -> bytes:
    return HEADER.pack(SEAL_MAGIC, HEADER.size, version[0], version[1], COMPR_NONE, 0, total)


def _dynarray_bytes(data: U64Array, version: tuple[int, int]) -> bytes:
    flat = np.ascontiguousarray(data, dtype="<u8").reshape(-1)
    body = _U64.pack(flat.size) + flat.tobytes()
    return _build_header(version, HEADER.size + len(body)) + body


def _read_dynarray(body: bytes, offset: int, expected: int) -> U64Array:
    nested = body[offset:]
    if len(nested) < HEADER.size + 8:
        raise FormatError("SEAL object: truncated coefficient array")
    magic, hsize, vmaj, _vmin, compr, reserved, total = HEADER.unpack_from(nested)
    if magic != SEAL_MAGIC or hsize != HEADER.size or compr != COMPR_NONE or reserved != 0:
        raise FormatError("SEAL object: malformed coefficient array header")
    if vmaj != 4 or total != len(nested):
        raise FormatError("SEAL object: coefficient array size mismatch")
    (count,) = _U64.unpack_from(nested, HEADER.size)
    if count != expected or len(nested) != HEADER.size + 8 + 8 * count:
        raise FormatError(f"SEAL object: expected {expected} coefficients, header says {count}")
    return np.frombuffer(nested, dtype="<u8", count=count, offset=HEADER.size + 8).astype(np.uint64)


def _open(
    raw: bytes, meta: struct.Struct, what: str, max_payload: int
) -> tuple[SealHeader, bytes, tuple[Any, ...]]:
    """Header, payload and unpacked leading metadata of a SEAL object of kind ``what``."""
    header, body = payload(raw, max_payload)
    if len(body) < meta.size:
        raise FormatError(f"SEAL {what}: truncated metadata")
    return header, body, meta.unpack_from(body)


@dataclass(frozen=True, slots=True)
class SealCiphertext:
    """A SEAL ciphertext as numpy data: ``data[poly, prime, coefficient]``."""

    parms_id: tuple[int, int, int, int]
    is_ntt_form: bool
    scale: float
    correction_factor: int
    data: U64Array
    version: tuple[int, int]


def parse_ciphertext(raw: bytes, max_payload: int = 1 << 30) -> SealCiphertext:
    """Parse ``Ciphertext.save`` output (also the payload of a SEAL ``PublicKey``)."""
    header, body, (*pid, ntt, size, n, level, scale, corr) = _open(
        raw, _CT_META, "ciphertext", max_payload
    )
    if ntt not in (0, 1):
        raise FormatError("SEAL ciphertext: bad NTT flag")
    if not (1 <= size <= 16 and n in (1024, 2048, 4096, 8192, 16384, 32768) and 1 <= level <= 64):
        raise FormatError(f"SEAL ciphertext: implausible shape size={size} N={n} L={level}")
    data = _read_dynarray(body, _CT_META.size, size * n * level)
    return SealCiphertext(
        parms_id=(pid[0], pid[1], pid[2], pid[3]),
        is_ntt_form=bool(ntt),
        scale=scale,
        correction_factor=corr,
        data=data.reshape(size, level, n),
        version=header.version,
    )


def build_ciphertext(
    parms_id: tuple[int, ...],
    data: U64Array,
    version: tuple[int, int],
    *,
    is_ntt_form: bool = False,
    scale: float = 1.0,
) -> bytes:
    """Uncompressed SEAL ``Ciphertext`` bytes for ``data[poly, prime, coefficient]``."""
    size, level, n = data.shape
    meta = _CT_META.pack(*parms_id, int(is_ntt_form), size, n, level, scale, 1)
    body = meta + _dynarray_bytes(data, version)
    return _build_header(version, HEADER.size + len(body)) + body


@dataclass(frozen=True, slots=True)
class SealPlaintext:
    parms_id: tuple[int, int, int, int]
    scale: float
    coefficients: U64Array
    version: tuple[int, int]


def parse_plaintext(raw: bytes, max_payload: int = 1 << 30) -> SealPlaintext:
    """Parse ``Plaintext.save`` / ``SecretKey.save`` output."""
    header, body, (*pid, count, scale) = _open(raw, _PT_META, "plaintext", max_payload)
    if count > 1 << 26:
        raise FormatError("SEAL plaintext: implausible coefficient count")
    data = _read_dynarray(body, _PT_META.size, count)
    return SealPlaintext((pid[0], pid[1], pid[2], pid[3]), scale, data, header.version)


def build_plaintext(
    parms_id: tuple[int, ...], coefficients: U64Array, version: tuple[int, int]
) -> bytes:
    """Uncompressed SEAL ``Plaintext`` (or ``SecretKey``) bytes."""
    flat = np.ascontiguousarray(coefficients, dtype=np.uint64).reshape(-1)
    meta = _PT_META.pack(*parms_id, flat.size, 1.0)
    body = meta + _dynarray_bytes(flat, version)
    return _build_header(version, HEADER.size + len(body)) + body


_KSK_META = struct.Struct("<4QQ")  # parms_id, dim1


def build_kswitch_keys(
    parms_id: tuple[int, ...], keys: Sequence[Sequence[bytes]], version: tuple[int, int]
) -> bytes:
    """Uncompressed SEAL ``KSwitchKeys`` (``RelinKeys``, ``GaloisKeys``) bytes: ``keys[i]``
    is entry i's list of saved ``PublicKey`` objects (:func:`build_ciphertext` output)."""
    parts = [_KSK_META.pack(*parms_id, len(keys))]
    for entry in keys:
        parts.append(_U64.pack(len(entry)))
        parts.extend(entry)
    body = b"".join(parts)
    return _build_header(version, HEADER.size + len(body)) + body


@dataclass(frozen=True, slots=True)
class SealKSwitchKeys:
    """A SEAL ``KSwitchKeys``: ``keys[i][j]`` is decomposition component j of entry i."""

    parms_id: tuple[int, int, int, int]
    keys: list[list[SealCiphertext]]
    version: tuple[int, int]


def parse_kswitch_keys(raw: bytes, max_payload: int = 1 << 30) -> SealKSwitchKeys:
    """Parse ``RelinKeys.save`` / ``GaloisKeys.save`` output (:func:`build_kswitch_keys`)."""
    header, body, (*pid, dim1) = _open(raw, _KSK_META, "key-switching keys", max_payload)
    if dim1 > 1 << 16:
        raise FormatError("SEAL key-switching keys: implausible entry count")
    offset = _KSK_META.size
    keys: list[list[SealCiphertext]] = []
    for _ in range(dim1):
        if len(body) < offset + 8:
            raise FormatError("SEAL key-switching keys: truncated entry")
        (dim2,) = _U64.unpack_from(body, offset)
        offset += 8
        if dim2 > 64:
            raise FormatError("SEAL key-switching keys: implausible decomposition count")
        entry = []
        for _ in range(dim2):
            if len(body) < offset + HEADER.size:
                raise FormatError("SEAL key-switching keys: truncated key")
            total = HEADER.unpack_from(body, offset)[-1]
            entry.append(parse_ciphertext(body[offset : offset + total], max_payload))
            offset += total
        keys.append(entry)
    if offset != len(body):
        raise FormatError("SEAL key-switching keys: trailing bytes")
    return SealKSwitchKeys((pid[0], pid[1], pid[2], pid[3]), keys, header.version)
