"""The release protocol's steps as jobs, and the runners that execute them.

Four jobs, each ``(challenge id, bundle digest)``, each rebuilding the library's state machine
(:class:`~cryptoscore.protocol.release.BundleRelease`,
:class:`~cryptoscore.protocol.release.SubmissionRelease`)
from the database, advancing it, and persisting the result in one transaction:

* ``round1_start``  — t trustee contributions are in: ``BundleRelease.start`` makes the
  noise-check ciphertexts; the requests (and their aggregate ciphertexts, as blobs) are
  stored and logged; the bundle is ``noise-check``.
* ``round1_finish`` — every active trustee answered every round-1 request so far. After the
  noise checks (``BundleRelease.finish_noise``): noise above the bound makes the bundle
  invalid, otherwise the validity aggregate is computed and its request stored and logged
  (the bundle is ``validity``). After V (``BundleRelease.finish``): the verdict is logged; a
  valid submission (with valid labels) goes on to round 2, and valid labels start round 2 of
  every waiting submission.
* ``round2_start``  — ``SubmissionRelease.start`` with the submission's round-1 active set;
  the score request is stored and logged; the submission is ``scoring``.
* ``round2_finish`` — the partials are combined, the release logged; ``released``.

Every job restores the state machine from the database (``BundleRelease.restore``,
``SubmissionRelease.restore``: each record is checked and a decided verdict re-derived from
its partials) and writes back the state the machine reached; states are the library's
``ReleaseState`` values, the same the database's CHECK constraint and the API use.

Idempotent: each job first checks the bundle's state and does nothing if its step is done;
the heavy computation runs outside the challenge lock, and the state is re-checked under the
lock before anything is written; log entries are keyed by event (``ledger.append_event``) and
requests and partials have primary keys, so a job that crashed and is retried, or runs twice,
never duplicates a log entry, a request or a release.

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

import dataclasses
import queue
import threading
from collections.abc import Callable
from typing import Any, Literal

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from cryptoscore.protocol.challenge import ChallengeContext
from cryptoscore.protocol.contributions import Contribution
from cryptoscore.protocol.release import (
    BundleRelease,
    ReleaseState,
    Round1Snapshot,
    Round2Snapshot,
    SubmissionRelease,
)
from cryptoscore.protocol.requests import DecryptionRequest
from cryptoscore.scoring.aggregate import AggregateCiphertext
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.threshold.partial import PartialDecryption
from cryptoscore_server.blobs import BlobStore, get_blob_store, record_blob
from cryptoscore_server.db import get_session
from cryptoscore_server.failpoints import arm_for_job
from cryptoscore_server.job_outbox import dispatch, schedule
from cryptoscore_server.ledger import append_event, challenge_context, challenge_lock, sign_head
from cryptoscore_server.models import (
    REASON_LENGTH,
    Challenge,
    StoredPartial,
    StoredRequest,
    TrusteeContribution,
    UploadedBundle,
)

__all__ = [
    "JOBS",
    "InProcessRunner",
    "JobName",
    "drain",
    "enqueue",
    "resume_unfinished",
    "run_job",
    "schedule_unfinished",
]

_ASKING = (ReleaseState.NOISE_CHECK, ReleaseState.VALIDITY)
"""Round 1 asked the trustees something; ``round1_finish`` decides it once answered."""

JobName = Literal["round1_start", "round1_finish", "round2_start", "round2_finish"]
_RUNNER_EXT = "cryptoscore.jobs"
_ATTEMPTS = 3
_RETRY_BACKOFF = (5, 30)
"""Seconds before an RQ job's second and third attempts."""
DEFAULT_QUEUE = "cryptoscore"
RQ_ENTRY_POINT = "cryptoscore_server.worker.rq_run"
"""What an RQ job calls, by name: the worker module builds the application the job runs in
(named, not imported, so that this module does not depend on the application factory)."""


# -- rebuilding the state machines ----------------------------------------------------------------
def _bundle(store: BlobStore, digest: str) -> EncryptedBundle:
    return EncryptedBundle.from_bytes(store.read(digest))


def _contributions(session: Session, challenge_id: str, digest: str) -> list[Contribution]:
    rows = session.scalars(
        select(TrusteeContribution)
        .where(TrusteeContribution.challenge_id == challenge_id)
        .where(TrusteeContribution.bundle == digest)
        .order_by(TrusteeContribution.created_at, TrusteeContribution.trustee)
    )
    return [r.contribution() for r in rows]


def _requests(session: Session, challenge_id: str, digest: str, round_: int) -> list[StoredRequest]:
    return list(
        session.scalars(
            select(StoredRequest)
            .where(StoredRequest.challenge_id == challenge_id)
            .where(StoredRequest.bundle == digest, StoredRequest.round == round_)
            .order_by(StoredRequest.request_id)
        )
    )


def _partials(session: Session, store: BlobStore, request_id: str) -> dict[str, PartialDecryption]:
    rows = session.scalars(select(StoredPartial).where(StoredPartial.request_id == request_id))
    return {r.trustee: PartialDecryption.from_bytes(store.read(r.blob)) for r in rows}


def _round1_snapshot(
    session: Session, store: BlobStore, row: UploadedBundle, *, deciding_only: bool = False
) -> Round1Snapshot:
    """Round 1 of ``row`` as the database holds it; with ``deciding_only``, of a bundle that
    passed, only V's request, ciphertext and partials (what re-derives the verdict)."""
    stored = _requests(session, row.challenge_id, row.digest, 1)
    if deciding_only:
        stored = [r for r in stored if r.request_id.endswith(":validity")]
    return Round1Snapshot(
        state=ReleaseState(row.state),
        contributions=tuple(_contributions(session, row.challenge_id, row.digest)),
        requests=tuple(DecryptionRequest.from_bytes(store.read(r.request_blob)) for r in stored),
        ciphertexts={
            r.request_id: AggregateCiphertext.from_bytes(store.read(r.aggregate_blob))
            for r in stored
        },
        partials=tuple(p for r in stored for p in _partials(session, store, r.request_id).values()),
        reason=row.reason,
    )


def rebuild_round1(
    session: Session, store: BlobStore, context: ChallengeContext, row: UploadedBundle
) -> BundleRelease:
    """Round 1 of ``row`` as the library's state machine, restored from the database."""
    passed = row.state in (ReleaseState.VALID, ReleaseState.SCORING, ReleaseState.RELEASED)
    snapshot = _round1_snapshot(session, store, row, deciding_only=passed)
    if passed:  # round 2's states are the submission's; its round 1 ended valid
        snapshot = dataclasses.replace(snapshot, state=ReleaseState.VALID)
    return BundleRelease.restore(context, _bundle(store, row.digest), snapshot)


def _round2_snapshot(session: Session, store: BlobStore, row: UploadedBundle) -> Round2Snapshot:
    (stored,) = _requests(session, row.challenge_id, row.digest, 2)
    return Round2Snapshot(
        state=ReleaseState(row.state),
        request=DecryptionRequest.from_bytes(store.read(stored.request_blob)),
        aggregate=AggregateCiphertext.from_bytes(store.read(stored.aggregate_blob)),
        partials=tuple(_partials(session, store, stored.request_id).values()),
        released=row.values or {},
    )


def _labels(session: Session, challenge_id: str) -> UploadedBundle | None:
    return session.scalars(
        select(UploadedBundle)
        .where(UploadedBundle.challenge_id == challenge_id)
        .where(UploadedBundle.kind == "labels")
    ).one_or_none()


def _store_request(
    session: Session,
    store: BlobStore,
    context: ChallengeContext,
    digest: str,
    request: DecryptionRequest,
    aggregate: AggregateCiphertext,
    round_: int,
) -> None:
    """Log ``request`` and store it with its aggregate ciphertext (idempotent)."""
    append_event(
        session,
        store,
        context.challenge_id,
        f"request:{request.request_id}",
        lambda t, k: t.record_request(request, round_, key=k),
    )
    if session.get(StoredRequest, request.request_id) is not None:
        return
    stored = store.put_bytes(aggregate.to_bytes())
    record_blob(session, stored)
    session.add(
        StoredRequest(
            request_id=request.request_id,
            challenge_id=context.challenge_id,
            bundle=digest,
            round=round_,
            request_blob=request.digest,
            aggregate_blob=stored.sha256,
            trustees=[
                context.record.entry_by_index(i).trustee_id for i in request.active_set.indices
            ],
        )
    )
    session.flush()


# -- the jobs ----------------------------------------------------------------------------------
def round1_start(challenge_id: str, digest: str) -> list[tuple[JobName, str]]:
    session, store = get_session(), get_blob_store()
    row = session.get(UploadedBundle, (challenge_id, digest))
    challenge = session.get(Challenge, challenge_id)
    if row is None or challenge is None or row.state != ReleaseState.AWAITING_CONTRIBUTIONS:
        return []
    context = challenge_context(challenge, store)
    release = rebuild_round1(session, store, context, row)
    if release.needs_contributions():
        return []
    requests = release.start(f"{challenge_id}:r1:{digest[:16]}")
    with challenge_lock(session, challenge_id):
        session.refresh(row)
        if row.state != ReleaseState.AWAITING_CONTRIBUTIONS:
            return []
        for request in requests:
            agg = release.ciphertexts[request.request_id]
            _store_request(session, store, context, digest, request, agg, 1)
        row.state = release.state
        row.active_set = list(release.active.indices)
        sign_head(session, challenge_id)
        session.commit()
    return []


def round1_finish(challenge_id: str, digest: str) -> list[tuple[JobName, str]]:
    session, store = get_session(), get_blob_store()
    row = session.get(UploadedBundle, (challenge_id, digest))
    challenge = session.get(Challenge, challenge_id)
    if row is None or challenge is None or row.state not in _ASKING:
        return []
    context = challenge_context(challenge, store)
    release = rebuild_round1(session, store, context, row)
    if not release.ready():
        return []
    asked = release.advance()  # the noise verdict and V's ciphertext, or V's verdict
    with challenge_lock(session, challenge_id):
        session.refresh(row)
        if row.state not in _ASKING:
            return []
        if asked:
            if any(
                r.round == 1 and r.request_id == asked[0].request_id
                for r in _requests(session, challenge_id, digest, 1)
            ):
                return []  # another run of this job asked already
            request = asked[0]
            _store_request(
                session, store, context, digest, request, release.ciphertexts[request.request_id], 1
            )
            row.state = release.state
            sign_head(session, challenge_id)
            session.commit()
            return []
        append_event(
            session,
            store,
            challenge_id,
            f"round1:{digest}",
            lambda t, k: t.record_round1(digest, release.state, release.reason, key=k),
        )
        row.state = release.state
        row.reason = release.reason[:REASON_LENGTH]
        for stored in _requests(session, challenge_id, digest, 1):
            stored.open = False
        sign_head(session, challenge_id)
        session.commit()
    if row.state != ReleaseState.VALID:
        return []
    if row.kind == "predictions":
        labels = _labels(session, challenge_id)
        labels_valid = labels is not None and labels.state == ReleaseState.VALID
        return [("round2_start", digest)] if labels_valid else []
    waiting = session.scalars(
        select(UploadedBundle.digest)
        .where(UploadedBundle.challenge_id == challenge_id)
        .where(UploadedBundle.kind == "predictions", UploadedBundle.state == ReleaseState.VALID)
        .order_by(UploadedBundle.submitted_at)
    )
    return [("round2_start", d) for d in waiting]


def round2_start(challenge_id: str, digest: str) -> list[tuple[JobName, str]]:
    session, store = get_session(), get_blob_store()
    row = session.get(UploadedBundle, (challenge_id, digest))
    challenge = session.get(Challenge, challenge_id)
    labels = _labels(session, challenge_id)
    if row is None or challenge is None or row.kind != "predictions":
        return []
    if row.state != ReleaseState.VALID or labels is None or labels.state != ReleaseState.VALID:
        return []
    context = challenge_context(challenge, store)
    preds = rebuild_round1(session, store, context, row)
    submission = SubmissionRelease(context, preds, rebuild_round1(session, store, context, labels))
    request = submission.start(f"{challenge_id}:r2:{digest[:16]}", preds.active)
    aggregate = submission.aggregate
    if aggregate is None:  # pragma: no cover - start() always sets it
        raise RuntimeError("round 2 started without an aggregate")
    with challenge_lock(session, challenge_id):
        session.refresh(row)
        if row.state != ReleaseState.VALID:
            return []
        _store_request(session, store, context, digest, request, aggregate, 2)
        row.state = submission.state
        sign_head(session, challenge_id)
        session.commit()
    return []


def round2_finish(challenge_id: str, digest: str) -> list[tuple[JobName, str]]:
    session, store = get_session(), get_blob_store()
    row = session.get(UploadedBundle, (challenge_id, digest))
    challenge = session.get(Challenge, challenge_id)
    labels = _labels(session, challenge_id)
    if row is None or challenge is None or labels is None or row.state != ReleaseState.SCORING:
        return []
    stored = _requests(session, challenge_id, digest, 2)
    if len(stored) != 1:
        return []
    context = challenge_context(challenge, store)
    if len(_partials(session, store, stored[0].request_id)) < context.record.threshold:
        return []
    submission = SubmissionRelease.restore(
        context,
        rebuild_round1(session, store, context, row),
        rebuild_round1(session, store, context, labels),
        _round2_snapshot(session, store, row),
    )
    values = submission.finish()
    request_id = stored[0].request_id
    with challenge_lock(session, challenge_id):
        session.refresh(row)
        if row.state != ReleaseState.SCORING:
            return []
        append_event(
            session,
            store,
            challenge_id,
            f"release:{request_id}",
            lambda t, k: t.record_release(digest, labels.digest, request_id, values, key=k),
        )
        row.values = values
        row.state = submission.state
        for req in _requests(session, challenge_id, digest, 2):
            req.open = False
        sign_head(session, challenge_id)
        session.commit()
    return []


JOBS: dict[str, Callable[[str, str], Any]] = {
    "round1_start": round1_start,
    "round1_finish": round1_finish,
    "round2_start": round2_start,
    "round2_finish": round2_finish,
}


def run_job(name: str, challenge_id: str, digest: str) -> None:
    """Run one job (inside an application context) and queue the jobs it leads to, through
    the outbox (``job_outbox.py``). A crash between the job's commit and this is covered by
    the sweep of unfinished work (:func:`schedule_unfinished`)."""
    arm_for_job(name, get_session())  # inert unless a crash test armed it
    try:
        follow_ups = JOBS[name](challenge_id, digest) or []
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
                with self.app.app_context():
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


_NEXT_JOB: dict[str, JobName] = {
    ReleaseState.AWAITING_CONTRIBUTIONS: "round1_start",
    ReleaseState.NOISE_CHECK: "round1_finish",
    ReleaseState.VALIDITY: "round1_finish",
    ReleaseState.VALID: "round2_start",
    ReleaseState.SCORING: "round2_finish",
}
"""For a bundle in each unfinished state, the job that moves it on (a no-op until it can)."""


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
                .where(UploadedBundle.state.in_(tuple(_NEXT_JOB)))
                # valid labels are finished: their waiting submissions are queued themselves
                .where(
                    ~(
                        (UploadedBundle.kind == "labels")
                        & (UploadedBundle.state == ReleaseState.VALID)
                    )
                )
                .order_by(UploadedBundle.submitted_at)
            ).all()
            queued = [
                (_NEXT_JOB[state], challenge_id, digest) for challenge_id, digest, state in rows
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
