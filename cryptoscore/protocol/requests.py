"""Decryption requests: what the service asks the trustees to decrypt, and round-1 evidence.

A :class:`DecryptionRequest` names a published circuit, its inputs by digest, the policy,
the active set and an optional re-randomization seed; :class:`Round1Evidence` is what a
trustee needs to check that a request's inputs passed round 1 (docs/design.md,
"Recompute-before-decrypt").
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from cryptoscore.envelope import Fields, pack_record, unpack_record
from cryptoscore.errors import FormatError, RefusedError
from cryptoscore.protocol.contributions import Contribution
from cryptoscore.scoring.policy import SCORE_CIRCUITS
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.partial import PartialDecryption

ROUND1_NEEDED: Mapping[str, bool] = {
    "validity/v1": False,
    "score/v1": True,
    "score-public/v1": True,
    "score-private/v1": True,
}
"""Circuits that multiply their inputs' ciphertexts, and whether a trustee must see the
inputs' whole round 1 (True: noise checks and V) or the noise checks only (False)."""


REQUEST_MAGIC = b"CSDECREQ"


FORMAT_VERSION = 1


Circuit = Literal["validity/v1", "noise/v1", "score/v1", "score-public/v1", "score-private/v1"]


_CIRCUITS = ("validity/v1", "noise/v1", *SCORE_CIRCUITS)


@dataclass(frozen=True, slots=True)
class DecryptionRequest:
    """What the service asks a trustee to decrypt (record magic ``CSDECREQ``)."""

    request_id: str
    challenge_id: str
    circuit: Circuit
    inputs: tuple[str, ...]
    """Bundle digests: predictions and labels (a score circuit: every item, or one part of a
    split) or the one bundle (round 1)."""
    seed: bytes
    """Validity weights seed; empty for the other circuits."""
    rerandomize_seed: bytes
    """Empty, or the seed of the encryption of zero added before decryption."""
    active_set: ActiveSet
    ciphertext_digest: str
    """SHA-256 of the canonical ciphertext to decrypt (what trustees must recompute)."""
    index: int = 0
    """Noise check: which ciphertext of the bundle; 0 for the other circuits."""

    def __post_init__(self) -> None:
        if self.circuit not in _CIRCUITS:
            raise RefusedError(f"no published circuit {self.circuit!r}: refusing to decrypt")
        if self.index < 0 or (self.index and self.circuit != "noise/v1"):
            raise FormatError("only a noise-check request names a ciphertext index")

    def to_bytes(self) -> bytes:
        return pack_record(
            REQUEST_MAGIC,
            FORMAT_VERSION,
            {
                "request_id": self.request_id,
                "challenge": self.challenge_id,
                "circuit": self.circuit,
                "inputs": list(self.inputs),
                "seed": self.seed.hex(),
                "rerandomize_seed": self.rerandomize_seed.hex(),
                "active_set": list(self.active_set.indices),
                "ciphertext": self.ciphertext_digest,
                "index": self.index,
            },
        )

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    @classmethod
    def from_bytes(cls, raw: bytes) -> DecryptionRequest:
        header, body = unpack_record(raw, REQUEST_MAGIC, FORMAT_VERSION, "decryption request")
        if len(body):
            raise FormatError("decryption request: unexpected bytes after the header")
        f = Fields(
            header,
            "decryption request",
            {
                "request_id",
                "challenge",
                "circuit",
                "inputs",
                "seed",
                "rerandomize_seed",
                "active_set",
                "ciphertext",
                "index",
            },
        )
        circuit = f.string("circuit")
        if circuit not in _CIRCUITS:
            raise RefusedError(f"no published circuit {circuit!r}: refusing to decrypt")
        seeds = []
        for key in ("seed", "rerandomize_seed"):
            text = f.string(key, 64)
            seeds.append(f.hex(key, 32) if text else b"")
        return cls(
            request_id=f.string("request_id", 128),
            challenge_id=f.string("challenge", 128),
            circuit=circuit,  # type: ignore[arg-type]
            inputs=tuple(f.str_list("inputs", 64)),
            seed=seeds[0],
            rerandomize_seed=seeds[1],
            active_set=ActiveSet(tuple(f.int_list("active_set", 1, 255, 255))),
            ciphertext_digest=f.hex("ciphertext", 32).hex(),
            index=f.integer("index", 0, 1 << 40),
        )


def evidence_needed(request: DecryptionRequest) -> tuple[str, ...]:
    """The bundles whose round-1 evidence a trustee needs to answer ``request``."""
    return request.inputs if request.circuit in ROUND1_NEEDED else ()


@dataclass(frozen=True)
class Round1Evidence:
    """A bundle's round-1 messages, as a trustee checks them before answering a request that
    multiplies the bundle's ciphertexts (V, or a score): the contributions, the round-1
    requests and every partial answering them."""

    bundle_digest: str
    contributions: tuple[Contribution, ...]
    requests: tuple[DecryptionRequest, ...]
    partials: Mapping[str, Sequence[PartialDecryption]] = field(repr=False)

    def to_json(self) -> dict[str, Any]:
        """``{"bundle", "contributions": [base64], "requests": [base64],
        "partials": {request id: [base64]}}`` (records as ``to_bytes``)."""
        return {
            "bundle": self.bundle_digest,
            "contributions": [base64.b64encode(c.to_bytes()).decode() for c in self.contributions],
            "requests": [base64.b64encode(r.to_bytes()).decode() for r in self.requests],
            "partials": {
                rid: [base64.b64encode(p.to_bytes()).decode() for p in parts]
                for rid, parts in self.partials.items()
            },
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Round1Evidence:
        """Parse untrusted evidence; every record is parsed and validated."""

        def record(text: Any) -> bytes:
            return base64.b64decode(str(text), validate=True)

        shapes = (("contributions", list), ("requests", list), ("partials", dict))
        if not isinstance(obj, Mapping) or any(
            not isinstance(obj.get(key), kind) for key, kind in shapes
        ):
            raise FormatError(
                "round-1 evidence: expected contributions, requests (lists) and "
                "partials (an object)"
            )
        try:
            return cls(
                bundle_digest=str(obj["bundle"]),
                contributions=tuple(
                    Contribution.from_bytes(record(c)) for c in obj["contributions"]
                ),
                requests=tuple(DecryptionRequest.from_bytes(record(r)) for r in obj["requests"]),
                partials={
                    str(rid): tuple(PartialDecryption.from_bytes(record(p)) for p in parts)
                    for rid, parts in obj["partials"].items()
                },
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise FormatError(f"round-1 evidence: malformed ({type(exc).__name__})") from None
