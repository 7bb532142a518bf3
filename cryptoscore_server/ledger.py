"""Each challenge's public record, persisted: the service's log key, log entries, tree heads.

The library's :class:`cryptoscore.transparency.transcript.Transcript` is an in-memory log; the
service keeps the same log in the database. Entries are formatted by the library (a scratch
``Transcript`` records the event and the service stores the entry bytes it produced, and the blobs
it names, unchanged), so the persisted log is byte for byte what
``cryptoscore.local.LocalChallenge`` would write. :func:`transcript` rebuilds a full ``Transcript``
(Merkle log from the stored entries, blobs from the store, signed heads) for receipts, consistency
proofs and the audit bundle.

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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.scoring.keys import EvaluationKeys, PublicContext
from cryptoscore.scoring.policy import ReleasePolicy
from cryptoscore.threshold.ceremony import CeremonyRecord
from cryptoscore.transparency.log import SignedTreeHead
from cryptoscore.transparency.receipts import Receipt
from cryptoscore.transparency.transcript import Transcript
from cryptoscore_server.blobs import BlobStore, StoredBlob, record_blob
from cryptoscore_server.models import Challenge, LogEntry, TreeHead

__all__ = [
    "BLOB_KEYS",
    "append_event",
    "challenge_context",
    "challenge_lock",
    "latest_head",
    "log_id",
    "log_key",
    "log_public_hex",
    "receipt_for",
    "sign_head",
    "transcript",
]

_KEY_FILE = "log_key.pem"
_KEY_EXT = "cryptoscore.log_key"
_CONTEXT_EXT = "cryptoscore.contexts"
_CONTEXT_CACHE_SIZE = 4
#: Log entry fields that name a blob (what the audit bundle must carry).
BLOB_KEYS = ("record", "public", "evaluation", "definition", "bundle", "request", "partial")
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


# -- appending --------------------------------------------------------------------------------
def append_event(
    session: Session,
    store: BlobStore,
    challenge_id: str,
    key: str,
    record: Callable[[Transcript], Any],
    written: list[StoredBlob] | None = None,
) -> int:
    """Log one event (idempotent by ``key``); return its index. Call under the lock.

    ``record`` is a ``Transcript.record_*`` call on a scratch transcript; the entry it formats
    is stored as is, and every blob it names is written to the store (and the ``blobs`` table);
    ``written`` collects those writes, so a failed request can undo the ones it created.
    """
    existing = session.scalars(
        select(LogEntry.index).where(LogEntry.challenge_id == challenge_id, LogEntry.key == key)
    ).one_or_none()
    if existing is not None:
        return existing
    scratch = Transcript(challenge_id, log_key(), log_id(challenge_id))
    record(scratch)
    for data in scratch.blobs.values():
        stored = store.put_bytes(data)
        record_blob(session, stored)
        if written is not None:
            written.append(stored)
    size = session.scalar(
        select(func.count()).select_from(LogEntry).where(LogEntry.challenge_id == challenge_id)
    )
    index = int(size or 0)
    session.add(
        LogEntry(challenge_id=challenge_id, index=index, key=key, entry=scratch.entries[-1])
    )
    session.flush()
    return index


def _entries(session: Session, challenge_id: str) -> list[bytes]:
    return list(
        session.scalars(
            select(LogEntry.entry)
            .where(LogEntry.challenge_id == challenge_id)
            .order_by(LogEntry.index)
        )
    )


def _heads(session: Session, challenge_id: str) -> list[SignedTreeHead]:
    rows = session.scalars(
        select(TreeHead.sth).where(TreeHead.challenge_id == challenge_id).order_by(TreeHead.size)
    )
    return [SignedTreeHead.from_json(sth) for sth in rows]


def latest_head(session: Session, challenge_id: str) -> SignedTreeHead | None:
    sth = session.scalars(
        select(TreeHead.sth)
        .where(TreeHead.challenge_id == challenge_id)
        .order_by(TreeHead.size.desc())
        .limit(1)
    ).one_or_none()
    return None if sth is None else SignedTreeHead.from_json(sth)


def sign_head(session: Session, challenge_id: str) -> SignedTreeHead:
    """Sign the log's current size (once per size); call under the lock, then commit."""
    head = latest_head(session, challenge_id)
    scratch = Transcript(challenge_id, log_key(), log_id(challenge_id))
    for raw in _entries(session, challenge_id):
        scratch.entries.append(raw)
        scratch.log.append(raw)
    if head is not None and head.size == scratch.log.size:
        return head
    sth = scratch.sign_head(time.time_ns() // 1_000_000)
    session.add(TreeHead(challenge_id=challenge_id, size=sth.size, sth=sth.to_json()))
    session.flush()
    return sth


# -- reading ----------------------------------------------------------------------------------
def transcript(
    session: Session, store: BlobStore, challenge_id: str, *, with_blobs: bool = False
) -> Transcript:
    """The challenge's record as a library ``Transcript`` (blobs loaded only if asked)."""
    out = Transcript(challenge_id, log_key(), log_id(challenge_id))
    for raw in _entries(session, challenge_id):
        out.entries.append(raw)
        out.log.append(raw)
        if with_blobs:
            entry = json.loads(raw)
            for field in BLOB_KEYS:
                digest = entry.get(field)
                if entry.get("type") == "round1" or not isinstance(digest, str):
                    continue
                if digest not in out.blobs:
                    out.blobs[digest] = store.read(digest)
    out.tree_heads.extend(_heads(session, challenge_id))
    return out


def receipt_for(session: Session, store: BlobStore, challenge_id: str, index: int) -> Receipt:
    """The receipt of entry ``index`` under the latest signed head."""
    return transcript(session, store, challenge_id).receipt(index)
