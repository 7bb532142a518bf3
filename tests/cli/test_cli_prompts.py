"""Passphrase prompts: one line naming the non-interactive option when there is no terminal
(and nothing left behind), an existing secret asked once, a new one twice, a too-short one
asked again as it is typed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cryptoscore_cli.main import main
from tests.cli.conftest import IDENTITY_PASSPHRASE_ENV, TRUSTEES

WORKTREE = Path(__file__).resolve().parents[2]


def _no_prompt(prompt: str = "") -> str:  # pragma: no cover - must not be called
    raise AssertionError(f"asked {prompt!r} without a terminal")


def _one_error(capsys: pytest.CaptureFixture[str]) -> str:
    """The one error line (besides `ceremony deal`'s warning, said before anything else)."""
    err = [
        line
        for line in capsys.readouterr().err.strip().splitlines()
        if not line.startswith("cryptoscore: warning: `ceremony deal` is the legacy")
    ]
    assert len(err) == 1, err
    return err[0]


def _commands(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """Each command that prompts (the committee's files under tmp_path), and the option it
    names instead."""
    home, share = str(tmp_path / TRUSTEES[0]), str(tmp_path / "ceremony" / "share-trustee-1.bin")
    run = ["trustee", "run", "--once", "--server", "http://127.0.0.1:9", "--home", home]
    enrol = ["enrol", "--server", "http://127.0.0.1:9", "--challenge", "c", "--name", "ann"]
    return {
        "trustee init": (["trustee", "init", "--out", str(tmp_path / "new")], "--passphrase-env"),
        "identity init": (
            ["identity", "init", "--out", str(tmp_path / "new")],
            "--passphrase-env",
        ),
        "ceremony deal": (
            [
                *("ceremony", "deal", "--roster", str(tmp_path / "roster.json")),
                *("--threshold", "2", "--params", "bfv-8192", "--out", str(tmp_path / "again")),
            ],
            "--passphrase-env-prefix",
        ),
        "trustee run (identity)": ([*run, "--share", share], "--passphrase-env"),
        "trustee run (share)": (
            [*run, "--share", share, "--passphrase-env", IDENTITY_PASSPHRASE_ENV],
            "--share-passphrase-env",
        ),
        "enrol": ([*enrol, "--identity", home], "--passphrase-env"),
    }


@pytest.mark.parametrize(
    "command",
    [
        "trustee init",
        "identity init",
        "ceremony deal",
        "trustee run (identity)",
        "trustee run (share)",
        "enrol",
    ],
)
def test_without_a_terminal_a_prompt_is_one_line_naming_the_option(
    tmp_path, cli_committee, monkeypatch, capsys, command
):
    monkeypatch.setattr("cryptoscore_cli.commands.common.stdin_is_terminal", lambda: False)
    monkeypatch.setattr("getpass.getpass", _no_prompt)
    argv, option = _commands(tmp_path)[command]
    capsys.readouterr()
    assert main(argv) == 2
    line = _one_error(capsys)
    assert line.startswith("cryptoscore: error: no terminal to type the ") and option in line
    assert not (tmp_path / "new").exists() and not (tmp_path / "again").exists()


def test_init_without_a_terminal_leaves_nothing_behind(tmp_path):
    """The real thing: ``< /dev/null``, no controlling terminal, a fresh process. It used to
    end in an EOFError traceback and leave an empty folder."""
    env = {**os.environ, "PYTHONPATH": str(WORKTREE)}
    for command in (["trustee", "init"], ["identity", "init"]):
        out = tmp_path / "t1"
        done = subprocess.run(
            [sys.executable, "-m", "cryptoscore_cli.main", *command, "--out", str(out)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            start_new_session=True,  # no controlling terminal for getpass to open
            timeout=120,
            check=False,
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip().splitlines() == [
            "cryptoscore: error: no terminal to type the identity passphrase: pass "
            "--passphrase-env VAR (not interactive)"
        ]
        assert not out.exists()


@pytest.fixture
def answers(monkeypatch, terminal) -> tuple[list[str], dict[str, list[str]]]:
    """Prompts asked (in order), answered from a queue per prompt."""
    asked: list[str] = []
    queues: dict[str, list[str]] = {}

    def getpass(prompt: str = "") -> str:
        asked.append(prompt)
        return queues[prompt].pop(0)

    monkeypatch.setattr("getpass.getpass", getpass)
    return asked, queues


class _Idle:
    """A service with nothing for the trustee, which it knows by its token."""

    base = "http://service.test/api/v1"

    def get_json(self, path: str) -> Any:
        assert path == "/whoami"
        return {"role": "trustee", "name": TRUSTEES[0]}

    def trustee_tasks(self) -> dict[str, Any]:
        return {}

    def list_ceremonies(self, trustee: str | None = None) -> list[Any]:
        assert trustee == TRUSTEES[0]
        return []


def test_opening_asks_each_passphrase_once(tmp_path, cli_committee, answers, monkeypatch, capsys):
    asked, queues = answers
    queues["identity passphrase: "] = ["identity passphrase"]
    queues["share-file passphrase: "] = ["share passphrase trustee-1"]
    monkeypatch.setattr("cryptoscore_cli.commands.trustee.protocol_client", lambda _a: _Idle())
    argv = _commands(tmp_path)["trustee run (identity)"][0]
    assert main(argv) == 0, capsys.readouterr().err
    assert asked == ["identity passphrase: ", "share-file passphrase: "]


def test_ceremony_asks_again_at_once_for_a_too_short_passphrase(
    tmp_path, cli_committee, answers, capsys
):
    asked, queues = answers
    for tid in TRUSTEES:
        queues[f"share-file passphrase for {tid} (typed by that trustee): "] = [
            "short",
            f"long enough {tid}",
        ]
    queues["again: "] = [f"long enough {tid}" for tid in TRUSTEES]
    argv = _commands(tmp_path)["ceremony deal"][0]
    capsys.readouterr()
    assert main(argv) == 0, capsys.readouterr().err
    first = f"share-file passphrase for {TRUSTEES[0]} (typed by that trustee): "
    assert asked[:3] == [first, first, "again: "]  # re-asked before the next trustee's
    assert len(asked) == 3 * len(TRUSTEES)
    assert capsys.readouterr().err.count("at least 8 bytes; type it again") == len(TRUSTEES)
    assert (tmp_path / "again" / "share-trustee-1.bin").exists()
