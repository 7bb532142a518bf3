"""The transcript: the service's append-only record of one challenge, and its audit bundle.

Every event is a canonical JSON entry of an RFC 9162 Merkle log, plus the blobs it names by
SHA-256; the service signs tree heads, issues receipts and exports the audit bundle
(docs/design.md, "Transcript and audit bundle").

Audit bundle, format ``cryptoscore-audit-bundle`` version 1 — a zip file with:

    manifest.json      {"format", "version", "challenge", "log_id", "service_key" (hex
                        Ed25519), "tree_heads": [signed tree heads, oldest first]}
    log.jsonl          the log entries, one canonical JSON object per line, in log order
    blobs/<sha256>     every object a log entry names, under the SHA-256 of its bytes
    leaderboard.json   [{"rank", "participant", "submission", "values"}]: every release,
                        best first, ties sharing a rank (``leaderboard.RANKING_RULE``)

Log entries: ``transparency/entries.py`` names each type's members and blobs once.

Where the record lives is a :class:`TranscriptStore`: :class:`MemoryTranscriptStore` for a
challenge in one process (``local.py``), a database for the service
(``cryptoscore_server/ledger.py``). Every write is an append (an entry and the tree nodes
it completes, a blob, a signed head), so an upload costs O(log size), never a rebuild.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cryptoscore.envelope import canonical_json
from cryptoscore.errors import FormatError, MismatchError
from cryptoscore.identity import PublicKey
from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.contributions import Contribution
from cryptoscore.protocol.ladder import LadderOpening
from cryptoscore.protocol.requests import DecryptionRequest
from cryptoscore.protocol.signed_inputs import Enrolment
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.scoring.keys import EvaluationKeys, PublicContext
from cryptoscore.scoring.pad_request import PadRequest
from cryptoscore.scoring.policy import ReleasePolicy
from cryptoscore.threshold.ceremony import CeremonyRecord
from cryptoscore.threshold.liars import LiarReport
from cryptoscore.threshold.partial import PartialDecryption
from cryptoscore.transparency.entries import ENTRY_TYPES, blob_digests, entry_bytes, parse_entry
from cryptoscore.transparency.leaderboard import LeaderboardRow, View, rank, rows_from_entries
from cryptoscore.transparency.log import (
    ConsistencyProof,
    MemoryNodes,
    MerkleLog,
    NodeStore,
    SignedTreeHead,
)
from cryptoscore.transparency.receipts import Receipt, issue_receipt

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "MemoryTranscriptStore",
    "Transcript",
    "TranscriptStore",
    "sha256_hex",
]

BUNDLE_FORMAT = "cryptoscore-audit-bundle"
BUNDLE_VERSION = 1


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class TranscriptStore(Protocol):
    """Where one challenge's record is kept. Appends only; reads by index or in order."""

    @property
    def nodes(self) -> NodeStore:
        """The Merkle tree's nodes (``transparency/log.py``)."""
        ...

    def index_of(self, key: str) -> int | None:
        """The index of the entry logged under event ``key``, if any."""
        ...

    def append_entry(self, raw: bytes, key: str) -> int:
        """Store entry ``raw`` under event ``key`` at the next index; return that index."""
        ...

    def entry(self, index: int) -> bytes: ...

    def entries(self) -> Iterator[bytes]:
        """Every entry in log order."""
        ...

    def put_blob(self, data: bytes) -> str:
        """Keep ``data`` under its SHA-256 (hex); return the digest."""
        ...

    def blob(self, digest: str) -> bytes: ...

    def add_tree_head(self, sth: SignedTreeHead) -> None: ...

    def tree_heads(self) -> list[SignedTreeHead]:
        """Every signed head, oldest first."""
        ...

    def latest_head(self) -> SignedTreeHead | None: ...

    def leaderboard_rows(self) -> list[LeaderboardRow]:
        """Every release, in log order (a projection the store keeps)."""
        ...


class MemoryTranscriptStore:
    """A :class:`TranscriptStore` in memory (a challenge run in one process, tests)."""

    def __init__(self) -> None:
        self._nodes = MemoryNodes()
        self._entries: list[bytes] = []
        self._keys: dict[str, int] = {}
        self._blobs: dict[str, bytes] = {}
        self._heads: list[SignedTreeHead] = []
        self._owners: dict[str, str] = {}
        self._rows: list[LeaderboardRow] = []

    @property
    def nodes(self) -> NodeStore:
        return self._nodes

    def index_of(self, key: str) -> int | None:
        return self._keys.get(key)

    def append_entry(self, raw: bytes, key: str) -> int:
        index = len(self._entries)
        self._entries.append(raw)
        self._keys[key] = index
        self._rows.extend(rows_from_entries([parse_entry(raw)], self._owners, start=index))
        return index

    def entry(self, index: int) -> bytes:
        return self._entries[index]

    def entries(self) -> Iterator[bytes]:
        return iter(list(self._entries))

    def put_blob(self, data: bytes) -> str:
        digest = sha256_hex(data)
        self._blobs[digest] = data
        return digest

    def blob(self, digest: str) -> bytes:
        return self._blobs[digest]

    def add_tree_head(self, sth: SignedTreeHead) -> None:
        self._heads.append(sth)

    def tree_heads(self) -> list[SignedTreeHead]:
        return list(self._heads)

    def latest_head(self) -> SignedTreeHead | None:
        return self._heads[-1] if self._heads else None

    def leaderboard_rows(self) -> list[LeaderboardRow]:
        return list(self._rows)


class Transcript:
    """Service side: the append-only record of one challenge, kept in ``store``."""

    def __init__(
        self,
        challenge_id: str,
        service_key: Ed25519PrivateKey,
        log_id: str,
        store: TranscriptStore | None = None,
    ) -> None:
        self.challenge_id = challenge_id
        self.log_id = log_id
        self._key = service_key
        self.store: TranscriptStore = store if store is not None else MemoryTranscriptStore()
        self.log = MerkleLog(nodes=self.store.nodes)

    # -- reading -------------------------------------------------------------------------
    @property
    def entries(self) -> list[bytes]:
        """Every entry in log order (reads the whole log: for tests and small logs)."""
        return list(self.store.entries())

    @property
    def tree_heads(self) -> list[SignedTreeHead]:
        return self.store.tree_heads()

    def log_entries(self, challenge_id: str, start: int, limit: int = 5000) -> dict[str, Any]:
        """A page for followers (``transparency/replica.py``), as the service's
        ``GET /challenges/{id}/log/entries`` gives it: the latest signed head and up to
        ``limit`` entries from index ``start`` on."""
        head = self.store.latest_head()
        if challenge_id != self.challenge_id or head is None:
            raise MismatchError(f"no signed log of {challenge_id!r} here")
        if not 0 <= start <= head.size:
            raise FormatError(f"a page starts at 0..{head.size}")
        end = min(head.size, start + limit)
        return {
            "tree_head": head.to_json(),
            "entries": [self.store.entry(i).decode() for i in range(start, end)],
        }

    # -- appending -----------------------------------------------------------------------
    def append(self, entry: Mapping[str, Any], key: str | None = None) -> int:
        """Log ``entry`` (idempotent by event ``key``, default: the entry itself); return
        its index."""
        raw = entry_bytes(entry)
        key = key if key is not None else sha256_hex(raw)
        existing = self.store.index_of(key)
        if existing is not None:
            return existing
        index = self.store.append_entry(raw, key)
        if self.log.append(raw) != index:
            raise RuntimeError("the log's entries and tree nodes disagree on its size")
        return index

    def _blob(self, data: bytes) -> str:
        return self.store.put_blob(data)

    def record_ceremony(
        self,
        record: CeremonyRecord,
        public: PublicContext,
        evaluation: EvaluationKeys,
        key: str | None = None,
    ) -> int:
        entry = ENTRY_TYPES["ceremony"].make(
            record=self._blob(record.to_bytes()),
            public=self._blob(public.to_bytes()),
            evaluation=self._blob(evaluation.to_bytes()),
        )
        return self.append(entry, key)

    def record_challenge(self, context: ChallengeContext, key: str | None = None) -> int:
        entry = ENTRY_TYPES["challenge"].make(
            challenge=context.challenge_id, definition=self._blob(context.definition())
        )
        return self.append(entry, key)

    def record_enrolment(self, enrolment: Enrolment, key: str | None = None) -> int:
        entry = ENTRY_TYPES["enrolment"].make(
            identity=enrolment.identity.hex(),
            name=enrolment.name,
            signature=enrolment.signature.hex(),
        )
        return self.append(entry, key)

    def record_pad_request(
        self,
        request: PadRequest,
        requester: PublicKey,
        signature: bytes,
        time_ms: int,
        key: str | None = None,
    ) -> int:
        entry = ENTRY_TYPES["pad_request"].make(
            request=self._blob(request.to_bytes()),
            requester=requester.hex(),
            signature=signature.hex(),
            time=time_ms,
        )
        return self.append(entry, key)

    def record_bundle(
        self,
        bundle: EncryptedBundle,
        owner: str,
        signer: PublicKey,
        signature: bytes,
        time_ms: int,
        key: str | None = None,
    ) -> int:
        digest = self._blob(bundle.to_bytes())
        entry = ENTRY_TYPES["bundle"].make(
            kind=bundle.header.kind,
            bundle=digest,
            owner=owner,
            signer=signer.hex(),
            signature=signature.hex(),
            time=time_ms,
        )
        return self.append(entry, key)

    def record_contribution(
        self, bundle_digest: str, contribution: Contribution, key: str | None = None
    ) -> int:
        entry = ENTRY_TYPES["contribution"].make(
            bundle=bundle_digest,
            trustee=contribution.trustee_id,
            randomness=contribution.randomness.hex(),
            signature=contribution.signature.hex(),
        )
        return self.append(entry, key)

    def record_request(
        self, request: DecryptionRequest, round_: int, key: str | None = None
    ) -> int:
        entry = ENTRY_TYPES["request"].make(
            request=self._blob(request.to_bytes()),
            round=round_,
            circuit=request.circuit,
            inputs=list(request.inputs),
        )
        return self.append(entry, key)

    def record_partial(self, partial: PartialDecryption, key: str | None = None) -> int:
        entry = ENTRY_TYPES["partial"].make(
            request_id=partial.request_id,
            partial=self._blob(partial.to_bytes()),
            trustee=partial.trustee_id,
        )
        return self.append(entry, key)

    def record_round1(
        self, bundle_digest: str, verdict: str, reason: str, key: str | None = None
    ) -> int:
        entry = ENTRY_TYPES["round1"].make(
            bundle=bundle_digest, verdict=str(verdict), reason=reason
        )
        return self.append(entry, key)

    def record_release(
        self,
        predictions: str,
        labels: str,
        request_id: str,
        values: dict[str, int],
        key: str | None = None,
        part: str | None = None,
        commitment: str | None = None,
    ) -> int:
        """The released values of a score: a ``release`` entry, or a ``part_release`` naming
        the ``part`` of a split challenge; under the Ladder (``commitment`` given), a
        ``ladder_release`` of the shown ``values`` and the commitment to the exact ones
        (docs/design.md, "Ladder")."""
        common = {
            "predictions": predictions,
            "labels": labels,
            "request_id": request_id,
            "values": dict(values),
        }
        if commitment is not None:
            entry = ENTRY_TYPES["ladder_release"].make(**common, part=part, commitment=commitment)
        elif part is None:
            entry = ENTRY_TYPES["release"].make(**common)
        else:
            entry = ENTRY_TYPES["part_release"].make(**common, part=part)
        return self.append(entry, key)

    def record_selection(
        self,
        identity: PublicKey,
        sequence: int,
        submissions: list[str],
        signature: bytes,
        time_ms: int,
        key: str | None = None,
    ) -> int:
        """A participant's signed choice of its final submissions (a split challenge)."""
        entry = ENTRY_TYPES["selection"].make(
            identity=identity.hex(),
            sequence=sequence,
            submissions=list(submissions),
            signature=signature.hex(),
            time=time_ms,
        )
        return self.append(entry, key)

    def record_close(self, time_ms: int, key: str | None = None) -> int:
        """The challenge has closed (a split challenge: its private parts may follow)."""
        return self.append(ENTRY_TYPES["close"].make(time=time_ms), key)

    def record_dispute(
        self,
        predictions: str,
        labels: str,
        request_id: str,
        invariant: str,
        reason: str,
        key: str | None = None,
    ) -> int:
        """A score whose combined values broke release invariant ``invariant``: logged in
        place of its release, without the values."""
        entry = ENTRY_TYPES["dispute"].make(
            predictions=predictions,
            labels=labels,
            request_id=request_id,
            invariant=invariant,
            reason=reason,
        )
        return self.append(entry, key)

    def record_liar(
        self, report: LiarReport, partial: PartialDecryption, key: str | None = None
    ) -> int:
        """A trustee named as lying (``threshold/liars.py``): the report, and the answer it
        rests on that no ``partial`` entry holds (for ``two-answers``, the second partial)."""
        entry = ENTRY_TYPES["liar"].make(
            trustee=report.trustee_id,
            request_id=report.request_id,
            finding=report.finding,
            report=self._blob(report.to_bytes()),
            partial=self._blob(partial.to_bytes()),
        )
        return self.append(entry, key)

    # -- heads, proofs, projections ------------------------------------------------------
    def sign_head(self, timestamp_ms: int) -> SignedTreeHead:
        """Sign the current size (once per size: the latest head, if it has this size)."""
        latest = self.store.latest_head()
        if latest is not None and latest.size == self.log.size:
            return latest
        sth = self.log.sign_head(self._key, self.log_id, timestamp_ms)
        self.store.add_tree_head(sth)
        return sth

    def latest_head(self) -> SignedTreeHead | None:
        return self.store.latest_head()

    def receipt(self, index: int) -> Receipt:
        """The receipt of log entry ``index`` under the latest signed tree head."""
        head = self.store.latest_head()
        if head is None:
            raise RuntimeError("the log has no signed head yet")
        return issue_receipt(self.log, self.store.entry(index), index, head)

    def consistency(self, old_size: int) -> tuple[SignedTreeHead, ConsistencyProof]:
        """The latest head and a proof that it extends the head of size ``old_size``."""
        head = self.store.latest_head()
        if head is None:
            raise RuntimeError("the log has no signed head yet")
        path = tuple(self.log.consistency_proof(old_size, head.size))
        return head, ConsistencyProof(old_size, head.size, path)

    def leaderboard(
        self, policy: ReleasePolicy, *, view: View = "all", part: str | None = None
    ) -> list[dict[str, Any]]:
        """The releases ranked (``leaderboard.rank``): every one (the audit bundle's), or
        each participant's best; of one ``part`` of a split challenge, or all."""
        return rank(self.store.leaderboard_rows(), policy, view=view, part=part)

    def export(
        self,
        path: str | Path | BinaryIO,
        policy: ReleasePolicy,
        openings: Iterable[LadderOpening] | None = None,
        *,
        ladder: bool = False,
    ) -> None:
        """Write the audit bundle (layout in the module docstring), entry by entry and blob
        by blob: the log is never held in memory whole, one blob at a time is.

        Under the Ladder (``ladder``, docs/design.md "Ladder") the bundle is public unless
        ``openings`` are given: it leaves out the partials of every round-2 request (they
        combine to the exact values), released or still in progress. The restricted bundle
        (``openings``: every ladder release's exact values and nonce) holds every blob and
        ``ladder.json``."""
        service_key = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        manifest = {
            "format": BUNDLE_FORMAT,
            "version": BUNDLE_VERSION,
            "challenge": self.challenge_id,
            "log_id": self.log_id,
            "service_key": service_key.hex(),
            "tree_heads": [sth.to_json() for sth in self.store.tree_heads()],
        }
        named: set[str] = set()
        partials: dict[str, list[str]] = {}
        withheld: set[str] = set()
        public = ladder and openings is None
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
            zf.writestr("manifest.json", canonical_json(manifest))
            with zf.open("log.jsonl", "w", force_zip64=True) as out:
                for raw in self.store.entries():
                    out.write(raw + b"\n")
                    entry = parse_entry(raw)
                    if entry["type"] == "partial":
                        partials.setdefault(entry["request_id"], []).append(entry["partial"])
                        continue
                    if public and entry["type"] == "request" and entry["round"] == 2:
                        blob = self.store.blob(entry["request"])
                        withheld.add(DecryptionRequest.from_bytes(blob).request_id)
                    named.update(blob_digests(entry))
            for request_id, digests in partials.items():
                if request_id not in withheld:
                    named.update(digests)
            for digest in sorted(named):
                with zf.open(f"blobs/{digest}", "w", force_zip64=True) as out:
                    out.write(self.store.blob(digest))
            zf.writestr("leaderboard.json", canonical_json(self.leaderboard(policy)))
            if openings is not None:
                zf.writestr("ladder.json", canonical_json([o.to_json() for o in openings]))
