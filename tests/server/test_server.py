"""The service over real HTTP (waitress on a loopback port) and the CLI helpers."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from werkzeug.test import encode_multipart

from cryptoscore_server.launch import create_token_command, serving_in_thread
from tests.helpers.service import API, PROBLEM, CeremonyFiles, upload_form


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    with serving_in_thread(app) as url:
        yield url


def _request(
    url: str,
    *,
    method: str = "GET",
    token: str | None = None,
    body: Any = None,
    data: bytes | None = None,
    content_type: str | None = None,
) -> tuple[int, Message, bytes]:
    headers = {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        data = json.dumps(body).encode()
        content_type = "application/json"
    if content_type:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # loopback only
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


def test_over_http(app: Flask, base_url: str) -> None:
    status, _, raw = _request(f"{base_url}{API}/health/ready")
    assert status == 200 and json.loads(raw)["checks"]["database"] == "ok"

    admin = create_token_command("admin", "bootstrap", app=app)
    status, _, raw = _request(
        f"{base_url}{API}/tokens",
        method="POST",
        token=admin,
        body={"role": "trustee", "name": "t0"},
    )
    assert status == 201 and json.loads(raw)["role"] == "trustee"

    status, headers, raw = _request(f"{base_url}{API}/tokens")
    assert status == 401 and headers["Content-Type"] == PROBLEM
    assert headers["WWW-Authenticate"].startswith("Bearer")

    status, _, raw = _request(f"{base_url}{API}/openapi.json")
    assert status == 200 and json.loads(raw)["openapi"].startswith("3.")


def test_challenge_upload_and_download_over_http(
    app: Flask, base_url: str, ceremony: CeremonyFiles
) -> None:
    organizer = create_token_command("organizer", "olga", app=app)
    boundary, body = encode_multipart(upload_form(ceremony))
    status, headers, raw = _request(
        f"{base_url}{API}/challenges",
        method="POST",
        token=organizer,
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
    )
    assert status == 201, raw[:300]
    assert headers["Location"].endswith(f"{API}/challenges/digits-2025")
    status, headers, raw = _request(f"{base_url}{API}/challenges/digits-2025/public-context")
    assert status == 200 and raw == ceremony.public
    assert headers["Content-Type"] == "application/octet-stream"


def test_oversized_upload_over_http(make_app: Any) -> None:
    app = make_app(MAX_UPLOAD_BYTES=4096)
    admin = create_token_command("admin", "bootstrap", app=app)
    with serving_in_thread(app) as base:
        status, headers, raw = _request(
            f"{base}{API}/tokens",
            method="POST",
            token=admin,
            body={"role": "admin", "name": "x" * 10_000},
        )
    assert status == 413 and headers["Content-Type"] == PROBLEM
    assert json.loads(raw)["status"] == 413


def test_create_token_command_uses_the_configured_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptoscore_server.app import create_app
    from cryptoscore_server.auth import authenticate
    from cryptoscore_server.db import dispose, get_session

    monkeypatch.setenv("DATA_DIR", str(tmp_path / "d"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    token = create_token_command("organizer", "carol")
    assert token.startswith("cs_") and len(token) == 46
    app = create_app()
    try:
        with app.app_context():
            row = authenticate(get_session(), token)
            assert row is not None and (row.role, row.name) == ("organizer", "carol")
    finally:
        dispose(app)
    with pytest.raises(ValueError):
        create_token_command("superuser", "mallory")
    with pytest.raises(ValueError):
        create_token_command("admin", "line\nbreak")


def test_serve_resumes_unfinished_work_before_serving(
    app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptoscore_server import launch as cli

    calls: list[str] = []

    class Server:
        def run(self) -> None:
            calls.append("run")
            raise KeyboardInterrupt

        def close(self) -> None:
            calls.append("close")

    monkeypatch.setattr(cli, "resume_unfinished", lambda a: calls.append("resume") or [])
    monkeypatch.setattr(cli, "make_server", lambda *a, **k: Server())
    cli.serve(app=app)
    assert calls == ["resume", "run", "close"]
