"""Structured logs: one JSON line on stderr per request and per job run, never a token."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from cryptoscore_server import jobs, worker
from cryptoscore_server.logs import REQUEST_ID_HEADER
from tests.helpers.service import API, bearer

REPO = Path(__file__).resolve().parents[2]
REQUEST_FIELDS = {
    "event",
    "time",
    "request_id",
    "method",
    "path",
    "status",
    "duration_ms",
    "role",
    "token_id",
}
JOB_FIELDS = {"event", "time", "job", "challenge", "digest", "attempt", "duration_ms", "outcome"}


def _lines(err: str) -> list[dict[str, Any]]:
    """Every line of ``err`` that is a log line (each must parse as a JSON object)."""
    out = []
    for line in err.splitlines():
        if line.startswith("{"):
            parsed = json.loads(line)
            assert isinstance(parsed, dict)
            out.append(parsed)
    return out


def test_one_line_per_request_without_the_token(
    client: FlaskClient, tokens: dict[str, str], capsys
) -> None:
    capsys.readouterr()
    listed = client.get(f"{API}/tokens", headers=bearer(tokens["admin"]))
    assert listed.status_code == 200
    refused = client.get(f"{API}/challenges/nope/refusals", headers=bearer(tokens["auditor"]))
    assert refused.status_code == 404
    client.get(f"{API}/tokens", headers=bearer("cs_not-a-token"))
    client.post(f"{API}/tokens", json={"role": "admin"}, headers=bearer(tokens["admin"]))
    captured = capsys.readouterr()
    lines = _lines(captured.err)
    assert len(lines) == 4, captured.err
    for line in lines:
        assert set(line) == REQUEST_FIELDS and line["event"] == "request"
        assert line["time"].endswith("Z") and isinstance(line["duration_ms"], float)
    first, second, third, fourth = lines
    assert (first["method"], first["path"], first["status"]) == ("GET", f"{API}/tokens", 200)
    assert first["role"] == "admin" and isinstance(first["token_id"], int)
    assert first["request_id"] == listed.headers[REQUEST_ID_HEADER]
    # the route's template, not the challenge named in the path
    assert second["path"] == f"{API}/challenges/<challenge_id>/refusals"
    assert (second["status"], second["role"]) == (404, "auditor")
    assert (third["status"], third["role"], third["token_id"]) == (401, None, None)
    assert (fourth["method"], fourth["status"]) == ("POST", 422)
    for token in (*tokens.values(), "cs_not-a-token"):
        assert token not in captured.err and token not in captured.out


def test_log_requests_0_turns_them_off(
    make_app: Callable[..., Flask], tokens: dict[str, str], capsys
) -> None:
    quiet = make_app(LOG_REQUESTS="0")
    capsys.readouterr()
    assert quiet.test_client().get(f"{API}/tokens", headers=bearer(tokens["admin"])).status == (
        "200 OK"
    )
    assert _lines(capsys.readouterr().err) == []


def test_one_line_per_job_run(make_app: Callable[..., Flask], capsys) -> None:
    app = make_app(JOB_THREAD=False)
    digest = "ab" * 32
    capsys.readouterr()
    jobs.enqueue("round1_start", "no-such-challenge", digest, app)  # runs, does nothing
    jobs._runner(app).submit(("no_such_job", "c1", digest))  # fails every attempt
    failed = jobs.drain(app)
    assert [job for job, _ in failed] == [("no_such_job", "c1", digest)]
    lines = _lines(capsys.readouterr().err)
    assert [set(line) - JOB_FIELDS for line in lines] == [set(), {"exception"}] + [
        {"exception"}
    ] * 2
    ok, *errors = lines
    assert ok["job"] == "round1_start" and ok["challenge"] == "no-such-challenge"
    assert (ok["digest"], ok["attempt"], ok["outcome"]) == (digest[:16], 1, "ok")
    assert [(e["attempt"], e["outcome"], e["exception"]) for e in errors] == [
        (1, "error", "ValueError"),
        (2, "error", "ValueError"),
        (3, "error", "ValueError"),
    ]


def test_rq_worker_logs_its_job_runs(make_app: Callable[..., Flask], capsys) -> None:
    from redis import Redis
    from rq import Queue

    queue = f"cryptoscore-test-{uuid.uuid4().hex[:12]}"
    app = make_app(REDIS_URL="redis://127.0.0.1:6379/0", RQ_QUEUE=queue)
    try:
        jobs.enqueue("round2_start", "no-such-challenge", "cd" * 32, app)
        capsys.readouterr()
        assert worker.main(burst=True, app=app) == 0
    finally:
        connection = Redis.from_url("redis://127.0.0.1:6379/0")
        Queue(queue, connection=connection).delete(delete_jobs=True)
        connection.close()
        worker.set_worker_app(None)
    (line,) = [line for line in _lines(capsys.readouterr().err) if line["event"] == "job"]
    assert (line["job"], line["attempt"], line["outcome"]) == ("round2_start", 1, "ok")


def test_cryptoscore_serve_logs_json_lines(tmp_path: Path) -> None:
    """A live ``cryptoscore serve``: its stderr holds a JSON line per request, and neither the
    admin token it printed nor the one created over REST appears in it."""
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "DATA_DIR": str(tmp_path / "data"),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    command = ["-m", "cryptoscore_cli.main", "serve", "--print-admin-token", "--port", "0"]
    serve = subprocess.Popen(
        [sys.executable, *command],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert serve.stdout is not None
        admin = url = ""
        for line in serve.stdout:
            if line.startswith("admin token (shown once): "):
                admin = line.split(": ", 1)[1].strip()
            if line.startswith("serving on "):
                url = line.split()[2]
                break
        assert admin and url
        request = urllib.request.Request(
            f"{url}/tokens",
            data=json.dumps({"role": "organizer", "name": "org"}).encode(),
            headers={**bearer(admin), "Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            created = json.loads(response.read())["token"]
    finally:
        serve.terminate()
        _out, err = serve.communicate(timeout=30)
    (line,) = [line for line in _lines(err) if line.get("event") == "request"]
    assert set(line) == REQUEST_FIELDS
    assert (line["method"], line["path"], line["status"], line["role"]) == (
        "POST",
        "/api/v1/tokens",
        201,
        "admin",
    )
    assert admin not in err and created not in err
