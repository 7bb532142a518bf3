"""The log grows without being rebuilt: an upload's log work and the leaderboard read
O(log size) rows, on SQLite and PostgreSQL (the timing is in benchmarks/log_growth.py; here
the statements are counted, so the test is exact and independent of the machine)."""

from __future__ import annotations

import json

from flask import Flask
from sqlalchemy import event

from benchmarks.log_growth import RELEASES, prefill, upload_log_work
from cryptoscore.transparency.log import MerkleLog
from cryptoscore_server.blobs import get_blob_store
from cryptoscore_server.db import get_engine, get_session
from cryptoscore_server.ledger import transcript


def _statements(app: Flask, work) -> list[str]:
    seen: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        seen.append(statement)

    engine = get_engine(app)
    event.listen(engine, "before_cursor_execute", count)
    try:
        work()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return seen


def test_upload_and_leaderboard_cost_does_not_grow_with_the_log(app: Flask) -> None:
    prefill(app, 64, "small", token_id=1)
    prefill(app, 4096, "large", token_id=2)
    small = _statements(app, lambda: upload_log_work(app, "small"))
    large = _statements(app, lambda: upload_log_work(app, "large"))
    # 64 times the entries: at most a few more node reads per level of depth (6 levels more)
    assert len(large) <= len(small) + 3 * 6, (len(small), len(large))
    # no statement reads the whole log
    assert not [s for s in large if "FROM log_entries" in s and "ORDER BY" in s]

    client = app.test_client()
    for challenge in ("small", "large"):
        reads = _statements(
            app, lambda c=challenge: client.get(f"/api/v1/challenges/{c}/leaderboard")
        )
        assert not [s for s in reads if "log_entries" in s]
        board = client.get(f"/api/v1/challenges/{challenge}/leaderboard").get_json()["rows"]
        assert len(board) == RELEASES
        assert [row["values"]["correct"] for row in board] == sorted(
            (1000 + r for r in range(RELEASES)), reverse=True
        )


def test_persisted_tree_matches_a_rebuilt_one(app: Flask) -> None:
    """Roots, inclusion and consistency proofs from the persisted nodes equal those of a tree
    rebuilt from the entries, for every size along the way."""
    prefill(app, 300, "tree", token_id=3)
    for _ in range(5):
        upload_log_work(app, "tree")
    with app.app_context():
        record = transcript(get_session(), get_blob_store(), "tree")
        rebuilt = MerkleLog()
        for raw in record.entries:
            json.loads(raw)
            rebuilt.append(raw)
        assert record.log.size == rebuilt.size == 305
        for size in (1, 2, 3, 127, 128, 129, 255, 300, 305):
            assert record.log.root(size) == rebuilt.root(size)
            assert record.log.consistency_proof(size // 2, size) == rebuilt.consistency_proof(
                size // 2, size
            )
            for index in (0, size // 2, size - 1):
                assert record.log.inclusion_proof(index, size) == rebuilt.inclusion_proof(
                    index, size
                )
        heads = record.tree_heads
        assert heads[-1].size == 305 and heads[-1].root == rebuilt.root()
