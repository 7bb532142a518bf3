"""Fault injection for the crash tests: die like ``kill -9`` at a chosen point, once.

Inert unless ``CRYPTOSCORE_FAILPOINTS`` is set (it is never set in a deployment; the crash
tests set it for the server process they start, ``tests/server/test_kill9.py``). The value is
a comma list of job names (``round1_start``, ``round1_finish``, ``round2_start``,
``round2_finish``); ``CRYPTOSCORE_FAILPOINT_DIR`` is a folder that remembers which already
fired, so each fires once across restarts. An armed job does all its work and is killed
(SIGKILL, no cleanup) as it commits: the worst moment, since the computation is lost and the
database must show nothing of it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

__all__ = ["failpoint"]

_NAMES = "CRYPTOSCORE_FAILPOINTS"
_DIR = "CRYPTOSCORE_FAILPOINT_DIR"


@contextmanager
def failpoint(name: str, session: Session) -> Iterator[None]:
    """Around job ``name``: if it is armed and has not fired yet, kill this process when
    ``session`` commits inside the block.

    It counts as fired only when it kills (the marker is written just before): a job that
    commits nothing (its step was not ready, or ran already) leaves it armed for the job's
    next run, and nothing of it outlives the block, so it never kills another job's commit.
    """
    armed = os.environ.get(_NAMES)
    marker = Path(os.environ.get(_DIR, ".")) / f"failpoint-{name}"
    if not armed or name not in armed.split(",") or marker.exists():
        yield
        return

    def die(_session: Session) -> None:
        marker.touch()  # once: a restarted server runs the job to the end
        os.kill(os.getpid(), signal.SIGKILL)

    event.listen(session, "before_commit", die)
    try:
        yield
    finally:
        if event.contains(session, "before_commit", die):
            event.remove(session, "before_commit", die)
