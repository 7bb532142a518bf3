"""Records sealed at rest under a passphrase: a trustee's share file (``threshold/ceremony.py``)
and its ceremony seed file (``threshold/dkg/seed_file.py``).

A sealed record is an ordinary record (``envelope.py``: magic, version, canonical JSON header)
whose header carries ``kdf`` — scrypt (RFC 7914) with n = 2^15, r = 8, p = 1 and a 16-byte
random salt — and a 12-byte random ``nonce``; its body is AES-256-GCM (NIST SP 800-38D) of the
secret under the 256-bit key scrypt derives from the passphrase, with the whole record prefix
(magic, version, header) as associated data, so no header field can change unnoticed. A wrong
passphrase, an edited byte and a truncation all fail with one :class:`FormatError` that never
contains secret material.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from cryptoscore.envelope import Fields, record_prefix, unpack_record
from cryptoscore.errors import FormatError

__all__ = [
    "NONCE_BYTES",
    "SALT_BYTES",
    "SCRYPT_N",
    "SCRYPT_P",
    "SCRYPT_R",
    "check_kdf",
    "open_sealed",
    "scrypt_kdf",
    "seal",
]

SCRYPT_N, SCRYPT_R, SCRYPT_P = 1 << 15, 8, 1
SALT_BYTES = 16
NONCE_BYTES = 12


def scrypt_kdf(salt: bytes) -> dict[str, Any]:
    """The header's ``kdf`` object for a new sealed record (scrypt at this module's cost)."""
    return {"name": "scrypt", "n": SCRYPT_N, "r": SCRYPT_R, "p": SCRYPT_P, "salt": salt.hex()}


def check_kdf(kdf: object, what: str) -> None:
    """Refuse a ``kdf`` header object other than scrypt with sane costs and a 16-byte salt."""
    if not isinstance(kdf, dict):
        raise FormatError(f"{what}: kdf must be an object")
    kf = Fields(kdf, f"{what} kdf", {"name", "n", "r", "p", "salt"})
    if kf.string("name") != "scrypt":
        raise FormatError(f"{what}: unsupported key derivation")
    kf.integer("n", 1 << 14, 1 << 20)
    kf.integer("r", 8, 32)
    kf.integer("p", 1, 16)
    kf.hex("salt", SALT_BYTES)


def _aead(passphrase: bytes, kdf: Mapping[str, Any]) -> AESGCM:
    scrypt = Scrypt(salt=bytes.fromhex(kdf["salt"]), length=32, n=kdf["n"], r=kdf["r"], p=kdf["p"])
    return AESGCM(scrypt.derive(passphrase))


def seal(
    magic: bytes, version: int, header: Mapping[str, Any], passphrase: bytes, plaintext: bytes
) -> bytes:
    """The sealed record: ``header`` must hold ``kdf`` (:func:`scrypt_kdf`) and ``nonce``
    (12 bytes, hex), both drawn fresh by the caller for every sealing."""
    aad = record_prefix(magic, version, header)
    nonce = bytes.fromhex(header["nonce"])
    return aad + _aead(passphrase, header["kdf"]).encrypt(nonce, plaintext, aad)


def open_sealed(
    raw: bytes, magic: bytes, version: int, passphrase: bytes, what: str
) -> tuple[dict[str, Any], bytes]:
    """(header, plaintext) of a sealed record. The caller validates the rest of the header;
    every failure to open raises the same :class:`FormatError`."""
    header, body = unpack_record(raw, magic, version, what)
    check_kdf(header.get("kdf"), what)
    nonce = header.get("nonce")
    if not isinstance(nonce, str) or len(nonce) != 2 * NONCE_BYTES:
        raise FormatError(f"{what}: field 'nonce' must be {NONCE_BYTES} bytes of hex")
    try:
        aad = record_prefix(magic, version, header)
        plain = _aead(passphrase, header["kdf"]).decrypt(bytes.fromhex(nonce), bytes(body), aad)
    except (InvalidTag, ValueError):
        raise FormatError(
            f"{what} does not open: wrong passphrase, or the file was altered or truncated"
        ) from None
    return header, plain
