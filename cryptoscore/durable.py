"""Durable writes: a file written, synced and renamed into place is only durable once its
directory entry is synced too (POSIX ``fsync`` on the directory). Used by the trustee's
journal and outbox, and by the service's blob store."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["fsync_dir"]


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Sync the directory ``path`` (after a file in it was created, renamed or removed)."""
    fd = os.open(Path(path), os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
