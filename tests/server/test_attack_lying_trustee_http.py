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
from sqlalchemy import select

from cryptoscore import BFV8192
from cryptoscore.hazmat.shamir import lagrange_at_zero
from cryptoscore.threshold.liars import LiarReport
from cryptoscore.threshold.partial import PartialDecryption
from cryptoscore.verify import verify_bundle
from cryptoscore_server.blobs import get_blob_store
from cryptoscore_server.db import get_session
from cryptoscore_server.models import StoredPartial
from tests.helpers.lying_trustee import LyingAgent, shifted_partial
from tests.helpers.protocol import (
    CHALLENGE,
    OCTETS,
    Committee,
    challenge_with_trustees,
    encrypt_via_service,
    leaf_entries,
    pad_request_body,
    request_pads,
    upload,
)
from tests.helpers.service import API, assert_problem, bearer


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
    # the dealerless key answers Shamir shares: t0's Δ·5 reaches the value times its Lagrange
    # coefficient in the answering set {1, 2} (λ_1 = 2); additive answers would pass 5 as is
    robust = committee.context.record.robust
    shift = 5 * (lagrange_at_zero(1, [1, 2], BFV8192.PLAIN_MODULUS) if robust else 1)
    assert shift == 10

    for name, digest in digests.items():
        status = client.get(
            f"{API}/challenges/{CHALLENGE}/submissions/{digest}", headers=bearer(tokens[name])
        ).get_json()
        assert status["state"] == "disputed", status
        assert status["values"] is None
        assert status["invariant"] == "correct-plus-errors"
        truth = data["truth"][name]
        assert status["reason"].startswith(
            f"correct-plus-errors: correct + errors = {truth + shift}"
        )
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


def test_a_different_re_sent_partial_is_a_named_lie(
    make_app: Callable[..., Flask], committee: Committee, data: dict[str, Any], tmp_path: Path
) -> None:
    """The journal gives an honest trustee's outbox its stored partial: re-posting the same
    bytes is accepted (200). A trustee re-sending a *different* partial for a request it
    answered is a liar: 409 ``liar`` with a liar report anyone re-runs, naming it; the first
    partial stays."""
    app, client, tokens, trustees = challenge_with_trustees(make_app, committee, tmp_path)
    bundle = encrypt_via_service(trustees, tokens["organizer"], "labels", data["labels"])
    assert upload(client, tokens["organizer"], "labels", bundle).status_code == 201
    trustees.run(app)
    with app.app_context():
        session, store = get_session(), get_blob_store()
        row = session.scalars(select(StoredPartial).where(StoredPartial.trustee == "t0")).first()
        assert row is not None
        first = PartialDecryption.from_bytes(store.read(row.blob))
    url, headers = f"{API}/trustee/partials", bearer(tokens["t0"])
    resent = client.post(url, data=first.to_bytes(), content_type=OCTETS, headers=headers)
    assert resent.status_code == 200
    second = shifted_partial(first, committee.identities["t0"], 0, 1)
    refused = assert_problem(
        client.post(url, data=second.to_bytes(), content_type=OCTETS, headers=headers), 409
    )
    assert refused["type"] == "urn:cryptoscore:problem:liar"
    report = LiarReport.from_bytes(bytes.fromhex(refused["liar_report"]))
    assert (report.trustee_id, report.finding) == ("t0", "two-answers")
    assert report.answers == tuple(sorted(("t0", p.digest) for p in (first, second)))
    assert report.digest in refused["detail"]
    with app.app_context():
        kept = get_session().get(StoredPartial, (first.request_id, "t0"))
        assert kept is not None and kept.blob == first.digest
    # the log names the liar, once, and the auditor re-runs the report
    again = client.post(url, data=second.to_bytes(), content_type=OCTETS, headers=headers)
    assert again.status_code == 409
    response = client.get(
        f"{API}/challenges/{CHALLENGE}/audit-bundle", headers=bearer(tokens["auditor"])
    )
    liars = [e for e in leaf_entries(response.data) if e["type"] == "liar"]
    assert [(e["trustee"], e["finding"], e["request_id"]) for e in liars] == [
        ("t0", "two-answers", first.request_id)
    ]
    path = tmp_path / "audit.zip"
    path.write_bytes(response.data)
    audit = verify_bundle(path)
    assert audit.ok, audit.first_failure
    assert {c.name: c.detail for c in audit.checks}["liars"] == "1 liar reports re-run (naming t0)"
    # named liars are excluded from later requests: pads go to t1 and t2, naming t0 is refused
    request, _, _ = request_pads(client, tokens["organizer"], "labels")
    assert request.active_set == (2, 3)
    body = pad_request_body(tokens["organizer"], "labels")
    body.pop("_key")
    body["trustees"] = ["t0", "t1"]
    refused = assert_problem(
        client.post(
            f"{API}/challenges/{CHALLENGE}/pads", json=body, headers=bearer(tokens["organizer"])
        ),
        422,
    )
    assert "Named as liars" in refused["detail"] and "t0" in refused["detail"]
