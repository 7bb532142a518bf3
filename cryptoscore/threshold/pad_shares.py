"""The trustees' side of encryption pads: pad shares, sealed to the submitter and signed.

Trustee j answers once per seed, for every ciphertext i, with

* (ceremony records with ``answers == "shamir"``, pad share version 2) the Shamir share
  h_ij = −s_j·a_i + E_pad,i(j): E_pad,i a degree-(t − 1) PRSS sharing of a sum of C(n, t − 1)
  centered binomial terms (``threshold/prss.py``, kind ``pad-error``, context
  ``prss.pad_context``), so the answers of all trustees lie on one polynomial whose value at 0
  is the pad −s·a_i + E_pad,i(0); :func:`open_pads` decodes them (``threshold/robust.py``);
* (older ceremonies, version 1) the additive share h_ij = −λ_j·s_j·a_i + e_ij for the request's
  active set (e_ij centered binomial, derived from the share by :class:`PadErrors`), summed.

Either way the noise check later cancels the pad error exactly (:class:`PadErrorSource`). Shares
are sealed with ephemeral X25519 + HKDF-SHA256 + AES-256-GCM (RFC 7748, RFC 5869) and signed
with the trustee's Ed25519 identity. A threshold form of BFV secret-key encryption as in
Mouchet et al., PETS 2021, §4; Shamir answers with PRSS noise after Urban and Rambaud, ePrint
2024/1285 (docs/design.md, "Encryption pads", "Robust threshold decryption").
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

from cryptoscore.envelope import Fields, known_version, pack_record, unpack_record
from cryptoscore.errors import FormatError, MismatchError, UndecidableAnswersError
from cryptoscore.hazmat.c1 import expand_c1
from cryptoscore.hazmat.ciphertext import ciphertext_nbytes, decode_ciphertext, encode_ciphertext
from cryptoscore.hazmat.modmath import (
    U64,
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
from cryptoscore.threshold.prss import PrssKeys, pad_context, shared_noise
from cryptoscore.threshold.robust import reconstruct, verifiable_max_liars

FORMAT_VERSION = 1
"""Additive (Lagrange) pad shares."""
SHAMIR_VERSION = 2
"""Shamir pad shares with PRSS pad errors: no active set, no Lagrange coefficient."""
_VERSIONS = (SHAMIR_VERSION, FORMAT_VERSION)
SHARE_MAGIC = b"CSPADSHR"


_SEAL_INFO = b"cryptoscore/pad-share/v1"


_SIGN_DOMAINS = {
    FORMAT_VERSION: b"cryptoscore/pad-share-signature/v1",
    SHAMIR_VERSION: b"cryptoscore/pad-share-signature/v2",
}
"""The signature binds the version, so an additive share cannot pass as a Shamir one."""


_NONCE_BYTES = 12


def _share_message(request_digest: str, trustee_id: str, sealed: bytes, version: int) -> bytes:
    return b"|".join(
        [
            _SIGN_DOMAINS[version],
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
    """One trustee's encrypted, signed answer to a :class:`PadRequest` (magic ``CSPADSHR``):
    version 1 additive shares, version 2 Shamir shares (module docstring)."""

    request_digest: str
    trustee_id: str
    index: int
    sealed: bytes = field(repr=False)
    """ephemeral X25519 key (32) | nonce (12) | AES-256-GCM ciphertext and tag."""
    signature: bytes = field(repr=False)
    format_version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        if self.format_version not in _VERSIONS:
            raise FormatError(f"pad share: no format version {self.format_version}")

    def header(self) -> dict[str, Any]:
        return {
            "request": self.request_digest,
            "trustee_id": self.trustee_id,
            "index": self.index,
            "signature": self.signature.hex(),
        }

    def to_bytes(self) -> bytes:
        return pack_record(SHARE_MAGIC, self.format_version, self.header(), self.sealed)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @classmethod
    def from_bytes(cls, raw: bytes | memoryview) -> PadShare:
        version = known_version(raw, _VERSIONS)
        header, body = unpack_record(raw, SHARE_MAGIC, version, "pad share")
        f = Fields(header, "pad share", {"request", "trustee_id", "index", "signature"})
        if len(body) < X25519_BYTES + _NONCE_BYTES + 16:
            raise FormatError(f"pad share: sealed payload of {len(body)} bytes is too short")
        return cls(
            request_digest=f.hex("request", 32).hex(),
            trustee_id=f.string("trustee_id", 64),
            index=f.integer("index", 1, 255),
            sealed=bytes(body),
            signature=f.hex("signature", 64),
            format_version=version,
        )

    def signed_message(self) -> bytes:
        return _share_message(
            self.request_digest, self.trustee_id, self.sealed, self.format_version
        )


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


class PadErrorSource:
    """Trustee j's pad error of each ciphertext of one pad request, as residues: what its pad
    share adds (h_ij = −s_j·a_i + this) and its noise check subtracts, re-derived, never kept.

    Shamir answers (``record.robust``): E_pad,i(j), the trustee's PRSS share of kind
    ``pad-error`` under ``prss.pad_context`` (its keys checked against the record's
    commitments). Additive answers: its own e_ij (:class:`PadErrors`)."""

    __slots__ = ("_additive", "_keys", "_request")

    def __init__(self, share: KeyShare, record: CeremonyRecord, request: PadRequest) -> None:
        self._request = request
        self._keys: PrssKeys | None = None
        self._additive: PadErrors | None = None
        if record.robust:
            self._keys = share.prss_keys()
            record.check_prss_keys(self._keys, share.index)
        else:
            self._additive = PadErrors(share, request)

    def __repr__(self) -> str:
        return "PadErrorSource(…)"

    def residues(self, index: int, moduli: tuple[int, ...]) -> U64:
        """The pad error of ciphertext ``index``, shape (len(moduli), N), uint64."""
        n = self._request.params.POLY_MODULUS_DEGREE
        if self._keys is not None:
            ctx = pad_context(self._request.key_id, self._request.c1_seed, index)
            return shared_noise(self._keys, ctx, "pad-error", moduli, n)
        assert self._additive is not None
        errors = self._additive.of(index)
        out = np.stack([reduce_signed(errors, q) for q in moduli])
        errors.fill(0)
        return out


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
    derived, not drawn (:class:`PadErrorSource`). With Shamir answers (``record.robust``) the
    share has no Lagrange coefficient: h_ij = −s_j·a_i + E_pad,i(j) (version 2).
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
        weight = 1 if record.robust else lagrange_at_zero(share.index, list(active.indices), q)
        scaled[i] = mulmod(residues[i], weight, q)
    parts: list[bytes] = []
    h = np.empty((1, level, n), dtype=np.uint64)
    errors = PadErrorSource(share, record, request)
    for index in range(request.count):
        product = times_share(engine, expand_c1(params, request.c1_seed, index), scaled)
        error = errors.residues(index, moduli)
        for i, q in enumerate(moduli):
            negated = np.where(product[i] == 0, np.uint64(0), np.uint64(q) - product[i])
            h[0, i] = addmod(negated, error[i], q)
        error.fill(0)
        parts.append(encode_ciphertext(h, moduli))
        if progress is not None:
            progress(index + 1)
    scaled.fill(0)
    h.fill(0)
    digest = request.digest
    sealed = _seal_to(request.recipient, digest, share.trustee_id, b"".join(parts), rng)
    parts.clear()
    version = SHAMIR_VERSION if record.robust else FORMAT_VERSION
    signature = identity.sign(_share_message(digest, share.trustee_id, sealed, version))
    return PadShare(digest, share.trustee_id, share.index, sealed, signature, version)


def open_pads(
    request: PadRequest, shares: Sequence[PadShare], record: CeremonyRecord, key: PadKey
) -> Pads:
    """Submitter: check and decrypt the shares, return the pads pad_i = −a_i·s + E_pad,i.

    Additive answers (a ``lagrange`` record): exactly one share from each trustee of the
    request's active set, summed. Shamir answers (``robust``): at least t version-2 shares from
    distinct roster trustees, decoded pad by pad (``threshold/robust.reconstruct``) with the
    radius ``robust.verifiable_max_liars(m, t, t − 1)`` (0 when m < 2t − 1: any inconsistency is
    refused; at m = t nothing can be checked); liars corrected are named in ``Pads.liars``,
    and answers too far off one polynomial raise :class:`UndecidableAnswersError` naming the
    suspects. Refuses shares for another request, from outside the roster, with a bad
    signature, or too few."""
    digest = request.digest
    got = {s.trustee_id for s in shares}
    if len(shares) != len(got):
        raise MismatchError("pad shares: two shares from one trustee")
    t = record.threshold
    if record.robust:
        if len(shares) < t:
            raise MismatchError(f"pad shares: need at least t = {t}, got {len(shares)}")
    else:
        expected = {record.entry_by_index(i).trustee_id for i in request.active_set}
        if got != expected:
            raise MismatchError(
                f"pad shares: need exactly one from each of {sorted(expected)}, got {sorted(got)}"
            )
    params = request.params
    moduli = params.moduli(params.fresh_level())
    n = params.POLY_MODULUS_DEGREE
    size = ciphertext_nbytes(moduli, n, 1)
    version = SHAMIR_VERSION if record.robust else FORMAT_VERSION
    opened: dict[int, bytes] = {}
    for s in shares:
        if s.request_digest != digest:
            raise MismatchError(f"pad share from {s.trustee_id!r} answers another request")
        entry = record.entry(s.trustee_id)
        if entry.index != s.index:
            raise MismatchError(f"pad share from {s.trustee_id!r} carries the wrong index")
        if s.format_version != version:
            raise MismatchError(
                f"pad share from {s.trustee_id!r} is version {s.format_version}; this "
                f"ceremony's trustees answer version {version}"
            )
        entry.public_key.verify(s.signature, s.signed_message(), f"pad share of {s.trustee_id}")
        payload = key.open(s)
        if len(payload) != request.count * size:
            raise FormatError(
                f"pad share from {s.trustee_id!r}: {len(payload)} bytes, "
                f"expected {request.count * size}"
            )
        opened[s.index] = payload
    pads = np.zeros((request.count, len(moduli), n), dtype=np.uint64)
    radius = verifiable_max_liars(len(opened), t, t - 1)
    liars: set[int] = set()
    for index in range(request.count):
        answers = {
            j: decode_ciphertext(raw[index * size : (index + 1) * size], moduli, n, 1)[0]
            for j, raw in opened.items()
        }
        if not record.robust:
            for part in answers.values():
                for i, q in enumerate(moduli):
                    pads[index, i] = addmod(pads[index, i], part[i], q)
            continue
        try:
            decoded = reconstruct(answers, t, moduli, max_liars=radius or 0)
        except UndecidableAnswersError as error:
            raise UndecidableAnswersError(
                f"pad {index}: {error} (suspects: {_names(record, error.suspects)})",
                error.suspects,
            ) from None
        pads[index] = decoded.value
        liars.update(decoded.liars)
    return Pads(request, pads, liars=tuple(_names(record, tuple(sorted(liars)))))


def _names(record: CeremonyRecord, indices: tuple[int, ...]) -> list[str]:
    return [record.entry_by_index(i).trustee_id for i in indices]
