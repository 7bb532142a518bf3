"""The Ladder with the CLI over real HTTP (issue 16, item 3): `challenge create
--ladder-margin` refuses a margin that is not a whole number of items in one line, prints the
Ladder's leakage line, and `leaderboard` says the counts are the Ladder's shown ones."""

from __future__ import annotations

import numpy as np

from cryptoscore.protocol.ladder import ladder_step
from cryptoscore_cli.api import ProtocolClient
from tests.cli.test_end_to_end_http import (
    _identity,
    _trustees_in_background,
    _trustees_pass,
    _wait,
)
from tests.cli.test_split_cli import N_ITEMS, _run, cli_challenge


def test_ladder_with_the_cli(server, cli_committee, tmp_path, capsys):
    organizer, tokens, ann, create = cli_challenge(
        server, cli_committee, tmp_path, capsys, "ladder"
    )
    code, _, err = _run([*create, "--ladder-margin", "0.0125"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "--ladder-margin" in err and "3/300 or 4/300" in err
    code, _, err = _run([*create, "--ladder-margin", "0.01"], capsys)
    assert code == 0, err
    warnings = err.strip().splitlines()
    assert len(warnings) == 3 and "under the Ladder, margin 3 of 300 items" in warnings[2]
    assert ProtocolClient(server).challenge("ladder")["rules"]["ladder"] == {"margin": 3}

    _identity(tmp_path, "ann", capsys)
    enrol = ["enrol", "--challenge", "ladder", "--identity", str(tmp_path / "ann")]
    enrol += ["--name", "ann", "--passphrase-env", "ID_PASS", "--server", server, "--token", ann]
    assert _run(enrol, capsys)[0] == 0
    gen = np.random.default_rng(5)
    y = gen.integers(0, 2, N_ITEMS)
    np.save(tmp_path / "labels.npy", y)
    p = np.where(gen.random(N_ITEMS) < 0.8, y, 1 - y)
    np.save(tmp_path / "ann.npy", p)
    online = ["trustee-1", "trustee-2", "trustee-3"]  # every pad set checked (2t − 1 = 3)
    labels = ["labels", "upload", str(tmp_path / "labels.npy"), "--challenge", "ladder", "-q"]
    labels += ["--server", server, "--token", organizer, "--identity", str(tmp_path / "org")]
    submit = ["submit", str(tmp_path / "ann.npy"), "--challenge", "ladder", "-q"]
    submit += ["--server", server, "--token", ann, "--identity", str(tmp_path / "ann")]
    with _trustees_in_background(tmp_path, server, tokens, online, cli_committee):
        assert _run([*labels, "--passphrase-env", "ID_PASS"], capsys)[0] == 0
        code, out, err = _run([*submit, "--passphrase-env", "ID_PASS"], capsys)
        assert code == 0, err
    digest = out.split()[1].rstrip(":")
    client = ProtocolClient(server, ann)
    _wait(
        lambda: client.submission("ladder", digest)["state"] == "released",
        "the submission to be released",
        lambda: _trustees_pass(tmp_path, server, tokens, online, cli_committee),
    )
    shown = ladder_step(None, int((p == y).sum()), 3, N_ITEMS)
    assert client.submission("ladder", digest)["values"] == {"correct": shown}
    code, out, _ = _run(["leaderboard", "ladder", "--server", server], capsys)
    assert code == 0 and "release: ladder, margin 3 of 300 (shown counts, not exact)" in out
    assert f"{shown:>7}" in out
