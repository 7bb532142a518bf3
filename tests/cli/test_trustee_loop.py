"""The trustee loop refuses malformed tasks one by one and keeps going (never crashes)."""

from __future__ import annotations

import base64
from types import SimpleNamespace
from typing import Any

from cryptoscore.errors import RefusedError
from cryptoscore_cli.api import ApiError
from cryptoscore_cli.trustee_loop import TrusteeLoop


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

    def __init__(self, failures: dict[str, Exception]) -> None:
        self.failures = failures
        self.contributed: list[str] = []
        self.asked = 0
        self.reports: list[dict[str, str]] = []

    def report_refusal(self, report: dict[str, str]) -> None:
        self.reports.append(dict(report))

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


def _loop(service, said, tmp_path) -> TrusteeLoop:
    """A loop over a stub service, with no real share or identity (it must never need them)."""
    share = SimpleNamespace(trustee_id="t1", key_id="k")
    return TrusteeLoop(
        service,  # type: ignore[arg-type]
        share,  # type: ignore[arg-type]
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
