"""Load on the real service (issue 12): N concurrent participants against waitress, on SQLite
or PostgreSQL, with three trustees (2 of 3) polling, and readers on the public routes.

    python -m benchmarks.load --participants 10,25,50 --database sqlite,postgresql

Each participant, in its own thread: makes an identity and enrols, asks for signed pads
(the trustees answer), encrypts 300 binary predictions locally, submits, uploads the same
bytes again (a replay: 200, nothing new), then waits until its score is released. Readers
fetch the challenge and the leaderboard meanwhile. Printed per run: errors (any 5xx, or any
answer a step did not expect), requests, p50/p95 per route, and the time from the first
upload until every submission is released — a table, or one JSON object with ``--json``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from cryptoscore import BFV8192, encrypt_labels, encrypt_predictions
from cryptoscore.identity import Identity, TrusteeIdentity
from cryptoscore.protocol.signed_inputs import Enrolment, sign_upload
from cryptoscore.scoring.encoding import Layout
from cryptoscore.threshold.ceremony import RosterEntry, open_share_file, run_ceremony
from cryptoscore_cli.api import ApiError, ProtocolClient
from cryptoscore_cli.pad_client import fetch_pads
from cryptoscore_cli.trustee_loop import TrusteeLoop
from tests.helpers.protocol import make_tokens

N_ITEMS = 300
CHALLENGE = "load"
POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
_ROUTE = re.compile(r"/[0-9a-f]{64}|/(?<=/challenges/)[^/]+|/(?<=/evidence/)[^/]+")


class Timings:
    """Per-route latencies and errors of every request the clients make."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seconds: dict[str, list[float]] = defaultdict(list)
        self.errors: list[str] = []

    def record(self, method: str, path: str, seconds: float, status: int) -> None:
        route = method + " " + _ROUTE.sub("/{id}", path.split("?")[0])
        with self.lock:
            self.seconds[route].append(seconds)
            if status >= 500 or status == 0:
                self.errors.append(f"{route}: {status}")


class TimedClient(ProtocolClient):
    """``ProtocolClient`` that times each request into ``timings``."""

    def __init__(self, base_url: str, token: str | None, timings: Timings) -> None:
        super().__init__(base_url, token)
        self.timings = timings

    def _request(self, method: str, path: str, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        status = 200
        try:
            return super()._request(method, path, *args, **kwargs)
        except ApiError as exc:
            status = exc.status
            raise
        finally:
            self.timings.record(method, path, time.perf_counter() - start, status)


@contextmanager
def _service(database: str, tmp: Path) -> Iterator[tuple[str, Any]]:
    from sqlalchemy import create_engine, text

    from cryptoscore_server.app import create_app
    from cryptoscore_server.db import dispose
    from cryptoscore_server.launch import serving_in_thread

    schema = None
    url = f"sqlite:///{tmp / 'load.sqlite3'}"
    admin = None
    if database == "postgresql":
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        schema = f"cs_load_{int(time.time() * 1000)}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    app = create_app({"DATA_DIR": tmp / "data", "DATABASE_URL": url, "MAX_UPLOAD_BYTES": 64 << 20})
    try:
        with serving_in_thread(app, threads=8) as base:
            yield base, app
    finally:
        dispose(app)
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            admin.dispose()


def run(participants: int, database: str) -> dict[str, Any]:
    """One load run; returns its figures."""
    timings = Timings()
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        ids = {f"trustee-{i}": TrusteeIdentity.generate() for i in (1, 2, 3)}
        roster = [RosterEntry(t, i + 1, k.public_key) for i, (t, k) in enumerate(ids.items())]
        phrases = {t: f"load passphrase {t}".encode() for t in ids}
        ceremony = run_ceremony(BFV8192, roster, 2, phrases)
        shares = {t: open_share_file(ceremony.share_files[t], phrases[t]) for t in ids}
        names = {f"p{i}": "participant" for i in range(participants)}
        with _service(database, tmp) as (base, app):
            tokens = make_tokens(app, {"org": "organizer", **{t: "trustee" for t in ids}, **names})
            organizer = Identity.generate()
            now = datetime.now(UTC)
            TimedClient(base, tokens["org"], timings).create_challenge(
                {
                    "id": CHALLENGE,
                    "name": "load",
                    "classes": 2,
                    "n_items": N_ITEMS,
                    "metrics": ["correct"],
                    "submission_limit_per_day": 5,
                    "organizer_key": organizer.public_key.hex(),
                    "opens_at": (now - timedelta(minutes=1)).isoformat(),
                    "closes_at": (now + timedelta(days=1)).isoformat(),
                },
                ceremony.record.to_bytes(),
                ceremony.public.to_bytes(),
                ceremony.evaluation.to_bytes(),
            )
            stop = threading.Event()
            loops = [
                TrusteeLoop(
                    TimedClient(base, tokens[t], timings),
                    shares[t],
                    ids[t],
                    tmp / f"{t}.journal",
                    lambda _line: None,
                    False,
                )
                for t in ids
            ]
            workers = [threading.Thread(target=_serve, args=(loop, stop)) for loop in loops]
            workers.append(threading.Thread(target=_read, args=(base, timings, stop)))
            for w in workers:
                w.start()
            try:
                y = np.random.default_rng(1).integers(0, 2, N_ITEMS)
                _labels(base, tokens["org"], organizer, ceremony, y, timings)
                started = time.perf_counter()
                results: dict[str, str] = {}
                threads = [
                    threading.Thread(
                        target=_participant,
                        args=(base, tokens[name], name, ceremony, y, timings, results),
                    )
                    for name in names
                ]
                for th in threads:
                    th.start()
                for th in threads:
                    th.join()
                release_all = time.perf_counter() - started
            finally:
                stop.set()
                for w in workers:
                    w.join()
    routes = {
        route: {
            "count": len(v),
            "p50_ms": round(1000 * statistics.median(v), 1),
            "p95_ms": round(1000 * sorted(v)[max(0, int(0.95 * len(v)) - 1)], 1),
        }
        for route, v in sorted(timings.seconds.items())
    }
    failed = [f"{n}: {r}" for n, r in results.items() if r != "released"]
    return {
        "participants": participants,
        "database": database,
        "errors": timings.errors + failed,
        "requests": sum(len(v) for v in timings.seconds.values()),
        "release_all_s": round(release_all, 1),
        "routes": routes,
    }


def _serve(loop: TrusteeLoop, stop: threading.Event) -> None:
    while not stop.is_set():
        with suppress(ApiError):  # busy or a dropped connection: the timings count it
            loop.run_once()
        stop.wait(0.2)


def _read(base: str, timings: Timings, stop: threading.Event) -> None:
    reader = TimedClient(base, None, timings)
    while not stop.is_set():
        for call in (lambda: reader.challenge(CHALLENGE), lambda: reader.leaderboard(CHALLENGE)):
            with suppress(ApiError):
                call()
        stop.wait(0.05)


def _pads(client: ProtocolClient, kind: str, identity: Identity, ceremony: Any) -> Any:
    layout = Layout.for_params(ceremony.public.params, N_ITEMS, 2)
    return fetch_pads(
        client,
        CHALLENGE,
        kind,
        ceremony.record,
        ceremony.public,
        layout.ciphertexts,
        identity=identity,
        timeout=600,
        interval=0.2,
    )


def _labels(base: str, token: str, organizer: Identity, ceremony: Any, y: Any, t: Timings) -> None:
    client = TimedClient(base, token, t)
    pads = _pads(client, "labels", organizer, ceremony)
    bundle = encrypt_labels(y, ceremony.public, classes=2, challenge=CHALLENGE, pads=pads)
    signature = sign_upload(organizer, CHALLENGE, "labels", bundle.digest)
    client.upload_labels(CHALLENGE, bundle.to_bytes(), signature)


def _participant(
    base: str,
    token: str,
    name: str,
    ceremony: Any,
    y: Any,
    timings: Timings,
    results: dict[str, str],
) -> None:
    client = TimedClient(base, token, timings)
    try:
        identity = Identity.generate()
        client.enrol(CHALLENGE, Enrolment.sign(identity, CHALLENGE, name).to_bytes())
        pads = _pads(client, "predictions", identity, ceremony)
        guess = np.where(np.random.default_rng(hash(name) % 2**32).random(N_ITEMS) < 0.8, y, 1 - y)
        bundle = encrypt_predictions(
            guess, ceremony.public, classes=2, challenge=CHALLENGE, pads=pads
        )
        signature = sign_upload(identity, CHALLENGE, "predictions", bundle.digest)
        first = client.submit(CHALLENGE, bundle.to_bytes(), signature)
        again = client.submit(CHALLENGE, bundle.to_bytes(), signature)  # a replay: no change
        if again != first:
            timings.errors.append(f"{name}: the replay got another answer")
        deadline = time.monotonic() + 900
        state = first["state"]
        while state not in ("released", "invalid") and time.monotonic() < deadline:
            time.sleep(0.5)
            state = client.submission(CHALLENGE, first["submission"])["state"]
        results[name] = state
    except Exception as exc:  # reported, not raised: the run goes on
        results[name] = f"{type(exc).__name__}: {exc}"


def _table(report: dict[str, Any]) -> str:
    lines = [
        f"{report['participants']} participants on {report['database']}: "
        f"{len(report['errors'])} errors, {report['requests']} requests, "
        f"every submission released in {report['release_all_s']} s",
        f"  {'route':58} {'count':>6} {'p50 ms':>8} {'p95 ms':>8}",
    ]
    for route, row in report["routes"].items():
        lines.append(f"  {route:58} {row['count']:>6} {row['p50_ms']:>8} {row['p95_ms']:>8}")
    lines += [f"  error: {e}" for e in report["errors"][:20]]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", default="10,25,50", help="comma list of N")
    parser.add_argument("--database", default="sqlite,postgresql", help="sqlite, postgresql")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    reports = [
        run(int(n), database)
        for database in args.database.split(",")
        for n in args.participants.split(",")
    ]
    if args.json:
        print(json.dumps(reports, indent=1))
    else:
        print("\n\n".join(_table(r) for r in reports))
    return 1 if any(r["errors"] for r in reports) else 0


if __name__ == "__main__":
    sys.exit(main())
