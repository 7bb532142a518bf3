"""A database that goes away answers 503 with Retry-After, a full disk 507 — problem details,
logged with an incident id, nothing stored (issue 12). The database really goes away: the
test cuts a TCP forwarder in front of PostgreSQL."""

from __future__ import annotations

import errno
import uuid
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import make_url

from cryptoscore_server import blobs
from cryptoscore_server.app import create_app
from cryptoscore_server.db import dispose
from tests.helpers.protocol import Committee, make_tokens
from tests.helpers.service import API, assert_problem, bearer, snapshot
from tests.helpers.tcp_proxy import TcpProxy
from tests.server.conftest import POSTGRES_URL


def test_database_down_is_503_then_recovers(postgres_admin: Any, tmp_path: Any) -> None:
    """PostgreSQL behind a forwarder the test cuts: while it is cut every request that needs
    the database gets 503 with Retry-After (not a 500 traceback); restored, the same request
    works again."""
    url = make_url(POSTGRES_URL)
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432)).start()
    schema = f"cs_test_{uuid.uuid4().hex[:16]}"
    with postgres_admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    app = create_app(
        {
            "TESTING": True,
            "DATA_DIR": tmp_path / "data",
            "DATABASE_URL": f"{proxied}?options=-csearch_path%3D{schema}",
        }
    )
    try:
        client = app.test_client()
        tokens = make_tokens(app, {"admin": "admin"})
        assert client.get(f"{API}/tokens", headers=bearer(tokens["admin"])).status_code == 200
        proxy.cut()
        response = client.get(f"{API}/tokens", headers=bearer(tokens["admin"]))
        problem = assert_problem(response, 503)
        assert problem["type"] == "urn:cryptoscore:problem:database-unavailable"
        assert response.headers["Retry-After"] == "5"
        assert problem["incident"] in problem["detail"]
        assert client.get(f"{API}/health/ready").status_code == 503
        proxy.restore()
        assert client.get(f"{API}/tokens", headers=bearer(tokens["admin"])).status_code == 200
    finally:
        proxy.cut()
        dispose(app)
        with postgres_admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EDQUOT])
def test_a_full_disk_is_507_and_stores_nothing(
    app: Flask, committee: Committee, monkeypatch, code: int
) -> None:
    client = app.test_client()
    tokens = make_tokens(app, {"organizer": "organizer"})
    before = snapshot(app)

    def full(*_args: Any, **_kwargs: Any) -> Any:
        raise OSError(code, "No space left on device")

    monkeypatch.setattr(blobs.BlobStore, "put_bytes", full)
    from tests.helpers.service import challenge_meta, post_challenge

    response = post_challenge(
        client, tokens["organizer"], committee.files, challenge_meta(id="full", classes=2)
    )
    problem = assert_problem(response, 507)
    assert problem["type"] == "urn:cryptoscore:problem:storage-full"
    assert snapshot(app) == before
