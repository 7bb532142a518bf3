"""`cryptoscore token create | list | revoke` over REST with an admin token, and `token
create --local`, which writes this machine's database (bootstrapping only)."""

from __future__ import annotations

import json

from cryptoscore_cli.api import ApiError, Client
from cryptoscore_cli.main import main


def _run(argv: list[str], capsys) -> tuple[int, str, list[str]]:
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip().splitlines()


def test_tokens_over_rest_work_whatever_the_local_data_dir(server, tmp_path, monkeypatch, capsys):
    # bootstrapping: the server's own database (the fixture's DATA_DIR), asked for explicitly
    code, out, _ = _run(["token", "create", "--local", "--role", "admin", "--name", "root"], capsys)
    assert code == 0
    admin = out.strip()
    # from now on this machine's DATA_DIR is another one: REST must not care
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("CRYPTOSCORE_SERVER", server)
    monkeypatch.setenv("CRYPTOSCORE_TOKEN", admin)
    code, out, _ = _run(["token", "create", "--role", "organizer", "--name", "org"], capsys)
    assert code == 0
    organizer = out.strip()
    assert organizer.startswith("cs_") and len(out.splitlines()) == 1
    assert Client(server, organizer).get_json("/challenges") == {"challenges": []}
    assert not (tmp_path / "elsewhere").exists()  # nothing written locally

    code, out, _ = _run(["token", "list"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert len(lines) == 2 and "admin" in lines[0] and "root" in lines[0]
    assert "organizer" in lines[1] and "org" in lines[1] and lines[1].endswith("active")
    assert admin not in out and organizer not in out
    code, out, _ = _run(["token", "list", "--json"], capsys)
    listed = json.loads(out)
    org_id = next(row["id"] for row in listed if row["name"] == "org")

    code, out, _ = _run(["token", "revoke", str(org_id)], capsys)
    assert code == 0 and out.startswith(f"token {org_id} (organizer 'org') revoked at ")
    try:
        Client(server, organizer).get_json("/tokens")
    except ApiError as exc:
        assert exc.status == 401
    else:  # pragma: no cover
        raise AssertionError("a revoked token still works")
    code, out, _ = _run(["token", "list"], capsys)
    assert "revoked" in out.splitlines()[1]


def test_token_commands_say_what_is_missing_in_one_line(server, monkeypatch, capsys):
    monkeypatch.delenv("CRYPTOSCORE_SERVER", raising=False)
    monkeypatch.delenv("CRYPTOSCORE_TOKEN", raising=False)
    code, _, err = _run(["token", "create", "--role", "organizer", "--name", "org"], capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("cryptoscore: error: no server")
    assert "--local" in err[0]
    code, _, err = _run(["token", "list", "--server", server], capsys)
    assert err == [
        "cryptoscore: error: token list needs an admin token: --token-file, --token or "
        "CRYPTOSCORE_TOKEN"
    ]
    code, _, err = _run(["token", "revoke", "1", "--server", server, "--token", "cs_x"], capsys)
    assert code == 2 and len(err) == 1 and err[0].startswith("cryptoscore: error: HTTP 401")


def test_a_422_says_which_field_is_wrong_in_its_one_line(server, monkeypatch, capsys):
    from cryptoscore_server.app import create_app
    from cryptoscore_server.launch import create_token_command

    admin = create_token_command("admin", "root", app=create_app())
    argv = ["token", "create", "--server", server, "--token", admin, "--role", "auditor"]
    code, out, err = _run([*argv, "--name", "x" * 101], capsys)
    assert code == 2 and out == ""
    assert err == [
        "cryptoscore: error: HTTP 422: Invalid request: name: Length must be between 1 and 100."
    ]


def test_nested_errors_name_list_items_from_1() -> None:
    from cryptoscore_cli.api import _problem_text

    body = {
        "title": "Invalid request",
        "detail": "The request does not match the schema; see 'errors'.",
        "errors": {
            "challenge": {
                "invited": {"0": ["64 lower-case hex"]},
                "classes": ["Must be greater than or equal to 2 and less than or equal to 64."],
            },
            "_schema": ["Unknown field."],
        },
    }
    assert _problem_text(json.dumps(body).encode()) == (
        "Invalid request: challenge invited item 1: 64 lower-case hex; challenge classes: Must "
        "be greater than or equal to 2 and less than or equal to 64.; Unknown field."
    )
    many = {"title": "Invalid request", "errors": {f"f{i}": ["bad."] for i in range(7)}}
    assert _problem_text(json.dumps(many).encode()).endswith("f4: bad.; and 2 more")


def test_the_admin_token_can_come_from_a_file(server, tmp_path, monkeypatch, capsys):
    """``--token-file`` (kept out of ``ps``) works for the admin's token commands too."""
    code, out, _ = _run(["token", "create", "--local", "--role", "admin", "--name", "root"], capsys)
    assert code == 0
    token_file = tmp_path / "admin.token"
    token_file.write_text(out.strip() + "\n")
    monkeypatch.setenv("CRYPTOSCORE_SERVER", server)
    monkeypatch.delenv("CRYPTOSCORE_TOKEN", raising=False)
    argv = ["token", "create", "--token-file", str(token_file), "--role", "auditor", "--name", "a"]
    code, out, errors = _run(argv, capsys)
    assert (code, errors) == (0, [])
    assert Client(server, out.strip()).get_json("/challenges") == {"challenges": []}
