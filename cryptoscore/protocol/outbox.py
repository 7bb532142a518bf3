"""A trustee's outbox: every answer it produced, kept on disk until the service has it.

Why (crash safety). The journal (``threshold/journal.PartialJournal``) spends a lineage slot before
the share is read, so an answer lost in transit — the server killed, or the connection
dropped, while the trustee posts it — could never be given again, and its request would stay
one answer short for good. So the trustee writes each answer's exact bytes here, synced
before they leave, and when the task comes back it re-sends those same bytes instead of
answering again; once the service has acknowledged them, they are removed.

Re-sending is not a new answer: the bytes are identical (the record, and its Ed25519
signature, which is deterministic), so they reveal nothing the first sending did not, and the
lineage budget (``threshold/lineage.py``) is untouched. What is kept is what the service
receives anyway
(partials; pad shares are encrypted to their submitter), so the outbox holds no secret; it is
private to the trustee (mode 0700) all the same.

Not covered: a crash between the journal's claim and the write here (the answer is computed
in between, milliseconds) loses that answer as before; the request must then be re-submitted.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptoscore.durable import fsync_dir

__all__ = ["Outbox"]


class Outbox:
    """A directory of answers by key (``partial:<request id>``, ``pad:<request digest>``)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.directory / hashlib.sha256(key.encode()).hexdigest()

    def put(self, key: str, data: bytes) -> None:
        """Keep ``data`` under ``key``: written to a temporary file, synced, renamed, the
        directory synced — after a crash it is there whole, or not at all."""
        path = self._path(key)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        fsync_dir(self.directory)

    def get(self, key: str) -> bytes | None:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None

    def remove(self, key: str) -> None:
        """The service has it: forget it (idempotent)."""
        self._path(key).unlink(missing_ok=True)

    def __len__(self) -> int:
        return sum(1 for p in self.directory.iterdir() if p.suffix != ".tmp")
