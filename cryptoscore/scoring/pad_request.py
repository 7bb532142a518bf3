"""The submitter's side of encryption pads: the pad request it sends, and the pads it opens.

A :class:`PadRequest` names the challenge, bundle kind, key, a fresh seed, the count, the
active set of t trustees and the submitter's X25519 key; its digest seeds every c1 of the
bundle (:attr:`PadRequest.c1_seed`). :class:`Pads` are the opened, single-use pads
pad_i = −a_i·s + Σ_j e_ij that :mod:`cryptoscore.scoring.encryption` consumes. The trustees'
side is :mod:`cryptoscore.threshold.pad_shares` (docs/design.md, "Encryption pads").
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey

from cryptoscore.envelope import Fields, pack_record, unpack_record
from cryptoscore.errors import FormatError, RefusedError
from cryptoscore.hazmat.c1 import SEED_BYTES
from cryptoscore.params import ParameterSet, get_parameter_set

_X25519_PROBE = X25519PrivateKey.generate()
"""Only ever used to test public keys: its shared secrets are thrown away, so no output
depends on it and it takes no ``rng``."""


REQUEST_MAGIC = b"CSPADREQ"
FORMAT_VERSION = 1
MAX_PAD_COUNT = 1 << 20
"""Pads (one per ciphertext) one request may ask for: a bundle of up to 2^20 ciphertexts."""


_C1_SEED_DOMAIN = b"cryptoscore/pad-c1-seed/v1|"


X25519_BYTES = 32


Progress = Callable[[int], None]


def _check_x25519(public: bytes) -> None:
    """Refuse keys no shared secret can be made with (low-order points give all zeros, which
    ``cryptography`` rejects): a trustee must never fail halfway through an answer."""
    try:
        _X25519_PROBE.exchange(X25519PublicKey.from_public_bytes(public))
    except ValueError:
        raise FormatError("pad request: recipient is not a usable X25519 public key") from None


def _check_count(count: int) -> None:
    if not 1 <= count <= MAX_PAD_COUNT:
        raise FormatError(f"pad request: count must be in 1..{MAX_PAD_COUNT}, got {count}")


@dataclass(frozen=True, slots=True)
class PadRequest:
    """What a submitter asks the trustees for (record magic ``CSPADREQ``)."""

    challenge_id: str
    kind: str
    params: type[ParameterSet]
    key_id: str
    seed: bytes = field(repr=False)
    count: int
    active_set: tuple[int, ...]
    recipient: bytes = field(repr=False)
    """The submitter's X25519 public key (32 bytes)."""

    def __post_init__(self) -> None:
        if self.kind not in ("predictions", "labels"):
            raise FormatError(f"pad request: unknown bundle kind {self.kind!r}")
        if not self.challenge_id or len(self.challenge_id) > 128:
            raise FormatError("pad request: challenge id must be 1..128 characters")
        if len(self.seed) != SEED_BYTES:
            raise FormatError(f"pad request: seed must be {SEED_BYTES} bytes")
        if len(self.recipient) != X25519_BYTES:
            raise FormatError("pad request: recipient key must be a 32-byte X25519 key")
        _check_x25519(self.recipient)
        _check_count(self.count)
        if not self.active_set or list(self.active_set) != sorted(set(self.active_set)):
            raise FormatError("pad request: active set must be distinct indices, sorted")

    def header(self) -> dict[str, Any]:
        return {
            "challenge": self.challenge_id,
            "kind": self.kind,
            "params": self.params.ID,
            "key_id": self.key_id,
            "seed": self.seed.hex(),
            "count": self.count,
            "active_set": list(self.active_set),
            "recipient": self.recipient.hex(),
        }

    def to_bytes(self) -> bytes:
        return pack_record(REQUEST_MAGIC, FORMAT_VERSION, self.header())

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @classmethod
    def from_bytes(cls, raw: bytes | memoryview) -> PadRequest:
        header, body = unpack_record(raw, REQUEST_MAGIC, FORMAT_VERSION, "pad request")
        if len(body):
            raise FormatError("pad request: unexpected bytes after the header")
        return cls.from_header(header)

    @classmethod
    def from_header(cls, header: Mapping[str, Any]) -> PadRequest:
        """Parse the header fields (as :meth:`header` writes them); every field validated.
        A bundle carries its pad request this way (``bundle.py``)."""
        if not isinstance(header, Mapping):
            raise FormatError("pad request: expected an object")
        f = Fields(
            header,
            "pad request",
            {"challenge", "kind", "params", "key_id", "seed", "count", "active_set", "recipient"},
        )
        return cls(
            challenge_id=f.string("challenge", 128),
            kind=f.string("kind", 16),
            params=get_parameter_set(f.string("params")),
            key_id=f.hex("key_id", 32).hex(),
            seed=f.hex("seed", SEED_BYTES),
            count=f.integer("count", 1, MAX_PAD_COUNT),
            active_set=tuple(f.int_list("active_set", 1, 255, 255)),
            recipient=f.hex("recipient", X25519_BYTES),
        )

    @property
    def c1_seed(self) -> bytes:
        """The seed c1 is expanded from: SHA-256 over the whole request, so it binds the
        recipient's key (and challenge, kind, key, size, active set).

        Why not the submitter's seed alone: with n ≥ 2t, a second request with the same seed
        to a disjoint active set would be answered (no trustee's journal holds the seed) and
        give a second pad for the same c1, which opens the first submitter's ciphertexts. Bound
        to the recipient, any other request yields another c1; and a request naming the
        victim's key gets shares only the victim can open.
        """
        return hashlib.sha256(_C1_SEED_DOMAIN + self.to_bytes()).digest()

    def seed_digest(self) -> str:
        """What a trustee's journal records: one answer per seed, whatever else differs."""
        return "pad:" + hashlib.sha256(self.seed).hexdigest()


class Pads:
    """The submitter's opened pads for one request: pad_i = −a_i·s + Σ_j e_ij, single use.

    Secret: anyone who saw a pad and the ciphertext made with it would read the plaintext.
    :func:`cryptoscore.scoring.encryption.encrypt_predictions` (``pads=``) consumes them once.
    """

    __slots__ = ("_values", "liars", "request", "used")

    def __init__(
        self,
        request: PadRequest,
        values: npt.NDArray[np.uint64],
        *,
        liars: tuple[str, ...] = (),
    ) -> None:
        self.request = request
        self._values = values
        self.used = False
        self.liars = liars
        """Trustees whose Shamir pad shares were off the decoded polynomial and were
        corrected (``threshold/pad_shares.open_pads``)."""

    def __repr__(self) -> str:
        return f"Pads(request={self.request.digest[:16]}…, count={self.request.count})"

    def take(self) -> npt.NDArray[np.uint64]:
        """The pad values ``[index][prime][coeff]``; a second call is refused (reusing a pad
        for two plaintexts would reveal their difference to the service)."""
        if self.used:
            raise RefusedError("these pads were already used to encrypt a bundle")
        self.used = True
        return self._values
