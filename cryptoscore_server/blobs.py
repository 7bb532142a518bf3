"""Content-addressed blob store: every key, record and ciphertext the service keeps, on disk.

Layout under ``<DATA_DIR>/blobs``::

    ab/cd/abcdef...   the blob whose SHA-256 (hex) is abcdef...; two fan-out levels keep
                      directories small (65,536 leaf folders)
    .tmp/             files being written; never read as blobs

Guarantees:

* **Atomic**: a blob appears under its name complete or not at all. It is written to a temp
  file on the same file system, flushed and fsynced, renamed into place, and the directory is
  fsynced so the rename survives a power cut.
* **Idempotent**: the same bytes always get the same name and one file; storing them again is
  a no-op that reports ``created=False``.
* **Bounded**: :meth:`BlobStore.put` reads a stream in chunks and stops at ``max_bytes``; an
  oversized stream raises :class:`BlobTooLarge` and leaves nothing behind.

The store is plain files and knows nothing about the database; :func:`record_blob` adds the
matching ``blobs`` row. Blobs are never modified; deletion exists only to undo a write whose
database transaction failed (:meth:`BlobStore.discard`).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any, BinaryIO

from flask import Flask, Response, current_app, send_file
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from cryptoscore.durable import fsync_dir
from cryptoscore_server.models import Blob, utcnow
from cryptoscore_server.problems import Problem

__all__ = [
    "BlobError",
    "BlobStore",
    "BlobTooLarge",
    "StoredBlob",
    "get_blob_store",
    "init_app",
    "record_blob",
    "send_blob",
]

_CHUNK = 1 << 20
_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_TMP = ".tmp"
_EXTENSION = "cryptoscore.blobs"


class BlobError(Exception):
    """A blob name that is not a SHA-256 hex digest, or a blob that is not in the store."""


class BlobTooLarge(BlobError):
    """The stream was longer than the size limit (nothing was stored)."""


@dataclass(frozen=True, slots=True)
class StoredBlob:
    sha256: str
    size: int
    created: bool
    """True if this call wrote the file, False if the store already held these bytes."""


class BlobStore:
    """Blobs under ``root``; safe for concurrent writers in several threads and processes."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._tmp = self.root / _TMP
        self._tmp.mkdir(parents=True, exist_ok=True)

    # -- names ---------------------------------------------------------------------------
    def path(self, sha256: str) -> Path:
        """Where the blob named ``sha256`` lives (whether or not it exists)."""
        if not isinstance(sha256, str) or not _DIGEST.match(sha256):
            raise BlobError("a blob name is a lower-case SHA-256 hex digest")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    # -- reading -------------------------------------------------------------------------
    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def open(self, sha256: str) -> BinaryIO:
        """Open the blob for reading (binary); the caller closes it."""
        try:
            return self.path(sha256).open("rb")
        except FileNotFoundError:
            raise BlobError(f"blob {sha256} is not in the store") from None

    def read(self, sha256: str) -> bytes:
        with self.open(sha256) as fh:
            return fh.read()

    def size(self, sha256: str) -> int:
        try:
            return self.path(sha256).stat().st_size
        except FileNotFoundError:
            raise BlobError(f"blob {sha256} is not in the store") from None

    def __iter__(self) -> Iterator[str]:
        """Names of every stored blob (for audits and tests; walks the whole tree)."""
        for first in sorted(self.root.glob("[0-9a-f][0-9a-f]")):
            for leaf in sorted(first.glob("[0-9a-f][0-9a-f]/*")):
                if _DIGEST.match(leaf.name):
                    yield leaf.name

    # -- writing -------------------------------------------------------------------------
    def put(self, source: BinaryIO, max_bytes: int | None = None) -> StoredBlob:
        """Store everything ``source`` yields (read in 1 MiB chunks, at most ``max_bytes``)."""
        fd, tmp_name = tempfile.mkstemp(dir=self._tmp, prefix="put-")
        tmp = Path(tmp_name)
        try:
            digest = hashlib.sha256()
            size = 0
            with os.fdopen(fd, "wb") as out:
                while chunk := source.read(_CHUNK):
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise BlobTooLarge(f"blob is larger than the limit of {max_bytes} bytes")
                    digest.update(chunk)
                    out.write(chunk)
                out.flush()
                os.fsync(out.fileno())
            name = digest.hexdigest()
            final = self.path(name)
            if final.exists():
                return StoredBlob(name, size, created=False)
            self._make_parents(final)
            # rename is atomic within one file system; a concurrent writer of the same bytes
            # renames an identical file over ours, which is harmless
            os.replace(tmp, final)
            fsync_dir(final.parent)
            return StoredBlob(name, size, created=True)
        finally:
            with suppress(FileNotFoundError):
                tmp.unlink()

    def put_bytes(self, data: bytes) -> StoredBlob:
        return self.put(BytesIO(data))

    def _make_parents(self, final: Path) -> None:
        # fsync every directory we create, from the top, so the new entries are durable too
        for directory in (final.parent.parent, final.parent):
            if not directory.is_dir():
                with suppress(FileExistsError):
                    directory.mkdir()
                fsync_dir(directory.parent)

    def discard(self, sha256: str) -> None:
        """Remove a blob this process just created and no database row names (undo only)."""
        with suppress(FileNotFoundError):
            self.path(sha256).unlink()

    def sweep_temp(self, older_than_seconds: float = 24 * 3600) -> int:
        """Delete temp files a crashed writer left behind; returns how many were removed."""
        limit = time.time() - older_than_seconds
        removed = 0
        for leftover in self._tmp.iterdir():
            with suppress(FileNotFoundError):
                if leftover.stat().st_mtime < limit:
                    leftover.unlink()
                    removed += 1
        return removed


def init_app(app: Flask) -> None:
    """Open the store under ``<DATA_DIR>/blobs`` and clear temp files older than a day."""
    store = BlobStore(Path(app.config["DATA_DIR"]) / "blobs")
    store.sweep_temp()
    app.extensions[_EXTENSION] = store


def get_blob_store() -> BlobStore:
    """The current application's blob store."""
    store: BlobStore = current_app.extensions[_EXTENSION]
    return store


def record_blob(session: Session, stored: StoredBlob) -> None:
    """Insert the ``blobs`` row for ``stored`` unless it exists (safe under concurrency).

    ``INSERT ... ON CONFLICT DO NOTHING``: two requests storing the same bytes at once both
    succeed, where a look-up followed by an insert would fail one of them on the primary key.
    """
    values = {"sha256": stored.sha256, "size": stored.size, "created_at": utcnow()}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        statement: Any = postgresql_insert(Blob).values(**values)
    elif dialect == "sqlite":
        statement = sqlite_insert(Blob).values(**values)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        if session.get(Blob, stored.sha256) is None:
            session.add(Blob(**values))
            session.flush()
        return
    session.execute(statement.on_conflict_do_nothing(index_elements=["sha256"]))


def send_blob(
    sha256: str, download_name: str, *, etag: str | None = None, what: str = "file"
) -> Response:
    """The blob as an octet-stream download, conditional on its ETag (``etag``, default its
    name). A blob a row names but the store lost is the operator's problem: 500, logged."""
    path = get_blob_store().path(sha256)
    if not path.is_file():
        current_app.logger.error("blob %s named in the database is missing", sha256)
        raise Problem(500, f"A stored {what} is missing.")
    return send_file(
        path,
        mimetype="application/octet-stream",
        as_attachment=True,
        download_name=download_name,
        etag=etag or sha256,
        conditional=True,
    )
