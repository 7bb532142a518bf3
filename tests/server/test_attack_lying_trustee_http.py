"""A lying trustee against the networked service (open issue 14): t0 answers as ``trustee run``
does, but adds Δ·5 to the ``correct`` coefficient of every score partial it signs
(``tests/helpers/lying_trustee.py``). The service's combiner finds correct + errors ≠ n:
each submission is ``disputed`` in its status and in the public log's view, with the invariant
and no values; the leaderboard ranks nobody and lists both as disputed; the log holds a
``dispute`` entry for each; the downloaded audit bundle verifies, its ``release-invariants``
check re-deriving both disputes from the logged partials."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask

from cryptoscore.verify import verify_bundle
from tests.helpers.lying_trustee import LyingAgent
from tests.helpers.protocol import (
    CHALLENGE,
    Committee,
    challenge_with_trustees,
    encrypt_via_service,
    leaf_entries,
    upload,
)
from tests.helpers.service import API, bearer


def test_a_lying_trustee_makes_releases_disputed_not_wrong(
    make_app: Callable[..., Flask], committee: Committee, data: dict[str, Any], tmp_path: Path
) -> None:
    app, client, tokens, trustees = challenge_with_trustees(make_app, committee, tmp_path)
    honest = trustees.agent("t0")
    liar = LyingAgent(honest.share, honest.identity, honest.journal_path, say=honest.say)
    liar.lies = {"correct": 5}
    trustees.agents["t0"] = liar

    bundle = encrypt_via_service(trustees, tokens["organizer"], "labels", data["labels"])
    assert upload(client, tokens["organizer"], "labels", bundle).status_code == 201
    digests = {}
    for name in ("alice", "bob"):
        bundle = encrypt_via_service(
            trustees, tokens[name], "predictions", data["predictions"][name]
        )
        response = upload(client, tokens[name], "submissions", bundle)
        assert response.status_code == 201, response.get_json()
        digests[name] = response.get_json()["submission"]
    trustees.run(app)
    assert len(liar.lied) == 2

    for name, digest in digests.items():
        status = client.get(
            f"{API}/challenges/{CHALLENGE}/submissions/{digest}", headers=bearer(tokens[name])
        ).get_json()
        assert status["state"] == "disputed", status
        assert status["values"] is None
        assert status["invariant"] == "correct-plus-errors"
        truth = data["truth"][name]
        assert status["reason"].startswith(f"correct-plus-errors: correct + errors = {truth + 5}")
        logged = client.get(f"{API}/challenges/{CHALLENGE}/log/submissions/{digest}").get_json()
        assert [logged[k] for k in ("state", "invariant", "values")] == [
            "disputed",
            "correct-plus-errors",
            None,
        ]
        assert logged["events"][-1]["type"] == "dispute"

    board = client.get(f"{API}/challenges/{CHALLENGE}/leaderboard").get_json()
    assert board["rows"] == [] and board["total"] == 0
    assert {(d["participant"], d["submission"], d["invariant"]) for d in board["disputed"]} == {
        ("alice", digests["alice"], "correct-plus-errors"),
        ("bob", digests["bob"], "correct-plus-errors"),
    }

    response = client.get(
        f"{API}/challenges/{CHALLENGE}/audit-bundle", headers=bearer(tokens["auditor"])
    )
    assert response.status_code == 200
    disputes = [e for e in leaf_entries(response.data) if e["type"] == "dispute"]
    assert {e["predictions"] for e in disputes} == set(digests.values())
    assert not [e for e in leaf_entries(response.data) if e["type"] == "release"]
    path = tmp_path / "audit.zip"
    path.write_bytes(response.data)
    report = verify_bundle(path)
    assert report.ok and report.complete, (report.first_failure, report.in_progress)
    checks = {c.name: c.detail for c in report.checks}
    assert checks["release-invariants"].startswith("0 releases meet the release invariants; 2 ")
