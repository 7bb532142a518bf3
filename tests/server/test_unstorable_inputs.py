"""Inputs no database can store or no route can name get a 4xx problem, not a 500, on SQLite
and PostgreSQL alike, and change nothing: JSON nested past the parser's recursion limit, ids
beyond 64 bits, NUL characters and unpaired surrogates in paths, queries and names."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers.service import (
    API,
    CeremonyFiles,
    assert_problem,
    bearer,
    challenge_meta,
    post_challenge,
    snapshot,
)

DEEP = 100_000  # far past Python's recursion limit


def test_json_nested_too_deeply_is_400(app: Flask, client: FlaskClient, tokens) -> None:
    admin = bearer(tokens["admin"])
    before = snapshot(app)
    for raw in ("[" * DEEP + "]" * DEEP, '{"role": ' + "[" * DEEP + "]" * DEEP + ', "name": "x"}'):
        body = assert_problem(
            client.post(
                f"{API}/tokens", data=raw.encode(), content_type="application/json", headers=admin
            ),
            400,
        )
        assert "nested too deeply" in body["detail"]
    assert snapshot(app) == before


def test_json_part_nested_too_deeply_is_400(
    app: Flask, client: FlaskClient, tokens, ceremony: CeremonyFiles
) -> None:
    from tests.helpers.service import post_multipart, upload_form

    before = snapshot(app)
    form = upload_form(ceremony)
    form["challenge"] = "[" * DEEP + "]" * DEEP
    body = assert_problem(post_multipart(client, tokens["organizer"], form), 400)
    assert "nested too deeply" in body["detail"]
    assert snapshot(app) == before


@pytest.mark.parametrize("token_id", [9223372036854775808, 2**80])
def test_ids_beyond_64_bits_are_404(app: Flask, client: FlaskClient, tokens, token_id) -> None:
    before = snapshot(app)
    body = assert_problem(
        client.delete(f"{API}/tokens/{token_id}", headers=bearer(tokens["admin"])), 404
    )
    assert str(token_id) in body["detail"]
    assert snapshot(app) == before


@pytest.mark.parametrize(
    "path", ["/challenges/a%00b", "/challenges/a%00b/leaderboard", "/challenges/%ED%A0%80"]
)
def test_nul_or_surrogate_in_a_path_is_404(client: FlaskClient, tokens, path) -> None:
    body = assert_problem(client.get(API + path, headers=bearer(tokens["admin"])), 404)
    assert "NUL" in body["detail"] or "no challenge" in body["detail"]


def test_nul_in_a_query_is_400(client: FlaskClient, tokens) -> None:
    body = assert_problem(
        client.get(f"{API}/challenges?state=op%00en", headers=bearer(tokens["admin"])), 400
    )
    assert "NUL" in body["detail"]


@pytest.mark.parametrize("name", ["Digits\x00", "Digits \ud800", "tab\there"])
def test_unprintable_challenge_names_are_422(
    app: Flask, client: FlaskClient, tokens, ceremony: CeremonyFiles, name: str
) -> None:
    before = snapshot(app)
    body = assert_problem(
        post_challenge(client, tokens["organizer"], ceremony, challenge_meta(name=name)), 422
    )
    assert "name" in body["errors"]
    assert snapshot(app) == before
