"""Trustees tell the service what they refuse, and why; the service logs it and shows it to
the task's owner (pad request status, submission reason) and to the organizer."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask

from cryptoscore_server.db import get_session
from cryptoscore_server.models import Challenge, TrusteeRefusal
from tests.helpers.protocol import (
    CHALLENGE,
    Committee,
    Trustees,
    create_challenge,
    encrypt_via_service,
    make_tokens,
    request_pads,
    upload,
)
from tests.helpers.service import API, assert_problem, bearer, snapshot

PARTIES = {
    "organizer": "organizer",
    "alice": "participant",
    "auditor": "auditor",
    "t0": "trustee",
    "t1": "trustee",
    "outsider": "trustee",
}


@pytest.fixture
def setup(app: Flask, committee: Committee, tmp_path: Path) -> tuple[Flask, Any, dict, Trustees]:
    client = app.test_client()
    tokens = make_tokens(app, PARTIES)
    create_challenge(client, tokens["organizer"], committee, pad_sets="any")  # t0, t1 online
    return app, client, tokens, Trustees(client, committee, tokens, tmp_path, ("t0", "t1"))


def test_a_refused_pad_request_is_reported_and_shown(
    setup: tuple[Flask, Any, dict, Trustees], caplog: pytest.LogCaptureFixture
) -> None:
    """The service describes the challenge with other rules than its logged definition (a
    bigger quota, edited in its database): every trustee refuses, says why, and the
    submitter sees it on its pad request."""
    app, client, tokens, trustees = setup
    with app.app_context():
        session = get_session()
        row = session.get(Challenge, CHALLENGE)
        row.rules = {**row.rules, "submissions_per_day": 99}
        session.commit()
    request, _key, created = request_pads(
        client, tokens["alice"], "predictions", trustees=trustees.asked
    )
    heard = len(trustees.said)
    with caplog.at_level(logging.WARNING):
        for tid in trustees.online:
            trustees.agent(tid).run_once(trustees_port(trustees, tid), lambda exc: False)
    said = trustees.said[heard:]
    assert all("not the one its log names" in line for line in said if "refused" in line)
    status = client.get(
        f"{API}/challenges/{CHALLENGE}/pads/{request.digest}", headers=bearer(tokens["alice"])
    ).get_json()
    assert not status["ready"] and sorted(status["refused"]) == sorted(created["trustees"])
    assert all("not the one its log names" in r for r in status["refused"].values())
    logged = [r.getMessage() for r in caplog.records if "refused pads" in r.getMessage()]
    assert len(logged) == len(created["trustees"])
    listing = client.get(
        f"{API}/challenges/{CHALLENGE}/refusals", headers=bearer(tokens["organizer"])
    ).get_json()["refusals"]
    assert sorted((r["trustee"], r["task"], r["subject"]) for r in listing) == sorted(
        (tid, "pads", request.digest) for tid in created["trustees"]
    )
    # refused again next pass: the same row, not logged again
    caplog.clear()
    before = snapshot(app)
    with caplog.at_level(logging.WARNING):
        for tid in trustees.online:
            trustees.agent(tid).run_once(trustees_port(trustees, tid), lambda exc: False)
    assert snapshot(app) == before
    assert not [r for r in caplog.records if "refused pads" in r.getMessage()]


def test_a_refused_submission_says_why(setup: tuple[Flask, Any, dict, Trustees]) -> None:
    """A refusal of a bundle still awaiting round 1 becomes its reason."""
    _app, client, tokens, trustees = setup
    labels = encrypt_via_service(trustees, tokens["organizer"], "labels", np.arange(300) % 2)
    assert upload(client, tokens["organizer"], "labels", labels).status_code == 201
    bundle = encrypt_via_service(trustees, tokens["alice"], "predictions", np.ones(300, dtype=int))
    digest = upload(client, tokens["alice"], "submissions", bundle).get_json()["submission"]
    report = {"challenge": CHALLENGE, "task": "contributions", "subject": digest}
    response = client.post(
        f"{API}/trustee/refusals",
        json={**report, "reason": "identity ab12… submitted 6 times in 24 hours"},
        headers=bearer(tokens["t0"]),
    )
    assert response.status_code == 201
    status = client.get(
        f"{API}/challenges/{CHALLENGE}/submissions/{digest}", headers=bearer(tokens["alice"])
    ).get_json()
    assert status["state"] == "awaiting-contributions"
    assert status["reason"] == "t0 refused: identity ab12… submitted 6 times in 24 hours"


@pytest.mark.parametrize(
    ("who", "change", "status"),
    [
        ("outsider", {}, 403),  # not a trustee of this challenge
        ("alice", {}, 403),  # not a trustee
        ("t0", {"task": "votes"}, 422),
        ("t0", {"reason": "a\x00b"}, 422),
        ("t0", {"reason": ""}, 422),
        ("t0", {"reason": "x" * 501}, 422),
        ("t0", {"subject": "s" * 129}, 422),
        ("t0", {"challenge": "nope"}, 404),
        ("t0", {"extra": 1}, 422),
    ],
)
def test_bad_refusal_reports(
    setup: tuple[Flask, Any, dict, Trustees], who: str, change: dict, status: int
) -> None:
    app, client, tokens, _ = setup
    report = {"challenge": CHALLENGE, "task": "pads", "subject": "ab" * 32, "reason": "no"}
    before = snapshot(app)
    response = client.post(
        f"{API}/trustee/refusals", json={**report, **change}, headers=bearer(tokens[who])
    )
    assert_problem(response, status)
    assert snapshot(app) == before
    with app.app_context():
        assert get_session().query(TrusteeRefusal).count() == 0


def trustees_port(trustees: Trustees, tid: str) -> Any:
    from tests.helpers.protocol import FlaskPort

    return FlaskPort(trustees.client, trustees.tokens[tid])
