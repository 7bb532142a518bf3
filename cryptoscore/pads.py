"""Encryption pads: trustee-assisted encryption, so that no submitter ever chooses c1.

Why. BFV decryption of c = (c0, c1) computes c0 + c1·s = Δ·m + v. Whoever chooses c1 chooses
how the secret key s enters the noise v: adding δ to c1 keeps the plaintext and adds δ·s to
the noise, and the round-1 noise check — which must reveal the residual noise to see it —
then reveals δ·s, i.e. the key (SECURITY.md, "Why c1 comes from a seed"). So the ciphertexts a
threshold challenge accepts have a c1 nobody chose: a_i, expanded with SHAKE-256 (FIPS 202)
from a public seed and the ciphertext's index. Only the holders of s can make c0 match it;
they do so jointly, and only the submitter learns the result.

Protocol, for one bundle of ``count`` ciphertexts (a threshold form of BFV secret-key
encryption, as in the collective key generation of Mouchet, Troncoso-Pastoriza, Bossuat,
Hubaux, "Multiparty Homomorphic Encryption from Ring-Learning-with-Errors", PETS 2021, §4):

1. The submitter makes an X25519 key pair and a :class:`PadRequest` naming the challenge,
   bundle kind, key, a fresh 32-byte seed, ``count``, an active set S of t trustees and its
   X25519 public key. c1 of ciphertext i is a_i = expand(SHA-256(request), i)
   (:attr:`PadRequest.c1_seed`): bound to the whole request, recipient key included.
2. Each trustee j of S checks the request against the ceremony record, claims the seed in its
   durable journal (one answer per seed, ever), and for each i computes

       h_ij = −λ_j · s_j · a_i + e_ij          (λ_j the Lagrange coefficient of j in S,
                                                e_ij centered binomial, |e| ≤ 21,
                                                derived from the share: PadErrors)

   It encrypts all h_ij to the submitter (ephemeral X25519, HKDF-SHA256, AES-256-GCM; RFC
   7748, RFC 5869) and signs the result with its Ed25519 identity: a :class:`PadShare`.
3. The submitter checks t shares (roster, active set, signatures), decrypts them and sums:
   pad_i = Σ_j h_ij = −a_i·s + Σ_j e_ij. Its ciphertext i is
   (pad_i + ⌊Q·m_i/t⌉ + e_i, a_i) with its own centered binomial error e_i: a BFV encryption
   of m_i under s with noise Σ_j e_ij + e_i (``encryption.py``).

What it gives. The bundle carries its pad request and the c0 polynomials only (c1 is
re-expanded by every reader), so a malicious submitter can change only c0, and what it adds
there is a value it knows that involves no secret: the noise check, answered with the pads'
exact complements (``sanitize.py``), reveals that value and nothing of the pads. Uploads
halve. The service, which
sees (c0_i, a_i), learns nothing about m_i: c0_i is an RLWE sample (HE-standard parameters).
Each trustee learns nothing about m_i; t − 1 trustees together know all but one e_ij, still
an RLWE sample. h_ij is an RLWE sample with the uniform secret λ_j·s_j and a fresh uniform
a_i, so the submitter learns nothing about the shares — provided no answer on the same a_i
ever uses another Lagrange coefficient (``lineage.py``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ._rns.modmath import addmod, cbd_bytes, centered_binomial_from, mulmod, reduce_signed
from ._rns.shamir import lagrange_at_zero
from ._seal.engine import engine_for
from ._seal.format import U64Array
from .ceremony import CeremonyRecord, KeyShare
from .ciphertext import ciphertext_nbytes, decode_ciphertext, encode_ciphertext
from .errors import FormatError, MismatchError, PolicyError
from .identity import TrusteeIdentity
from .lineage import bundle_claim, bundle_lineage
from .params import ParameterSet, get_parameter_set
from .records import Fields, pack_record, unpack_record
from .threshold import ActiveSet, PartialJournal, _times_share

__all__ = [
    "SEED_BYTES",
    "PadErrors",
    "PadKey",
    "PadRequest",
    "PadShare",
    "Pads",
    "answer_pad_request",
    "expand_c1",
    "open_pads",
]

SEED_BYTES = 32
REQUEST_MAGIC = b"CSPADREQ"
SHARE_MAGIC = b"CSPADSHR"
FORMAT_VERSION = 1
_C1_DOMAIN = b"cryptoscore/pad-c1/v1"
_C1_SEED_DOMAIN = b"cryptoscore/pad-c1-seed/v1|"
_SEAL_INFO = b"cryptoscore/pad-share/v1"
_SIGN_DOMAIN = b"cryptoscore/pad-share-signature/v1"
_NONCE_BYTES = 12
_X25519_BYTES = 32
Progress = Callable[[int], None]


def expand_c1(params: type[ParameterSet], seed: bytes, index: int) -> U64Array:
    """a_index: uniform modulo every data prime, ``[prime][coeff]``, from SHAKE-256(seed, index).

    Rejection sampling of 64-bit words masked to the prime's bit length, so every residue is
    exactly uniform: the first N accepted words of the stream. A word is accepted with
    probability p = q / 2^bits (0.88..0.99 for the primes of both parameter sets), so
    1.05·N/p + 64 words suffice but with probability far below 2^-40; otherwise a longer
    stream, which starts with the same words (SHAKE's output is a prefix of any longer
    output), is read.
    """
    if len(seed) != SEED_BYTES:
        raise FormatError(f"c1 seed must be {SEED_BYTES} bytes, got {len(seed)}")
    n = params.POLY_MODULUS_DEGREE
    primes = params.DATA_PRIMES
    out = np.empty((len(primes), n), dtype=np.uint64)
    for j, q in enumerate(primes):
        mask = np.uint64((1 << q.bit_length()) - 1)
        label = b"|".join(
            [_C1_DOMAIN, params.ID.encode(), seed, index.to_bytes(8, "big"), bytes([j])]
        )
        words = (21 * n << q.bit_length()) // (20 * q) + 64  # 1.05·N/p
        got = np.empty(0, dtype=np.uint64)
        while got.size < n:
            stream = hashlib.shake_256(label).digest(8 * words)
            raw = np.frombuffer(stream, dtype="<u8") & mask
            got = raw[raw < np.uint64(q)]
            words *= 2
        out[j] = got[:n]
    return out


def _check_x25519(public: bytes) -> None:
    """Refuse keys no shared secret can be made with (low-order points give all zeros, which
    ``cryptography`` rejects): a trustee must never fail halfway through an answer."""
    try:
        _X25519_PROBE.exchange(X25519PublicKey.from_public_bytes(public))
    except ValueError:
        raise FormatError("pad request: recipient is not a usable X25519 public key") from None


_X25519_PROBE = X25519PrivateKey.generate()  # only ever used to test public keys


def _check_count(count: int) -> None:
    if not 1 <= count <= 1 << 20:
        raise FormatError(f"pad request: count must be in 1..{1 << 20}, got {count}")


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
        if len(self.recipient) != _X25519_BYTES:
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
            count=f.integer("count", 1, 1 << 20),
            active_set=tuple(f.int_list("active_set", 1, 255, 255)),
            recipient=f.hex("recipient", _X25519_BYTES),
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

    @property
    def lineage(self) -> str:
        """The lineage of every polynomial derived from this request's c1 family
        (``lineage.py``): the pads, the bundle's noise checks and its validity aggregate."""
        return bundle_lineage(self.c1_seed)

    def seed_digest(self) -> str:
        """What a trustee's journal records: one answer per seed, whatever else differs."""
        return "pad:" + hashlib.sha256(self.seed).hexdigest()


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
        if len(body) < _X25519_BYTES + _NONCE_BYTES + 16:
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
    def generate(cls) -> PadKey:
        return cls(X25519PrivateKey.generate())

    @property
    def public_bytes(self) -> bytes:
        return self._private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    def __repr__(self) -> str:
        return f"PadKey(public={self.public_bytes.hex()[:16]}…)"

    def open(self, share: PadShare) -> bytes:
        eph = share.sealed[:_X25519_BYTES]
        nonce = share.sealed[_X25519_BYTES : _X25519_BYTES + _NONCE_BYTES]
        body = share.sealed[_X25519_BYTES + _NONCE_BYTES :]
        try:
            shared = self._private.exchange(X25519PublicKey.from_public_bytes(eph))
            key = _aead_key(shared, share.request_digest, share.trustee_id, eph, self.public_bytes)
            return AESGCM(key).decrypt(nonce, body, share.request_digest.encode())
        except (InvalidTag, ValueError):
            raise FormatError(
                f"pad share from {share.trustee_id!r}: cannot be decrypted with this pad key "
                "(edited, truncated, or made for another request)"
            ) from None


def _seal_to(recipient: bytes, request_digest: str, trustee_id: str, payload: bytes) -> bytes:
    eph = X25519PrivateKey.generate()
    eph_pub = eph.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    shared = eph.exchange(X25519PublicKey.from_public_bytes(recipient))
    key = _aead_key(shared, request_digest, trustee_id, eph_pub, recipient)
    nonce = os.urandom(_NONCE_BYTES)
    return eph_pub + nonce + AESGCM(key).encrypt(nonce, payload, request_digest.encode())


_ERROR_DOMAIN = b"cryptoscore/pad-error/v1|"


class PadErrors:
    """Trustee j's pad errors e_ij for one request, derived, not drawn.

    e_ij is centered binomial (|e| ≤ 21) from SHAKE-256 (FIPS 202) over a key that
    HKDF-SHA256 (RFC 5869) derives from the trustee's share and the request digest
    (``KeyShare.derive_key``): uniform-looking to anyone without the share, and re-derivable
    by the trustee. That is what lets round 1 answer a noise check with the exact complement
    of the pad share, λ_j·s_j·a_i − e_ij + Δ·M_j (``sanitize.py``): combined with the pad share
    the submitter holds it is Δ·M_j and nothing else, so the noise check reveals no
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
) -> PadShare:
    """Trustee: its share h_ij of every pad of ``request``, encrypted to the submitter, signed.

    ``record`` is the :class:`~cryptoscore.ceremony.CeremonyRecord`, ``share`` this trustee's
    :class:`~cryptoscore.ceremony.KeyShare`, ``identity`` its
    :class:`~cryptoscore.identity.TrusteeIdentity`, ``journal`` its
    :class:`~cryptoscore.threshold.PartialJournal`: the seed is claimed there (written and
    synced) before anything leaves, and a second request with the same seed is refused.
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
        product = _times_share(engine, expand_c1(params, request.c1_seed, index), scaled)
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
    sealed = _seal_to(request.recipient, digest, share.trustee_id, b"".join(parts))
    parts.clear()
    signature = identity.sign(_share_message(digest, share.trustee_id, sealed))
    return PadShare(digest, share.trustee_id, share.index, sealed, signature)


class Pads:
    """The submitter's opened pads for one request: pad_i = −a_i·s + Σ_j e_ij, single use.

    Secret: anyone who saw a pad and the ciphertext made with it would read the plaintext.
    :func:`cryptoscore.encryption.encrypt_predictions` (``pads=``) consumes them once.
    """

    __slots__ = ("_values", "request", "used")

    def __init__(self, request: PadRequest, values: npt.NDArray[np.uint64]) -> None:
        self.request = request
        self._values = values
        self.used = False

    def __repr__(self) -> str:
        return f"Pads(request={self.request.digest[:16]}…, count={self.request.count})"

    def take(self) -> npt.NDArray[np.uint64]:
        """The pad values ``[index][prime][coeff]``; a second call is refused (reusing a pad
        for two plaintexts would reveal their difference to the service)."""
        if self.used:
            raise PolicyError("these pads were already used to encrypt a bundle")
        self.used = True
        return self._values

    def wipe(self) -> None:
        self._values.fill(0)


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
