"""The HTTP server's own refusals are problem details too (issue 12): a body beyond even the
server's limit, a URL or header block too large, a request that is not HTTP. Sent over a real
socket to waitress, as a client would."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from pathlib import Path

import pytest

from cryptoscore_server.app import create_app
from cryptoscore_server.auth import create_token
from cryptoscore_server.db import dispose, get_session
from cryptoscore_server.launch import serving_in_thread

LIMIT = 1 << 20


TOKEN: dict[str, str] = {}


@pytest.fixture(scope="module")
def url(tmp_path_factory) -> str:
    tmp: Path = tmp_path_factory.mktemp("limits")
    app = create_app(
        {
            "DATA_DIR": tmp / "data",
            "DATABASE_URL": f"sqlite:///{tmp / 'limits.sqlite3'}",
            "MAX_UPLOAD_BYTES": LIMIT,
        }
    )
    with app.app_context():
        session = get_session()
        _row, TOKEN["participant"] = create_token(session, "participant", "p")
        session.commit()
    try:
        with serving_in_thread(app) as base:
            yield base
    finally:
        dispose(app)


def _exchange(base: str, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send ``raw`` while reading the answer (the server answers an oversized request before
    it has read all of it, then closes)."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        sender = threading.Thread(target=_send, args=(conn, raw), daemon=True)
        sender.start()
        data = b""
        try:
            while chunk := conn.recv(65536):
                data += chunk
        except ConnectionResetError:
            pass  # closed while our request was still arriving: the answer came first
        sender.join(timeout=10)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
    return status, headers, body


def _send(conn: socket.socket, raw: bytes) -> None:
    with contextlib.suppress(OSError):  # the server answered and closed before reading all
        conn.sendall(raw)


@pytest.mark.parametrize(
    ("request_bytes", "status"),
    [
        (  # declared beyond the server's limit (the app's plus slack): refused unread
            b"POST /api/v1/challenges/x/submissions HTTP/1.1\r\nHost: t\r\n"
            b"Content-Type: application/octet-stream\r\nContent-Length: %d\r\n\r\n"
            % (LIMIT + (4 << 20)),
            413,
        ),
        (b"GET /api/v1/challenges/" + b"a" * 300_000 + b" HTTP/1.1\r\nHost: t\r\n\r\n", 431),
        (b"GET /api/v1/health/live HTTP/1.1\r\nHost: t\r\nX: " + b"b" * 300_000 + b"\r\n\r\n", 431),
        (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: nope\r\nConnection: close\r\n\r\n", 400),
    ],
    ids=["body-beyond-server-limit", "long-url", "huge-header", "bad-content-length"],
)
def test_server_refusals_are_problem_details(url: str, request_bytes: bytes, status: int) -> None:
    got, headers, body = _exchange(url, request_bytes)
    assert got == status
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == status and problem["title"] and problem["detail"]


def test_an_upload_just_beyond_the_apps_limit_is_the_apps_413(url: str) -> None:
    """Within the server's slack, the app itself answers (its own problem, with its type)."""
    body = b"x" * (LIMIT + 10)
    raw = (
        b"POST /api/v1/challenges/x/submissions HTTP/1.1\r\nHost: t\r\n"
        b"Authorization: Bearer " + TOKEN["participant"].encode() + b"\r\n"
        b"Content-Type: application/octet-stream\r\nConnection: close\r\n"
        b"Content-Length: %d\r\n\r\n" % len(body)
    ) + body
    got, headers, payload = _exchange(url, raw)
    assert got == 413 and headers["content-type"] == "application/problem+json"
    assert json.loads(payload)["status"] == 413
