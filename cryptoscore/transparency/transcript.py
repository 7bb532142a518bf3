"""The transcript: the service's append-only record of one challenge, and its audit bundle.

Every event is a canonical JSON entry of an RFC 9162 Merkle log, plus the blobs it names by
SHA-256; the service signs tree heads, issues receipts and exports the audit bundle
(docs/design.md, "Transcript and audit bundle").

Audit bundle, format ``cryptoscore-audit-bundle`` version 1 — a zip file with:

    manifest.json      {"format", "version", "challenge", "log_id", "service_key" (hex
                        Ed25519), "tree_heads": [signed tree heads, oldest first]}
    log.jsonl          the log entries, one canonical JSON object per line, in log order
    blobs/<sha256>     every object a log entry names, under the SHA-256 of its bytes
    leaderboard.json   [{"rank", "participant", "submission", "values"}], best first

Log entries (canonical JSON; ``type`` first in meaning, keys sorted on the wire):

    {"type": "ceremony", "record", "public", "evaluation"}          blob digests
    {"type": "challenge", "challenge", "definition"}                definition blob: canonical
        JSON {"id", "policy", "n", "ceremony"}
    {"type": "bundle", "kind", "bundle", "owner"}                   labels or a submission
    {"type": "contribution", "bundle", "trustee", "randomness"}
    {"type": "request", "request", "round"}                         DecryptionRequest blob
    {"type": "partial", "request_id", "partial", "trustee"}         PartialDecryption blob
    {"type": "round1", "bundle", "verdict", "reason"}
    {"type": "release", "predictions", "labels", "request_id", "values"}
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cryptoscore.envelope import canonical_json
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.contributions import Contribution
from cryptoscore.protocol.requests import DecryptionRequest
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.scoring.keys import EvaluationKeys, PublicContext
from cryptoscore.scoring.policy import ReleasePolicy
from cryptoscore.threshold.ceremony import CeremonyRecord
from cryptoscore.threshold.partial import PartialDecryption
from cryptoscore.transparency.leaderboard import leaderboard_from_entries
from cryptoscore.transparency.log import (
    ConsistencyProof,
    MerkleLog,
    SignedTreeHead,
)
from cryptoscore.transparency.receipts import Receipt, issue_receipt

BUNDLE_FORMAT = "cryptoscore-audit-bundle"


BUNDLE_VERSION = 1


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Transcript:
    """Service side: the append-only record of one challenge."""

    def __init__(self, challenge_id: str, service_key: Ed25519PrivateKey, log_id: str) -> None:
        self.challenge_id = challenge_id
        self.log_id = log_id
        self._key = service_key
        self.log = MerkleLog()
        self.entries: list[bytes] = []
        self.blobs: dict[str, bytes] = {}
        self.tree_heads: list[SignedTreeHead] = []

    def _blob(self, data: bytes) -> str:
        digest = sha256_hex(data)
        self.blobs[digest] = data
        return digest

    def append(self, entry: dict[str, Any]) -> int:
        raw = canonical_json(entry)
        self.entries.append(raw)
        return self.log.append(raw)

    def record_ceremony(
        self, record: CeremonyRecord, public: PublicContext, evaluation: EvaluationKeys
    ) -> int:
        return self.append(
            {
                "type": "ceremony",
                "record": self._blob(record.to_bytes()),
                "public": self._blob(public.to_bytes()),
                "evaluation": self._blob(evaluation.to_bytes()),
            }
        )

    def record_challenge(self, context: ChallengeContext) -> int:
        definition = canonical_json(
            {
                "id": context.challenge_id,
                "policy": context.policy.to_json(),
                "n": context.n,
                "ceremony": context.record.digest,
            }
        )
        return self.append(
            {
                "type": "challenge",
                "challenge": context.challenge_id,
                "definition": self._blob(definition),
            }
        )

    def record_bundle(self, bundle: EncryptedBundle, owner: str) -> int:
        self.blobs[bundle.digest] = bundle.to_bytes()
        return self.append(
            {"type": "bundle", "kind": bundle.header.kind, "bundle": bundle.digest, "owner": owner}
        )

    def record_contribution(self, bundle_digest: str, contribution: Contribution) -> int:
        return self.append(
            {
                "type": "contribution",
                "bundle": bundle_digest,
                "trustee": contribution.trustee_id,
                "randomness": contribution.randomness.hex(),
            }
        )

    def record_request(self, request: DecryptionRequest, round_: int) -> int:
        return self.append(
            {"type": "request", "request": self._blob(request.to_bytes()), "round": round_}
        )

    def record_partial(self, partial: PartialDecryption) -> int:
        return self.append(
            {
                "type": "partial",
                "request_id": partial.request_id,
                "partial": self._blob(partial.to_bytes()),
                "trustee": partial.trustee_id,
            }
        )

    def record_round1(self, bundle_digest: str, verdict: str, reason: str) -> int:
        return self.append(
            {"type": "round1", "bundle": bundle_digest, "verdict": verdict, "reason": reason}
        )

    def record_release(
        self, predictions: str, labels: str, request_id: str, values: dict[str, int]
    ) -> int:
        return self.append(
            {
                "type": "release",
                "predictions": predictions,
                "labels": labels,
                "request_id": request_id,
                "values": values,
            }
        )

    def sign_head(self, timestamp_ms: int) -> SignedTreeHead:
        sth = self.log.sign_head(self._key, self.log_id, timestamp_ms)
        self.tree_heads.append(sth)
        return sth

    def receipt(self, index: int) -> Receipt:
        """The receipt of log entry ``index`` under the latest signed tree head."""
        return issue_receipt(self.log, self.entries, index, self.tree_heads[-1])

    def consistency(self, old_size: int) -> tuple[SignedTreeHead, ConsistencyProof]:
        """The latest head and a proof that it extends the head of size ``old_size``."""
        head = self.tree_heads[-1]
        path = tuple(self.log.consistency_proof(old_size, head.size))
        return head, ConsistencyProof(old_size, head.size, path)

    def leaderboard(self, policy: ReleasePolicy) -> list[dict[str, Any]]:
        return leaderboard_from_entries([json.loads(e) for e in self.entries], policy)

    def export(self, path: str | Path, policy: ReleasePolicy) -> None:
        """Write the audit bundle (see the module docstring for the layout)."""
        from cryptography.hazmat.primitives import serialization

        service_key = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        manifest = {
            "format": BUNDLE_FORMAT,
            "version": BUNDLE_VERSION,
            "challenge": self.challenge_id,
            "log_id": self.log_id,
            "service_key": service_key.hex(),
            "tree_heads": [sth.to_json() for sth in self.tree_heads],
        }
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr("manifest.json", canonical_json(manifest))
            zf.writestr("log.jsonl", b"".join(e + b"\n" for e in self.entries))
            for digest, data in sorted(self.blobs.items()):
                zf.writestr(f"blobs/{digest}", data)
            zf.writestr("leaderboard.json", canonical_json(self.leaderboard(policy)))
