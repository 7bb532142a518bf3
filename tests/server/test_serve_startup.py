"""``cryptoscore serve`` that cannot start says why in one line (the dependency and its path or
address), exits 2, and mints no admin token first."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import create_engine, func, select

from cryptoscore_cli.main import main
from cryptoscore_server.models import Token


def _serve(argv: list[str], capsys) -> tuple[int, list[str]]:
    code = main(["serve", *argv])
    captured = capsys.readouterr()
    return code, captured.err.strip().splitlines()


def test_a_data_folder_that_cannot_be_made(tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("DATA_DIR", str(blocker / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    code, err = _serve(["--port", "0"], capsys)
    assert code == 2 and len(err) == 1
    assert "data folder" in err[0] and str(blocker / "data") in err[0]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("postgresql+psycopg://postgres:secret@127.0.0.1:1/test", "127.0.0.1"),  # nothing there
        ("postgresql+psycopg://postgres@127.0.0.1:5432/no_such_database_here", "does not exist"),
    ],
)
def test_a_database_that_cannot_be_reached(tmp_path, monkeypatch, capsys, url, why):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", url)
    code, err = _serve(["--port", "0"], capsys)
    assert code == 2 and len(err) == 1, err
    assert "cannot open the database" in err[0] and why in err[0]
    assert "secret" not in err[0]  # the password is never printed


def test_a_busy_port_mints_no_token(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen(1)
    port = busy.getsockname()[1]
    try:
        code, err = _serve(["--print-admin-token", "--port", str(port)], capsys)
    finally:
        busy.close()
    assert code == 2 and len(err) == 1, err
    assert f"cannot listen on 127.0.0.1:{port}" in err[0]
    engine = create_engine(f"sqlite:///{tmp_path / 'data' / 'cryptoscore.sqlite3'}")
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Token)) == 0
    engine.dispose()
