"""What an uploader can check before asking for pads, and what a bundle waits for:
the quota use on ``GET …/enrolment``, ``GET …/labels``, and ``waiting_for`` on a status."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask

from tests.helpers.protocol import (
    CHALLENGE,
    Committee,
    challenge_with_trustees,
    encrypt_via_service,
    enrol,
    upload,
)
from tests.helpers.service import API, assert_problem, bearer


def test_quota_labels_status_and_waiting_for(
    make_app: Callable[..., Flask], committee: Committee, data: dict[str, Any], tmp_path: Path
) -> None:
    app, client, tokens, trustees = challenge_with_trustees(make_app, committee, tmp_path)
    labels_url = f"{API}/challenges/{CHALLENGE}/labels"
    enrolment_url = f"{API}/challenges/{CHALLENGE}/enrolment"
    organizer, alice = bearer(tokens["organizer"]), bearer(tokens["alice"])

    def labels() -> dict[str, Any]:
        response = client.get(labels_url, headers=organizer)
        assert response.status_code == 200, response.get_json()
        body: dict[str, Any] = response.get_json()
        return body

    def alice_status() -> dict[str, Any]:
        url = f"{API}/challenges/{CHALLENGE}/submissions/{digest}"
        body: dict[str, Any] = client.get(url, headers=alice).get_json()
        return body

    assert labels() == {
        "uploaded": False,
        "bundle": None,
        "state": None,
        "reason": "",
        "waiting_for": "the upload",
        "submitted_at": None,
        "pad_requests": {"used": 0, "per_day": 6},
    }
    assert_problem(client.get(f"{API}/challenges/nope/labels", headers=organizer), 404)

    enrol(client, tokens["alice"])
    quota = client.get(enrolment_url, headers=alice).get_json()["quota"]
    assert quota == {
        "submissions": {"used": 0, "per_day": 3},
        "pad_requests": {"used": 0, "per_day": 6},
    }
    bundle = encrypt_via_service(
        trustees, tokens["alice"], "predictions", data["predictions"]["alice"]
    )
    response = upload(client, tokens["alice"], "submissions", bundle)
    digest = response.get_json()["submission"]
    quota = client.get(enrolment_url, headers=alice).get_json()["quota"]
    assert quota == {
        "submissions": {"used": 1, "per_day": 3},
        "pad_requests": {"used": 1, "per_day": 6},
    }
    assert alice_status()["waiting_for"] == "round 1: 0 of 2 trustee contributions"
    trustees.run(app)  # round 1 of the submission only: there are no labels yet
    assert alice_status()["state"] == "valid"
    assert alice_status()["waiting_for"] == "round 2: the organizer's labels (not uploaded yet)"

    bundle = encrypt_via_service(trustees, tokens["organizer"], "labels", data["labels"])
    assert upload(client, tokens["organizer"], "labels", bundle).status_code == 201
    status = labels()
    assert status["uploaded"] and status["state"] == "awaiting-contributions"
    assert status["bundle"] == bundle.digest and status["submitted_at"]
    assert status["waiting_for"] == "round 1: 0 of 2 trustee contributions"
    assert status["pad_requests"] == {"used": 1, "per_day": 6}
    assert alice_status()["waiting_for"] == (
        "round 2: the labels to pass round 1 (they are at awaiting-contributions)"
    )
    trustees.run(app)
    assert (labels()["state"], labels()["waiting_for"]) == ("valid", "")
    assert (alice_status()["state"], alice_status()["waiting_for"]) == ("released", "")
