"""The CLI against a running service over real HTTP: tokens, challenge create and show,
enrolment, and the refusals that come before any trustee work."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from cryptoscore_cli.main import main


def _identity(tmp_path, name: str, capsys) -> str:
    """`identity init` into tmp_path/name (passphrase in $ID_PASS); its public key."""
    out = tmp_path / name
    assert main(["identity", "init", "--out", str(out), "--passphrase-env", "ID_PASS"]) == 0
    capsys.readouterr()
    return (out / "identity.pub").read_text().strip()


def _token(role: str, name: str, capsys) -> str:
    capsys.readouterr()
    assert main(["token", "create", "--local", "--role", role, "--name", name]) == 0
    return capsys.readouterr().out.strip()


def _create(challenge_id: str, tmp_path, *extra: str) -> list[str]:
    now = datetime.now(UTC)
    return [
        "challenge",
        "create",
        "--id",
        challenge_id,
        "--classes",
        "10",
        "--n-items",
        "600",
        "--opens",
        (now - timedelta(minutes=1)).isoformat(),
        "--closes",
        (now + timedelta(days=7)).isoformat(),
        "--ceremony",
        str(tmp_path / "ceremony"),
        "--organizer",
        str(tmp_path / "org"),
        *extra,
    ]


def test_token_and_challenge_commands(server, cli_committee, tmp_path, monkeypatch, capsys):
    token = _token("organizer", "org", capsys)
    monkeypatch.setenv("CRYPTOSCORE_SERVER", server)
    monkeypatch.setenv("CRYPTOSCORE_TOKEN", token)
    organizer_key = _identity(tmp_path, "org", capsys)
    args = _create("digits", tmp_path, "--max-enrolled", "100")
    assert main(args) == 0
    created = json.loads(capsys.readouterr().out)
    assert created["id"] == "digits"
    assert main(["challenge", "show", "digits"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["id"] == "digits" and shown["classes"] == 10
    assert shown["rules"] == {
        "organizer": organizer_key,
        "enrolment": "open",
        "invited": [],
        "submissions_per_day": 5,
        "pad_requests_per_day": 10,
        "max_enrolled": 100,
    }
    # 100 identities, 5 a day for 8 quota days, pooling: one label per 8 submissions
    assert shown["leakage"]["per_enrolment"]["labels"] == 499
    # errors are one line with a non-zero exit (after the leakage warnings): a duplicate id,
    # a bad token, no server
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert [line[:8] for line in err[:-1]] == ["warning:", "warning:"]
    assert err[-1].startswith("cryptoscore: error: HTTP 409")
    assert main([*args, "--token", "not-a-token"]) == 2
    assert "HTTP 401" in capsys.readouterr().err
    assert main(["challenge", "show", "digits", "--server", "http://127.0.0.1:9"]) == 2
    assert "cannot reach" in capsys.readouterr().err


def test_invite_only_enrolment(server, cli_committee, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("CRYPTOSCORE_SERVER", server)
    organizer = _token("organizer", "org", capsys)
    ann_token = _token("participant", "ann", capsys)
    bob_token = _token("participant", "bob", capsys)
    _identity(tmp_path, "org", capsys)
    ann = _identity(tmp_path, "ann", capsys)
    _identity(tmp_path, "bob", capsys)
    invited = tmp_path / "invited.txt"
    invited.write_text(f"# who may enrol\n{ann}  # ann\n\n")
    create = _create("inv", tmp_path, "--enrolment", "invite", "--invite", str(invited))
    assert main([*create, "--pad-requests-per-day", "12", "--token", organizer]) == 0
    capsys.readouterr()
    assert main(["challenge", "show", "inv"]) == 0
    rules = json.loads(capsys.readouterr().out)["rules"]
    assert (rules["enrolment"], rules["invited"], rules["pad_requests_per_day"]) == (
        "invite",
        [ann],
        12,
    )

    def enrol(name: str, token: str) -> int:
        identity = ["--identity", str(tmp_path / name), "--passphrase-env", "ID_PASS"]
        return main(["enrol", "--challenge", "inv", *identity, "--name", name, "--token", token])

    def upload(command: list[str], name: str, token: str) -> int:
        identity = ["--identity", str(tmp_path / name), "--passphrase-env", "ID_PASS"]
        return main([*command, str(labels), "--challenge", "inv", *identity, "--token", token])

    labels = tmp_path / "y.csv"
    labels.write_text("0\n1\n")
    # bob may not submit before enrolling, and may not enrol: he is not invited
    assert upload(["submit"], "bob", bob_token) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["cryptoscore: error: not enrolled in inv: run `cryptoscore enrol` first"]
    assert enrol("bob", bob_token) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("cryptoscore: error: HTTP 403"), err
    assert err[0].endswith("This identity is not invited to 'inv'."), err
    # ann enrols (again: the same enrolment twice is fine)
    for _ in range(2):
        assert enrol("ann", ann_token) == 0
        assert capsys.readouterr().out == f"enrolled ann in inv as {ann[:16]}…\n"
    # ann's token with bob's identity is refused; so is a participant's key for the labels
    assert upload(["submit"], "bob", ann_token) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"cryptoscore: error: this identity is not the one enrolled in inv ({ann[:16]}…)"
    ]
    assert upload(["labels", "upload"], "ann", organizer) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["cryptoscore: error: this identity is not the challenge's organizer key"]
