"""Service settings: read once from the environment, with defaults that make a fresh checkout work.

| setting            | environment variable | default                                    |
|--------------------|----------------------|--------------------------------------------|
| data folder        | ``DATA_DIR``         | ``<checkout>/data``                        |
| database           | ``DATABASE_URL``     | ``sqlite:///<DATA_DIR>/cryptoscore.sqlite3`` |
| largest upload     | ``MAX_UPLOAD_BYTES`` | 512 MiB                                    |
| CORS origins       | ``CORS_ORIGINS``     | none (comma-separated list; ``*`` = any)   |
| job queue          | ``REDIS_URL``        | unset: jobs run in-process                 |
| queue name         | ``RQ_QUEUE``         | ``cryptoscore``                            |
| outbox sweep       | ``OUTBOX_INTERVAL``  | 10 (seconds between hand-overs)            |
| re-queue sweep     | ``REQUEUE_INTERVAL`` | 300 (seconds between re-queues of unfinished work) |
| JSON logs (stderr) | ``LOG_REQUESTS``     | 1: a line per request and job run; 0: none |

The same names are the Flask config keys, so ``create_app({"DATA_DIR": ...})`` overrides the
environment in tests. ``DATABASE_URL`` defaults from the *resolved* ``DATA_DIR``, so a test that
only moves the data folder gets its own database too.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "DEFAULT_MAX_UPLOAD_BYTES",
    "REPO_ROOT",
    "SETTING_KEYS",
    "ConfigError",
    "Settings",
    "load_settings",
]

#: The checkout (or site-packages) folder that holds the ``service`` package.
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MAX_UPLOAD_BYTES = 512 << 20

#: The settings names (environment variables and Flask config keys alike).
SETTING_KEYS = (
    "DATA_DIR",
    "DATABASE_URL",
    "MAX_UPLOAD_BYTES",
    "CORS_ORIGINS",
    "REDIS_URL",
    "RQ_QUEUE",
    "OUTBOX_INTERVAL",
    "REQUEUE_INTERVAL",
    "LOG_REQUESTS",
)


class ConfigError(ValueError):
    """A setting that cannot be used (reported at start-up, before serving anything)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """The resolved settings; :meth:`flask_config` turns them into Flask config keys."""

    data_dir: Path
    database_url: str
    max_upload_bytes: int
    cors_origins: tuple[str, ...]
    redis_url: str | None
    rq_queue: str | None = None
    outbox_interval: int = 10
    requeue_interval: int = 300
    log_requests: bool = True

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    def flask_config(self) -> dict[str, Any]:
        return {
            "DATA_DIR": self.data_dir,
            "DATABASE_URL": self.database_url,
            "MAX_UPLOAD_BYTES": self.max_upload_bytes,
            "CORS_ORIGINS": self.cors_origins,
            "REDIS_URL": self.redis_url,
            "RQ_QUEUE": self.rq_queue,
            "OUTBOX_INTERVAL": self.outbox_interval,
            "REQUEUE_INTERVAL": self.requeue_interval,
            "LOG_REQUESTS": self.log_requests,
            # Werkzeug refuses a larger body with 413 before the form parser stores any of it.
            "MAX_CONTENT_LENGTH": self.max_upload_bytes,
        }


def _origins(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    items: Iterable[object] = value.split(",") if isinstance(value, str) else value  # type: ignore[assignment]
    out = []
    for item in items:
        origin = str(item).strip().rstrip("/")
        if origin:
            out.append(origin)
    return tuple(out)


def _positive_int(name: str, value: object) -> int:
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        raise ConfigError(f"{name} must be a positive integer, got {value!r}") from None
    if number <= 0:
        raise ConfigError(f"{name} must be positive, got {number}")
    return number


def _switch(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be 1 or 0, got {value!r}")


def load_settings(
    environ: Mapping[str, str] | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Resolve the settings: ``overrides`` (test config) win over ``environ`` over defaults."""
    env = os.environ if environ is None else environ
    raw: dict[str, object] = {k: env[k] for k in SETTING_KEYS if env.get(k)}
    if overrides:
        raw.update({k: overrides[k] for k in SETTING_KEYS if k in overrides})
    data_dir = Path(str(raw.get("DATA_DIR") or REPO_ROOT / "data")).expanduser().resolve()
    database_url = str(raw.get("DATABASE_URL") or f"sqlite:///{data_dir / 'cryptoscore.sqlite3'}")
    max_upload = _positive_int(
        "MAX_UPLOAD_BYTES", raw.get("MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES)
    )
    redis_url = raw.get("REDIS_URL")
    return Settings(
        data_dir=data_dir,
        database_url=database_url,
        max_upload_bytes=max_upload,
        cors_origins=_origins(raw.get("CORS_ORIGINS")),
        redis_url=str(redis_url) if redis_url else None,
        rq_queue=str(raw["RQ_QUEUE"]) if raw.get("RQ_QUEUE") else None,
        outbox_interval=_positive_int("OUTBOX_INTERVAL", raw.get("OUTBOX_INTERVAL", 10)),
        requeue_interval=_positive_int("REQUEUE_INTERVAL", raw.get("REQUEUE_INTERVAL", 300)),
        log_requests=_switch("LOG_REQUESTS", raw.get("LOG_REQUESTS", True)),
    )
