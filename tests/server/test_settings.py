"""Settings from the environment, their defaults, and how create_app applies them."""

from __future__ import annotations

from pathlib import Path

import pytest

from cryptoscore_server.config import (
    DEFAULT_MAX_UPLOAD_BYTES,
    REPO_ROOT,
    ConfigError,
    load_settings,
)


def test_defaults() -> None:
    settings = load_settings({})
    assert settings.data_dir == REPO_ROOT / "data"
    assert settings.database_url == f"sqlite:///{REPO_ROOT / 'data' / 'cryptoscore.sqlite3'}"
    assert settings.max_upload_bytes == DEFAULT_MAX_UPLOAD_BYTES == 512 * 1024 * 1024
    assert settings.cors_origins == ()
    assert settings.redis_url is None
    config = settings.flask_config()
    assert config["MAX_CONTENT_LENGTH"] == DEFAULT_MAX_UPLOAD_BYTES


def test_environment(tmp_path: Path) -> None:
    settings = load_settings(
        {
            "DATA_DIR": str(tmp_path),
            "MAX_UPLOAD_BYTES": "1048576",
            "CORS_ORIGINS": " https://a.example/ , https://b.example,,",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "UNRELATED": "x",
        }
    )
    assert settings.data_dir == tmp_path.resolve()
    # the database follows the data folder unless set
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'cryptoscore.sqlite3'}"
    assert settings.max_upload_bytes == 1 << 20
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.blob_dir == tmp_path.resolve() / "blobs"


def test_overrides_win_over_environment(tmp_path: Path) -> None:
    env = {"DATABASE_URL": "postgresql+psycopg://db/x", "DATA_DIR": "/nonexistent"}
    settings = load_settings(env, {"DATA_DIR": tmp_path, "CORS_ORIGINS": ["https://c.example"]})
    assert settings.data_dir == tmp_path.resolve()
    assert settings.database_url == "postgresql+psycopg://db/x"
    assert settings.cors_origins == ("https://c.example",)


@pytest.mark.parametrize("value", ["lots", "0", "-5"])
def test_bad_upload_limit(value: str) -> None:
    with pytest.raises(ConfigError, match="MAX_UPLOAD_BYTES"):
        load_settings({"MAX_UPLOAD_BYTES": value})


def test_create_app_reads_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cryptoscore_server.app import create_app
    from cryptoscore_server.db import dispose

    monkeypatch.setenv("DATA_DIR", str(tmp_path / "d"))
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "2048")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app()
    try:
        assert app.config["MAX_CONTENT_LENGTH"] == 2048
        # a fresh SQLite file was created and migrated in the data folder
        assert (tmp_path / "d" / "cryptoscore.sqlite3").is_file()
        assert (tmp_path / "d" / "blobs").is_dir()
        assert app.test_client().get("/api/v1/health/ready").status_code == 200
    finally:
        dispose(app)
