"""Log growth (``make bench``): an upload's log work and the public leaderboard at 100 and
10,000 log entries on SQLite (``python -m benchmarks.log_growth`` adds 100,000 entries,
PostgreSQL and the old rebuild for comparison). Target: flat across sizes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from benchmarks.log_growth import leaderboard, make_app, prefill, upload_log_work
from cryptoscore_server.db import dispose


@pytest.fixture(scope="module", params=[100, 10_000], ids=lambda n: f"{n}-entries")
def grown(request, tmp_path_factory) -> Iterator[Flask]:
    app = make_app(Path(tmp_path_factory.mktemp("log")))
    prefill(app, request.param)
    yield app
    dispose(app)


def test_upload_log_work(benchmark, grown: Flask) -> None:
    benchmark(upload_log_work, grown)


def test_leaderboard(benchmark, grown: Flask) -> None:
    benchmark(leaderboard, grown)
