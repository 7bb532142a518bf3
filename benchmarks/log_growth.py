"""Log growth: an upload's log work and the leaderboard, at 100, 10,000 and 100,000 entries.

    python -m benchmarks.log_growth [--sizes 100 10000 100000] [--database URL] [--json]

For each size a challenge's log is filled with that many entries (contributions, and 20
released submissions spread through it), written in bulk exactly as appends would write them
(entries and their Merkle nodes). Then, on the real database, it times:

* **upload**: what an upload does to the log — append one event, sign the new head, issue
  the receipt (``ledger.append_event``, ``sign_head``, ``receipt_for``) in one transaction;
* **leaderboard**: ``GET /api/v1/challenges/<id>/leaderboard`` through the Flask app;
* **rebuild (old way)**: what every upload used to do twice before the tree was persisted —
  read every entry and rebuild the Merkle tree — for comparison in the same run.

The target is flat upload and leaderboard latency within noise; the rebuild grows linearly.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.orm import Session

from cryptoscore.envelope import canonical_json
from cryptoscore.protocol.contributions import Contribution
from cryptoscore.transparency.log import CollectingNodes, MerkleLog
from cryptoscore_server.app import create_app
from cryptoscore_server.blobs import get_blob_store
from cryptoscore_server.db import dispose, get_session
from cryptoscore_server.ledger import append_event, challenge_lock, receipt_for, sign_head
from cryptoscore_server.models import (
    Blob,
    Challenge,
    LogEntry,
    LogNode,
    Token,
    TreeHead,
    UploadedBundle,
)

CHALLENGE = "growth"
RELEASES = 20


def make_app(data_dir: Path, database_url: str | None = None) -> Flask:
    config: dict[str, Any] = {"DATA_DIR": str(data_dir), "JOB_THREAD": False}
    if database_url:
        config["DATABASE_URL"] = database_url
    return create_app(config)


def add_challenge(
    session: Session,
    challenge_id: str,
    token_id: int,
    *,
    n_items: int = 2000,
    policy: dict[str, Any] | None = None,
    rules: dict[str, Any] | None = None,
) -> None:
    """A challenge row and its owner's token, with placeholder key digests: no ceremony, no
    log — enough to read its leaderboard (and, with entries and nodes added, its log);
    ``rules``: its participation rules' JSON (``ChallengeRules.to_json``), if any."""
    now = datetime.now(UTC)
    policy = policy or {"classes": 2, "metrics": ["correct"]}
    placeholder = f"{token_id:08x}{0:056x}"
    session.add(Token(id=token_id, name="owner", role="admin", token_hash=f"{token_id:064x}"))
    session.add(Blob(sha256=placeholder, size=1))
    session.flush()
    session.add(
        Challenge(
            id=challenge_id,
            name=challenge_id,
            classes=policy["classes"],
            n_items=n_items,
            policy=policy,
            params_id="bfv-8192",
            key_id="0" * 64,
            threshold=2,
            roster=[],
            public_context_hash=placeholder,
            evaluation_keys_hash=placeholder,
            ceremony_record_hash=placeholder,
            submission_limit_per_day=1,
            opens_at=now - timedelta(days=1),
            closes_at=now + timedelta(days=1),
            created_by=token_id,
            rules=rules,
        )
    )
    session.flush()


def add_release(
    session: Session,
    challenge_id: str,
    token_id: int,
    digest: str,
    owner: str,
    values: dict[str, int],
    index: int,
    submitted_at: datetime | None = None,
) -> None:
    """A released submission as the leaderboard's projection keeps it: its bundle row, marked
    with the log index of its release entry (the entry itself is the caller's)."""
    session.add(Blob(sha256=digest, size=1))
    session.flush()
    session.add(
        UploadedBundle(
            challenge_id=challenge_id,
            digest=digest,
            kind="predictions",
            owner=owner,
            token_id=token_id,
            state="released",
            reason="",
            values=values,
            released_index=index,
            receipt={},
            submitted_at=submitted_at or datetime.now(UTC),
        )
    )


def prefill(app: Flask, size: int, challenge_id: str = CHALLENGE, token_id: int = 1) -> None:
    """A challenge whose log holds ``size`` entries, ``RELEASES`` of them releases."""
    now = datetime.now(UTC)
    digest = lambda i: f"{token_id:08x}{i:056x}"  # noqa: E731
    release_at = {size * (r + 1) // (RELEASES + 1): r for r in range(RELEASES)}
    with app.app_context():
        session = get_session()
        add_challenge(session, challenge_id, token_id)
        nodes = CollectingNodes()
        log = MerkleLog(nodes=nodes)
        entries = []
        for i in range(size):
            if i in release_at:
                r = release_at[i]
                entry = {
                    "type": "release",
                    "predictions": digest(r + 1),
                    "labels": digest(0),
                    "request_id": f"r2-{r}",
                    "values": {"correct": 1000 + r},
                }
                add_release(
                    session,
                    challenge_id,
                    token_id,
                    digest(r + 1),
                    f"participant-{r}",
                    entry["values"],
                    i,
                    now,
                )
            else:
                entry = {
                    "type": "contribution",
                    "bundle": digest(i),
                    "trustee": "t1",
                    "randomness": "00" * 32,
                }
            raw = canonical_json(entry)
            log.append(raw)
            entries.append(
                {
                    "challenge_id": challenge_id,
                    "index": i,
                    "key": f"fill:{i}",
                    "entry": raw,
                    "created_at": now,
                }
            )
        session.flush()
        for start in range(0, len(entries), 5000):
            session.execute(insert(LogEntry), entries[start : start + 5000])
        written = [
            {"challenge_id": challenge_id, "level": lv, "position": p, "hash": h}
            for lv, p, h in nodes.written
        ]
        for start in range(0, len(written), 5000):
            session.execute(insert(LogNode), written[start : start + 5000])
        sign_head(session, challenge_id)
        session.commit()
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("ANALYZE"))  # a live database has statistics; a bulk load not yet
            session.commit()


def upload_log_work(app: Flask, challenge_id: str = CHALLENGE) -> None:
    """Append one event, sign the head, issue the receipt: an upload's log work."""
    with app.app_context():
        session, store = get_session(), get_blob_store()
        contribution = Contribution(
            challenge_id, "ab" * 32, "t1", os.urandom(32), os.urandom(64)
        )  # the log does not check signatures (the verifier does): any 64 bytes time the same
        with challenge_lock(session, challenge_id):
            index = append_event(
                session,
                store,
                challenge_id,
                f"bench:{contribution.randomness.hex()}",
                lambda t, k: t.record_contribution("ab" * 32, contribution, key=k),
            )
            sign_head(session, challenge_id)
            receipt_for(session, store, challenge_id, index)
            session.commit()


def leaderboard(app: Flask) -> None:
    response = app.test_client().get(f"/api/v1/challenges/{CHALLENGE}/leaderboard")
    if response.status_code != 200 or response.get_json()["total"] != RELEASES:
        raise RuntimeError(f"leaderboard: {response.status_code} {response.data[:200]!r}")


def rebuild_old_way(app: Flask) -> None:
    """Read every entry and rebuild the tree (what each upload did before, twice)."""
    with app.app_context():
        session = get_session()
        log = MerkleLog()
        for raw in session.scalars(
            select(LogEntry.entry)
            .where(LogEntry.challenge_id == CHALLENGE)
            .order_by(LogEntry.index)
        ):
            log.append(raw)
        log.root()
        session.rollback()


def _median_ms(fn: Callable[[], None], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


@contextmanager
def _database(database_url: str | None) -> Iterator[str | None]:
    """SQLite in the data folder, or a fresh schema of the PostgreSQL database (dropped after)."""
    if not database_url:
        yield None
        return
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{database_url}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def measure(size: int, database_url: str | None = None, repeat: int = 15) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, _database(database_url) as url:
        app = make_app(Path(tmp), url)
        try:
            prefill(app, size)
            upload = _median_ms(lambda: upload_log_work(app), repeat)
            board = _median_ms(lambda: leaderboard(app), repeat)
            rebuild = _median_ms(lambda: rebuild_old_way(app), max(3, repeat // 5))
            with app.app_context():
                heads = get_session().scalar(
                    select(TreeHead.size).order_by(TreeHead.size.desc()).limit(1)
                )
        finally:
            dispose(app)
    return {
        "entries": size,
        "log_size_after": heads,
        "upload_ms": round(upload, 2),
        "leaderboard_ms": round(board, 2),
        "rebuild_old_way_ms": round(rebuild, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 10_000, 100_000])
    parser.add_argument("--database", help="a PostgreSQL URL (default: SQLite in a temp dir)")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    rows = [measure(size, args.database, args.repeat) for size in args.sizes]
    if args.json:
        print(json.dumps(rows))
        return 0
    print(f"{'entries':>9} {'upload ms':>10} {'leaderboard ms':>15} {'rebuild (old) ms':>17}")
    for row in rows:
        print(
            f"{row['entries']:>9} {row['upload_ms']:>10.2f} {row['leaderboard_ms']:>15.2f} "
            f"{row['rebuild_old_way_ms']:>17.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
