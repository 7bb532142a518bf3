"""``cryptoscore worker``: consume the RQ job queue (``REDIS_URL``, queue ``RQ_QUEUE``).

Several workers on several machines may consume one queue; every job is idempotent
(``jobs.py``), so RQ's retries and a job that runs twice are harmless. The worker runs jobs in
its own process (RQ's ``SimpleWorker``: no fork per job, so the parsed evaluation keys stay
cached between jobs).
"""

from __future__ import annotations

from flask import Flask

from cryptoscore_server.app import create_app
from cryptoscore_server.jobs import DEFAULT_QUEUE, run_job
from cryptoscore_server.logs import job_run, rq_attempt

__all__ = ["main", "rq_run", "set_worker_app"]

_WORKER_APP: Flask | None = None


def set_worker_app(app: Flask | None) -> None:
    """The application RQ jobs of this process run in (:func:`main` sets it)."""
    global _WORKER_APP
    _WORKER_APP = app


def rq_run(name: str, challenge_id: str, digest: str) -> None:
    """RQ entry point (``jobs.RQ_ENTRY_POINT``): run the job in the worker's application."""
    global _WORKER_APP
    if _WORKER_APP is None:
        _WORKER_APP = create_app()
    app = _WORKER_APP
    with app.app_context(), job_run(app, name, challenge_id, digest, rq_attempt()):
        run_job(name, challenge_id, digest)


def main(*, burst: bool = False, app: Flask | None = None, queue_name: str | None = None) -> int:
    """Work the queue until stopped (or, with ``burst``, until it is empty); exit status 0."""
    from redis import Redis
    from rq import Queue, SimpleWorker

    app = app or create_app()
    url = app.config.get("REDIS_URL")
    if not url:
        raise RuntimeError("cryptoscore worker needs REDIS_URL (without it jobs run in-process)")
    set_worker_app(app)
    connection = Redis.from_url(url)
    name = queue_name or app.config.get("RQ_QUEUE") or DEFAULT_QUEUE
    worker = SimpleWorker([Queue(name, connection=connection)], connection=connection)
    if burst:
        worker.work(burst=True, with_scheduler=False)
        return 0
    # a long-running worker also sweeps the outbox (the server may be down) and runs the
    # scheduler that starts RQ's delayed retries
    from cryptoscore_server.launch import start_sweeper

    sweeper = start_sweeper(app)
    try:
        worker.work(with_scheduler=True)
    finally:
        sweeper.stop()
    return 0
