"""Trustee identities: Ed25519 key pairs that sign partial decryptions.

Each trustee creates its own key pair (``TrusteeIdentity.generate``) and hands the dealer
only the public half (32 bytes, hex). The private half stays with the trustee, stored as a
PKCS#8 PEM encrypted with the trustee's passphrase (``cryptography``'s
``BestAvailableEncryption``). Signatures are Ed25519 (RFC 8032) from ``cryptography``.
"""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from cryptoscore.errors import FormatError, VerificationError

__all__ = ["TrusteeIdentity", "TrusteePublicKey"]


@dataclass(frozen=True, slots=True)
class TrusteePublicKey:
    """The public half of a trustee identity (what the roster holds)."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != 32:
            raise FormatError("an Ed25519 public key is 32 bytes")

    @classmethod
    def from_hex(cls, text: str) -> TrusteePublicKey:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise FormatError("trustee public key is not hex") from None
        if raw.hex() != text:
            raise FormatError("trustee public key must be lower-case hex")
        return cls(raw)

    def hex(self) -> str:
        return self.raw.hex()

    def verify(self, signature: bytes, message: bytes, what: str) -> None:
        """Raise :class:`VerificationError` unless ``signature`` is valid on ``message``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except (InvalidSignature, ValueError):
            raise VerificationError(f"{what}: signature does not verify") from None


class TrusteeIdentity:
    """A trustee's signing key. No ``repr`` of key material, no equality."""

    __slots__ = ("_key",)

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    @classmethod
    def generate(cls) -> TrusteeIdentity:
        return cls(Ed25519PrivateKey.generate())

    def __repr__(self) -> str:
        return f"TrusteeIdentity(public={self.public_key.hex()[:16]}…)"

    @property
    def public_key(self) -> TrusteePublicKey:
        raw = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return TrusteePublicKey(raw)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def to_pem(self, passphrase: bytes) -> bytes:
        """Encrypted PKCS#8 PEM (the trustee's own file; never sent anywhere)."""
        if len(passphrase) < 8:
            raise FormatError("the identity passphrase must have at least 8 bytes")
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )

    @classmethod
    def from_pem(cls, pem: bytes, passphrase: bytes) -> TrusteeIdentity:
        try:
            key = serialization.load_pem_private_key(pem, password=passphrase)
        except (ValueError, TypeError):
            raise FormatError(
                "cannot open the identity file: wrong passphrase or corrupt"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise FormatError("the identity file does not hold an Ed25519 key")
        return cls(key)
