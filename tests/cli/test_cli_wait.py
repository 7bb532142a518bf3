"""`submit --wait`: every change of state with the time since the upload, then the scores
(exit 0), the reason of an invalid submission (exit 2), or the timeout (exit 3)."""

from __future__ import annotations

from typing import Any

import pytest

from cryptoscore_cli.commands.watch import WAIT_TIMED_OUT, wait_for_decision
from cryptoscore_cli.errors import CliError

DIGEST = "ab" * 32


class FakeClient:
    """Answers each poll with the next status (the last one again once they run out)."""

    def __init__(self, *states: tuple[str, str, str]) -> None:
        self.statuses = [
            {"state": state, "reason": reason, "waiting_for": waiting, "values": None}
            for state, reason, waiting in states
        ]
        self.polls = 0

    def submission(self, challenge_id: str, digest: str) -> dict[str, Any]:
        assert (challenge_id, digest) == ("c", DIGEST)
        self.polls += 1
        return self.statuses[min(self.polls, len(self.statuses)) - 1]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _wait(client: FakeClient, timeout: float = 60) -> dict[str, Any]:
    clock = Clock()
    return wait_for_decision(client, "c", DIGEST, timeout=timeout, clock=clock, sleep=clock.sleep)


def test_transitions_then_the_scores(capsys) -> None:
    client = FakeClient(
        ("awaiting-contributions", "", "round 1: 0 of 2 trustee contributions"),
        ("awaiting-contributions", "", "round 1: 0 of 2 trustee contributions"),
        ("validity", "", "round 1 (validity): 1 of 2 trustee partial decryptions"),
        ("released", "", ""),
    )
    client.statuses[-1]["values"] = {"correct": 7}
    assert _wait(client)["values"] == {"correct": 7}
    assert capsys.readouterr().out.splitlines() == [
        "[    0.0 s] awaiting-contributions — waiting for round 1: 0 of 2 trustee contributions",
        "[    4.0 s] validity — waiting for round 1 (validity): 1 of 2 trustee partial decryptions",
        "[    6.0 s] released",
    ]


def test_invalid_says_why(capsys) -> None:
    client = FakeClient(("noise-check", "", "x"), ("invalid", "V is not 0", ""))
    with pytest.raises(CliError, match=r"^submission abababababababab… is invalid: V is not 0$"):
        _wait(client)


def test_a_timeout_exits_3(capsys) -> None:
    client = FakeClient(("scoring", "t2 refused: not in my log", ""))
    with pytest.raises(SystemExit) as exited:
        _wait(client, timeout=5)
    assert exited.value.code == WAIT_TIMED_OUT == 3
    captured = capsys.readouterr()
    assert captured.out.splitlines() == ["[    0.0 s] scoring — t2 refused: not in my log"]
    assert captured.err.startswith("cryptoscore: still scoring — t2 refused: not in my log after")
    assert client.polls == 4  # at 0, 2, 4 and 5 s
