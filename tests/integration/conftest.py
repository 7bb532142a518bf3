"""Fixtures for integration tests: a real service on a loopback port."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest


@pytest.fixture
def server(tmp_path, monkeypatch) -> Iterator[str]:
    """The service (SQLite and blobs under tmp_path, in-process jobs) served by waitress."""
    from service.app import create_app
    from service.cli import make_server

    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    app = create_app()
    srv = make_server("127.0.0.1", 0, threads=4, app=app)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.effective_port}"
    finally:
        srv.trigger.pull_trigger(srv.close)
        thread.join(timeout=10)
        srv.task_dispatcher.shutdown()
