"""Helpers for the service tests: auth headers, challenge uploads, and state snapshots."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage
from werkzeug.test import TestResponse, encode_multipart

from cryptoscore.identity import Identity
from cryptoscore_server.db import get_session
from cryptoscore_server.models import Base

API = "/api/v1"
PROBLEM = "application/problem+json"
ROLES = ("admin", "organizer", "participant", "trustee", "auditor")


@dataclass(frozen=True)
class CeremonyFiles:
    """The three public files of one real key ceremony (3 trustees, threshold 2)."""

    record: bytes
    public: bytes
    evaluation: bytes
    trustee_ids: tuple[str, ...]
    key_id: str
    other_public: bytes
    """A public context from an unrelated key (for mismatch tests)."""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ORGANIZER = Identity.generate()
"""The organizer identity of every test challenge (unless a test names another key)."""
_PARTICIPANTS: dict[str, Identity] = {}


def identity_of(token: str) -> Identity:
    """The participant identity a test token signs with (one per token, made on first use)."""
    return _PARTICIPANTS.setdefault(token, Identity.generate())


def challenge_meta(**overrides: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    meta: dict[str, Any] = {
        "organizer_key": ORGANIZER.public_key.hex(),
        "id": "digits-2025",
        "name": "Digits, ten classes",
        "classes": 10,
        "n_items": 360,
        "metrics": ["correct", "errors"],
        "submission_limit_per_day": 3,
        "opens_at": (now - timedelta(hours=1)).isoformat(),
        "closes_at": (now + timedelta(days=7)).isoformat(),
    }
    meta.update(overrides)
    return meta


def file_part(data: bytes, filename: str, content_type: str = "application/octet-stream") -> Any:
    """A file part for a multipart form."""
    return FileStorage(io.BytesIO(data), filename=filename, content_type=content_type)


def upload_form(
    files: CeremonyFiles, meta: dict[str, Any] | None = None, **parts: bytes | None
) -> dict[str, Any]:
    """A multipart form; a part given as ``None`` is left out, given as bytes replaces."""
    contents: dict[str, bytes | None] = {
        "ceremony_record": files.record,
        "public_context": files.public,
        "evaluation_keys": files.evaluation,
    }
    contents.update(parts)
    form: dict[str, Any] = {"challenge": json.dumps(meta or challenge_meta())}
    for name, data in contents.items():
        if data is not None:
            form[name] = file_part(data, f"{name}.bin")
    return form


def post_challenge(
    client: FlaskClient,
    token: str,
    files: CeremonyFiles,
    meta: dict[str, Any] | None = None,
    **parts: bytes | None,
) -> TestResponse:
    return post_multipart(client, token, upload_form(files, meta, **parts))


def post_multipart(client: FlaskClient, token: str, form: dict[str, Any]) -> TestResponse:
    """POST ``form`` to the challenge endpoint as multipart/form-data.

    Encoded here, in memory: Werkzeug's test client would spool a large body to a temporary
    file that it never closes (a ResourceWarning in every upload test).
    """
    boundary, body = encode_multipart(form)
    return client.post(
        f"{API}/challenges",
        data=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        headers=bearer(token),
    )


@dataclass(frozen=True)
class Snapshot:
    rows: dict[str, int]
    files: tuple[str, ...]


def snapshot(app: Flask) -> Snapshot:
    """Row counts of every table and every file under the blob store (temp files included)."""
    with app.app_context():
        session = get_session()
        rows = {
            table.name: session.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }
    root = Path(app.config["DATA_DIR"]) / "blobs"
    files = tuple(sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()))
    return Snapshot(rows, files)


def assert_problem(response: TestResponse, status: int) -> dict[str, Any]:
    """Assert an RFC 9457 problem with ``status``; return its body."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.mimetype == PROBLEM
    body: dict[str, Any] = response.get_json(force=True)
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    return body
