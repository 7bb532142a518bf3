"""The load benchmark (``benchmarks/load.py``) runs: two participants on SQLite, no errors,
every submission released, each upload and its replay timed."""

from __future__ import annotations

from benchmarks.load import run


def test_load_benchmark_smoke() -> None:
    report = run(2, "sqlite")
    assert report["errors"] == []
    assert report["routes"]["POST /challenges/{id}/submissions"]["count"] == 4  # 2 + replays
    assert report["routes"]["POST /challenges/{id}/enrolment"]["count"] == 2
    assert "GET /trustee/evidence/{id}/{id}" in report["routes"]
