"""``GET /whoami``: the role and name of the request's token, for a client to check it holds
the token it means to use (``trustee run`` does, before any work)."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from tests.helpers.service import API, ROLES, assert_problem, bearer


@pytest.mark.parametrize("role", ROLES)
def test_whoami_names_the_token(client: FlaskClient, tokens: dict[str, str], role: str) -> None:
    response = client.get(f"{API}/whoami", headers=bearer(tokens[role]))
    assert response.status_code == 200
    assert response.get_json() == {"role": role, "name": f"test {role}"}


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer cs_unknown"}])
def test_whoami_needs_a_known_token(client: FlaskClient, headers: dict[str, str]) -> None:
    assert_problem(client.get(f"{API}/whoami", headers=headers), 401)


def test_whoami_is_documented(client: FlaskClient) -> None:
    document = client.get(f"{API}/openapi.json").get_json()
    operation = document["paths"][f"{API}/whoami"]["get"]
    assert operation["x-roles"] == sorted(ROLES)
    assert set(
        operation["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    ) == {"role", "name"}
