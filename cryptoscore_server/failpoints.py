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
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session

__all__ = ["arm_for_job"]

_NAMES = "CRYPTOSCORE_FAILPOINTS"
_DIR = "CRYPTOSCORE_FAILPOINT_DIR"


def arm_for_job(name: str, session: Session) -> None:
    """If job ``name`` is armed and has not fired yet: mark it fired, and kill this process
    when ``session`` next commits."""
    armed = os.environ.get(_NAMES)
    if not armed or name not in armed.split(","):
        return
    marker = Path(os.environ.get(_DIR, ".")) / f"failpoint-{name}"
    try:
        marker.touch(exist_ok=False)  # once: a restarted server runs the job to the end
    except FileExistsError:
        return

    def die(_session: Session) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    event.listen(session, "before_commit", die, once=True)
