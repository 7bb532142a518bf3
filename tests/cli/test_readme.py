"""The README's Python example runs as written and prints exact counts."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_example(tmp_path, monkeypatch, capsys):
    block = re.search(r"```python\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    gen = np.random.default_rng(0)
    y_true = gen.integers(0, 10, 3000)
    y_pred = np.where(gen.random(3000) < 0.8, y_true, gen.integers(0, 10, 3000))
    monkeypatch.chdir(tmp_path)
    exec(block.group(1), {"y_true": y_true, "y_pred": y_pred})
    out = capsys.readouterr().out
    assert f"'correct': {int(np.count_nonzero(y_true == y_pred))}" in out


def test_readme_threshold_example(tmp_path, monkeypatch, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) == 2
    monkeypatch.chdir(tmp_path)
    (tmp_path / "journals").mkdir()
    namespace: dict[str, object] = {}
    exec(blocks[1], namespace)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "valid valid"
    y_true, y_pred = namespace["y_true"], namespace["y_pred"]
    correct = int(np.count_nonzero(y_true == y_pred))
    assert out[1] == str({"correct": correct, "errors": 10_000 - correct})


def _flow() -> str:
    """The service section's shell block: the whole flow a newcomer types."""
    text = README.read_text()
    start = text.index("## The service: the whole flow a newcomer types")
    block = re.search(r"```sh\n(.*?)```", text[start:], re.S)
    assert block is not None
    return block.group(1)


def _commands(flow: str) -> list[list[str]]:
    """Each ``$C ...`` command of ``flow`` (continuations joined, comments, redirections and
    placeholders dropped), as argv."""
    import shlex

    joined = flow.replace("\\\n", " ")
    commands = []
    for line in joined.splitlines():
        if not line.startswith("$C "):
            continue
        line = re.sub(r"<[^>]*>", "PLACEHOLDER", line.split(" #", 1)[0])
        line = re.sub(r">\s*\S+\s*$", "", line).replace("$CRYPTOSCORE_SERVER", "http://x")
        commands.append(shlex.split(line)[1:])
    return commands


def test_readme_flow_parses_as_written():
    """Every command of the flow, with every option it names, is one the command line has."""
    from cryptoscore_cli.main import build_parser

    commands = _commands(_flow())
    assert len(commands) > 15
    parser = build_parser()
    for argv in commands:
        parser.parse_args(argv)  # SystemExit (usage error) fails the test


def test_readme_flow_keeps_tokens_off_command_lines():
    flow = _flow()
    assert not re.search(r"--token\s", flow), "a token on a command line shows in `ps`"
    files = set(re.findall(r"--token-file (\S+)", flow))
    assert files and files <= set(re.findall(r"token create .*> (\S+)", flow))


def test_readme_flow_uses_the_dealerless_ceremony_and_its_files():
    """The organizer starts the dealerless ceremony over the service and verifies it into the
    folder the challenge is created from; each trustee's `trustee run` takes part and serves
    the share it finishes (no --share, no dealer)."""
    commands = _commands(_flow())
    (start,) = [argv for argv in commands if argv[:2] == ["ceremony", "start"]]
    (verify,) = [argv for argv in commands if argv[:2] == ["ceremony", "verify"]]
    (create,) = [argv for argv in commands if argv[:2] == ["challenge", "create"]]
    assert start[start.index("--roster") + 1] == "roster.json"
    out = verify[verify.index("--out") + 1]
    assert "--wait" in verify and create[create.index("--ceremony") + 1] == out
    assert not [argv for argv in commands if argv[:2] == ["ceremony", "deal"]]
    runs = [argv for argv in commands if argv[:2] == ["trustee", "run"]]
    assert runs and all("--share" not in argv and "--home" in argv for argv in runs)
    order = [argv[:2] for argv in commands]
    assert order.index(["ceremony", "start"]) < order.index(["trustee", "run"])
    assert order.index(["trustee", "run"]) < order.index(["ceremony", "verify"])


def test_readme_roster_is_what_the_ceremony_reads(tmp_path):
    """The roster.json the flow writes (its here-document, with the trustees' keys filled in)
    is read by ``ceremony start`` (and ``plan``, ``deal``) as written."""
    from cryptoscore.identity import Identity
    from cryptoscore_cli.commands.dealer import read_roster

    heredoc = re.search(r"cat > roster.json <<EOF\n(.*?)\nEOF\n", _flow(), re.S)
    assert heredoc is not None
    keys = {tid: Identity.generate().public_key.hex() for tid in ("t1", "t2", "t3")}
    text = re.sub(r"\$\(cat (t\d)/identity.pub\)", lambda m: keys[m.group(1)], heredoc.group(1))
    (tmp_path / "roster.json").write_text(text)
    roster = read_roster(str(tmp_path / "roster.json"))
    assert [(e.trustee_id, e.index, e.public_key.hex()) for e in roster] == [
        (tid, i + 1, key) for i, (tid, key) in enumerate(keys.items())
    ]


def test_readme_split_commands_parse_as_written():
    """The public/private split's commands, with every option they name, are the CLI's."""
    from cryptoscore_cli.main import build_parser

    text = README.read_text()
    start = text.index("**A public/private split**")
    block = re.search(r"```sh\n(.*?)```", text[start:], re.S)
    assert block is not None
    commands = _commands(block.group(1))
    assert [argv[:2] for argv in commands] == [
        ["challenge", "create"],
        ["labels", "upload"],
        ["select-finals", "--challenge"],
        ["leaderboard", "digits-split"],
        ["challenge", "close"],
    ]
    parser = build_parser()
    for argv in commands:
        parser.parse_args(argv)
