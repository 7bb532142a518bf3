"""Token administration: create (shown once), list (never shown), revoke (refused at once)."""

from __future__ import annotations

import hashlib

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cryptoscore_server.auth import authenticate, hash_token
from cryptoscore_server.db import get_session
from cryptoscore_server.models import Token
from tests.helpers.service import API, ROLES, assert_problem, bearer


def test_create_list_revoke(app: Flask, client: FlaskClient, tokens: dict[str, str]) -> None:
    admin = bearer(tokens["admin"])
    created = client.post(
        f"{API}/tokens", json={"role": "participant", "name": "alice"}, headers=admin
    )
    assert created.status_code == 201
    assert created.headers["Cache-Control"] == "no-store"
    body = created.get_json()
    assert body["role"] == "participant" and body["name"] == "alice" and body["active"]
    assert body["revoked_at"] is None
    token = body["token"]
    assert token.startswith("cs_") and len(token) == 46  # prefix + 32 random bytes, base64url

    # only the hash is stored
    with app.app_context():
        row = get_session().get(Token, body["id"])
        assert row is not None
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        stored = [v for r in get_session().scalars(select(Token)) for v in vars(r).values()]
        assert token not in stored

    # the new token works for what a participant may do and nothing else
    alice = bearer(token)
    assert client.get(f"{API}/tokens", headers=alice).status_code == 403

    listed = client.get(f"{API}/tokens", headers=admin)
    assert listed.status_code == 200
    entries = listed.get_json()["tokens"]
    assert [e["id"] for e in entries] == sorted(e["id"] for e in entries)
    assert {e["role"] for e in entries} >= set(ROLES)
    assert all("token" not in e and "token_hash" not in e for e in entries)
    for secret in tokens.values():
        assert secret not in listed.get_data(as_text=True)

    revoked = client.delete(f"{API}/tokens/{body['id']}", headers=admin)
    assert revoked.status_code == 200
    first = revoked.get_json()
    assert first["active"] is False and first["revoked_at"] is not None
    # idempotent: the first revocation time stays
    again = client.delete(f"{API}/tokens/{body['id']}", headers=admin)
    assert again.status_code == 200 and again.get_json()["revoked_at"] == first["revoked_at"]

    refused = assert_problem(client.get(f"{API}/challenges/x/evaluation-keys", headers=alice), 401)
    assert "revoked" in refused["detail"]
    with app.app_context():
        assert authenticate(get_session(), token) is None


def test_every_role_can_be_created(client: FlaskClient, tokens: dict[str, str]) -> None:
    for role in ROLES:
        response = client.post(
            f"{API}/tokens",
            json={"role": role, "name": f"n-{role}"},
            headers=bearer(tokens["admin"]),
        )
        assert response.status_code == 201, response.get_json()
        assert response.get_json()["role"] == role


def test_tokens_are_distinct_and_hashes_unique(app: Flask) -> None:
    from cryptoscore_server.auth import create_token

    with app.app_context():
        session = get_session()
        made = [create_token(session, "auditor", "a")[1] for _ in range(20)]
        session.commit()
        assert len(set(made)) == 20
        assert len({hash_token(t) for t in made}) == 20


def test_invalid_token_bodies(client: FlaskClient, tokens: dict[str, str]) -> None:
    admin = bearer(tokens["admin"])
    before = client.get(f"{API}/tokens", headers=admin).get_json()["tokens"]

    body = assert_problem(
        client.post(f"{API}/tokens", json={"role": "root", "name": "x"}, headers=admin), 422
    )
    assert "role" in body["errors"]
    body = assert_problem(
        client.post(f"{API}/tokens", json={"role": "admin", "name": ""}, headers=admin), 422
    )
    assert "name" in body["errors"]
    body = assert_problem(
        client.post(
            f"{API}/tokens", json={"role": "admin", "name": "x", "extra": 1}, headers=admin
        ),
        422,
    )
    assert "extra" in body["errors"]
    assert_problem(
        client.post(
            f"{API}/tokens",
            data=b'{"role": "admin",',
            content_type="application/json",
            headers=admin,
        ),
        400,
    )
    assert_problem(
        client.post(f"{API}/tokens", data=b"[]", content_type="application/json", headers=admin),
        400,
    )
    assert_problem(
        client.post(
            f"{API}/tokens", data={"role": "admin", "name": "x"}, headers=admin
        ),  # form-encoded
        415,
    )
    assert_problem(client.delete(f"{API}/tokens/999999", headers=admin), 404)

    after = client.get(f"{API}/tokens", headers=admin).get_json()["tokens"]
    assert after == before
