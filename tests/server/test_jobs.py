"""The job runners: the in-process worker thread (the default) and RQ on the real Redis."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from test_protocol import PARTIES, run_story

from cryptoscore_server import jobs, worker
from cryptoscore_server.db import get_session
from cryptoscore_server.models import LogEntry, UploadedBundle
from cryptoscore_server.worker import set_worker_app
from tests.helpers.protocol import (
    CHALLENGE,
    Committee,
    Trustees,
    create_challenge,
    encrypt_via_service,
    make_tokens,
    upload,
)
from tests.helpers.service import API, bearer

REDIS_URL = "redis://127.0.0.1:6379/0"


def _released(story: dict[str, Any]) -> dict[str, str]:
    client, tokens = story["client"], story["tokens"]
    return {
        name: client.get(
            f"{API}/challenges/{CHALLENGE}/submissions/{digest}", headers=bearer(tokens[name])
        ).get_json()["state"]
        for name, digest in story["digests"].items()
    }


def test_in_process_thread(
    make_app: Callable[..., Flask], committee: Committee, data: dict[str, Any], tmp_path: Path
) -> None:
    app = make_app()  # JOB_THREAD defaults to on: HTTP requests return before jobs run
    story = run_story(app, committee, data, tmp_path)
    assert _released(story) == {"alice": "released", "bob": "released", "mallory": "invalid"}


@pytest.fixture
def rq_queue() -> Iterator[str]:
    from redis import Redis
    from rq import Queue

    name = f"cryptoscore-test-{uuid.uuid4().hex[:12]}"
    yield name
    connection = Redis.from_url(REDIS_URL)
    Queue(name, connection=connection).delete(delete_jobs=True)
    connection.close()
    set_worker_app(None)


def test_rq_worker_against_redis(
    make_app: Callable[..., Flask],
    committee: Committee,
    data: dict[str, Any],
    tmp_path: Path,
    rq_queue: str,
) -> None:
    app = make_app(REDIS_URL=REDIS_URL, RQ_QUEUE=rq_queue)

    def settle() -> list[Any]:
        assert worker.main(burst=True, app=app) == 0
        return []

    story = run_story(app, committee, data, tmp_path, settle)
    assert _released(story) == {"alice": "released", "bob": "released", "mallory": "invalid"}
    from redis import Redis
    from rq import Queue
    from rq.registry import FailedJobRegistry

    connection = Redis.from_url(REDIS_URL)
    queue = Queue(rq_queue, connection=connection)
    assert len(queue) == 0
    assert FailedJobRegistry(queue=queue).count == 0
    connection.close()


def test_restart_resumes_unfinished_bundles(
    make_app: Callable[..., Flask], committee: Committee, data: dict[str, Any], tmp_path: Path
) -> None:
    """A server that stops with jobs queued in memory loses them; the next start resumes."""
    crashed = make_app(JOB_THREAD=False)
    client = crashed.test_client()
    tokens = make_tokens(crashed, PARTIES)
    create_challenge(client, tokens["organizer"], committee, pad_sets="any")  # t0, t1 online
    trustees = Trustees(client, committee, tokens, tmp_path, online=("t0", "t1"))
    labels = encrypt_via_service(trustees, tokens["organizer"], "labels", data["labels"])
    assert upload(client, tokens["organizer"], "labels", labels).status_code == 201
    digests = {}
    for name in ("alice", "bob", "mallory"):
        bundle = encrypt_via_service(
            trustees, tokens[name], "predictions", data["predictions"][name]
        )
        response = upload(client, tokens[name], "submissions", bundle)
        digests[name] = response.get_json()["submission"]

    def lose_queued_jobs() -> list[Any]:
        lost = jobs._runner(crashed).queue
        while not lost.empty():
            lost.get_nowait()
            lost.task_done()
        return []

    trustees.run(crashed, lose_queued_jobs)  # every contribution is stored, no job ever ran
    with crashed.app_context():
        states = {row.state for row in get_session().scalars(select(UploadedBundle))}
    assert states == {"awaiting-contributions"}

    restarted = make_app(JOB_THREAD=False)
    queued = jobs.resume_unfinished(restarted)
    assert sorted(name for name, _, _ in queued) == ["round1_start"] * 4
    assert jobs.drain(restarted) == []  # round 1 starts for every bundle
    trustees.client = restarted.test_client()
    trustees.run(restarted)
    story = {"client": trustees.client, "tokens": tokens, "digests": digests}
    assert _released(story) == {"alice": "released", "bob": "released", "mallory": "invalid"}

    # once everything is finished, resuming queues nothing and changes nothing
    with restarted.app_context():
        entries = get_session().scalar(select(func.count()).select_from(LogEntry))
    assert jobs.resume_unfinished(restarted) == []
    assert jobs.drain(restarted) == []
    with restarted.app_context():
        assert get_session().scalar(select(func.count()).select_from(LogEntry)) == entries
