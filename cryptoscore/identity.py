"""Signing identities: Ed25519 key pairs of trustees, organizers and participants.

A trustee signs its partial decryptions, contributions and pad shares; an organizer signs its
labels; a participant signs its enrolment, pad requests and submissions
(``protocol/signed_inputs.py``). Each party creates its own key pair (``Identity.generate``)
and hands out only the public half (32 bytes, hex): a trustee to the dealer, an organizer in
its challenge's rules, a participant in its enrolment. The private half stays with its owner,
stored as a PKCS#8 PEM encrypted with the owner's passphrase (``cryptography``'s
``BestAvailableEncryption``). Signatures are Ed25519 (RFC 8032) from ``cryptography``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from cryptoscore.errors import FormatError, VerificationError
from cryptoscore.randomness import Rng

__all__ = ["ED25519_SEED_BYTES", "Identity", "PublicKey", "TrusteeIdentity", "TrusteePublicKey"]

ED25519_SEED_BYTES = 32
"""An Ed25519 private key is a 32-byte seed (RFC 8032 §5.1.5)."""


@dataclass(frozen=True, slots=True)
class PublicKey:
    """The public half of an identity (what a roster, a challenge's rules or an enrolment
    holds)."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != 32:
            raise FormatError("an Ed25519 public key is 32 bytes")

    @classmethod
    def from_hex(cls, text: str) -> PublicKey:
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raise FormatError("an Ed25519 public key is not hex") from None
        if raw.hex() != text:
            raise FormatError("an Ed25519 public key must be lower-case hex")
        return cls(raw)

    def hex(self) -> str:
        return self.raw.hex()

    def verify(self, signature: bytes, message: bytes, what: str) -> None:
        """Raise :class:`VerificationError` unless ``signature`` is valid on ``message``."""
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(signature, message)
        except (InvalidSignature, ValueError):
            raise VerificationError(f"{what}: signature does not verify") from None


class Identity:
    """A party's signing key. No ``repr`` of key material, no equality."""

    __slots__ = ("_key",)

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    @classmethod
    def generate(cls, *, rng: Rng = os.urandom) -> Identity:
        """A fresh key pair: the 32-byte Ed25519 seed (RFC 8032 §5.1.5) from ``rng``."""
        return cls(Ed25519PrivateKey.from_private_bytes(rng(ED25519_SEED_BYTES)))

    def __repr__(self) -> str:
        return f"Identity(public={self.public_key.hex()[:16]}…)"

    @property
    def public_key(self) -> PublicKey:
        raw = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return PublicKey(raw)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def to_pem(self, passphrase: bytes) -> bytes:
        """Encrypted PKCS#8 PEM (the party's own file; never sent anywhere)."""
        if len(passphrase) < 8:
            raise FormatError("the identity passphrase must have at least 8 bytes")
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )

    @classmethod
    def from_pem(cls, pem: bytes, passphrase: bytes) -> Identity:
        try:
            key = serialization.load_pem_private_key(pem, password=passphrase)
        except (ValueError, TypeError):
            raise FormatError(
                "cannot open the identity file: wrong passphrase or corrupt"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise FormatError("the identity file does not hold an Ed25519 key")
        return cls(key)


TrusteeIdentity = Identity
"""A trustee's identity (the roster names its public key)."""
TrusteePublicKey = PublicKey
