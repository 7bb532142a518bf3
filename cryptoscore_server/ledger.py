"""Each challenge's public record, persisted: the service's log key, log entries, tree heads.

The library's :class:`cryptoscore.transparency.transcript.Transcript` keeps its record in a
``TranscriptStore``; :class:`SqlTranscriptStore` is the database's, so the persisted log is
byte for byte what ``cryptoscore.local.LocalChallenge`` writes in memory. Every write is an
append: an entry with the Merkle nodes it completes (``log_nodes``), a blob, a signed head.
Signing a head, a receipt and a consistency proof read O(log size) rows; nothing rebuilds the
tree, so an upload costs the same at 100 entries as at 100,000.

* The **log key** (Ed25519) is generated once, written to ``<DATA_DIR>/log_key.pem`` (mode
  0600, created exclusively so concurrent processes agree on one key) and reused afterwards.
* Every append goes through :func:`append_event`, keyed by an event name unique per challenge
  (``bundle:<digest>``, ``request:<id>``, ...): appending an event that is already logged
  returns its index, so a retried job never logs twice (and a unique constraint backs this).
* Writers of one challenge's log are serialized by :func:`challenge_lock` (a process-wide lock
  plus ``SELECT ... FOR UPDATE`` on the challenge row on PostgreSQL).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, current_app
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.rules import ChallengeRules
from cryptoscore.scoring.keys import EvaluationKeys, PublicContext
from cryptoscore.scoring.policy import ReleasePolicy
from cryptoscore.threshold.ceremony import CeremonyRecord
from cryptoscore.transparency.entries import parse_entry
from cryptoscore.transparency.leaderboard import LeaderboardRow
from cryptoscore.transparency.log import SignedTreeHead
from cryptoscore.transparency.receipts import Receipt
from cryptoscore.transparency.transcript import Transcript
from cryptoscore_server.blobs import BlobStore, StoredBlob, get_blob_store, record_blob
from cryptoscore_server.models import (
    Challenge,
    FinalSelection,
    LogEntry,
    LogNode,
    PadRequestRow,
    TreeHead,
    UploadedBundle,
)

__all__ = [
    "SqlNodes",
    "SqlTranscriptStore",
    "append_event",
    "challenge_context",
    "challenge_lock",
    "latest_head",
    "log_id",
    "log_key",
    "log_public_hex",
    "log_time_ms",
    "receipt_for",
    "sign_head",
    "transcript",
]

_KEY_FILE = "log_key.pem"
_KEY_EXT = "cryptoscore.log_key"
_CONTEXT_EXT = "cryptoscore.contexts"
_CONTEXT_CACHE_SIZE = 4
_LOCK = threading.RLock()


# -- the log key ------------------------------------------------------------------------------
def load_or_create_key(data_dir: Path) -> Ed25519PrivateKey:
    """The service's Ed25519 log key under ``data_dir`` (created 0600 on first use)."""
    path = data_dir / _KEY_FILE
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
            out.flush()
            os.fsync(out.fileno())
    for _ in range(50):  # another process may be writing it right now
        raw = path.read_bytes()
        if raw:
            break
        time.sleep(0.01)
    key = serialization.load_pem_private_key(raw, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise RuntimeError(f"{path} is not an Ed25519 private key")
    return key


def log_key(app: Flask | None = None) -> Ed25519PrivateKey:
    """This application's log key (loaded once)."""
    app = app or current_app
    key: Ed25519PrivateKey | None = app.extensions.get(_KEY_EXT)
    if key is None:
        key = app.extensions[_KEY_EXT] = load_or_create_key(Path(app.config["DATA_DIR"]))
    return key


def log_public_hex(app: Flask | None = None) -> str:
    raw = (
        log_key(app)
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    return raw.hex()


def log_id(challenge_id: str) -> str:
    """The log id signed into every tree head (as ``LocalChallenge`` names it)."""
    return f"cryptoscore/{challenge_id}"


# -- challenge contexts -----------------------------------------------------------------------
def challenge_context(
    row: Challenge, store: BlobStore, app: Flask | None = None
) -> ChallengeContext:
    """The library's :class:`ChallengeContext` for ``row`` (parsed once, a few kept cached)."""
    app = app or current_app
    cache: OrderedDict[tuple[str, str], ChallengeContext] = app.extensions.setdefault(
        _CONTEXT_EXT, OrderedDict()
    )
    key = (row.id, row.evaluation_keys_hash)
    with _LOCK:
        found = cache.get(key)
        if found is not None:
            cache.move_to_end(key)
            return found
    context = ChallengeContext(
        row.id,
        CeremonyRecord.from_bytes(store.read(row.ceremony_record_hash)),
        PublicContext.from_bytes(store.read(row.public_context_hash)),
        EvaluationKeys.from_bytes(store.read(row.evaluation_keys_hash)),
        ReleasePolicy.from_json(row.policy),
        row.n_items,
        None if row.rules is None else ChallengeRules.from_json(row.rules),
    )
    with _LOCK:
        cache[key] = context
        while len(cache) > _CONTEXT_CACHE_SIZE:
            cache.popitem(last=False)
    return context


# -- serialized writers -----------------------------------------------------------------------
@contextmanager
def challenge_lock(session: Session, challenge_id: str) -> Iterator[Challenge]:
    """Serialize writers of one challenge's log; yields the (locked) challenge row.

    The caller commits inside the block; leaving it without committing rolls back.
    """
    with _LOCK:
        try:
            row = session.scalars(
                select(Challenge).where(Challenge.id == challenge_id).with_for_update()
            ).one()
            yield row
        finally:
            session.rollback()


# -- the record, kept in the database ---------------------------------------------------------
class SqlNodes:
    """The challenge's Merkle tree nodes in ``log_nodes`` (a ``NodeStore``)."""

    def __init__(self, session: Session, challenge_id: str) -> None:
        self._session = session
        self._challenge_id = challenge_id
        self._leaves: int | None = None
        self._cache: dict[tuple[int, int], bytes] = {}

    def leaf_count(self) -> int:
        if self._leaves is None:
            last = self._session.scalar(
                select(func.max(LogNode.position)).where(
                    LogNode.challenge_id == self._challenge_id, LogNode.level == 0
                )
            )
            self._leaves = 0 if last is None else int(last) + 1
        return self._leaves

    def node(self, level: int, position: int) -> bytes:
        found = self._cache.get((level, position))
        if found is not None:
            return found
        row = self._session.get(LogNode, (self._challenge_id, level, position))
        if row is None:
            raise RuntimeError(f"the log of {self._challenge_id!r} lacks node {level}/{position}")
        self._cache[(level, position)] = row.hash
        return row.hash

    def prefetch(self, keys: Sequence[tuple[int, int]]) -> None:
        """Read the nodes a root or proof is about to need in one query."""
        missing = sorted(set(keys) - set(self._cache))
        if not missing:
            return
        cid = self._challenge_id
        rows = self._session.execute(
            select(LogNode.level, LogNode.position, LogNode.hash).where(
                # an OR of whole primary-key lookups, so that each uses the index (SQLite scans
                # the challenge's nodes for a row-value IN or a shared challenge_id term)
                or_(
                    *(
                        and_(
                            LogNode.challenge_id == cid,
                            LogNode.level == lv,
                            LogNode.position == p,
                        )
                        for lv, p in missing
                    )
                )
            )
        )
        for level, position, h in rows:
            self._cache[(level, position)] = h

    def add_nodes(self, nodes: Sequence[tuple[int, int, bytes]]) -> None:
        self._session.add_all(
            LogNode(challenge_id=self._challenge_id, level=level, position=position, hash=h)
            for level, position, h in nodes
        )
        self._session.flush()
        self._cache.update(((level, position), h) for level, position, h in nodes)
        self._leaves = self.leaf_count() + 1


class SqlTranscriptStore:
    """One challenge's record in the database (a ``TranscriptStore``): entries in
    ``log_entries`` (keyed by event), tree nodes in ``log_nodes``, blobs in the blob store,
    signed heads in ``tree_heads``; the leaderboard's rows are the released bundles, each
    marked with its release entry's index when that entry is appended. ``written`` collects
    the blobs written, so a request that fails can undo the ones it created."""

    def __init__(
        self,
        session: Session,
        store: BlobStore,
        challenge_id: str,
        written: list[StoredBlob] | None = None,
    ) -> None:
        self._session = session
        self._store = store
        self._challenge_id = challenge_id
        self._nodes = SqlNodes(session, challenge_id)
        self._written = written

    @property
    def nodes(self) -> SqlNodes:
        return self._nodes

    def index_of(self, key: str) -> int | None:
        return self._session.scalars(
            select(LogEntry.index).where(
                LogEntry.challenge_id == self._challenge_id, LogEntry.key == key
            )
        ).one_or_none()

    def append_entry(self, raw: bytes, key: str) -> int:
        index = self._nodes.leaf_count()
        self._session.add(
            LogEntry(challenge_id=self._challenge_id, index=index, key=key, entry=raw)
        )
        entry = json.loads(raw)
        kind = entry.get("type")
        if kind in ("release", "part_release", "ladder_release"):
            row = self._session.get(UploadedBundle, (self._challenge_id, entry["predictions"]))
            if row is not None and entry.get("part") == "private":
                row.private_released_index = index
            elif row is not None:
                row.released_index = index
        self._session.flush()
        return index

    def entry(self, index: int) -> bytes:
        row = self._session.get(LogEntry, (self._challenge_id, index))
        if row is None:
            raise RuntimeError(f"the log of {self._challenge_id!r} has no entry {index}")
        return row.entry

    def entries(self) -> Iterator[bytes]:
        rows = self._session.scalars(
            select(LogEntry.entry)
            .where(LogEntry.challenge_id == self._challenge_id)
            .order_by(LogEntry.index)
            .execution_options(yield_per=1000)
        )
        yield from rows

    def put_blob(self, data: bytes) -> str:
        stored = self._store.put_bytes(data)
        record_blob(self._session, stored)
        if self._written is not None:
            self._written.append(stored)
        return stored.sha256

    def blob(self, digest: str) -> bytes:
        return self._store.read(digest)

    def add_tree_head(self, sth: SignedTreeHead) -> None:
        self._session.add(
            TreeHead(challenge_id=self._challenge_id, size=sth.size, sth=sth.to_json())
        )
        self._session.flush()

    def tree_heads(self) -> list[SignedTreeHead]:
        rows = self._session.scalars(
            select(TreeHead.sth)
            .where(TreeHead.challenge_id == self._challenge_id)
            .order_by(TreeHead.size)
        )
        return [SignedTreeHead.from_json(sth) for sth in rows]

    def latest_head(self) -> SignedTreeHead | None:
        return latest_head(self._session, self._challenge_id)

    def leaderboard_rows(self) -> list[LeaderboardRow]:
        challenge = self._session.get(Challenge, self._challenge_id)
        split = challenge is not None and bool((challenge.rules or {}).get("split"))
        rows = self._session.execute(
            select(
                UploadedBundle.owner,
                UploadedBundle.digest,
                UploadedBundle.values,
                UploadedBundle.released_index,
                UploadedBundle.private_values,
                UploadedBundle.private_released_index,
                UploadedBundle.shown,
            ).where(
                UploadedBundle.challenge_id == self._challenge_id,
                UploadedBundle.released_index.is_not(None)
                | UploadedBundle.private_released_index.is_not(None),
            )
        )
        out: list[LeaderboardRow] = []
        for owner, digest, values, index, private_values, private_index, shown in rows:
            if index is not None:  # a split's public part, or every item without a split
                part = "public" if split else None
                # under the Ladder the row is its ladder_release: the shown values
                out.append(
                    LeaderboardRow(
                        owner, digest, shown or values or {}, int(index), part, shown is not None
                    )
                )
            if private_index is not None:
                out.append(
                    LeaderboardRow(
                        owner, digest, private_values or {}, int(private_index), "private"
                    )
                )
        return out


def transcript(
    session: Session,
    store: BlobStore,
    challenge_id: str,
    written: list[StoredBlob] | None = None,
) -> Transcript:
    """The challenge's record as a library ``Transcript`` over the database."""
    return Transcript(
        challenge_id,
        log_key(),
        log_id(challenge_id),
        SqlTranscriptStore(session, store, challenge_id, written),
    )


# -- appending --------------------------------------------------------------------------------
def append_event(
    session: Session,
    store: BlobStore,
    challenge_id: str,
    key: str,
    record: Callable[[Transcript, str], int],
    written: list[StoredBlob] | None = None,
) -> int:
    """Log one event (idempotent by ``key``); return its index. Call under the lock.

    ``record(transcript, key)`` is a ``Transcript.record_*`` call; the entry, its tree nodes
    and every blob it names go to the database and the blob store in the caller's
    transaction (``written`` collects the blob writes, so a failed request can undo them).
    """
    record_of = transcript(session, store, challenge_id, written)
    existing = record_of.store.index_of(key)
    if existing is not None:
        return existing
    return record(record_of, key)


def named_liars(session: Session, challenge_id: str) -> set[str]:
    """The trustees a ``liar`` entry of ``challenge_id``'s log names (logged under the key
    ``liar:<report digest>``, ``routes/trustee_tasks.py``)."""
    rows = session.scalars(
        select(LogEntry.entry)
        .where(LogEntry.challenge_id == challenge_id)
        .where(LogEntry.key.startswith("liar:"))
    )
    return {str(parse_entry(raw)["trustee"]) for raw in rows}


def latest_head(session: Session, challenge_id: str) -> SignedTreeHead | None:
    sth = session.scalars(
        select(TreeHead.sth)
        .where(TreeHead.challenge_id == challenge_id)
        .order_by(TreeHead.size.desc())
        .limit(1)
    ).one_or_none()
    return None if sth is None else SignedTreeHead.from_json(sth)


def log_time_ms(session: Session, challenge_id: str) -> int:
    """The ``time`` for the next timed entry of ``challenge_id``'s log (call under the lock):
    the clock, but never before an entry already logged, so the log's times never decrease
    (followers refuse a log whose times do, ``transparency/replica.py``)."""
    last = max(
        session.scalar(
            select(func.max(PadRequestRow.logged_ms)).where(
                PadRequestRow.challenge_id == challenge_id
            )
        )
        or 0,
        session.scalar(
            select(func.max(UploadedBundle.logged_ms)).where(
                UploadedBundle.challenge_id == challenge_id
            )
        )
        or 0,
        session.scalar(
            select(func.max(FinalSelection.logged_ms)).where(
                FinalSelection.challenge_id == challenge_id
            )
        )
        or 0,
        session.scalar(select(Challenge.closed_ms).where(Challenge.id == challenge_id)) or 0,
    )
    return max(time.time_ns() // 1_000_000, last)


def sign_head(session: Session, challenge_id: str) -> SignedTreeHead:
    """Sign the log's current size (once per size); call under the lock, then commit. The
    timestamp is never before an entry it covers."""
    record = transcript(session, get_blob_store(), challenge_id)
    return record.sign_head(log_time_ms(session, challenge_id))


def receipt_for(session: Session, store: BlobStore, challenge_id: str, index: int) -> Receipt:
    """The receipt of entry ``index`` under the latest signed head."""
    return transcript(session, store, challenge_id).receipt(index)
