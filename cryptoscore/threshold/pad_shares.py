"""The trustees' side of encryption pads: pad shares, sealed to the submitter and signed.

Trustee j of a pad request's active set answers once per seed with
h_ij = −λ_j·s_j·a_i + e_ij for every ciphertext i (e_ij centered binomial, derived from the
share by :class:`PadErrors` so a noise check can later cancel it exactly), sealed with
ephemeral X25519 + HKDF-SHA256 + AES-256-GCM (RFC 7748, RFC 5869) and signed with its
Ed25519 identity; :func:`open_pads` is the submitter checking and summing t shares. A
threshold form of BFV secret-key encryption as in Mouchet et al., PETS 2021, §4
(docs/design.md, "Encryption pads").
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from cryptoscore.envelope import Fields, pack_record, unpack_record
from cryptoscore.errors import FormatError, MismatchError
from cryptoscore.hazmat.c1 import expand_c1
from cryptoscore.hazmat.ciphertext import ciphertext_nbytes, decode_ciphertext, encode_ciphertext
from cryptoscore.hazmat.modmath import (
    addmod,
    cbd_bytes,
    centered_binomial_from,
    mulmod,
    reduce_signed,
)
from cryptoscore.hazmat.seal_engine import engine_for
from cryptoscore.hazmat.shamir import lagrange_at_zero
from cryptoscore.identity import TrusteeIdentity
from cryptoscore.randomness import Rng
from cryptoscore.scoring.pad_request import X25519_BYTES, PadRequest, Pads, Progress
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.ceremony import CeremonyRecord, KeyShare
from cryptoscore.threshold.journal import PartialJournal
from cryptoscore.threshold.lineage import bundle_claim
from cryptoscore.threshold.partial import times_share

FORMAT_VERSION = 1
SHARE_MAGIC = b"CSPADSHR"


_SEAL_INFO = b"cryptoscore/pad-share/v1"


_SIGN_DOMAIN = b"cryptoscore/pad-share-signature/v1"


_NONCE_BYTES = 12


def _share_message(request_digest: str, trustee_id: str, sealed: bytes) -> bytes:
    return b"|".join(
        [
            _SIGN_DOMAIN,
            request_digest.encode(),
            trustee_id.encode(),
            hashlib.sha256(sealed).hexdigest().encode(),
        ]
    )


def _aead_key(shared: bytes, request_digest: str, trustee_id: str, eph: bytes, to: bytes) -> bytes:
    info = b"|".join([_SEAL_INFO, request_digest.encode(), trustee_id.encode(), eph, to])
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared)


@dataclass(frozen=True, slots=True)
class PadShare:
    """One trustee's encrypted, signed answer to a :class:`PadRequest` (magic ``CSPADSHR``)."""

    request_digest: str
    trustee_id: str
    index: int
    sealed: bytes = field(repr=False)
    """ephemeral X25519 key (32) | nonce (12) | AES-256-GCM ciphertext and tag."""
    signature: bytes = field(repr=False)

    def header(self) -> dict[str, Any]:
        return {
            "request": self.request_digest,
            "trustee_id": self.trustee_id,
            "index": self.index,
            "signature": self.signature.hex(),
        }

    def to_bytes(self) -> bytes:
        return pack_record(SHARE_MAGIC, FORMAT_VERSION, self.header(), self.sealed)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @classmethod
    def from_bytes(cls, raw: bytes | memoryview) -> PadShare:
        header, body = unpack_record(raw, SHARE_MAGIC, FORMAT_VERSION, "pad share")
        f = Fields(header, "pad share", {"request", "trustee_id", "index", "signature"})
        if len(body) < X25519_BYTES + _NONCE_BYTES + 16:
            raise FormatError(f"pad share: sealed payload of {len(body)} bytes is too short")
        return cls(
            request_digest=f.hex("request", 32).hex(),
            trustee_id=f.string("trustee_id", 64),
            index=f.integer("index", 1, 255),
            sealed=bytes(body),
            signature=f.hex("signature", 64),
        )

    def signed_message(self) -> bytes:
        return _share_message(self.request_digest, self.trustee_id, self.sealed)


class PadKey:
    """The submitter's X25519 key for one pad request (never leaves its machine)."""

    __slots__ = ("_private",)

    def __init__(self, private: X25519PrivateKey) -> None:
        self._private = private

    @classmethod
    def generate(cls, *, rng: Rng = os.urandom) -> PadKey:
        """A fresh key: the 32-byte X25519 scalar (RFC 7748 §5, clamped on use) from ``rng``."""
        return cls(X25519PrivateKey.from_private_bytes(rng(X25519_BYTES)))

    @property
    def public_bytes(self) -> bytes:
        return self._private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def __repr__(self) -> str:
        return f"PadKey(public={self.public_bytes.hex()[:16]}…)"

    def open(self, share: PadShare) -> bytes:
        eph = share.sealed[:X25519_BYTES]
        nonce = share.sealed[X25519_BYTES : X25519_BYTES + _NONCE_BYTES]
        body = share.sealed[X25519_BYTES + _NONCE_BYTES :]
        try:
            shared = self._private.exchange(X25519PublicKey.from_public_bytes(eph))
            key = _aead_key(shared, share.request_digest, share.trustee_id, eph, self.public_bytes)
            return AESGCM(key).decrypt(nonce, body, share.request_digest.encode())
        except (InvalidTag, ValueError):
            raise FormatError(
                f"pad share from {share.trustee_id!r}: cannot be decrypted with this pad key "
                "(edited, truncated, or made for another request)"
            ) from None


def _seal_to(
    recipient: bytes, request_digest: str, trustee_id: str, payload: bytes, rng: Rng
) -> bytes:
    """The ephemeral key, then the nonce, from ``rng``: the order known answers pin."""
    eph = X25519PrivateKey.from_private_bytes(rng(X25519_BYTES))
    eph_pub = eph.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    shared = eph.exchange(X25519PublicKey.from_public_bytes(recipient))
    key = _aead_key(shared, request_digest, trustee_id, eph_pub, recipient)
    nonce = rng(_NONCE_BYTES)
    return eph_pub + nonce + AESGCM(key).encrypt(nonce, payload, request_digest.encode())


_ERROR_DOMAIN = b"cryptoscore/pad-error/v1|"


class PadErrors:
    """Trustee j's pad errors e_ij for one request, derived, not drawn.

    e_ij is centered binomial (|e| ≤ 21) from SHAKE-256 (FIPS 202) over a key that
    HKDF-SHA256 (RFC 5869) derives from the trustee's share and the request digest
    (``KeyShare.derive_key``): uniform-looking to anyone without the share, and re-derivable
    by the trustee. That is what lets round 1 answer a noise check with the exact complement
    of the pad share, λ_j·s_j·a_i − e_ij + Δ·M_j (``scoring/noise_check.py``): combined with
    the pad share the submitter holds it is Δ·M_j and nothing else, so the noise check reveals no
    secret-dependent noise at all — only the submitter's own.
    """

    __slots__ = ("_key", "_n")

    def __init__(self, share: KeyShare, request: PadRequest) -> None:
        self._key = share.derive_key(_ERROR_DOMAIN + request.digest.encode())
        self._n = request.params.POLY_MODULUS_DEGREE

    def __repr__(self) -> str:
        return "PadErrors(…)"

    def of(self, index: int) -> npt.NDArray[np.int64]:
        stream = hashlib.shake_256(self._key + index.to_bytes(8, "big")).digest(cbd_bytes(self._n))
        return centered_binomial_from(stream, self._n)


def answer_pad_request(
    request: PadRequest,
    record: CeremonyRecord,
    share: KeyShare,
    identity: TrusteeIdentity,
    journal: PartialJournal,
    *,
    progress: Progress | None = None,
    rng: Rng = os.urandom,
) -> PadShare:
    """Trustee: its share h_ij of every pad of ``request``, encrypted to the submitter, signed.

    ``record`` is the :class:`~cryptoscore.threshold.ceremony.CeremonyRecord`, ``share`` this
    trustee's
    :class:`~cryptoscore.threshold.ceremony.KeyShare`, ``identity`` its
    :class:`~cryptoscore.identity.TrusteeIdentity`, ``journal`` its
    :class:`~cryptoscore.threshold.journal.PartialJournal`: the seed is claimed there (written and
    synced) before anything leaves, and a second request with the same seed is refused.
    ``rng`` seals the answer (ephemeral X25519 key, AES-GCM nonce); the pad errors are
    derived from the share, not drawn (:class:`PadErrors`).
    """
    params = request.params
    if params.ID != record.params.ID or request.key_id != record.key_id:
        raise MismatchError("pad request: for another key or parameter set than this ceremony")
    if share.key_id != record.key_id:
        raise MismatchError("the key share does not belong to this ceremony's key")
    entry = record.entry(share.trustee_id)
    if entry.index != share.index or entry.public_key != identity.public_key:
        raise MismatchError("the share or identity does not match this trustee's roster entry")
    active = ActiveSet(request.active_set)
    active.check(record)
    if share.index not in active.indices:
        raise MismatchError(f"trustee {share.trustee_id!r} is not in the pad request's active set")
    journal.claim(  # write-ahead: never two answers for one seed, one active set per lineage
        request.seed_digest(),
        "pad:" + request.digest[:32],
        lineage=bundle_claim(request.c1_seed, request.count, "pad", request.active_set),
        refusal="this trustee already answered a pad request with this seed; ask with a new seed",
    )

    engine = engine_for(params)
    level = params.fresh_level()
    moduli = params.moduli(level)
    n = params.POLY_MODULUS_DEGREE
    scaled = np.empty((level, n), dtype=np.uint64)
    residues = share.residues(level)
    for i, q in enumerate(moduli):
        scaled[i] = mulmod(residues[i], lagrange_at_zero(share.index, list(active.indices), q), q)
    parts: list[bytes] = []
    h = np.empty((1, level, n), dtype=np.uint64)
    errors = PadErrors(share, request)
    for index in range(request.count):
        product = times_share(engine, expand_c1(params, request.c1_seed, index), scaled)
        error = errors.of(index)
        for i, q in enumerate(moduli):
            negated = np.where(product[i] == 0, np.uint64(0), np.uint64(q) - product[i])
            h[0, i] = addmod(negated, reduce_signed(error, q), q)
        error.fill(0)
        parts.append(encode_ciphertext(h, moduli))
        if progress is not None:
            progress(index + 1)
    scaled.fill(0)
    h.fill(0)
    digest = request.digest
    sealed = _seal_to(request.recipient, digest, share.trustee_id, b"".join(parts), rng)
    parts.clear()
    signature = identity.sign(_share_message(digest, share.trustee_id, sealed))
    return PadShare(digest, share.trustee_id, share.index, sealed, signature)


def open_pads(
    request: PadRequest, shares: Sequence[PadShare], record: CeremonyRecord, key: PadKey
) -> Pads:
    """Submitter: check and decrypt t shares, return the pads pad_i = −a_i·s + Σ e_ij.
    Refuses shares for another request, from outside the active set or the roster, with a
    bad signature, or too few."""
    digest = request.digest
    expected = {record.entry_by_index(i).trustee_id for i in request.active_set}
    got = {s.trustee_id for s in shares}
    if len(shares) != len(got) or got != expected:
        raise MismatchError(
            f"pad shares: need exactly one from each of {sorted(expected)}, got {sorted(got)}"
        )
    params = request.params
    moduli = params.moduli(params.fresh_level())
    n = params.POLY_MODULUS_DEGREE
    size = ciphertext_nbytes(moduli, n, 1)
    pads = np.zeros((request.count, len(moduli), n), dtype=np.uint64)
    for s in shares:
        if s.request_digest != digest:
            raise MismatchError(f"pad share from {s.trustee_id!r} answers another request")
        entry = record.entry(s.trustee_id)
        if entry.index != s.index:
            raise MismatchError(f"pad share from {s.trustee_id!r} carries the wrong index")
        entry.public_key.verify(s.signature, s.signed_message(), f"pad share of {s.trustee_id}")
        payload = key.open(s)
        if len(payload) != request.count * size:
            raise FormatError(
                f"pad share from {s.trustee_id!r}: {len(payload)} bytes, "
                f"expected {request.count * size}"
            )
        for index in range(request.count):
            part = decode_ciphertext(payload[index * size : (index + 1) * size], moduli, n, 1)
            for i, q in enumerate(moduli):
                pads[index, i] = addmod(pads[index, i], part[0, i], q)
    return Pads(request, pads)
