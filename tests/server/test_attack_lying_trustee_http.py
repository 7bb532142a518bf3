"""Lying trustees against the networked service (issue 14).

* Only t0 and t1 online, so submitters name them in their pad requests (m = t answers, nothing
  decoded is checked): t0 adds Δ·5 to the ``correct`` coefficient of every score partial it
  signs (``tests/helpers/lying_trustee.py``). The service's combiner finds correct + errors ≠ n:
  each submission is ``disputed`` in its status and in the public log's view, with the
  invariant and no values; the leaderboard ranks nobody and lists both as disputed; the log
  holds a ``dispute`` entry for each; the downloaded audit bundle verifies, its
  ``release-invariants`` check re-deriving both disputes from the logged partials.
* Every trustee online, so pad sets are the whole roster by default (robust decoding,
  docs/design.md "Robust threshold decryption (core)"): a lie every invariant holds for
  (correct + k, errors − k) leaves the submission disputed (``answers-decoding``, suspects
  named, nothing released) where the same lie under t named trustees is released wrong (the
  control); a trustee colluding with a weighted submission's owner and moving V to 0 is
  caught the same way in round 1, where under t trustees the invalid submission passes and is
  scored; a trustee re-sending a different partial for a score is a named liar, left out of
  the next pad set; in a 2-of-4 committee a lying trustee's score answer is corrected, the
  exact values released, and the trustee logged as a liar and left out of later pad sets.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from cryptoscore import BFV8192
from cryptoscore.hazmat.shamir import lagrange_at_zero
from cryptoscore.protocol.driver import round1_prefix, round2_request_id
from cryptoscore.threshold.combine import decrypt_answers
from cryptoscore.threshold.journal import PartialJournal
from cryptoscore.threshold.liars import LiarReport
from cryptoscore.threshold.partial import PartialDecryption, partial_decrypt, standalone_lineage
from cryptoscore.verify import verify_bundle
from cryptoscore_server.blobs import get_blob_store
from cryptoscore_server.db import get_session
from cryptoscore_server.models import StoredPartial, StoredRequest
from tests.helpers.lying_trustee import LyingAgent, shifted_partial, zeroing
from tests.helpers.protocol import (
    CHALLENGE,
    N_ITEMS,
    OCTETS,
    PARTIES,
    Committee,
    Trustees,
    challenge_with_trustees,
    encrypt_via_service,
    leaf_entries,
    make_committee,
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


# -- every trustee asked: robust decoding (issue 14, layer 3) -------------------------------------
EVERYONE = ("t0", "t1", "t2")
CONSISTENT = {"correct": 3, "errors": -3}
"""A lie every release invariant holds for: correct + errors = n still."""


def _liar(trustees: Trustees, tid: str) -> LyingAgent:
    honest = trustees.agent(tid)
    liar = LyingAgent(honest.share, honest.identity, honest.journal_path, say=honest.say)
    trustees.agents[tid] = liar
    return liar


def _submit(
    trustees: Trustees, token: str, values: Any, asked: list[str] | None = None
) -> tuple[str, dict[str, Any]]:
    """Pads (of ``asked``, default the service's choice), encrypt, upload: the digest and the
    pad request's body."""
    client = trustees.client
    bundle = encrypt_via_service(trustees, token, "predictions", values, asked=asked)
    assert bundle.header.pad_request is not None
    pads = client.get(
        f"{API}/challenges/{CHALLENGE}/pads/{bundle.header.pad_request.digest}",
        headers=bearer(token),
    ).get_json()
    response = upload(client, token, "submissions", bundle)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["submission"], pads


def _status(client: FlaskClient, token: str, digest: str) -> dict[str, Any]:
    return client.get(
        f"{API}/challenges/{CHALLENGE}/submissions/{digest}", headers=bearer(token)
    ).get_json()


def _log(client: FlaskClient, tokens: dict[str, str], kind: str) -> list[dict[str, Any]]:
    """The log's entries of ``kind``, as the auditor's bundle holds them (every entry, also
    those no signed head covers yet)."""
    response = client.get(
        f"{API}/challenges/{CHALLENGE}/audit-bundle", headers=bearer(tokens["auditor"])
    )
    assert response.status_code == 200
    return [e for e in leaf_entries(response.data) if e["type"] == kind]


def _undecodable(request_id: str, m: int, suspects: str) -> str:
    return (
        f"answers-decoding: {request_id}: the {m} answers are not within 0 of one polynomial "
        f"of degree 1: too many are wrong to tell which; suspects: {suspects}"
    )


def _labels(trustees: Trustees, tokens: dict[str, str], data: dict[str, Any]) -> None:
    bundle = encrypt_via_service(trustees, tokens["organizer"], "labels", data["labels"])
    assert bundle.header.pad_request is not None
    assert bundle.header.pad_request.active_set == (1, 2, 3)  # every trustee, by default
    assert upload(trustees.client, tokens["organizer"], "labels", bundle).status_code == 201


def test_a_consistent_lie_is_disputed_when_every_trustee_answers(
    make_app: Callable[..., Flask], committee: Committee, data: dict[str, Any], tmp_path: Path
) -> None:
    """t0 adds Δ·3 to ``correct`` and subtracts Δ·3 from ``errors`` in every score partial:
    correct + errors = n holds, so no release invariant can see it. alice's pads are asked of
    every trustee (the default): decoding the three answers finds them off one polynomial,
    the submission is disputed naming the suspects (2-of-3: one lie is detected, not
    located), nothing is released, and nobody is logged as a liar on suspicion. The CONTROL:
    under ``pad_sets: "any"`` bob names t0 and t1 (m = t: nothing checked) and his score is
    released shifted by 3·λ_t0({t0, t1}) = 6."""
    app, client, tokens, trustees = challenge_with_trustees(
        make_app, committee, tmp_path, online=EVERYONE, pad_sets="any"
    )
    liar = _liar(trustees, "t0")
    liar.lies = dict(CONSISTENT)
    _labels(trustees, tokens, data)
    alice, alice_pads = _submit(trustees, tokens["alice"], data["predictions"]["alice"])
    bob, bob_pads = _submit(trustees, tokens["bob"], data["predictions"]["bob"], ["t0", "t1"])
    assert (alice_pads["trustees"], alice_pads["verifiable"]) == (list(EVERYONE), True)
    assert (bob_pads["trustees"], bob_pads["verifiable"]) == (["t0", "t1"], False)
    trustees.run(app)
    assert len(liar.lied) == 2

    status = _status(client, tokens["alice"], alice)
    rid = round2_request_id(CHALLENGE, alice)
    assert status["state"] == "disputed" and status["values"] is None
    assert status["invariant"] == "answers-decoding"
    assert status["reason"] == _undecodable(rid, 3, "t0, t1, t2")
    (dispute,) = _log(client, tokens, "dispute")
    assert (dispute["request_id"], dispute["invariant"]) == (rid, "answers-decoding")
    assert _log(client, tokens, "liar") == []  # suspects are not named liars

    truth = data["truth"]["bob"]
    shift = 3 * lagrange_at_zero(1, [1, 2], BFV8192.PLAIN_MODULUS)
    assert shift == 6
    control = _status(client, tokens["bob"], bob)
    assert control["state"] == "released"
    assert control["values"] == {"correct": truth + shift, "errors": N_ITEMS - truth - shift}
    board = client.get(f"{API}/challenges/{CHALLENGE}/leaderboard").get_json()
    assert [row["participant"] for row in board["rows"]] == ["bob"]  # released wrong
    assert [(d["participant"], d["invariant"]) for d in board["disputed"]] == [
        ("alice", "answers-decoding")
    ]
    # the auditor's verifier shows both: alice's lie caught (undecodable, disputed, the
    # suspects not named liars), bob's score resting on t answers and so not checked
    response = client.get(
        f"{API}/challenges/{CHALLENGE}/audit-bundle", headers=bearer(tokens["auditor"])
    )
    path = tmp_path / "audit.zip"
    path.write_bytes(response.data)
    audit = verify_bundle(path)
    assert audit.ok, audit.first_failure
    decoding = {c.name: c.detail for c in audit.checks}["decoding"]
    assert decoding.endswith(
        "; 1 decisions undecodable and logged disputed, nothing released "
        "(suspects, not named liars: t0, t1, t2)"
    ), decoding
    assert "not checked: 3 decisions answered by fewer than 2t − 1 trustees" in decoding


def _true_values(committee: Committee, journal_dir: Path) -> Callable[[Any, Any], dict[str, int]]:
    """What a trustee colluding with the submitter knows of a request's values (the test
    computes them from every honest answer of its set, in scratch journals)."""
    record = committee.context.record

    def values(request: Any, aggregate: Any) -> dict[str, int]:
        active, parts = request.active_set, []
        for index in active.indices:
            tid = record.entry_by_index(index).trustee_id
            with PartialJournal(journal_dir / f"{tid}.oracle") as journal:
                parts.append(
                    partial_decrypt(
                        committee.shares[tid],
                        aggregate,
                        active,
                        request.request_id,
                        committee.identities[tid],
                        journal,
                        record,
                        lineage=standalone_lineage(aggregate, active),
                    )
                )
        return decrypt_answers(aggregate, parts, record, request.request_id, active).values

    return values


def test_moving_v_to_zero_for_a_colluding_submitter_is_caught(
    make_app: Callable[..., Flask], committee: Committee, data: dict[str, Any], tmp_path: Path
) -> None:
    """mallory submits a weighted encoding (entry i = 2^(i mod 20): one score would give the
    labels away); t0, colluding with her, shifts its V partial so that V combines to 0. Every
    trustee asked: the V answers are off one polynomial, mallory's submission is disputed in
    round 1, and no score of it is ever asked. The CONTROL (``pad_sets: "any"``): bob sends the
    same encoding to t0 and t1 only, V combines to 0, round 1 says valid, and its score is
    decrypted."""
    app, client, tokens, trustees = challenge_with_trustees(
        make_app, committee, tmp_path, online=EVERYONE, pad_sets="any"
    )
    liar = _liar(trustees, "t0")
    liar.lie_on = ("validity/v1",)
    liar.forge = zeroing(_true_values(committee, tmp_path / "oracle"), liar.identity)
    _labels(trustees, tokens, data)  # V of honest labels is 0: the forgery moves nothing
    weighted = data["predictions"]["mallory"]
    mallory, _ = _submit(trustees, tokens["mallory"], weighted)
    bob, _ = _submit(trustees, tokens["bob"], weighted, ["t0", "t1"])
    trustees.run(app)

    status = _status(client, tokens["mallory"], mallory)
    assert status["state"] == "disputed" and status["values"] is None
    v_request = f"{round1_prefix(CHALLENGE, mallory)}:validity"
    assert status["reason"] == _undecodable(v_request, 3, "t0, t1, t2")
    verdicts = {e["bundle"]: e["verdict"] for e in _log(client, tokens, "round1")}
    assert verdicts[mallory] == "disputed" and verdicts[bob] == "valid"
    with app.app_context():
        scored = {r.bundle for r in get_session().scalars(select(StoredRequest)) if r.round == 2}
    assert mallory not in scored  # never scored
    assert bob in scored  # the control: an invalid encoding passed round 1 and was decrypted
    assert _status(client, tokens["bob"], bob)["state"] in ("released", "disputed")


def test_a_different_re_sent_score_partial_names_the_liar_and_it_gets_no_more_pads(
    make_app: Callable[..., Flask], committee: Committee, data: dict[str, Any], tmp_path: Path
) -> None:
    """alice's score is released on three verified answers; then t0 posts a different partial
    for that score request: 409 ``liar`` with the two-answers report, one ``liar`` entry, and
    the next pad request asks only t1 and t2 (no longer verifiable); naming t0 is refused,
    and so is naming fewer than t trustees."""
    app, client, tokens, trustees = challenge_with_trustees(
        make_app, committee, tmp_path, online=EVERYONE
    )
    _labels(trustees, tokens, data)
    alice, _ = _submit(trustees, tokens["alice"], data["predictions"]["alice"])
    trustees.run(app)
    truth = data["truth"]["alice"]
    assert _status(client, tokens["alice"], alice)["values"] == {
        "correct": truth,
        "errors": N_ITEMS - truth,
    }
    rid = round2_request_id(CHALLENGE, alice)
    with app.app_context():
        kept = get_session().get(StoredPartial, (rid, "t0"))
        assert kept is not None
        first = PartialDecryption.from_bytes(get_blob_store().read(kept.blob))
    url, headers = f"{API}/trustee/partials", bearer(tokens["t0"])
    assert (
        client.post(url, data=first.to_bytes(), content_type=OCTETS, headers=headers).status_code
        == 200
    )
    second = shifted_partial(first, committee.identities["t0"], 0, 1)
    refused = assert_problem(
        client.post(url, data=second.to_bytes(), content_type=OCTETS, headers=headers), 409
    )
    assert refused["type"] == "urn:cryptoscore:problem:liar"
    report = LiarReport.from_bytes(bytes.fromhex(refused["liar_report"]))
    assert (report.trustee_id, report.finding, report.request_id) == ("t0", "two-answers", rid)
    liars = _log(client, tokens, "liar")
    assert [(e["trustee"], e["finding"], e["request_id"]) for e in liars] == [
        ("t0", "two-answers", rid)
    ]
    request, _, created = request_pads(client, tokens["bob"], "predictions")
    assert request.active_set == (2, 3)
    assert (created["trustees"], created["verifiable"]) == (["t1", "t2"], False)
    for named, why in ((["t0", "t1", "t2"], "Named as liars"), (["t1"], "at least 2")):
        body = pad_request_body(tokens["bob"], "predictions")
        body.pop("_key")
        body["trustees"] = named
        problem = assert_problem(
            client.post(
                f"{API}/challenges/{CHALLENGE}/pads", json=body, headers=bearer(tokens["bob"])
            ),
            422,
        )
        assert why in problem["detail"]


@pytest.fixture(scope="module")
def committee_2of4() -> Committee:
    return make_committee(2, 4)


def test_a_corrected_liar_is_logged_and_left_out_of_later_pad_sets(
    make_app: Callable[..., Flask],
    committee_2of4: Committee,
    data: dict[str, Any],
    tmp_path: Path,
) -> None:
    """2-of-4, every trustee asked: decoding corrects one wrong answer (radius
    min(⌊(4 − 2)/2⌋, 4 − 2 − 1) = 1). t1 lies in alice's score; the exact values are released,
    verified, and t1 is logged once as a liar (``off-polynomial``, its report re-run by the
    auditor); the next pad request asks t0, t2 and t3 only."""
    app, client, tokens, trustees = challenge_with_trustees(
        make_app,
        committee_2of4,
        tmp_path,
        parties={**PARTIES, "t3": "trustee"},
        online=("t0", "t1", "t2", "t3"),
    )
    liar = _liar(trustees, "t1")
    liar.lies = dict(CONSISTENT)
    bundle = encrypt_via_service(trustees, tokens["organizer"], "labels", data["labels"])
    assert upload(client, tokens["organizer"], "labels", bundle).status_code == 201
    alice, pads = _submit(trustees, tokens["alice"], data["predictions"]["alice"])
    assert (pads["trustees"], pads["verifiable"]) == (["t0", "t1", "t2", "t3"], True)
    trustees.run(app)
    assert len(liar.lied) == 1
    truth = data["truth"]["alice"]
    status = _status(client, tokens["alice"], alice)
    assert status["state"] == "released"
    assert status["values"] == {"correct": truth, "errors": N_ITEMS - truth}
    rid = round2_request_id(CHALLENGE, alice)
    liars = _log(client, tokens, "liar")
    assert [(e["trustee"], e["finding"], e["request_id"]) for e in liars] == [
        ("t1", "off-polynomial", rid)
    ]
    request, _, created = request_pads(client, tokens["bob"], "predictions")
    assert request.active_set == (1, 3, 4)
    assert (created["trustees"], created["verifiable"]) == (["t0", "t2", "t3"], True)
    response = client.get(
        f"{API}/challenges/{CHALLENGE}/audit-bundle", headers=bearer(tokens["auditor"])
    )
    path = tmp_path / "audit.zip"
    path.write_bytes(response.data)
    audit = verify_bundle(path)
    assert audit.ok, audit.first_failure
    details = {c.name: c.detail for c in audit.checks}
    assert details["liars"] == "1 liar reports re-run (naming t1)"
    # the auditor sees the corrected answer, named by the log's liar entry
    assert "; 1 answers corrected, each named by a liar entry" in details["decoding"]
    assert "not checked: 0 decisions" in details["decoding"]
