"""Submission receipts: proof that the service logged an upload, and kept it logged.

A receipt (format version 1, canonical JSON) holds the uploaded bundle's digest, the log entry
that records it, the entry's index, a signed tree head and an inclusion proof of the entry
under that head (RFC 9162 §2.1.3). :func:`verify_receipt` checks it with the service's public
key (published in the challenge record); later, :func:`verify_receipt_against` checks a newer
signed tree head and a consistency proof (RFC 9162 §2.1.4) from the receipt's head to it — so
the service cannot quietly drop or rewrite the submission without the participant noticing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cryptoscore.envelope import canonical_json
from cryptoscore.errors import FormatError, VerificationError
from cryptoscore.transparency.log import (
    ConsistencyProof,
    InclusionProof,
    MerkleLog,
    SignedTreeHead,
    hash_leaf,
    verify_tree_head,
)

__all__ = ["Receipt", "issue_receipt", "verify_receipt", "verify_receipt_against"]

FORMAT_VERSION = 1


@dataclass(frozen=True, slots=True)
class Receipt:
    bundle: str
    entry: bytes
    index: int
    tree_head: SignedTreeHead
    proof: InclusionProof

    def to_json(self) -> dict[str, Any]:
        return {
            "version": FORMAT_VERSION,
            "bundle": self.bundle,
            "entry": self.entry.decode(),
            "index": self.index,
            "tree_head": self.tree_head.to_json(),
            "proof": self.proof.to_json(),
        }

    def to_bytes(self) -> bytes:
        return canonical_json(self.to_json())

    @classmethod
    def from_bytes(cls, raw: bytes) -> Receipt:
        try:
            obj = json.loads(raw)
            if not isinstance(obj, dict) or obj.get("version") != FORMAT_VERSION:
                raise FormatError("unknown format version")
            return cls(
                bundle=str(obj["bundle"]),
                entry=str(obj["entry"]).encode(),
                index=int(obj["index"]),
                tree_head=SignedTreeHead.from_json(obj["tree_head"]),
                proof=InclusionProof.from_json(obj["proof"]),
            )
        except FormatError as exc:
            raise FormatError(f"receipt: {exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise FormatError(f"receipt: malformed ({exc})") from None


def issue_receipt(log: MerkleLog, entry: bytes, index: int, head: SignedTreeHead) -> Receipt:
    """Service: the receipt of ``entry``, logged at ``index``, under ``head`` (which must
    include it)."""
    if not 0 <= index < head.size <= log.size:
        raise FormatError("the tree head does not include this entry")
    if hash_leaf(entry) != log.leaf_hash(index):
        raise FormatError("this is not the entry logged at that index")
    parsed = json.loads(entry)
    return Receipt(
        bundle=str(parsed.get("bundle", "")),
        entry=entry,
        index=index,
        tree_head=head,
        proof=InclusionProof(index, head.size, tuple(log.inclusion_proof(index, head.size))),
    )


def verify_receipt(receipt: Receipt, service_key: Ed25519PublicKey) -> None:
    """Participant: the head is the service's and the entry is in the log under it."""
    verify_tree_head(receipt.tree_head, service_key)
    entry = json.loads(receipt.entry)
    if entry.get("type") != "bundle" or entry.get("bundle") != receipt.bundle:
        raise VerificationError("receipt: the logged entry is not this upload")
    if receipt.proof.index != receipt.index or receipt.proof.size != receipt.tree_head.size:
        raise VerificationError("receipt: proof and tree head disagree")
    receipt.proof.verify(hash_leaf(receipt.entry), receipt.tree_head.root)


def verify_receipt_against(
    receipt: Receipt,
    later: SignedTreeHead,
    consistency: ConsistencyProof,
    service_key: Ed25519PublicKey,
) -> None:
    """Participant, later: the newer head extends the receipt's head (nothing rewritten)."""
    verify_receipt(receipt, service_key)
    verify_tree_head(later, service_key)
    if later.log_id != receipt.tree_head.log_id:
        raise VerificationError("receipt: the later head is from another log")
    if (consistency.old_size, consistency.new_size) != (receipt.tree_head.size, later.size):
        raise VerificationError("receipt: consistency proof is for other tree sizes")
    consistency.verify(receipt.tree_head.root, later.root)
