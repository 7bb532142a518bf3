"""The job outbox: a job is written in the same transaction as the state that needs it, then
handed to the queue; nothing is lost between the database and the queue.

Why: a job queued after the commit that made it necessary is lost if the process dies in
between, and with Redis down the queueing fails after the state is stored (issue 12: the t-th
contribution was stored, the request got a 500, and its job never ran). So:

* :func:`schedule` adds an ``outbox`` row (``name``, challenge, bundle) in the caller's
  transaction — once per job: a row already waiting is not doubled;
* :func:`dispatch` hands waiting rows to the queue (``jobs.enqueue``: RQ, or the in-process
  runner) and deletes each one handed over; if the queue is unreachable it stops, logs one
  warning, and leaves the rest for later;
* :class:`Sweeper`, run by ``cryptoscore serve`` and by ``cryptoscore worker``, dispatches
  every ``OUTBOX_INTERVAL`` seconds and, every ``REQUEUE_INTERVAL`` seconds, schedules the next
  job of every unfinished bundle again (``jobs.resume_unfinished``), which also covers a job
  lost after it was handed over (an RQ worker killed mid-job, a job that failed for good).

Every job is idempotent (``jobs.py``), so a job handed over twice, or scheduled again while
another copy runs, does its step once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from cryptoscore_server.db import get_session
from cryptoscore_server.models import OutboxJob

__all__ = ["Sweeper", "dispatch", "schedule", "waiting"]


def schedule(session: Session, name: str, challenge_id: str, digest: str) -> None:
    """Write job ``name`` for ``(challenge_id, digest)`` into the caller's transaction (the
    caller commits); a row for the same job already waiting is enough."""
    key = (name, challenge_id, digest)
    pending = {(o.name, o.challenge_id, o.digest) for o in session.new if isinstance(o, OutboxJob)}
    if key in pending:
        return
    exists = session.scalars(
        select(OutboxJob.id)
        .where(OutboxJob.name == name)
        .where(OutboxJob.challenge_id == challenge_id)
        .where(OutboxJob.digest == digest)
    ).first()
    if exists is None:
        session.add(OutboxJob(name=name, challenge_id=challenge_id, digest=digest))


def waiting(app: Flask) -> int:
    """How many jobs wait in the outbox."""
    with app.app_context():
        session = get_session()
        try:
            return len(session.scalars(select(OutboxJob.id)).all())
        finally:
            session.rollback()


def dispatch(app: Flask, enqueue: Callable[[Any, str, str, Flask], None]) -> int:
    """Hand every waiting job to the queue, oldest first; return how many were handed over.
    Stops at the first job the queue refuses (Redis down): those wait for the next call."""
    handed = 0
    with app.app_context():
        session = get_session()
        try:
            rows = session.execute(
                select(
                    OutboxJob.id, OutboxJob.name, OutboxJob.challenge_id, OutboxJob.digest
                ).order_by(OutboxJob.id)
            ).all()
            session.rollback()  # no transaction held open while the queue is called
            for row_id, name, challenge_id, digest in rows:
                try:
                    enqueue(name, challenge_id, digest, app)
                except Exception as exc:  # the queue is unreachable: keep the rest
                    app.logger.warning(
                        "job queue unreachable, %d job(s) wait in the outbox: %s",
                        len(rows) - handed,
                        " ".join(str(exc).split())[:200],
                    )
                    break
                # a concurrent dispatch may have handed it over too (harmless: jobs are
                # idempotent) and deleted it already: a bulk delete does not mind
                session.execute(delete(OutboxJob).where(OutboxJob.id == row_id))
                session.commit()
                handed += 1
        finally:
            session.rollback()
    return handed


class Sweeper:
    """A daemon thread: :func:`dispatch` every ``interval`` seconds, and the unfinished
    bundles' next jobs scheduled again every ``requeue_every`` seconds."""

    def __init__(
        self,
        app: Flask,
        enqueue: Callable[[Any, str, str, Flask], None],
        resume: Callable[[Flask], object],
        *,
        interval: float,
        requeue_every: float,
    ) -> None:
        self.app, self.enqueue, self.resume = app, enqueue, resume
        self.interval, self.requeue_every = interval, requeue_every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="cryptoscore-outbox", daemon=True)

    def start(self) -> Sweeper:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def sweep_once(self, *, requeue: bool) -> int:
        """One sweep (what the thread does each interval); returns the jobs handed over."""
        if requeue:
            self.resume(self.app)
        return dispatch(self.app, self.enqueue)

    def _loop(self) -> None:
        since_requeue = 0.0
        while not self._stop.wait(self.interval):
            since_requeue += self.interval
            requeue = since_requeue >= self.requeue_every
            if requeue:
                since_requeue = 0.0
            try:
                self.sweep_once(requeue=requeue)
            except Exception:  # the database is down: try again next interval
                self.app.logger.exception("outbox sweep failed")
