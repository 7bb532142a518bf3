"""The release's steps as jobs, and the runners that execute them.

The steps are the protocol driver's (``cryptoscore/protocol/driver.py``, the one place that
says what each step computes, stores and leads to): ``round1_start``, ``round1_finish``,
``round2_start``, ``round2_finish`` and, for a split challenge's final submissions after the
close, ``private_start`` and ``private_finish``, each ``(challenge id, bundle digest)``. A job
runs its step over the database (``release_ledger.py``: the state machines restored from the stored
records, written back under the challenge's lock) and queues the steps that follow.

Idempotent: a step first checks the bundle's state and does nothing if its work is done; the
heavy computation runs outside the challenge lock, and the state is re-checked under the lock
before anything is written; log entries are keyed by event and requests have primary keys, so
a job that crashed and is retried, or runs twice, never duplicates a log entry, a request or a
release.

Queueing goes through the outbox (``job_outbox.py``): a job is written in the transaction of
the state that needs it and handed to the queue after the commit, so a crash or a Redis outage
in between loses nothing; the sweep schedules every unfinished bundle's next job again now and
then, for jobs lost after they were handed over.

Runners: by default an in-process worker thread consumes a queue (HTTP requests return at
once; :func:`drain` waits for, or with ``JOB_THREAD=False`` runs, everything queued). With
``REDIS_URL`` set, jobs go to the RQ queue ``RQ_QUEUE`` (default ``cryptoscore``), consumed
by :func:`cryptoscore_server.worker.main` (``cryptoscore worker``).
"""

from __future__ import annotations

import queue
import threading
from typing import get_args

from flask import Flask, current_app
from sqlalchemy import select

from cryptoscore.protocol.driver import (
    NEXT_STEP,
    PRIVATE_NEXT_STEP,
    ReleaseDriver,
    Step,
    StepName,
)
from cryptoscore.protocol.release import ReleaseState
from cryptoscore_server.blobs import get_blob_store
from cryptoscore_server.db import get_session
from cryptoscore_server.failpoints import failpoint
from cryptoscore_server.job_outbox import dispatch, schedule
from cryptoscore_server.ledger import challenge_context
from cryptoscore_server.logs import job_run
from cryptoscore_server.models import Challenge, UploadedBundle
from cryptoscore_server.release_ledger import SqlReleaseLedger

__all__ = [
    "JOBS",
    "InProcessRunner",
    "JobName",
    "drain",
    "enqueue",
    "resume_unfinished",
    "run_job",
    "run_step",
    "schedule_unfinished",
]

JobName = StepName
_RUNNER_EXT = "cryptoscore.jobs"
_ATTEMPTS = 3
_RETRY_BACKOFF = (5, 30)
"""Seconds before an RQ job's second and third attempts."""
DEFAULT_QUEUE = "cryptoscore"
RQ_ENTRY_POINT = "cryptoscore_server.worker.rq_run"
"""What an RQ job calls, by name: the worker module builds the application the job runs in
(named, not imported, so that this module does not depend on the application factory)."""


# -- the jobs: the driver's steps over the database ----------------------------------------------
JOBS: tuple[JobName, ...] = get_args(JobName)


def job_name(name: str) -> JobName:
    """``name`` as a job's name (it comes from a queue); ValueError if there is no such job."""
    for job in JOBS:
        if job == name:
            return job
    raise ValueError(f"no job {name!r}")


def run_step(name: JobName, challenge_id: str, digest: str) -> list[Step]:
    """Run step ``name`` of bundle ``digest`` (``cryptoscore/protocol/driver.py``) over the
    database; return the steps that follow."""
    session, store = get_session(), get_blob_store()
    challenge = session.get(Challenge, challenge_id)
    if challenge is None:
        return []
    ledger = SqlReleaseLedger(session, store, challenge_context(challenge, store))
    return ReleaseDriver(ledger).run(name, digest)


def run_job(name: str, challenge_id: str, digest: str) -> None:
    """Run one job (inside an application context) and queue the jobs it leads to, through
    the outbox (``job_outbox.py``). A crash between the job's commit and this is covered by
    the sweep of unfinished work (:func:`schedule_unfinished`)."""
    step = job_name(name)
    try:
        with failpoint(step, get_session()):  # inert unless a crash test armed it
            follow_ups = run_step(step, challenge_id, digest)
    finally:
        session = get_session()
        session.rollback()
    if follow_ups:
        for next_name, next_digest in follow_ups:
            schedule(session, next_name, challenge_id, next_digest)
        session.commit()
        dispatch(current_app._get_current_object(), enqueue)  # type: ignore[attr-defined]


# -- runners -----------------------------------------------------------------------------------
class InProcessRunner:
    """A queue consumed by one background thread (started on first use) of this process."""

    def __init__(self, app: Flask, thread: bool = True) -> None:
        self.app = app
        self.thread_enabled = thread
        self.queue: queue.Queue[tuple[str, str, str]] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self.failures: list[tuple[tuple[str, str, str], BaseException]] = []

    def submit(self, job: tuple[str, str, str]) -> None:
        self.queue.put(job)
        if self.thread_enabled:
            with self._start_lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._loop, name="cryptoscore-jobs", daemon=True
                    )
                    self._thread.start()

    def _run(self, job: tuple[str, str, str]) -> None:
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                with self.app.app_context(), job_run(self.app, *job, attempt=attempt):
                    run_job(*job)
                return
            except Exception as exc:
                self.app.logger.exception("job %s failed (attempt %d)", job, attempt)
                if attempt == _ATTEMPTS:
                    self.failures.append((job, exc))

    def _loop(self) -> None:
        while True:
            job = self.queue.get()
            try:
                self._run(job)
            finally:
                self.queue.task_done()

    def drain(self) -> None:
        """Wait until every queued job (and every job they queue) has run."""
        if self.thread_enabled:
            self.queue.join()
            return
        while True:
            try:
                job = self.queue.get_nowait()
            except queue.Empty:
                return
            try:
                self._run(job)
            finally:
                self.queue.task_done()


def _runner(app: Flask) -> InProcessRunner:
    runner: InProcessRunner | None = app.extensions.get(_RUNNER_EXT)
    if runner is None:
        runner = app.extensions.setdefault(
            _RUNNER_EXT, InProcessRunner(app, bool(app.config.get("JOB_THREAD", True)))
        )
    return runner


def enqueue(name: JobName, challenge_id: str, digest: str, app: Flask | None = None) -> None:
    """Queue job ``name``: to RQ when ``REDIS_URL`` is set, else to the in-process runner."""
    if name not in JOBS:
        raise ValueError(f"no job {name!r}")
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    if app.config.get("REDIS_URL"):
        from redis import Redis
        from rq import Queue, Retry

        connection = Redis.from_url(app.config["REDIS_URL"])
        rq_queue = Queue(app.config.get("RQ_QUEUE") or DEFAULT_QUEUE, connection=connection)
        # retried with backoff (the worker's scheduler runs the delayed retries)
        retry = Retry(max=_ATTEMPTS - 1, interval=list(_RETRY_BACKOFF[: _ATTEMPTS - 1]))
        rq_queue.enqueue(RQ_ENTRY_POINT, name, challenge_id, digest, retry=retry)
        return
    _runner(app).submit((name, challenge_id, digest))


def resume_unfinished(app: Flask) -> list[tuple[JobName, str, str]]:
    """Schedule the next job of every unfinished bundle and hand the outbox to the queue;
    return what was scheduled (``cryptoscore serve`` calls this on start; with the queue
    down the jobs wait in the outbox)."""
    queued = schedule_unfinished(app)
    dispatch(app, enqueue)
    return queued


def schedule_unfinished(app: Flask) -> list[tuple[JobName, str, str]]:
    """Write the next job of every unfinished bundle into the outbox; return them.

    The in-process queue lives in memory, and an RQ job can be lost after it left the
    outbox (a worker killed mid-job, a job that failed for good): without this a bundle would
    wait for an event that never comes. The sweep (``job_outbox.Sweeper``) calls it every
    ``REQUEUE_INTERVAL`` seconds. Safe at any time: jobs are idempotent and do nothing until
    their step can run.
    """
    with app.app_context():
        session = get_session()
        try:
            rows = session.execute(
                select(UploadedBundle.challenge_id, UploadedBundle.digest, UploadedBundle.state)
                .where(UploadedBundle.state.in_(tuple(NEXT_STEP)))
                # valid labels are finished: their waiting submissions are queued themselves
                .where(
                    ~(
                        (UploadedBundle.kind == "labels")
                        & (UploadedBundle.state == ReleaseState.VALID)
                    )
                )
                .order_by(UploadedBundle.submitted_at)
            ).all()
            queued: list[tuple[JobName, str, str]] = [
                (NEXT_STEP[ReleaseState(state)], challenge_id, digest)
                for challenge_id, digest, state in rows
            ]
            private = session.execute(  # a split's final submissions after the close
                select(
                    UploadedBundle.challenge_id,
                    UploadedBundle.digest,
                    UploadedBundle.private_state,
                )
                .where(UploadedBundle.private_state.in_(tuple(PRIVATE_NEXT_STEP)))
                .order_by(UploadedBundle.submitted_at)
            ).all()
            queued += [
                (PRIVATE_NEXT_STEP[str(state)], challenge_id, digest)
                for challenge_id, digest, state in private
            ]
            for name, challenge_id, digest in queued:
                schedule(session, name, challenge_id, digest)
            session.commit()
        finally:
            session.rollback()
    return queued


def drain(app: Flask) -> list[tuple[tuple[str, str, str], BaseException]]:
    """Run (or wait for) every in-process job; return the jobs that failed for good."""
    runner = _runner(app)
    runner.drain()
    return runner.failures
