"""Liveness and readiness, with and without a reachable Redis."""

from __future__ import annotations

import socket
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers.service import API, assert_problem


def test_live(client: FlaskClient) -> None:
    response = client.get(f"{API}/health/live")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_ready_without_queue(client: FlaskClient) -> None:
    response = client.get(f"{API}/health/ready")
    assert response.status_code == 200
    assert response.get_json() == {
        "status": "ok",
        "checks": {"database": "ok", "redis": "not configured"},
    }


def test_ready_with_real_redis(make_app: Callable[..., Flask]) -> None:
    client = make_app(REDIS_URL="redis://127.0.0.1:6379/15").test_client()
    response = client.get(f"{API}/health/ready")
    assert response.status_code == 200
    assert response.get_json()["checks"] == {"database": "ok", "redis": "ok"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_ready_with_unreachable_redis_is_503(make_app: Callable[..., Flask]) -> None:
    client = make_app(REDIS_URL=f"redis://127.0.0.1:{_free_port()}/0").test_client()
    body = assert_problem(client.get(f"{API}/health/ready"), 503)
    assert body["check"] == "redis"
    assert "127.0.0.1" not in body["detail"]  # no connection details leak


def test_ready_with_unreachable_database_is_503(app: Flask) -> None:
    # point the app's engine at a database that cannot be reached
    from sqlalchemy import create_engine

    from cryptoscore_server.db import _EXTENSION

    database = app.extensions[_EXTENSION]
    database.engine.dispose()
    bad = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{_free_port()}/none")
    database.sessionmaker.configure(bind=bad)
    try:
        body = assert_problem(app.test_client().get(f"{API}/health/ready"), 503)
        assert body["check"] == "database"
        assert body["detail"] == "The database is unreachable."
        # liveness does not depend on the database
        assert app.test_client().get(f"{API}/health/live").status_code == 200
    finally:
        bad.dispose()
