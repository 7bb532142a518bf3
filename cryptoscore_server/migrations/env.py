"""Alembic environment for the service database.

Two ways in:

* from the service (``cryptoscore_server.db.migrate``): the caller passes an open connection in
  ``config.attributes["connection"]`` and owns the transaction;
* from the ``alembic`` command at the checkout root (``alembic upgrade head``,
  ``alembic revision --autogenerate -m ...``): the database is ``DATABASE_URL`` resolved as the
  service resolves it (``cryptoscore_server.config``), so both always talk to the same database.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from cryptoscore_server.config import load_settings
from cryptoscore_server.db import make_engine
from cryptoscore_server.models import Base

config = context.config
target_metadata = Base.metadata

# Only the command-line entry point configures logging; inside the service the app's logging
# configuration must not be replaced.
if config.config_file_name is not None and "connection" not in config.attributes:
    fileConfig(config.config_file_name, disable_existing_loggers=False)


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(
        url=load_settings().database_url,
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        return
    engine = make_engine(load_settings().database_url)
    try:
        with engine.connect() as conn:
            _configure(conn)
            conn.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
