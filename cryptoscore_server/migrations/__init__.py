"""Alembic migrations of the service database (see ``env.py`` and ``versions/``)."""
