"""Owners sign what they upload: enrolments, pad requests and bundles.

Every input a trustee ever computes on carries its owner's Ed25519 signature (RFC 8032, from
``cryptography``), and the log keeps it (docs/design.md, "Signed inputs and enrolment"):

* an :class:`Enrolment` (record ``CSENROLL``) is a participant's identity for one challenge,
  signed by that identity (proof of possession), so nobody can enrol a key it does not hold;
* a pad request is signed over what its submitter chose — challenge, kind, seed and X25519
  recipient (:func:`pad_request_message`) — so the service cannot make pad requests in an
  enrolled identity's name, nor count one against its quota;
* a bundle is signed over its challenge, kind and SHA-256 digest (:func:`upload_message`):
  labels by the challenge's organizer key, predictions by an enrolled identity, so the service
  cannot put a self-made labels bundle or self-made predictions before the trustees;
* a final selection (a challenge with a public/private split) is signed over its challenge,
  a sequence number and the submissions it names (:func:`selection_message`), so the service
  can neither choose an identity's finals nor bring back a selection it replaced (the highest
  sequence number wins: docs/design.md, "Public/private split").

Each message starts with its own domain string, so a signature made for one purpose never
verifies for another (nor for a trustee's contribution, partial or pad share).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptoscore.envelope import Fields, canonical_json, pack_record, unpack_record
from cryptoscore.errors import FormatError
from cryptoscore.identity import Identity, PublicKey
from cryptoscore.scoring.pad_request import PadRequest

__all__ = [
    "ENROLMENT_MAGIC",
    "SIGNATURE_BYTES",
    "Enrolment",
    "pad_request_message",
    "selection_message",
    "sign_pad_request",
    "sign_selection",
    "sign_upload",
    "upload_message",
    "verify_pad_request",
    "verify_selection",
    "verify_upload",
]

ENROLMENT_MAGIC = b"CSENROLL"
FORMAT_VERSION = 1
SIGNATURE_BYTES = 64
MAX_NAME = 64

_ENROL_DOMAIN = b"cryptoscore/enrolment/v1\x00"
_PAD_REQUEST_DOMAIN = b"cryptoscore/pad-request/v1\x00"
_UPLOAD_DOMAIN = b"cryptoscore/upload/v1\x00"
_SELECTION_DOMAIN = b"cryptoscore/final-selection/v1\x00"
MAX_SELECTED = 5
"""Submissions one selection may name (``rules.MAX_FINALS``)."""
_KINDS = ("predictions", "labels")


def _check_signature(signature: bytes, what: str) -> None:
    if len(signature) != SIGNATURE_BYTES:
        raise FormatError(f"{what}: a signature is {SIGNATURE_BYTES} bytes (Ed25519)")


def _check_digest(digest: str, what: str) -> None:
    if len(digest) != 64 or digest.strip("0123456789abcdef"):
        raise FormatError(f"{what}: a bundle is named by its lower-case SHA-256 hex digest")


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A participant's identity for one challenge, signed by that identity (``CSENROLL``)."""

    challenge_id: str
    identity: PublicKey
    name: str
    signature: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not self.challenge_id or len(self.challenge_id) > 128:
            raise FormatError("enrolment: challenge id must be 1..128 characters")
        if not self.name or len(self.name) > MAX_NAME or not self.name.isprintable():
            raise FormatError(f"enrolment: name must be 1..{MAX_NAME} printable characters")
        _check_signature(self.signature, "enrolment")

    @staticmethod
    def message(challenge_id: str, identity: PublicKey, name: str) -> bytes:
        body = {"challenge": challenge_id, "identity": identity.hex(), "name": name}
        return _ENROL_DOMAIN + canonical_json(body)

    @classmethod
    def sign(cls, identity: Identity, challenge_id: str, name: str) -> Enrolment:
        public = identity.public_key
        return cls(
            challenge_id, public, name, identity.sign(cls.message(challenge_id, public, name))
        )

    def verify(self) -> None:
        """Raise :class:`VerificationError` unless the identity itself signed this."""
        self.identity.verify(
            self.signature,
            self.message(self.challenge_id, self.identity, self.name),
            "enrolment",
        )

    def to_bytes(self) -> bytes:
        return pack_record(
            ENROLMENT_MAGIC,
            FORMAT_VERSION,
            {
                "challenge": self.challenge_id,
                "identity": self.identity.hex(),
                "name": self.name,
                "signature": self.signature.hex(),
            },
        )

    @classmethod
    def from_bytes(cls, raw: bytes | memoryview) -> Enrolment:
        header, body = unpack_record(raw, ENROLMENT_MAGIC, FORMAT_VERSION, "enrolment")
        if len(body):
            raise FormatError("enrolment: unexpected bytes after the header")
        f = Fields(header, "enrolment", {"challenge", "identity", "name", "signature"})
        return cls(
            challenge_id=f.string("challenge", 128),
            identity=PublicKey(f.hex("identity", 32)),
            name=f.string("name", MAX_NAME),
            signature=f.hex("signature", SIGNATURE_BYTES),
        )


def pad_request_message(challenge_id: str, kind: str, seed: bytes, recipient: bytes) -> bytes:
    """What a submitter signs for a pad request: the fields it chooses. The service adds the
    challenge's key, size and an active set; the trustees check those against the challenge."""
    if kind not in _KINDS:
        raise FormatError(f"pad request: unknown bundle kind {kind!r}")
    body = {
        "challenge": challenge_id,
        "kind": kind,
        "seed": seed.hex(),
        "recipient": recipient.hex(),
    }
    return _PAD_REQUEST_DOMAIN + canonical_json(body)


def sign_pad_request(
    identity: Identity, challenge_id: str, kind: str, seed: bytes, recipient: bytes
) -> bytes:
    return identity.sign(pad_request_message(challenge_id, kind, seed, recipient))


def verify_pad_request(request: PadRequest, requester: PublicKey, signature: bytes) -> None:
    """Raise :class:`VerificationError` unless ``requester`` signed ``request``'s choices."""
    _check_signature(signature, "pad request")
    requester.verify(
        signature,
        pad_request_message(request.challenge_id, request.kind, request.seed, request.recipient),
        f"pad request {request.digest[:16]}…",
    )


def upload_message(challenge_id: str, kind: str, bundle_digest: str) -> bytes:
    """What an owner signs for an upload: the bundle's challenge, kind and digest."""
    if kind not in _KINDS:
        raise FormatError(f"upload: unknown bundle kind {kind!r}")
    _check_digest(bundle_digest, "upload")
    body = {"challenge": challenge_id, "kind": kind, "bundle": bundle_digest}
    return _UPLOAD_DOMAIN + canonical_json(body)


def sign_upload(identity: Identity, challenge_id: str, kind: str, bundle_digest: str) -> bytes:
    return identity.sign(upload_message(challenge_id, kind, bundle_digest))


def verify_upload(
    signer: PublicKey, signature: bytes, challenge_id: str, kind: str, bundle_digest: str
) -> None:
    """Raise :class:`VerificationError` unless ``signer`` signed this upload."""
    _check_signature(signature, "upload")
    signer.verify(
        signature,
        upload_message(challenge_id, kind, bundle_digest),
        f"{kind} bundle {bundle_digest[:16]}…",
    )


def selection_message(challenge_id: str, sequence: int, submissions: list[str]) -> bytes:
    """What a participant signs to choose its final submissions: the challenge, a sequence
    number (a later selection has a higher one) and the predictions bundles, by digest."""
    if isinstance(sequence, bool) or not 1 <= sequence < 1 << 53:
        raise FormatError("final selection: the sequence number is in 1..2^53-1")
    if not 1 <= len(submissions) <= MAX_SELECTED or len(set(submissions)) != len(submissions):
        raise FormatError(f"final selection: 1..{MAX_SELECTED} distinct submissions")
    for digest in submissions:
        _check_digest(digest, "final selection")
    body = {"challenge": challenge_id, "sequence": sequence, "submissions": list(submissions)}
    return _SELECTION_DOMAIN + canonical_json(body)


def sign_selection(
    identity: Identity, challenge_id: str, sequence: int, submissions: list[str]
) -> bytes:
    return identity.sign(selection_message(challenge_id, sequence, submissions))


def verify_selection(
    signer: PublicKey, signature: bytes, challenge_id: str, sequence: int, submissions: list[str]
) -> None:
    """Raise :class:`VerificationError` unless ``signer`` signed this selection."""
    _check_signature(signature, "final selection")
    signer.verify(
        signature,
        selection_message(challenge_id, sequence, submissions),
        f"final selection {sequence}",
    )
