"""Fixtures for the service tests (Flask tutorial style: ``app``, ``client``).

``app`` is parametrized over two databases, so every test that uses it runs twice:

* ``sqlite``: a fresh file under the test's ``tmp_path``;
* ``postgresql``: the real server on this machine (``CRYPTOSCORE_TEST_POSTGRES_URL``, default
  ``postgresql+psycopg://postgres@127.0.0.1:5432/test``), in a schema made for this one test
  and dropped after it, selected with the connection's ``search_path`` — so tests are isolated
  and the service code needs no schema support of its own.

The key ceremony (≈1 s; 30 MB of evaluation keys) runs once per session.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from cryptoscore import BFV8192, generate_keys
from cryptoscore.identity import TrusteeIdentity
from cryptoscore.threshold.ceremony import RosterEntry, run_ceremony
from cryptoscore_server.app import create_app
from cryptoscore_server.auth import create_token, revoke_token
from cryptoscore_server.db import dispose, get_session
from tests.helpers.protocol import Committee, make_committee, make_story_data
from tests.helpers.service import CeremonyFiles

POSTGRES_URL = os.environ.get(
    "CRYPTOSCORE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
BACKENDS = ("sqlite", "postgresql")
# Large enough for the ~30 MB of evaluation keys; oversize tests lower it.
TEST_MAX_UPLOAD = 64 << 20
CORS_ORIGIN = "https://leaderboard.example"


@pytest.fixture(scope="session")
def ceremony() -> CeremonyFiles:
    roster = [RosterEntry(f"t{i}", i + 1, TrusteeIdentity.generate().public_key) for i in range(3)]
    # test passphrases; the share files are not used by these tests
    result = run_ceremony(
        BFV8192, roster, 2, {e.trustee_id: b"passphrase-" + e.trustee_id.encode() for e in roster}
    )
    return CeremonyFiles(
        record=result.record.to_bytes(),
        public=result.public.to_bytes(),
        evaluation=result.evaluation.to_bytes(),
        trustee_ids=tuple(e.trustee_id for e in roster),
        key_id=result.public.key_id,
        other_public=generate_keys(BFV8192).public.to_bytes(),
    )


@pytest.fixture(scope="session")
def committee() -> Committee:
    """A second real ceremony whose shares the tests keep (for the protocol tests)."""
    return make_committee()


@pytest.fixture(scope="session")
def data(committee: Committee) -> dict[str, Any]:
    """The bundles of the end-to-end story (encrypted once per session)."""
    return make_story_data(committee)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Any]:
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.sqlite3'}"
        return
    admin = request.getfixturevalue("postgres_admin")
    schema = f"cs_test_{uuid.uuid4().hex[:16]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


@pytest.fixture
def make_app(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Build apps on this test's database and data folder; ``overrides`` go to the config."""
    apps: list[Flask] = []

    def factory(**overrides: Any) -> Flask:
        config: dict[str, Any] = {
            "TESTING": True,
            "DATA_DIR": tmp_path / "data",
            "DATABASE_URL": database_url,
            "MAX_UPLOAD_BYTES": TEST_MAX_UPLOAD,
            "CORS_ORIGINS": CORS_ORIGIN,
        }
        config.update(overrides)
        app = create_app(config)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        dispose(app)


@pytest.fixture
def app(make_app: Callable[..., Flask]) -> Flask:
    return make_app()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def tokens(app: Flask) -> dict[str, str]:
    """One active token per role, plus a revoked one under ``"revoked"``."""
    out: dict[str, str] = {}
    with app.app_context():
        session = get_session()
        for role in ("admin", "organizer", "participant", "trustee", "auditor"):
            _row, out[role] = create_token(session, role, f"test {role}")
        row, out["revoked"] = create_token(session, "admin", "revoked admin")
        session.commit()
        revoke_token(session, row.id)
        session.commit()
    return out
