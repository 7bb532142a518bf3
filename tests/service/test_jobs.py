"""The job runners: the in-process worker thread (the default) and RQ on the real Redis."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from protocol_helpers import CHALLENGE, Committee
from svc_helpers import API, bearer
from test_protocol import run_story

from service import worker
from service.jobs import set_worker_app

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
