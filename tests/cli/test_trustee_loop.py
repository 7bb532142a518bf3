"""The trustee loop refuses malformed tasks and challenges of another ceremony one by one and
keeps going (never crashes); it says what it serves, when it idles, what a pass did, and
checks its token before any work."""

from __future__ import annotations

import base64
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from flask import Flask
from flask.testing import FlaskClient

from cryptoscore.errors import RefusedError
from cryptoscore.identity import TrusteeIdentity
from cryptoscore.trustee.agent import PassSummary, TrusteeAgent
from cryptoscore_cli.api import ApiError
from cryptoscore_cli.errors import CliError
from cryptoscore_cli.trustee_loop import TrusteeLoop
from tests.helpers.protocol import (
    CHALLENGE,
    FlaskPort,
    ServiceRefusal,
    Trustees,
    create_challenge,
    encrypt_via_service,
    make_committee,
    make_tokens,
    request_pads,
    upload,
)
from tests.helpers.service import API, bearer


class _Service:
    """A service handing out garbage pad tasks; it must never be asked to store anything."""

    def __init__(self, tasks: dict[str, Any]) -> None:
        self.tasks = tasks
        self.posted: list[bytes] = []
        self.reports: list[dict[str, str]] = []

    def trustee_tasks(self) -> dict[str, Any]:
        return self.tasks

    def report_refusal(self, report: dict[str, str]) -> None:
        self.reports.append(dict(report))

    def post_pad_share(self, share: bytes) -> None:  # pragma: no cover - must not happen
        self.posted.append(share)


def test_malformed_tasks_are_refused_not_fatal(tmp_path):
    tasks = {
        "pads": [
            {"challenge": "c", "request": "ab" * 32, "record": "%%% not base64"},
            {"challenge": "c", "request": "ab" * 32, "record": base64.b64encode(b"x").decode()},
            {"challenge": "c", "request": "ab" * 32},
        ],
        "requests": [
            {"challenge": "c", "request_id": "r1", "request": "%%%"},
            {"challenge": "c", "request_id": "r2", "request": base64.b64encode(b"x").decode()},
        ],
    }
    said: list[str] = []
    service = _Service(tasks)
    loop = _loop(service, said, tmp_path)
    assert loop.run_once() == 0
    assert len(said) == 5 and all(line.startswith("refused") for line in said)
    assert service.posted == []
    # each refusal is told to the service, with the task it names and the reason said
    assert [(r["task"], r["subject"]) for r in service.reports] == [
        ("pads", "ab" * 32),
        ("pads", "ab" * 32),
        ("pads", "ab" * 32),
        ("requests", "r1"),
        ("requests", "r2"),
    ]
    assert all(r["reason"] and r["challenge"] == "c" for r in service.reports)


class _FlakyService:
    """Contribution tasks whose posting fails in the ways a real service can: a 409 for one
    (another trustee's race, or a closed round), a lost connection for another."""

    base = "http://service.test/api/v1"

    def __init__(self, failures: dict[str, Exception]) -> None:
        self.failures = failures
        self.contributed: list[str] = []
        self.asked = 0
        self.reports: list[dict[str, str]] = []

    def report_refusal(self, report: dict[str, str]) -> None:
        self.reports.append(dict(report))

    def get_json(self, path: str) -> Any:
        assert path == "/whoami"
        return {"role": "trustee", "name": "t1"}

    def trustee_tasks(self) -> dict[str, Any]:
        self.asked += 1
        return {
            "contributions": [
                {"challenge": "other-key", "bundle": "b0"},
                {"challenge": "c", "bundle": "b1"},
                {"challenge": "c", "bundle": "b2"},
                {"challenge": "c", "bundle": "b3"},
            ]
        }

    def post_contribution(self, contribution: bytes) -> None:
        bundle = contribution.decode()
        if bundle in self.failures:
            raise self.failures.pop(bundle)
        self.contributed.append(bundle)


class _Signed:
    """Stands in for a signed contribution: its bytes name the bundle."""

    def __init__(self, bundle: str) -> None:
        self.bundle = bundle

    def to_bytes(self) -> bytes:
        return self.bundle.encode()


def _share() -> Any:
    from cryptoscore import BFV8192

    return SimpleNamespace(trustee_id="t1", key_id="ab" * 32, params=BFV8192, threshold=2)


def _loop(service, said, tmp_path) -> TrusteeLoop:
    """A loop over a stub service, with no real share or identity (it must never need them)."""
    return TrusteeLoop(
        service,  # type: ignore[arg-type]
        _share(),  # type: ignore[arg-type]
        None,  # type: ignore[arg-type]
        tmp_path / "journal",
        said.append,
        False,
    )


def _loop_with_contexts(service, said, tmp_path) -> TrusteeLoop:
    loop = _loop(service, said, tmp_path)

    def context(_port: Any, challenge_id: str) -> Any:
        if challenge_id == "other-key":
            raise RefusedError(f"challenge {challenge_id} uses another key than my share")
        return None

    loop.agent.context = context  # type: ignore[method-assign]
    loop.agent._followed = lambda _port, _challenge: None  # type: ignore[method-assign,assignment,return-value]
    loop.agent.contribute = lambda _context, bundle, _log=None: _Signed(bundle)  # type: ignore[method-assign,assignment,return-value]
    return loop


def test_a_refused_or_conflicting_task_skips_only_itself(tmp_path):
    """A challenge of another key (issue 15: it used to stop ``trustee run``) is refused and
    the loop goes on; a 409 skips its task only."""
    said: list[str] = []
    service = _FlakyService({"b1": ApiError(409, "Conflict: round 1 already has t contributions")})
    loop = _loop_with_contexts(service, said, tmp_path)
    assert loop.run_once() == 2
    assert service.contributed == ["b2", "b3"]
    assert said[0].startswith("refused contribution b0") and "another key" in said[0]
    assert said[1].startswith("skipped contribution b1") and "409" in said[1]
    assert service.reports == [
        {
            "challenge": "other-key",
            "task": "contributions",
            "subject": "b0",
            "reason": "challenge other-key uses another key than my share",
        }
    ]


def test_a_lost_connection_ends_the_pass_and_is_retried_with_backoff(tmp_path, monkeypatch):
    said: list[str] = []
    lost = ApiError(0, "connection to the service lost: RemoteDisconnected")
    service = _FlakyService({"b2": lost})
    loop = _loop_with_contexts(service, said, tmp_path)
    sleeps: list[float] = []
    monkeypatch.setattr("cryptoscore_cli.trustee_loop.time.sleep", sleeps.append)
    loop.run(once=False, interval=2.0, passes=3)
    assert service.asked == 3
    assert service.contributed == ["b1", "b1", "b2", "b3", "b1", "b2", "b3"]
    assert any("service unavailable" in line for line in said)
    assert sleeps[0] == 4.0 and sleeps[1] == 2.0  # backed off after the failure, then normal


def test_a_connection_dropped_mid_reply_is_an_api_error_not_a_crash():
    """``http.client.RemoteDisconnected`` (the server died while answering) used to escape the
    client and stop ``trustee run``; it is now "service unavailable" (status 0)."""
    import socket
    import threading

    from cryptoscore_cli.api import Client
    from cryptoscore_cli.trustee_loop import unavailable

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)

    def hang_up() -> None:
        conn, _ = server.accept()
        conn.recv(65536)
        conn.close()  # no status line at all

    thread = threading.Thread(target=hang_up, daemon=True)
    thread.start()
    client = Client(f"http://127.0.0.1:{server.getsockname()[1]}", "cs_x", timeout=5)
    try:
        client.get_json("/trustee/tasks")
    except ApiError as exc:
        assert exc.status == 0 and "lost" in str(exc) and unavailable(exc)
    else:  # pragma: no cover
        raise AssertionError("no error")
    finally:
        thread.join(timeout=5)
        server.close()


# -- a challenge of another ceremony, over HTTP ---------------------------------------------------
def _app(tmp_path: Path) -> Flask:
    from cryptoscore_server.app import create_app

    return create_app(
        {
            "TESTING": True,
            "DATA_DIR": tmp_path / "data",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'service.sqlite'}",
            "MAX_UPLOAD_BYTES": 64 << 20,
        }
    )


class _CountingPort(FlaskPort):
    def __init__(self, client: FlaskClient, token: str) -> None:
        super().__init__(client, token)
        self.key_downloads: list[str] = []

    def evaluation_keys(self, challenge_id: str) -> bytes:
        self.key_downloads.append(challenge_id)
        return super().evaluation_keys(challenge_id)


def test_a_challenge_of_another_ceremony_is_refused_reported_and_the_rest_served(tmp_path):
    """Two challenges name a trustee ``t0``, each of its own ceremony: our t0 refuses the
    other one's tasks (its pad request, then its labels' contribution), tells the service
    why, answers its own challenge's pads in the same pass, and does not download the other
    challenge's 30 MB of keys again on every pass."""
    app = _app(tmp_path)
    client = app.test_client()
    ours, theirs = make_committee(), make_committee()
    tokens = make_tokens(app, {"org": "organizer", "t0": "trustee", "t1": "trustee"})
    create_challenge(client, tokens["org"], theirs, pad_sets="any")  # CHALLENGE, theirs; t0, t1
    create_challenge(client, tokens["org"], ours, id="ours")
    their_trustees = Trustees(client, theirs, tokens, tmp_path, ("t0", "t1"))
    labels = encrypt_via_service(their_trustees, tokens["org"], "labels", np.arange(300) % 2)
    assert upload(client, tokens["org"], "labels", labels).status_code == 201
    request, _key, _created = request_pads(client, tokens["org"], "labels", "ours")

    said: list[str] = []
    agent = TrusteeAgent(ours.shares["t0"], ours.identities["t0"], tmp_path / "ours.journal")
    agent.say = said.append
    port = _CountingPort(client, tokens["t0"])
    agent.run_once(port, lambda exc: isinstance(exc, ServiceRefusal))
    assert said == [
        f"answered pads {request.digest[:16]}",
        f"refused contribution {labels.digest[:16]}: challenge {CHALLENGE} uses another key "
        "than this trustee's share",
    ]
    assert agent.last_pass == PassSummary(answered=1, refused=1, skipped=0)
    refusals = client.get(
        f"{API}/challenges/{CHALLENGE}/refusals", headers=bearer(tokens["org"])
    ).get_json()["refusals"]
    assert [(r["trustee"], r["task"], r["subject"]) for r in refusals] == [
        ("t0", "contributions", labels.digest)
    ]
    assert "another key" in refusals[0]["reason"]
    agent.run_once(port, lambda exc: isinstance(exc, ServiceRefusal))  # refused again...
    assert said[-1].startswith(f"refused contribution {labels.digest[:16]}")
    assert port.key_downloads == ["ours", CHALLENGE]  # ...without fetching its keys again
    agent.close()


def test_an_identity_not_on_the_challenges_roster_is_refused(tmp_path):
    app = _app(tmp_path)
    client = app.test_client()
    committee = make_committee()
    tokens = make_tokens(app, {"org": "organizer", "t0": "trustee"})
    create_challenge(client, tokens["org"], committee)
    request, _key, _created = request_pads(client, tokens["org"], "labels")
    said: list[str] = []
    stranger = TrusteeIdentity.generate()
    agent = TrusteeAgent(committee.shares["t0"], stranger, tmp_path / "j", say=said.append)
    assert agent.run_once(FlaskPort(client, tokens["t0"]), lambda exc: False) == 0
    assert said == [
        f"refused pads {request.digest[:16]}: this trustee's identity is not the one the "
        f"roster of challenge {CHALLENGE} names for t0"
    ]
    agent.close()


# -- start-up, idle and summary lines; the token checked first ------------------------------------
class _Quiet:
    """A service with no tasks, answering ``/whoami`` with ``me``."""

    base = "http://service.test/api/v1"

    def __init__(self, me: dict[str, str] | ApiError) -> None:
        self.me = me
        self.polls = 0

    def get_json(self, path: str) -> Any:
        assert path == "/whoami"
        if isinstance(self.me, ApiError):
            raise self.me
        return self.me

    def trustee_tasks(self) -> dict[str, Any]:
        self.polls += 1
        return {}


def test_once_says_what_it_serves_then_a_summary(tmp_path):
    said: list[str] = []
    service = _Quiet({"role": "trustee", "name": "t1"})
    loop = TrusteeLoop(service, _share(), None, tmp_path / "j", said.append, False)  # type: ignore[arg-type]
    loop.run(once=True, interval=3)
    assert said == [
        f"trustee t1 serving http://service.test/api/v1: key {'ab' * 8}… (bfv-8192, 2 of n), "
        f"polling every 3 s, journal {tmp_path / 'j'}; identity checked against each "
        "challenge's ceremony record",
        "one pass: 0 answered, 0 refused, 0 skipped by the service",
    ]


def test_idle_is_said_at_most_once_a_minute(tmp_path, monkeypatch):
    now = [0.0]
    monkeypatch.setattr(
        "cryptoscore_cli.trustee_loop.time.sleep", lambda s: now.__setitem__(0, now[0] + s)
    )
    said: list[str] = []
    service = _Quiet({"role": "trustee", "name": "t1"})
    loop = TrusteeLoop(
        service,
        _share(),
        None,
        tmp_path / "j",
        said.append,
        False,
        clock=lambda: now[0],  # type: ignore[arg-type]
    )
    loop.run(once=False, interval=2, passes=100)  # 200 s of polling, nothing to do
    assert service.polls == 100
    assert said[1:] == [
        "idle: nothing to answer for 1 min",
        "idle: nothing to answer for 2 min",
        "idle: nothing to answer for 3 min",
    ]


@pytest.mark.parametrize(
    ("me", "message"),
    [
        (
            {"role": "trustee", "name": "t2"},
            "the token is trustee t2's, but the share is trustee t1's: use the trustee token "
            "named t1",
        ),
        ({"role": "participant", "name": "t1"}, "the token is participant t1's, but"),
    ],
)
def test_a_token_of_someone_else_stops_before_any_work(tmp_path, me, message):
    service = _Quiet(me)
    loop = TrusteeLoop(service, _share(), None, tmp_path / "j", [].append, False)  # type: ignore[arg-type]
    with pytest.raises(CliError, match=re.escape(message)):
        loop.run(once=False, passes=3)
    assert service.polls == 0


def test_a_service_without_whoami_gets_a_note(tmp_path):
    said: list[str] = []
    service = _Quiet(ApiError(404, "Not Found"))
    loop = TrusteeLoop(service, _share(), None, tmp_path / "j", said.append, False)  # type: ignore[arg-type]
    loop.run(once=True)
    assert said[1] == "note: the service cannot say whose token this is (no /whoami)"
    assert service.polls == 1


def test_trustee_run_refuses_an_identity_the_roster_does_not_name(tmp_path, cli_committee, capsys):
    """trustee-2's identity with trustee-1's share: one line before any request is made (the
    server does not exist)."""
    from cryptoscore_cli.main import main

    share = tmp_path / "ceremony" / "share-trustee-1.bin"
    argv = ["trustee", "run", "--once", "--server", "http://127.0.0.1:9", "--share", str(share)]
    argv += ["--passphrase-env", "ID_PASS", "--share-passphrase-env", cli_committee["trustee-1"]]
    capsys.readouterr()
    assert main([*argv, "--home", str(tmp_path / "trustee-2")]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"cryptoscore: error: {tmp_path / 'trustee-2'}/identity.pem is not the identity the "
        f"roster names for trustee-1 ({tmp_path / 'ceremony' / 'ceremony.record'}): use "
        "trustee-1's identity"
    ]
    assert not (tmp_path / "trustee-2" / "partials.journal").exists()
