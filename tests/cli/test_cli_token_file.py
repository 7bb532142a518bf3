"""Tokens stay off command lines: every command that takes ``--token`` also reads
``CRYPTOSCORE_TOKEN`` and takes ``--token-file PATH``."""

from __future__ import annotations

import argparse

import pytest

from cryptoscore_cli.commands.common import bearer_token
from cryptoscore_cli.main import build_parser, main


def _token_commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()):
    """(command path, its parser) of every command with a ``--token`` option."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _token_commands(sub, (*path, name))
    if "--token" in parser._option_string_actions:
        yield path, parser


def test_every_command_with_token_takes_a_token_file():
    commands = list(_token_commands(build_parser()))
    assert len(commands) >= 10
    for path, parser in commands:
        assert "--token-file" in parser._option_string_actions, path


def _status(*extra: str) -> argparse.Namespace:
    return build_parser().parse_args(["status", "abc", "--challenge", "c", *extra])


def test_the_token_comes_from_the_file_the_option_or_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("CRYPTOSCORE_TOKEN", "cs_from_env")
    assert bearer_token(_status()) == "cs_from_env"
    assert bearer_token(_status("--token", "cs_given")) == "cs_given"
    (tmp_path / "t1.token").write_text("cs_from_file\n")
    assert bearer_token(_status("--token-file", str(tmp_path / "t1.token"))) == "cs_from_file"
    monkeypatch.delenv("CRYPTOSCORE_TOKEN")
    assert bearer_token(_status()) is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cryptoscore: error: cannot read {path}: No such file or directory"),
        ("\n", "cryptoscore: error: {path}: no token in its first line"),
    ],
)
def test_an_unusable_token_file_is_one_line(tmp_path, capsys, content, message):
    path = tmp_path / "t1.token"
    if content is not None:
        path.write_text(content)
    argv = ["status", "abc", "--challenge", "c", "--server", "http://127.0.0.1:9"]
    assert main([*argv, "--token-file", str(path)]) == 2
    assert capsys.readouterr().err.strip().splitlines() == [message.format(path=path)]


def test_token_and_token_file_together_are_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exited:
        _status("--token", "x", "--token-file", str(tmp_path / "t"))
    assert exited.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err
