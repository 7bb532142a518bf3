"""Work is never lost between the database and the queue (issue 12, item 2).

* With Redis down, the t-th contribution is stored and answered 201, its job waits in the
  outbox, readiness says Redis is unreachable; when a Redis comes up (a throwaway
  ``redis-server`` on its own port, started by the test), the outbox is handed over and a
  worker moves the bundle on; Redis stopped again while the trustees answer, and restarted:
  the next job waited, and runs.
* A job lost after it left the outbox (a worker killed mid-job) is scheduled again by the
  sweep of unfinished work.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from cryptoscore_server import jobs, worker
from cryptoscore_server.db import get_session
from cryptoscore_server.job_outbox import Sweeper, dispatch, waiting
from cryptoscore_server.models import UploadedBundle
from tests.helpers.protocol import (
    Committee,
    Trustees,
    create_challenge,
    encrypt_via_service,
    make_tokens,
    upload,
)
from tests.helpers.service import API

PARTIES = {"organizer": "organizer", "t0": "trustee", "t1": "trustee", "t2": "trustee"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def redis_port() -> Iterator[int]:
    """A port with no Redis on it yet; a throwaway one is started there by ``_start_redis``."""
    port = _free_port()
    yield port
    subprocess.run(
        ["redis-cli", "-p", str(port), "shutdown", "nosave"], capture_output=True, check=False
    )


def _start_redis(port: int, tmp_path: Path) -> None:
    if shutil.which("redis-server") is None:  # pragma: no cover - installed on every machine
        pytest.skip("redis-server is not installed")
    subprocess.run(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "yes",
            "--dir",
            str(tmp_path),
        ],
        check=True,
        capture_output=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        ping = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True)
        if ping.stdout.strip() == b"PONG":
            return
        time.sleep(0.05)
    raise AssertionError("the throwaway redis-server did not start")


def _labels_uploaded(app: Flask, committee: Committee, data: dict[str, Any], tmp_path: Path):
    """A challenge with its labels uploaded; returns (client, trustees t0 and t1 online)."""
    client = app.test_client()
    tokens = make_tokens(app, PARTIES)
    create_challenge(client, tokens["organizer"], committee, pad_sets="any")  # t0, t1 online
    trustees = Trustees(client, committee, tokens, tmp_path, online=("t0", "t1"))
    labels = encrypt_via_service(trustees, tokens["organizer"], "labels", data["labels"])
    assert upload(client, tokens["organizer"], "labels", labels).status_code == 201
    return client, trustees


def _states(app: Flask) -> set[str]:
    with app.app_context():
        return {row.state for row in get_session().scalars(select(UploadedBundle))}


def test_redis_down_then_up(
    make_app: Callable[..., Flask],
    committee: Committee,
    data: dict[str, Any],
    tmp_path: Path,
    redis_port: int,
) -> None:
    url = f"redis://127.0.0.1:{redis_port}/0"
    queue_name = f"cryptoscore-test-{uuid.uuid4().hex[:12]}"
    app = make_app(REDIS_URL=url, RQ_QUEUE=queue_name)
    client, trustees = _labels_uploaded(app, committee, data, tmp_path)
    assert client.get(f"{API}/health/ready").status_code == 503
    trustees.step()  # both contributions posted: 201 each, the job waits
    assert _states(app) == {"awaiting-contributions"}
    assert waiting(app) == 1
    assert dispatch(app, jobs.enqueue) == 0  # still down: nothing lost, nothing handed over
    assert waiting(app) == 1
    # what `serve` does on start, with Redis down: no traceback, the job is not doubled
    assert [name for name, _, _ in jobs.resume_unfinished(app)] == ["round1_start"]
    assert waiting(app) == 1

    _start_redis(redis_port, tmp_path)
    assert client.get(f"{API}/health/ready").status_code == 200
    sweeper = Sweeper(
        app, jobs.enqueue, jobs.schedule_unfinished, interval=0.05, requeue_every=3600
    ).start()
    try:
        deadline = time.monotonic() + 10
        while waiting(app) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sweeper.stop()
    assert waiting(app) == 0  # handed over by the sweep once Redis was back
    try:
        assert worker.main(burst=True, app=app) == 0
        assert _states(app) == {"noise-check"}

        # Redis stopped while the trustees answer the noise checks, then started again
        subprocess.run(["redis-cli", "-p", str(redis_port), "shutdown", "nosave"], check=True)
        trustees.step()  # every noise check answered: the finishing job waits in the outbox
        assert waiting(app) == 1 and _states(app) == {"noise-check"}
        _start_redis(redis_port, tmp_path)
        assert dispatch(app, jobs.enqueue) == 1
        assert worker.main(burst=True, app=app) == 0
    finally:
        worker.set_worker_app(None)
    assert _states(app) == {"validity"}  # the noise checks passed; V is asked for


def test_a_lost_job_is_scheduled_again(
    make_app: Callable[..., Flask], committee: Committee, data: dict[str, Any], tmp_path: Path
) -> None:
    """The job left the outbox, then was lost (a worker killed mid-job): the sweep of
    unfinished work schedules it again, and the bundle moves on."""
    app = make_app(JOB_THREAD=False)
    _client, trustees = _labels_uploaded(app, committee, data, tmp_path)
    trustees.step()
    lost = jobs._runner(app).queue
    while not lost.empty():  # handed over, never run
        lost.get_nowait()
        lost.task_done()
    assert waiting(app) == 0 and _states(app) == {"awaiting-contributions"}
    sweeper = Sweeper(app, jobs.enqueue, jobs.schedule_unfinished, interval=60, requeue_every=60)
    assert sweeper.sweep_once(requeue=False) == 0  # nothing waits in the outbox
    assert sweeper.sweep_once(requeue=True) == 1  # the unfinished bundle's next job
    assert jobs.drain(app) == []
    assert _states(app) == {"noise-check"}
