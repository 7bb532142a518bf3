"""``cryptoscore demo --serve`` against a live service: every step over REST with real
cryptography; the released numbers are exactly the plaintext ones, mallory is rejected, the
audit passes, and nothing of the demo keeps running."""

from __future__ import annotations

import json
import threading

import pytest

from cryptoscore.verify import CHECKS, verify_bundle
from cryptoscore_cli.api import ProtocolClient
from cryptoscore_cli.demo import MALLORY, digits_split, model_predictions, plaintext_scores
from cryptoscore_cli.demo_serve import DEMO_ID, _free_id
from cryptoscore_cli.main import main

N_ITEMS = 40


@pytest.mark.slow
def test_demo_serve_loads_a_whole_challenge(server, tmp_path, capsys):
    assert main(["token", "create", "--local", "--role", "admin", "--name", "admin"]) == 0
    (tmp_path / "admin.token").write_text(capsys.readouterr().out)
    out = tmp_path / "demo"
    argv = ["demo", "--serve", "--server", server, "--token-file", str(tmp_path / "admin.token")]
    assert main([*argv, "--n-items", str(N_ITEMS), "--out", str(out), "--json", "-q"]) == 0
    captured = capsys.readouterr()
    report = json.loads(captured.out)  # stdout is the one JSON object; the story went to stderr
    assert "waiting for round 1" in captured.err
    # the trustees' threads (named by their roster ids) have stopped
    assert not [t for t in threading.enumerate() if t.name.startswith(DEMO_ID)]

    # exactly the plaintext scores, counted here independently of the demo
    x_train, x_test, y_train, y_test = digits_split(N_ITEMS)
    expected = {
        name: plaintext_scores(predicted, y_test)
        for name, predicted in model_predictions(x_train, y_train, x_test)
    }
    assert report["challenge"] == DEMO_ID and report["test_items"] == N_ITEMS
    assert {name: row["released"] for name, row in report["participants"].items()} == expected
    assert all(row["equal"] for row in report["participants"].values())
    assert list(report["rejected"]) == [MALLORY]
    assert report["trustees"] == {"threshold": 2, "n": 3, "offline": [f"{DEMO_ID}-t2"]}
    assert report["audit"]["ok"] and report["audit"]["in_progress"] == []
    assert report["audit"]["checks"] == dict.fromkeys(CHECKS, True)

    # the service's public leaderboard shows them, under the names they enrolled with
    board = ProtocolClient(server).leaderboard(DEMO_ID)["rows"]
    assert {row["participant"]: row["values"] for row in board} == expected
    assert report["leaderboard_api"] == f"{server}/api/v1/challenges/{DEMO_ID}/leaderboard"

    # the demo folder holds each party's files; its tokens work with the flow's commands,
    # whose outputs on stdout are what they were (no bar there, none without a terminal)
    assert (out / f"{DEMO_ID}-t1" / "identity.pem").exists()
    assert (out / "ceremony" / f"share-{DEMO_ID}-t3.bin").exists()
    assert (out / "alice" / "receipt.json").exists()
    auditor = ["--server", server, "--token-file", str(out / "tokens" / "auditor.token")]
    exported = tmp_path / "exported.zip"
    assert main(["audit", "export", *auditor, "--challenge", DEMO_ID, "-o", str(exported)]) == 0
    size = exported.stat().st_size
    assert capsys.readouterr() == (f"wrote {exported} ({size} bytes)\n", "")
    assert main(["audit", *auditor, "--challenge", DEMO_ID]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in lines] == [["PASS", name] for name in CHECKS]

    # the audit reports each check as it runs
    done: list[int] = []
    assert verify_bundle(out / "audit.zip", done.append).ok
    assert done == list(range(1, len(CHECKS) + 1))


class _Listed:
    def __init__(self, ids: list[str]) -> None:
        self.ids = ids

    def get_json(self, path: str) -> dict[str, list[dict[str, str]]]:
        assert path == "/challenges"
        return {"challenges": [{"id": i} for i in self.ids]}


def test_a_new_demo_takes_the_next_free_id():
    assert _free_id(_Listed([])) == DEMO_ID  # type: ignore[arg-type]
    assert _free_id(_Listed(["other", DEMO_ID])) == f"{DEMO_ID}-2"  # type: ignore[arg-type]
    taken = [DEMO_ID, f"{DEMO_ID}-2", f"{DEMO_ID}-3"]
    assert _free_id(_Listed(taken)) == f"{DEMO_ID}-4"  # type: ignore[arg-type]


def test_demo_serve_needs_the_admin_token(server, tmp_path, capsys):
    assert main(["token", "create", "--local", "--role", "auditor", "--name", "aud"]) == 0
    token = capsys.readouterr().out.strip()
    argv = ["demo", "--serve", "--server", server, "--out", str(tmp_path / "d")]
    assert main([*argv, "--token", token]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs the admin token" in err[0], err
    assert main([*argv, "--token", "cs_not-a-token"]) == 2
    assert "does not accept this token" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()  # refused before anything was made


def test_served_options_need_serve(capsys):
    assert main(["demo", "--n-items", "50"]) == 2
    assert "--n-items: only with --serve" in capsys.readouterr().err
