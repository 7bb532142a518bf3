"""A public/private split with the CLI over real HTTP (issue 16, item 1): `challenge create
--public-items --finals` prints the split's leakage statement; the organizer's `labels upload`
encrypts its labels with a secret public part; participants submit and `select-finals`; the
leaderboard shows public scores; `challenge close` before the close time is one clear error
line and a non-zero exit; after it, the trustees (`trustee run`) release the private part of
the finals only, and `leaderboard` shows private scores labelled with their part."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import numpy as np

from cryptoscore.protocol.rules import DAY_MS
from cryptoscore_cli.api import ProtocolClient
from cryptoscore_cli.main import main
from tests.cli.test_end_to_end_http import (
    _identity,
    _token,
    _trustees_in_background,
    _trustees_pass,
    _wait,
)

N_ITEMS = 300
PUBLIC = 100


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def cli_challenge(
    server: str, cli_committee, tmp_path, capsys, challenge: str
) -> tuple[str, dict[str, str], str, list[str]]:
    """The tokens of an organizer (with an identity), every trustee and a participant "ann",
    and the `challenge create` arguments of a binary ``challenge`` of N_ITEMS items open for a
    day: (organizer, trustee tokens, ann, argv)."""
    organizer = _token("organizer", "org", capsys)
    tokens = {tid: _token("trustee", tid, capsys) for tid in cli_committee}
    ann = _token("participant", "ann", capsys)
    _identity(tmp_path, "org", capsys)
    now = datetime.now(UTC)
    create = ["challenge", "create", "--server", server, "--token", organizer, "--id", challenge]
    create += ["--classes", "2", "--n-items", str(N_ITEMS), "--max-enrolled", "10"]
    create += ["--opens", (now - timedelta(minutes=1)).isoformat()]
    create += ["--closes", (now + timedelta(days=1)).isoformat()]
    create += ["--ceremony", str(tmp_path / "ceremony"), "--organizer", str(tmp_path / "org")]
    return organizer, tokens, ann, create


def test_split_with_the_cli(server, cli_committee, tmp_path, capsys, monkeypatch):
    organizer, tokens, ann, create = cli_challenge(server, cli_committee, tmp_path, capsys, "split")
    code, _, err = _run([*create, "--public-items", "300"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--public-items 300" in err
    code, _, err = _run([*create, "--public-items", str(PUBLIC), "--finals", "1"], capsys)
    assert code == 0, err
    warnings = err.strip().splitlines()
    assert len(warnings) == 3 and f"split {PUBLIC} public / {N_ITEMS - PUBLIC} private" in err
    assert "no private label" in warnings[0]
    split = ProtocolClient(server).challenge("split")["rules"]["split"]
    assert split["public_items"] == PUBLIC and split["finals"] == 1

    _identity(tmp_path, "ann", capsys)
    enrol = ["enrol", "--challenge", "split", "--identity", str(tmp_path / "ann"), "--name", "ann"]
    assert main([*enrol, "--passphrase-env", "ID_PASS", "--server", server, "--token", ann]) == 0
    gen = np.random.default_rng(3)
    y = gen.integers(0, 2, N_ITEMS)
    np.save(tmp_path / "labels.npy", y)
    online = ["trustee-1", "trustee-2", "trustee-3"]  # every pad set checked (2t − 1 = 3)
    labels = ["labels", "upload", str(tmp_path / "labels.npy"), "--challenge", "split", "-q"]
    labels += ["--server", server, "--token", organizer, "--identity", str(tmp_path / "org")]
    labels += ["--passphrase-env", "ID_PASS"]
    digests = []
    with _trustees_in_background(tmp_path, server, tokens, online, cli_committee):
        assert main(labels) == 0
        for i, accuracy in enumerate((0.9, 0.6)):
            p = np.where(gen.random(N_ITEMS) < accuracy, y, 1 - y)
            np.save(tmp_path / f"ann-{i}.npy", p)
            submit = ["submit", str(tmp_path / f"ann-{i}.npy"), "--challenge", "split", "-q"]
            submit += ["--server", server, "--token", ann, "--identity", str(tmp_path / "ann")]
            code, out, err = _run([*submit, "--passphrase-env", "ID_PASS"], capsys)
            assert code == 0, err
            digests.append(out.split()[1].rstrip(":"))
    client = ProtocolClient(server, ann)

    def states() -> list[str]:
        return [client.submission("split", d)["state"] for d in digests]

    _wait(
        lambda: states() == ["released", "released"],
        "both public parts to be released",
        lambda: _trustees_pass(tmp_path, server, tokens, online, cli_committee),
    )
    code, out, _ = _run(["leaderboard", "split", "--all", "--server", server], capsys)
    assert code == 0 and f"public part, {PUBLIC} of {N_ITEMS} items (until the close)" in out

    select = ["select-finals", "--challenge", "split", digests[0], "--server", server]
    select += ["--token", ann, "--identity", str(tmp_path / "ann"), "--passphrase-env", "ID_PASS"]
    code, out, err = _run(select, capsys)
    assert code == 0, err
    assert out.splitlines()[-1] == f"  {digests[0]}"
    close = ["challenge", "close", "split", "--server", server]
    code, _, err = _run([*close, "--token", organizer], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "closes at" in err, err
    code, _, err = _run([*close, "--token", ann], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err

    # a day and more later, on the service's and the trustees' clocks
    real_time, real_ns = time.time, time.time_ns
    monkeypatch.setattr(time, "time", lambda: real_time() + 2 * DAY_MS / 1000)
    monkeypatch.setattr(time, "time_ns", lambda: real_ns() + 2 * DAY_MS * 1_000_000)
    code, out, err = _run([*close, "--token", organizer], capsys)
    assert code == 0, err
    assert out.splitlines()[-1] == f"  {digests[0]}"  # her selection, not her last
    code, _, err = _run(select, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "closed" in err, err

    def private_rows() -> list[dict]:
        return ProtocolClient(server).get_json("/challenges/split/leaderboard?view=all")["rows"]

    _wait(
        lambda: len(private_rows()) == 1,
        "the final's private part",
        lambda: _trustees_pass(tmp_path, server, tokens, online, cli_committee),
    )
    code, out, _ = _run(["leaderboard", "split", "--server", server, "--json"], capsys)
    board = json.loads(out)
    assert board["part"] == "private" and board["split"]["closed"] is True
    [row] = board["rows"]
    assert row["submission"] == digests[0] and row["part"] == "private"
    assert row["n"] == N_ITEMS - PUBLIC
    assert row["values"]["correct"] + row["values"]["errors"] == N_ITEMS - PUBLIC
    code, out, _ = _run(["leaderboard", "split", "--server", server], capsys)
    assert f"private part, {N_ITEMS - PUBLIC} of {N_ITEMS} items (after the close)" in out
    code, out, _ = _run(
        ["leaderboard", "split", "--part", "public", "--all", "--server", server], capsys
    )
    assert code == 0 and "public part" in out
