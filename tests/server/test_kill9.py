"""Killed for real (issue 12, item 7): ``cryptoscore serve`` as its own process, ``kill -9``-ed
while labels and submissions are uploaded, while trustees post, and while its in-process jobs
run — then started again on the same data. Clients and trustees retry as ``submit`` and
``trustee run`` do. Every receipted submission must end released exactly once, and the audit
bundle must verify complete; on SQLite and on PostgreSQL, bounded in time.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest

from cryptoscore import encrypt_labels, encrypt_predictions
from cryptoscore.identity import Identity
from cryptoscore.protocol.signed_inputs import Enrolment, sign_upload
from cryptoscore.scoring.encoding import Layout
from cryptoscore.verify import verify_bundle
from cryptoscore_cli.api import ApiError, ProtocolClient
from cryptoscore_cli.pad_client import fetch_pads
from cryptoscore_cli.trustee_loop import TrusteeLoop
from cryptoscore_server.app import create_app
from cryptoscore_server.auth import create_token
from cryptoscore_server.db import dispose, get_session
from tests.helpers.protocol import CHALLENGE, N_ITEMS, Committee, create_challenge
from tests.helpers.service import ORGANIZER
from tests.helpers.tcp_proxy import TcpProxy

T = TypeVar("T")
DEADLINE_S = 300
REDIS_URL = "redis://127.0.0.1:6379/0"
PARTICIPANTS = ("ann", "bob", "cat")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``cryptoscore serve`` (or ``worker``) in a child process, on fixed data, port and
    database (and queue, with ``env``)."""

    def __init__(
        self,
        data_dir: Path,
        database_url: str,
        log: Path,
        env: dict[str, str] | None = None,
        command: str = "serve",
    ) -> None:
        self.port = _free_port()
        self.env = {
            **os.environ,
            "DATA_DIR": str(data_dir),
            "DATABASE_URL": database_url,
            "OUTBOX_INTERVAL": "1",
            "REQUEUE_INTERVAL": "2",
        }
        self.env.pop("REDIS_URL", None)
        self.env.update(env or {})
        self.command = command
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self.kills = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        args = ["serve", "--port", str(self.port)] if self.command == "serve" else ["worker"]
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cryptoscore_cli.main", *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: a worker's scheduler child dies too
            )
        if self.command != "serve":
            return  # a worker has no port: its jobs wait in the queue until it is up
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/api/v1/health/ready", timeout=2):
                    return
            except OSError:
                assert self.process.poll() is None, self.log.read_text()[-2000:]
                time.sleep(0.1)
        raise AssertionError("the server did not start:\n" + self.log.read_text()[-2000:])

    def kill9(self) -> None:
        """``kill -9`` of the process and whatever it forked (RQ's scheduler)."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.kills += 1

    def restart(self) -> None:
        self.kill9()
        self.start()

    def stop(self) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)


def _retrying(action: Callable[[], T], what: str, deadline: float) -> T:
    """``action`` again while the service is down or restarting (status 0 or 5xx), as a
    client that retries does; any other error is the test's failure."""
    while True:
        try:
            return action()
        except ApiError as exc:
            if exc.status not in (0, 500, 502, 503) or time.monotonic() > deadline:
                raise AssertionError(f"{what}: {exc}") from None
            time.sleep(0.3)


@pytest.fixture
def database(database_url: str) -> str:
    """The test's database (``conftest.database_url``: SQLite, and PostgreSQL in a schema of
    its own), as the server process is given it."""
    return database_url


@pytest.fixture
def queue_env(request, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The server's extra environment: none (jobs run in the server process); parametrized
    ``"redis"``, a queue of its own on the machine's Redis (deleted afterwards);
    ``"failpoints"``, every job kind armed to kill the server as it commits, once
    (``cryptoscore_server/failpoints.py``)."""
    mode = getattr(request, "param", None)
    if mode == "failpoints":
        yield {
            "CRYPTOSCORE_FAILPOINTS": "round1_start,round1_finish,round2_start,round2_finish",
            "CRYPTOSCORE_FAILPOINT_DIR": str(tmp_path),
        }
        return
    if mode != "redis":
        yield {}
        return
    from redis import Redis
    from rq import Queue

    name = f"cryptoscore-kill-{uuid.uuid4().hex[:12]}"
    yield {"REDIS_URL": REDIS_URL, "RQ_QUEUE": name}
    connection = Redis.from_url(REDIS_URL)
    Queue(name, connection=connection).delete(delete_jobs=True)
    connection.close()


@pytest.fixture
def service(
    database: str, queue_env: dict[str, str], tmp_path: Path, committee: Committee
) -> Iterator[tuple[Server, dict]]:
    """A challenge created, tokens minted, the server process started."""
    database_url = database
    app = create_app({"DATA_DIR": tmp_path / "data", "DATABASE_URL": database_url})
    tokens: dict[str, str] = {}
    with app.app_context():
        session = get_session()
        roles = {"organizer": "organizer", "auditor": "auditor"}
        roles.update({p: "participant" for p in PARTICIPANTS})
        roles.update({t: "trustee" for t in committee.files.trustee_ids})
        for name, role in roles.items():
            _row, tokens[name] = create_token(session, role, name)
        session.commit()
    create_challenge(app.test_client(), tokens["organizer"], committee)
    dispose(app)
    server = Server(tmp_path / "data", database_url, tmp_path / "server.log", queue_env)
    server.start()
    try:
        yield server, tokens
    finally:
        server.stop()


def _trustees(url: str, committee: Committee, tokens: dict, tmp: Path, stop: threading.Event):
    """The three trustees' loops, polling until ``stop`` (a lost service: retry)."""

    def serve(tid: str) -> None:
        loop = TrusteeLoop(
            ProtocolClient(url, tokens[tid], timeout=30),
            committee.shares[tid],
            committee.identities[tid],
            tmp / f"{tid}.journal",
            lambda _line: None,
            False,
        )
        while not stop.is_set():
            with contextlib.suppress(ApiError):  # down or restarting: the next pass retries
                loop.run_once()
            stop.wait(0.2)

    threads = [
        threading.Thread(target=serve, args=(t,), daemon=True) for t in tokens if t[:1] == "t"
    ]
    for th in threads:
        th.start()
    return threads


def _encrypt(server: Server, token: str, kind: str, identity: Identity, values: Any, c: Committee):
    client = ProtocolClient(server.url, token, timeout=30)
    layout = Layout.for_params(c.context.public.params, N_ITEMS, 2)
    pads = fetch_pads(
        client,
        CHALLENGE,
        kind,
        c.context.record,
        c.context.public,
        layout.ciphertexts,
        identity=identity,
        timeout=60,
        interval=0.2,
    )
    encrypt = encrypt_labels if kind == "labels" else encrypt_predictions
    return encrypt(values, c.context.public, classes=2, challenge=CHALLENGE, pads=pads)


def _story(
    server: Server,
    committee: Committee,
    tokens: dict,
    tmp_path: Path,
    kill: Callable[[str], None],
    trustee_url: str | None = None,
) -> None:
    """Labels and three submissions, with ``kill(moment)`` called at each moment of interest
    (after the labels upload, while a submission's upload is in flight, while a round 1 runs,
    while the round 2s run); then every receipted submission released exactly once, and the
    audit bundle verified complete."""
    deadline = time.monotonic() + DEADLINE_S
    stop = threading.Event()
    threads = _trustees(trustee_url or server.url, committee, tokens, tmp_path, stop)
    try:
        rng = np.random.default_rng(9)
        y = rng.integers(0, 2, N_ITEMS)
        labels = _retrying(
            lambda: _encrypt(server, tokens["organizer"], "labels", ORGANIZER, y, committee),
            "labels pads",
            deadline,
        )
        org = ProtocolClient(server.url, tokens["organizer"], timeout=30)
        signature = sign_upload(ORGANIZER, CHALLENGE, "labels", labels.digest)
        _retrying(
            lambda: org.upload_labels(CHALLENGE, labels.to_bytes(), signature), "labels", deadline
        )
        kill("labels")  # round 1 of the labels is under way: contributions, jobs, partials
        receipts: dict[str, str] = {}
        truth: dict[str, int] = {}
        for i, name in enumerate(PARTICIPANTS):
            client = ProtocolClient(server.url, tokens[name], timeout=30)
            who = Identity.generate()
            record = Enrolment.sign(who, CHALLENGE, name).to_bytes()
            _retrying(lambda c=client, r=record: c.enrol(CHALLENGE, r), f"{name} enrols", deadline)
            guess = np.where(rng.random(N_ITEMS) < 0.8, y, 1 - y)
            truth[name] = int(np.count_nonzero(guess == y))
            bundle = _retrying(
                lambda t=tokens[name], w=who, g=guess: _encrypt(
                    server, t, "predictions", w, g, committee
                ),
                f"{name}'s pads",
                deadline,
            )
            signature = sign_upload(who, CHALLENGE, "predictions", bundle.digest)
            killer = threading.Timer(0.05, kill, args=("upload",)) if i == 1 else None
            if killer is not None:  # in flight: the client retries the same bytes
                killer.start()
            result = _retrying(
                lambda c=client, b=bundle, s=signature: c.submit(CHALLENGE, b.to_bytes(), s),
                f"{name} submits",
                deadline,
            )
            if killer is not None:
                killer.join()
            receipts[name] = result["submission"]
            if i == 0:  # while its round 1 runs: trustees posting, jobs running
                time.sleep(1.0)
                kill("round 1")
        time.sleep(1.5)
        kill("round 2")
        states: dict[str, Any] = {}
        while time.monotonic() < deadline:
            states = {
                name: _retrying(
                    lambda n=name: ProtocolClient(server.url, tokens[n]).submission(
                        CHALLENGE, receipts[n]
                    ),
                    "status",
                    deadline,
                )
                for name in PARTICIPANTS
            }
            if all(s["state"] == "released" for s in states.values()):
                break
            time.sleep(0.5)
        assert {n: s["state"] for n, s in states.items()} == {n: "released" for n in PARTICIPANTS}
        assert {n: s["values"]["correct"] for n, s in states.items()} == truth
    finally:
        stop.set()
        for th in threads:
            th.join(timeout=30)
    auditor = ProtocolClient(server.url, tokens["auditor"], timeout=60)
    path = tmp_path / "audit.zip"
    path.write_bytes(_retrying(lambda: auditor.audit_bundle(CHALLENGE), "audit bundle", deadline))
    report = verify_bundle(path)
    assert report.complete, (report.first_failure, report.in_progress)
    with zipfile.ZipFile(path) as zf:
        entries = [json.loads(line) for line in zf.read("log.jsonl").split(b"\n") if line]
    released = [e["predictions"] for e in entries if e["type"] == "release"]
    assert sorted(released) == sorted(receipts.values())  # each exactly once


def test_kill9_of_the_server_during_uploads_posts_and_jobs(
    service, committee: Committee, tmp_path: Path
) -> None:
    server, tokens = service
    _story(server, committee, tokens, tmp_path, lambda _moment: server.restart())
    assert server.kills == 4


@pytest.mark.parametrize("queue_env", ["redis"], indirect=True)
def test_kill9_of_an_rq_worker_mid_job(
    service, queue_env: dict[str, str], database: str, committee: Committee, tmp_path: Path
) -> None:
    """Jobs go to Redis; the RQ worker is killed at the same moments (a job it had started is
    abandoned: the server's sweep schedules the bundle's next job again)."""
    server, tokens = service
    worker = Server(tmp_path / "data", database, tmp_path / "worker.log", queue_env, "worker")
    worker.start()
    try:
        _story(server, committee, tokens, tmp_path, lambda _moment: worker.restart())
    finally:
        worker.stop()
    assert worker.kills == 4


def test_lost_answers_to_partial_posts(service, committee: Committee, tmp_path: Path) -> None:
    """Between the trustees and the service, a forwarder that loses the service's answer to
    the first three partial POSTs (stored, but the trustee never hears so): each trustee's
    outbox sends the same bytes again, the service takes the repeat as a no-op."""
    server, tokens = service
    proxy = TcpProxy(("127.0.0.1", server.port), (b"POST /api/v1/trustee/partials", 3)).start()
    try:
        _story(
            server,
            committee,
            tokens,
            tmp_path,
            lambda _moment: None,
            trustee_url=f"http://127.0.0.1:{proxy.port}",
        )
    finally:
        proxy.cut()
    assert proxy.dropped == 3


@pytest.mark.parametrize("queue_env", ["failpoints"], indirect=True)
def test_kill9_inside_each_job_kind(
    service, queue_env: dict[str, str], committee: Committee, tmp_path: Path
) -> None:
    """Each job kind dies once as it commits its work (SIGKILL: nothing of it stored); a
    supervisor starts the server again, as a service manager would."""
    server, tokens = service
    stop = threading.Event()

    def supervise() -> None:
        while not stop.is_set():
            process = server.process
            if process is not None and process.poll() is not None:
                assert process.returncode == -signal.SIGKILL
                server.kills += 1
                server.start()
            stop.wait(0.1)

    supervisor = threading.Thread(target=supervise, daemon=True)
    supervisor.start()
    try:
        _story(server, committee, tokens, tmp_path, lambda _moment: None)
    finally:
        stop.set()
        supervisor.join(timeout=90)
    fired = sorted(p.name.removeprefix("failpoint-") for p in tmp_path.glob("failpoint-*"))
    assert fired == ["round1_finish", "round1_start", "round2_finish", "round2_start"]
    assert server.kills == 4
