"""CORS: public reads for configured origins only; preflight answered; never for guarded routes."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from tests.helpers.service import API, bearer

ORIGIN = "https://leaderboard.example"  # configured by conftest


def test_allowed_origin_gets_the_header(client: FlaskClient) -> None:
    for path in ("/challenges", "/challenges/nope", "/challenges/nope/public-context"):
        response = client.get(f"{API}{path}", headers={"Origin": ORIGIN})
        assert response.headers["Access-Control-Allow-Origin"] == ORIGIN, path
        assert "Origin" in response.headers["Vary"]
        assert "Access-Control-Allow-Credentials" not in response.headers


def test_other_origin_gets_nothing(client: FlaskClient) -> None:
    response = client.get(f"{API}/challenges", headers={"Origin": "https://evil.example"})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    no_origin = client.get(f"{API}/challenges")
    assert "Access-Control-Allow-Origin" not in no_origin.headers


def test_preflight(client: FlaskClient) -> None:
    response = client.options(
        f"{API}/challenges/abc",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "If-None-Match",
        },
    )
    assert 200 <= response.status_code < 300
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "GET" in response.headers["Access-Control-Allow-Methods"]
    assert "If-None-Match" in response.headers["Access-Control-Allow-Headers"]
    assert int(response.headers["Access-Control-Max-Age"]) > 0


def test_guarded_routes_are_not_cross_origin(client: FlaskClient, tokens: dict[str, str]) -> None:
    preflight = client.options(
        f"{API}/tokens",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Origin" not in preflight.headers
    response = client.get(f"{API}/tokens", headers={"Origin": ORIGIN, **bearer(tokens["admin"])})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    preflight = client.options(
        f"{API}/challenges",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
    )
    assert "Access-Control-Allow-Methods" not in preflight.headers


def test_wildcard_and_empty_configuration(make_app: Callable[..., Flask]) -> None:
    anyone = make_app(CORS_ORIGINS="*").test_client()
    response = anyone.get(f"{API}/challenges", headers={"Origin": "https://x.example"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    nobody = make_app(CORS_ORIGINS="").test_client()
    response = nobody.get(f"{API}/challenges", headers={"Origin": ORIGIN})
    assert "Access-Control-Allow-Origin" not in response.headers
