"""`submit` and `labels upload` refuse, in one line and before any pad request (the trustees
spend seconds on each), what the service would refuse after: a challenge not open, a daily
limit used up, a file with the wrong number of items or a class out of range."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cryptoscore.identity import Identity
from cryptoscore.protocol.signed_inputs import sign_pad_request
from cryptoscore.threshold.pad_shares import PadKey
from cryptoscore_cli.api import ProtocolClient
from cryptoscore_cli.main import main

N_ITEMS = 600


def _token(role: str, name: str, capsys) -> str:
    capsys.readouterr()
    assert main(["token", "create", "--local", "--role", role, "--name", name]) == 0
    return capsys.readouterr().out.strip()


@pytest.fixture
def setup(server, cli_committee, tmp_path, monkeypatch, capsys):
    """Challenge `c` (10 classes, 600 items, one pad request a day), `soon` (not open yet),
    ann enrolled in both; pad requests fail the test."""
    monkeypatch.setenv("CRYPTOSCORE_SERVER", server)
    tokens = {
        "org": _token("organizer", "org", capsys),
        "ann": _token("participant", "ann", capsys),
    }
    for name in ("org", "ann"):
        out = tmp_path / name
        assert main(["identity", "init", "--out", str(out), "--passphrase-env", "ID_PASS"]) == 0
    now = datetime.now(UTC)
    for challenge, opens in (("c", now - timedelta(minutes=1)), ("soon", now + timedelta(days=1))):
        create = ["challenge", "create", "--id", challenge, "--classes", "10"]
        create += ["--n-items", str(N_ITEMS), "--opens", opens.isoformat()]
        create += ["--closes", (now + timedelta(days=7)).isoformat(), "--limit-per-day", "1"]
        create += ["--pad-requests-per-day", "1", "--ceremony", str(tmp_path / "ceremony")]
        create += ["--max-enrolled", "10"]
        assert main([*create, "--organizer", str(tmp_path / "org"), "--token", tokens["org"]]) == 0
        enrol = ["enrol", "--challenge", challenge, "--identity", str(tmp_path / "ann")]
        enrol += ["--name", "ann", "--passphrase-env", "ID_PASS", "--token", tokens["ann"]]
        assert main(enrol) == 0

    def no_pads(*_args, **_kwargs):
        raise AssertionError("a pad request was made")

    monkeypatch.setattr(ProtocolClient, "request_pads", no_pads)
    capsys.readouterr()
    return tokens


def _upload(tmp_path: Path, tokens, command: list[str], who: str, values, challenge="c") -> list:
    path = tmp_path / "input.csv"
    path.write_text("".join(f"{v}\n" for v in values))
    argv = [*command, str(path), "--challenge", challenge, "--identity", str(tmp_path / who)]
    argv += ["--passphrase-env", "ID_PASS", "--token", tokens[who], "-q"]
    return [main(argv), str(path)]


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    return err[0]


def test_the_file_is_checked_before_the_pads(setup, tmp_path, capsys):
    code, path = _upload(tmp_path, setup, ["submit"], "ann", [1, 2])
    assert code == 2
    assert _one_line(capsys) == f"cryptoscore: error: {path}: 2 items; challenge c has 600"
    code, path = _upload(tmp_path, setup, ["submit"], "ann", [1] * 4 + [10] + [0] * 595)
    assert code == 2
    assert _one_line(capsys) == (
        f"cryptoscore: error: {path}: class index 10 at item 5 is outside 0..9"
    )
    code, path = _upload(tmp_path, setup, ["labels", "upload"], "org", [3] * 599)
    assert code == 2
    assert _one_line(capsys) == f"cryptoscore: error: {path}: 599 items; challenge c has 600"


def test_a_challenge_not_open_is_refused_before_the_pads(setup, tmp_path, capsys):
    code, _ = _upload(tmp_path, setup, ["submit"], "ann", [1] * N_ITEMS, challenge="soon")
    assert code == 2
    assert _one_line(capsys).startswith("cryptoscore: error: challenge soon is upcoming: it takes")


def test_a_used_up_daily_limit_is_refused_before_the_pads(setup, server, tmp_path, capsys):
    # one pad request each (the limit is one a day), made directly: no trustee need answer
    for who, kind in (("ann", "predictions"), ("org", "labels")):
        identity = Identity.from_pem(
            (tmp_path / who / "identity.pem").read_bytes(), os.environ["ID_PASS"].encode()
        )
        seed, key = os.urandom(32), PadKey.generate().public_bytes
        signature = sign_pad_request(identity, "c", kind, seed, key)
        client = ProtocolClient(server, setup[who])
        body = {"kind": kind, "seed": seed.hex(), "recipient": key.hex()}
        client.post_json("/challenges/c/pads", {**body, "signature": signature.hex()})
    for command, who in ((["submit"], "ann"), (["labels", "upload"], "org")):
        code, _ = _upload(tmp_path, setup, command, who, [1] * N_ITEMS)
        assert code == 2
        assert _one_line(capsys) == (
            "cryptoscore: error: the daily limit is used up: 1 of 1 pad requests in the last "
            "24 hours; try again later"
        )
