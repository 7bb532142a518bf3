"""Database engine per application, one session per request on ``flask.g``, and migrations.

In a view::

    from cryptoscore_server.db import get_session

    session = get_session()          # opened on first use in this request
    session.add(row)
    session.commit()                 # views commit explicitly; nothing commits implicitly

The session is closed when the application context ends (uncommitted work is rolled back), so
a view that raises leaves the database as it was.

:func:`migrate` brings the schema to Alembic's ``head``; ``create_app`` calls it, so a fresh
SQLite file or an empty PostgreSQL database works at once. On PostgreSQL the upgrade holds an
advisory lock, so several processes starting together do not race to create tables.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["MIGRATIONS_DIR", "dispose", "get_engine", "get_session", "init_app", "migrate"]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_EXTENSION = "cryptoscore.db"
# Arbitrary constant naming the advisory lock that serializes schema upgrades.
_MIGRATION_LOCK_KEY = 0x43_53_4D_49_47  # "CSMIG"


class _Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        # expire_on_commit=False: views serialize rows after committing them.
        self.sessionmaker = sessionmaker(engine, expire_on_commit=False)


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the per-dialect settings the service relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    # pre-ping: a restarted PostgreSQL must not surface as a 500 on the next request
    return create_engine(url, pool_pre_ping=True)


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # SQLite ignores foreign keys unless asked, per connection.
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets readers proceed while a (threaded) writer commits.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema of ``engine``'s database to ``revision`` (idempotent)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # released at the end of this transaction, which also holds the DDL
            connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK_KEY})
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def init_app(app: Flask) -> None:
    """Create the engine, migrate, and close each request's session at teardown."""
    engine = make_engine(app.config["DATABASE_URL"])
    migrate(engine)
    app.extensions[_EXTENSION] = _Database(engine)
    app.teardown_appcontext(_close_session)


def get_engine(app: Flask | None = None) -> Engine:
    database: _Database = (app or current_app).extensions[_EXTENSION]
    return database.engine


def get_session() -> Session:
    """This request's (application context's) session, opened on first use."""
    if "db_session" not in g:
        database: _Database = current_app.extensions[_EXTENSION]
        g.db_session = database.sessionmaker()
    session: Session = g.db_session
    return session


def _close_session(_exc: BaseException | None) -> None:
    session: Session | None = g.pop("db_session", None)
    if session is not None:
        session.close()


def dispose(app: Flask) -> None:
    """Close every pooled connection of ``app`` (tests, CLI commands, shutdown)."""
    get_engine(app).dispose()
