"""Sealing a trustee's Shamir share to one recipient (dealerless ceremony, round 2).

Each trustee publishes an X25519 public key in its Hello (RFC 7748), its private key drawn from
its seeded stream ``"transport"`` so a revealed seed re-derives it. Dealer i seals the share
for recipient k with the structure of HPKE's base mode (RFC 9180 §5.1, single-shot): a shared
secret X25519(sk_i, pk_k), a key from HKDF-SHA256 (RFC 5869) over it with the ceremony, both
ids and both public keys as ``info``, and AES-256-GCM with that same context as associated
data. Static keys on both sides: the key is unique to (ceremony, sender, recipient) and seals
exactly one message, so the fixed all-zero nonce never repeats under a key — and sealing is
deterministic, which blame by replay needs (``transcript.blame``).
"""

from __future__ import annotations

import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cryptoscore.errors import FormatError
from cryptoscore.randomness import Rng

__all__ = [
    "TAG_BYTES",
    "X25519_BYTES",
    "check_transport_key",
    "open_share",
    "seal_share",
    "transport_key",
    "transport_public",
]

X25519_BYTES = 32
TAG_BYTES = 16
_SALT = b"cryptoscore/dkg/transport/v1"
_NONCE = bytes(12)
_PROBE = X25519PrivateKey.from_private_bytes(
    hashlib.sha256(b"cryptoscore/dkg/x25519-probe").digest()
)
"""A fixed, public key used only to test others' public keys (its shared secrets are
discarded): X25519 with a small-order point gives the all-zero secret, which ``cryptography``
refuses — a Hello with such a key is malformed."""


def transport_key(*, rng: Rng = os.urandom) -> X25519PrivateKey:
    """An X25519 key from 32 bytes of ``rng`` (RFC 7748 §5 clamps): for a trustee, its
    ``"transport"`` stream."""
    return X25519PrivateKey.from_private_bytes(rng(X25519_BYTES))


def transport_public(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def check_transport_key(public: bytes, what: str) -> None:
    """Refuse anything but a usable X25519 public key (32 bytes, not of small order)."""
    if len(public) != X25519_BYTES:
        raise FormatError(f"{what}: an X25519 public key has {X25519_BYTES} bytes")
    try:
        _PROBE.exchange(X25519PublicKey.from_public_bytes(public))
    except ValueError:
        raise FormatError(f"{what}: not a usable X25519 public key") from None


def _context(
    plan: str, sender: str, recipient: str, sender_pk: bytes, recipient_pk: bytes
) -> bytes:
    return b"|".join(
        [
            _SALT,
            plan.encode(),
            sender.encode(),
            recipient.encode(),
            sender_pk,
            recipient_pk,
        ]
    )


def _aead(own: X25519PrivateKey, peer: bytes, context: bytes) -> AESGCM:
    try:
        shared = own.exchange(X25519PublicKey.from_public_bytes(peer))
    except ValueError:
        raise FormatError("not a usable X25519 public key") from None
    key = HKDF(hashes.SHA256(), length=32, salt=_SALT, info=context).derive(shared)
    return AESGCM(key)


def seal_share(
    own: X25519PrivateKey,
    recipient_public: bytes,
    *,
    plan: str,
    sender: str,
    recipient: str,
    plaintext: bytes,
) -> bytes:
    """Dealer ``sender``: AES-256-GCM(plaintext) to ``recipient`` (ciphertext and 16-byte tag)."""
    context = _context(plan, sender, recipient, transport_public(own), recipient_public)
    return _aead(own, recipient_public, context).encrypt(_NONCE, plaintext, context)


def open_share(
    own: X25519PrivateKey,
    sender_public: bytes,
    *,
    plan: str,
    sender: str,
    recipient: str,
    sealed: bytes,
) -> bytes:
    """Recipient ``recipient``: the plaintext ``sender`` sealed to it, or :class:`FormatError`."""
    context = _context(plan, sender, recipient, sender_public, transport_public(own))
    try:
        return _aead(own, sender_public, context).decrypt(_NONCE, sealed, context)
    except InvalidTag:
        raise FormatError(f"the share {sender!r} sealed to {recipient!r} does not open") from None
