"""Every error is RFC 9457 problem details; library errors map to documented statuses."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from cryptoscore.errors import (
    ComputationError,
    CryptoScoreError,
    FormatError,
    InputError,
    MismatchError,
    ParameterError,
    PolicyError,
    RefusedError,
    StepError,
    VerificationError,
)
from cryptoscore_server.problems import library_problem
from tests.helpers.service import API, assert_problem


def test_http_errors_are_problems(app: Flask) -> None:
    client = app.test_client()
    body = assert_problem(client.get(f"{API}/no-such-thing"), 404)
    assert body["type"] == "about:blank" and body["title"] == "Not Found"
    assert body["instance"] == f"{API}/no-such-thing"
    response = client.delete(f"{API}/challenges")
    assert_problem(response, 405)
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}
    response = client.get(f"{API}/health/live")
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_unexpected_errors_are_500_without_internals(make_app: Callable[..., Flask]) -> None:
    app = make_app()

    @app.get(f"{API}/boom")
    def boom() -> str:
        raise RuntimeError("password=hunter2 at /srv/secret/path")

    @app.get(f"{API}/library-boom")
    def library_boom() -> str:
        raise MismatchError("bundle is for challenge 'a', not 'b'")

    client = app.test_client()
    body = assert_problem(client.get(f"{API}/boom"), 500)
    assert "hunter2" not in body["detail"] and "/srv" not in body["detail"]
    assert len(body["incident"]) == 32 and body["incident"] in body["detail"]

    body = assert_problem(client.get(f"{API}/library-boom"), 409)
    assert body["detail"] == "bundle is for challenge 'a', not 'b'"
    assert body["type"] == "urn:cryptoscore:problem:mismatch"


@pytest.mark.parametrize(
    ("error", "status", "suffix"),
    [
        (FormatError, 400, "format-error"),
        (ParameterError, 400, "parameter-error"),
        (InputError, 400, "input-error"),
        (ComputationError, 400, "computation-error"),
        (VerificationError, 400, "verification-error"),
        (MismatchError, 409, "mismatch"),
        (PolicyError, 422, "policy-error"),
        (RefusedError, 422, "refused"),
        (StepError, 409, "out-of-order"),
        (CryptoScoreError, 400, "cryptoscore-error"),
    ],
)
def test_library_error_mapping(error: type[CryptoScoreError], status: int, suffix: str) -> None:
    problem = library_problem(error("what was wrong"))
    assert (problem.status, problem.type) == (status, f"urn:cryptoscore:problem:{suffix}")
    assert problem.detail == "what was wrong" and problem.title

    class Subclass(error):  # type: ignore[misc, valid-type]
        pass

    assert library_problem(Subclass("x"), part="p").status == status
    assert library_problem(Subclass("x"), part="p").detail == "p: x"
