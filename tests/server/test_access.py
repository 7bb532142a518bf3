"""The access matrix: every endpoint refuses every caller it must refuse.

``MATRIX`` is the specification, written out by hand; the tests check the running app
against it, and check that it lists every route the app serves (a new endpoint must be added
here before its tests pass).
"""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.helpers.service import API, ROLES, assert_problem, bearer

PUBLIC: frozenset[str] = frozenset()  # no token needed; roles irrelevant

# (method, rule as registered, concrete path, roles admitted or PUBLIC)
MATRIX: list[tuple[str, str, str, frozenset[str]]] = [
    ("GET", "/health/live", "/health/live", PUBLIC),
    ("GET", "/health/ready", "/health/ready", PUBLIC),
    ("GET", "/openapi.json", "/openapi.json", PUBLIC),
    ("POST", "/tokens", "/tokens", frozenset({"admin"})),
    ("GET", "/tokens", "/tokens", frozenset({"admin"})),
    ("DELETE", "/tokens/<int:token_id>", "/tokens/999999", frozenset({"admin"})),
    ("GET", "/whoami", "/whoami", frozenset(ROLES)),
    ("POST", "/challenges", "/challenges", frozenset({"organizer", "admin"})),
    ("GET", "/challenges", "/challenges", PUBLIC),
    ("GET", "/challenges/<challenge_id>", "/challenges/nope", PUBLIC),
    ("GET", "/challenges/<challenge_id>/public-context", "/challenges/nope/public-context", PUBLIC),
    (
        "GET",
        "/challenges/<challenge_id>/ceremony-record",
        "/challenges/nope/ceremony-record",
        PUBLIC,
    ),
    (
        "GET",
        "/challenges/<challenge_id>/evaluation-keys",
        "/challenges/nope/evaluation-keys",
        frozenset({"trustee", "auditor"}),
    ),
    (
        "POST",
        "/challenges/<challenge_id>/labels",
        "/challenges/nope/labels",
        frozenset({"organizer", "admin"}),
    ),
    (
        "GET",
        "/challenges/<challenge_id>/labels",
        "/challenges/nope/labels",
        frozenset({"organizer", "admin"}),
    ),
    (
        "POST",
        "/challenges/<challenge_id>/submissions",
        "/challenges/nope/submissions",
        frozenset({"participant"}),
    ),
    (
        "GET",
        "/challenges/<challenge_id>/submissions/<digest>",
        "/challenges/nope/submissions/" + "0" * 64,
        frozenset({"participant", "organizer", "admin", "auditor"}),
    ),
    (
        "GET",
        "/challenges/<challenge_id>/bundles/<digest>",
        "/challenges/nope/bundles/" + "0" * 64,
        frozenset({"trustee", "auditor", "admin"}),
    ),
    (
        "POST",
        "/challenges/<challenge_id>/enrolment",
        "/challenges/nope/enrolment",
        frozenset({"participant"}),
    ),
    (
        "GET",
        "/challenges/<challenge_id>/enrolment",
        "/challenges/nope/enrolment",
        frozenset({"participant"}),
    ),
    (
        "POST",
        "/challenges/<challenge_id>/pads",
        "/challenges/nope/pads",
        frozenset({"participant", "organizer", "admin"}),
    ),
    (
        "GET",
        "/challenges/<challenge_id>/pads/<digest>",
        "/challenges/nope/pads/" + "0" * 64,
        frozenset({"participant", "organizer", "admin"}),
    ),
    (
        "GET",
        "/challenges/<challenge_id>/pads/<digest>/shares/<trustee>",
        "/challenges/nope/pads/" + "0" * 64 + "/shares/t0",
        frozenset({"participant", "organizer", "admin"}),
    ),
    (
        "POST",
        "/challenges/<challenge_id>/selections",
        "/challenges/nope/selections",
        frozenset({"participant"}),
    ),
    (
        "POST",
        "/challenges/<challenge_id>/close",
        "/challenges/nope/close",
        frozenset({"organizer", "admin"}),
    ),
    ("POST", "/trustee/pads", "/trustee/pads", frozenset({"trustee"})),
    ("POST", "/trustee/refusals", "/trustee/refusals", frozenset({"trustee"})),
    (
        "GET",
        "/challenges/<challenge_id>/refusals",
        "/challenges/nope/refusals",
        frozenset({"organizer", "admin", "auditor"}),
    ),
    (
        "GET",
        "/trustee/evidence/<challenge_id>/<digest>",
        "/trustee/evidence/nope/" + "0" * 64,
        frozenset({"trustee"}),
    ),
    ("GET", "/trustee/tasks", "/trustee/tasks", frozenset({"trustee"})),
    ("POST", "/trustee/contributions", "/trustee/contributions", frozenset({"trustee"})),
    ("POST", "/trustee/partials", "/trustee/partials", frozenset({"trustee"})),
    ("GET", "/challenges/<challenge_id>/leaderboard", "/challenges/nope/leaderboard", PUBLIC),
    ("GET", "/challenges/<challenge_id>/log/head", "/challenges/nope/log/head", PUBLIC),
    (
        "GET",
        "/challenges/<challenge_id>/log/consistency",
        "/challenges/nope/log/consistency?from=0",
        PUBLIC,
    ),
    (
        "GET",
        "/challenges/<challenge_id>/log/entries",
        "/challenges/nope/log/entries?from=0",
        PUBLIC,
    ),
    (
        "GET",
        "/challenges/<challenge_id>/log/submissions/<digest>",
        "/challenges/nope/log/submissions/" + "0" * 64,
        PUBLIC,
    ),
    ("GET", "/challenges/<challenge_id>/trustees", "/challenges/nope/trustees", PUBLIC),
    (
        "GET",
        "/challenges/<challenge_id>/audit-bundle",
        "/challenges/nope/audit-bundle",
        # an organizer only its own challenge's restricted bundle (test_ladder_http.py)
        frozenset({"auditor", "admin", "organizer"}),
    ),
    ("POST", "/ceremonies", "/ceremonies", frozenset({"organizer", "admin"})),
    ("GET", "/ceremonies", "/ceremonies", frozenset(ROLES)),
    ("GET", "/ceremonies/<ceremony_id>", "/ceremonies/nope", frozenset(ROLES)),
    ("GET", "/ceremonies/<ceremony_id>/plan", "/ceremonies/nope/plan", frozenset(ROLES)),
    (
        "POST",
        "/ceremonies/<ceremony_id>/messages",
        "/ceremonies/nope/messages",
        frozenset({"trustee"}),
    ),
    ("GET", "/ceremonies/<ceremony_id>/messages", "/ceremonies/nope/messages", frozenset(ROLES)),
    (
        "GET",
        "/ceremonies/<ceremony_id>/messages/<kind>/<trustee_id>",
        "/ceremonies/nope/messages/hello/t1",
        frozenset(ROLES),
    ),
]
IDS = [f"{m} {rule}" for m, rule, _, _ in MATRIX]


def _unauthenticated_headers(tokens: dict[str, str]) -> dict[str, dict[str, str]]:
    return {
        "no header": {},
        "empty bearer": {"Authorization": "Bearer "},
        "basic scheme": {"Authorization": "Basic YWRtaW46YWRtaW4="},
        "unknown token": bearer("A" * 43),
        "revoked token": bearer(tokens["revoked"]),
        "token without scheme": {"Authorization": tokens["admin"]},
    }


def test_matrix_lists_every_route(app: Flask) -> None:
    served = {
        (method, rule.rule.removeprefix(API))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith(API)
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    assert served == {(m, rule) for m, rule, _, _ in MATRIX}


def test_matrix_matches_declared_roles(app: Flask) -> None:
    adapter = app.url_map.bind("localhost")
    for method, _rule, path, allowed in MATRIX:
        endpoint, _ = adapter.match(API + path.split("?")[0], method=method)
        declared = app.view_functions[endpoint].__dict__.get("required_roles", ())
        assert frozenset(declared) == allowed, endpoint


A_ROLE_TOKEN = {
    "admin": "An admin token",
    "organizer": "An organizer token",
    "participant": "A participant token",
    "trustee": "A trustee token",
    "auditor": "An auditor token",
}


@pytest.mark.parametrize(("method", "rule", "path", "allowed"), MATRIX, ids=IDS)
def test_access(
    client: FlaskClient,
    tokens: dict[str, str],
    method: str,
    rule: str,
    path: str,
    allowed: frozenset[str],
) -> None:
    url = API + path
    if allowed is PUBLIC:
        for role in (*ROLES, "revoked"):
            response = client.open(url, method=method, headers=bearer(tokens[role]))
            assert response.status_code not in (401, 403), role
        for label, headers in _unauthenticated_headers(tokens).items():
            response = client.open(url, method=method, headers=headers)
            assert response.status_code not in (401, 403), label
        return

    for label, headers in _unauthenticated_headers(tokens).items():
        body = assert_problem(client.open(url, method=method, headers=headers), 401)
        assert body["detail"], label
        challenge = client.open(url, method=method, headers=headers).headers["WWW-Authenticate"]
        assert challenge.startswith("Bearer"), label
    for role in ROLES:
        response = client.open(url, method=method, headers=bearer(role_token := tokens[role]))
        if role in allowed:
            assert response.status_code not in (401, 403), (role, response.get_json())
        else:
            body = assert_problem(response, 403)
            assert body["detail"].startswith(f"{A_ROLE_TOKEN[role]} may not do this"), body
            assert role_token not in response.get_data(as_text=True)
