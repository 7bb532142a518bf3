"""Bad challenge uploads: each gets its documented 4xx problem and changes nothing.

"Nothing" is checked as the row count of every table and the list of every file under the
blob store (temp folder included), before and after.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers.service import (
    API,
    CeremonyFiles,
    assert_problem,
    bearer,
    challenge_meta,
    file_part,
    post_challenge,
    post_multipart,
    snapshot,
    upload_form,
)


@pytest.fixture
def organizer(tokens: dict[str, str]) -> str:
    return tokens["organizer"]


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ('{"id": "x",', "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        (b"\xff{}", "not valid JSON"),  # sent as a file part: raw bytes
    ],
    ids=["truncated", "array", "bad-utf8"],
)
def test_malformed_challenge_json_is_400(
    app: Flask,
    client: FlaskClient,
    organizer: str,
    ceremony: CeremonyFiles,
    raw: str | bytes,
    fragment: str,
) -> None:
    before = snapshot(app)
    form = upload_form(ceremony)
    form["challenge"] = (
        file_part(raw, "challenge.json", "application/json") if isinstance(raw, bytes) else raw
    )
    body = assert_problem(post_multipart(client, organizer, form), 400)
    assert fragment in body["detail"] and "challenge" in body["detail"]
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"classes": 1}, "classes"),
        ({"classes": 65}, "classes"),
        ({"classes": "10"}, "classes"),
        ({"n_items": 0}, "n_items"),
        ({"metrics": []}, "metrics"),
        ({"metrics": ["accuracy"]}, "metrics"),
        ({"id": "Bad Id"}, "id"),
        ({"id": "-leading"}, "id"),
        ({"submission_limit_per_day": 0}, "submission_limit_per_day"),
        ({"opens_at": "2030-01-01T00:00:00"}, "opens_at"),  # no offset: ambiguous
        ({"closes_at": "yesterday"}, "closes_at"),
        (
            {"opens_at": "2030-01-02T00:00:00+00:00", "closes_at": "2030-01-01T00:00:00+00:00"},
            "closes_at",
        ),
        (
            {"opens_at": "2000-01-01T00:00:00+00:00", "closes_at": "2000-01-02T00:00:00+00:00"},
            "closes_at",
        ),
        ({"surprise": True}, "surprise"),
    ],
)
def test_schema_violations_are_422(
    app: Flask,
    client: FlaskClient,
    organizer: str,
    ceremony: CeremonyFiles,
    overrides: dict[str, Any],
    field: str,
) -> None:
    before = snapshot(app)
    body = assert_problem(
        post_challenge(client, organizer, ceremony, challenge_meta(**overrides)), 422
    )
    assert field in body["errors"], body["errors"]
    assert snapshot(app) == before


def test_missing_fields_and_parts_are_422(
    app: Flask, client: FlaskClient, organizer: str, ceremony: CeremonyFiles
) -> None:
    before = snapshot(app)
    meta = challenge_meta()
    del meta["n_items"]
    body = assert_problem(post_challenge(client, organizer, ceremony, meta), 422)
    assert set(body["errors"]) == {"n_items"}

    body = assert_problem(
        post_challenge(client, organizer, ceremony, public_context=None, evaluation_keys=None), 422
    )
    assert set(body["errors"]) == {"public_context", "evaluation_keys"}

    form = upload_form(ceremony)
    del form["challenge"]
    body = assert_problem(post_multipart(client, organizer, form), 422)
    assert set(body["errors"]) == {"challenge"}
    assert snapshot(app) == before


def test_wrong_content_type_is_415(
    app: Flask, client: FlaskClient, organizer: str, ceremony: CeremonyFiles
) -> None:
    before = snapshot(app)
    for kwargs in (
        {"json": challenge_meta()},
        {"data": ceremony.public, "content_type": "application/octet-stream"},
        {"data": json.dumps(challenge_meta()), "content_type": "text/plain"},
        {},
    ):
        body = assert_problem(
            client.post(f"{API}/challenges", headers=bearer(organizer), **kwargs), 415
        )
        assert "multipart/form-data" in body["detail"]
    assert snapshot(app) == before


@pytest.mark.parametrize(
    ("part", "mangle", "status", "kind"),
    [
        ("public_context", lambda f: f.public[:-10], 400, "format-error"),
        ("public_context", lambda f: f.public[:5], 400, "format-error"),
        ("public_context", lambda f: f.record, 400, "format-error"),
        ("public_context", lambda f: f.other_public, 409, "mismatch"),
        ("evaluation_keys", lambda f: f.evaluation[:-100], 400, "format-error"),
        ("evaluation_keys", lambda f: b"", 400, "format-error"),
        ("ceremony_record", lambda f: f.record[:-1], 400, "format-error"),
        ("ceremony_record", lambda f: f.public, 400, "format-error"),
    ],
    ids=[
        "public-truncated",
        "public-prefix-only",
        "public-is-a-record",
        "public-of-another-key",
        "evaluation-truncated",
        "evaluation-empty",
        "record-truncated",
        "record-is-a-public-context",
    ],
)
def test_bad_key_files_are_refused_by_the_library(
    app: Flask,
    client: FlaskClient,
    organizer: str,
    ceremony: CeremonyFiles,
    part: str,
    mangle: Callable[[CeremonyFiles], bytes],
    status: int,
    kind: str,
) -> None:
    before = snapshot(app)
    body = assert_problem(
        post_challenge(client, organizer, ceremony, None, **{part: mangle(ceremony)}), status
    )
    assert body["type"] == f"urn:cryptoscore:problem:{kind}"
    assert body["part"] == part
    assert body["detail"].startswith(f"{part}: ")
    assert snapshot(app) == before


def test_truncated_public_context_names_the_problem(
    app: Flask, client: FlaskClient, organizer: str, ceremony: CeremonyFiles
) -> None:
    body = assert_problem(
        post_challenge(client, organizer, ceremony, public_context=ceremony.public[:5]), 400
    )
    assert (
        body["detail"]
        == "public_context: public context: truncated (5 bytes, the prefix alone needs 14)"
    )
    assert body["title"] == "Malformed record"


def test_library_policy_and_parameter_checks(
    app: Flask, client: FlaskClient, organizer: str, ceremony: CeremonyFiles
) -> None:
    before = snapshot(app)
    # 17 classes pass the schema, but a full confusion matrix is limited to 16 classes
    meta = challenge_meta(classes=17, metrics=["confusion"])
    body = assert_problem(post_challenge(client, organizer, ceremony, meta), 422)
    assert body["type"] == "urn:cryptoscore:problem:policy-error"
    assert "16 classes" in body["detail"]
    # more items than the plaintext modulus of the parameter set can count
    meta = challenge_meta(n_items=10**9)
    body = assert_problem(post_challenge(client, organizer, ceremony, meta), 400)
    assert body["type"] == "urn:cryptoscore:problem:parameter-error"
    assert "n_items" in body["detail"]
    assert snapshot(app) == before


def test_oversized_upload_is_413(
    make_app: Callable[..., Flask], ceremony: CeremonyFiles, tokens: dict[str, str]
) -> None:
    # the `tokens` fixture's app shares this test's database, so its tokens work here
    app = make_app(MAX_UPLOAD_BYTES=1 << 20)
    client = app.test_client()
    before = snapshot(app)
    body = assert_problem(post_challenge(client, tokens["organizer"], ceremony), 413)
    assert body["title"] == "Request Entity Too Large"
    # JSON bodies are capped as well
    big = {"role": "admin", "name": "x" * (2 << 20)}
    assert_problem(client.post(f"{API}/tokens", json=big, headers=bearer(tokens["admin"])), 413)
    assert snapshot(app) == before


def test_unauthenticated_upload_is_refused_before_the_body_is_read(
    app: Flask, client: FlaskClient, ceremony: CeremonyFiles, tokens: dict[str, str]
) -> None:
    before = snapshot(app)
    for token in ("A" * 43, tokens["participant"]):
        response = post_challenge(client, token, ceremony)
        assert response.status_code in (401, 403)
    assert snapshot(app) == before
