"""The known-answer vectors' randomness: a fixed, replayable byte stream and fixed trustee
keys (test-only)."""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cryptoscore.identity import TrusteeIdentity

__all__ = ["Stream", "trustee_identity"]


class Stream:
    """Deterministic, test-only randomness: the SHAKE-256 (FIPS 202) output of a fixed label,
    read in order, so the bytes depend only on how many came before (not on how a draw is
    split into calls). What ``rng=`` gets for a known answer; never a library default."""

    def __init__(self, label: str) -> None:
        self._xof = hashlib.shake_256(b"cryptoscore/vectors/rng/" + label.encode())
        self._buffer = b""
        self._used = 0

    def __call__(self, n: int) -> bytes:
        end = self._used + n
        if end > len(self._buffer):
            self._buffer = self._xof.digest(max(end, 2 * len(self._buffer)))
        out = self._buffer[self._used : end]
        self._used = end
        return out


def trustee_identity(index: int) -> TrusteeIdentity:
    """Trustee t<index>'s fixed Ed25519 key (RFC 8032 signatures are deterministic)."""
    return TrusteeIdentity(Ed25519PrivateKey.from_private_bytes(bytes([index]) * 32))
