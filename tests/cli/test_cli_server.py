"""The CLI against a running service over real HTTP: tokens, challenge create and show."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cryptoscore_cli.main import main


def test_token_and_challenge_commands(server, cli_committee, tmp_path, monkeypatch, capsys):
    assert main(["token", "create", "--role", "organizer", "--name", "org"]) == 0
    token = capsys.readouterr().out.strip()
    monkeypatch.setenv("CRYPTOSCORE_SERVER", server)
    monkeypatch.setenv("CRYPTOSCORE_TOKEN", token)
    now = datetime.now(UTC)
    capsys.readouterr()
    args = [
        "challenge",
        "create",
        "--id",
        "digits",
        "--classes",
        "10",
        "--n-items",
        "600",
        "--opens",
        now.isoformat(),
        "--closes",
        (now + timedelta(days=7)).isoformat(),
        "--ceremony",
        str(tmp_path / "ceremony"),
    ]
    assert main(args) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["id"] == "digits"
    assert main(["challenge", "show", "digits"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == "digits" and shown["classes"] == 10
    # errors are one line with a non-zero exit: a duplicate id, a bad token, no server
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cryptoscore: error: HTTP 409")
    assert main([*args, "--token", "not-a-token"]) == 2
    assert "HTTP 401" in capsys.readouterr().err
    assert main(["challenge", "show", "digits", "--server", "http://127.0.0.1:9"]) == 2
    assert "cannot reach" in capsys.readouterr().err
