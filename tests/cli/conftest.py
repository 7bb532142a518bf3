"""Fixtures for integration tests: a real service on a loopback port, and a committee made
with the CLI exactly as trustees and the dealer would."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cryptoscore_cli.main import main

TRUSTEES = ("trustee-1", "trustee-2", "trustee-3")
IDENTITY_PASSPHRASE_ENV = "ID_PASS"


def share_passphrase_env(trustee_id: str) -> str:
    """The variable `ceremony deal --passphrase-env-prefix S_` reads for this trustee."""
    return f"S_{trustee_id.upper().replace('-', '_')}"


@pytest.fixture
def terminal(monkeypatch) -> None:
    """Standard input is a terminal: passphrases may be typed (``getpass``, patched by the
    test)."""
    monkeypatch.setattr("cryptoscore_cli.commands.common.stdin_is_terminal", lambda: True)


@pytest.fixture
def server(tmp_path, monkeypatch) -> Iterator[str]:
    """The service (SQLite and blobs under tmp_path, in-process jobs, no request log) served
    by waitress."""
    from cryptoscore_server.app import create_app
    from cryptoscore_server.launch import serving_in_thread

    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("LOG_REQUESTS", "0")  # its JSON lines would share the CLI's stderr
    with serving_in_thread(create_app(), threads=4) as url:
        yield url


@pytest.fixture
def cli_committee(tmp_path, monkeypatch) -> dict[str, str]:
    """`trustee init` for three trustees, then a 2-of-3 `ceremony deal` (the legacy dealer
    ceremony: the quickest way to a committee) into tmp_path/ceremony.

    Returns trustee id -> the environment variable holding its share-file passphrase;
    identities are in tmp_path/<id> (passphrase in $ID_PASS), share files in
    tmp_path/ceremony/share-<id>.bin.
    """
    monkeypatch.setenv(IDENTITY_PASSPHRASE_ENV, "identity passphrase")
    keys = {}
    for tid in TRUSTEES:
        home = tmp_path / tid
        assert main(["trustee", "init", "--out", str(home), "--passphrase-env", "ID_PASS"]) == 0
        keys[tid] = (home / "identity.pub").read_text().strip()
        monkeypatch.setenv(share_passphrase_env(tid), f"share passphrase {tid}")
    roster = Path(tmp_path / "roster.json")
    roster.write_text(json.dumps([{"id": t, "public_key": k} for t, k in keys.items()]))
    ceremony = ["ceremony", "deal", "--roster", str(roster), "--threshold", "2"]
    assert (
        main([*ceremony, "--out", str(tmp_path / "ceremony"), "--passphrase-env-prefix", "S_"]) == 0
    )
    return {tid: share_passphrase_env(tid) for tid in keys}
