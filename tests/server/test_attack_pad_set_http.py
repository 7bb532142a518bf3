"""A submitter picking its own pad set (issue 14; docs/design.md, "Checked pad sets").

Robust 2-of-3 challenge, every trustee online; bob colludes with t0, which shifts every score
partial it signs consistently (correct + 3, errors − 3: every release invariant holds). bob
names t0 and t1 as his pad set, so his round 1 and score rest on m = t = 2 answers and nothing
is checked:

* under the default ``pad_sets: "checked"`` the service refuses the request (422, naming the
  minimum, 2t − 1 = 3, and why) and stores nothing;
* with the service's check patched out the request is logged, but every trustee refuses it
  from its own copy of the log, so no pad share exists and bob cannot encrypt;
* the CONTROL: under ``pad_sets: "any"`` the same attack releases bob's shifted score.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from cryptoscore import BFV8192
from cryptoscore.hazmat.shamir import lagrange_at_zero
from cryptoscore_server.routes import pad_requests
from tests.helpers.lying_trustee import LyingAgent
from tests.helpers.protocol import (
    CHALLENGE,
    N_ITEMS,
    Committee,
    FlaskPort,
    Trustees,
    challenge_with_trustees,
    encrypt_via_service,
    enrol,
    pad_request_body,
    request_pads,
    upload,
)
from tests.helpers.service import API, assert_problem, bearer, snapshot

EVERYONE = ("t0", "t1", "t2")
CONSISTENT = {"correct": 3, "errors": -3}
"""A lie every release invariant holds for: correct + errors = n still."""


def _colluding(trustees: Trustees) -> LyingAgent:
    """t0, lying consistently on every score partial it signs."""
    honest = trustees.agent("t0")
    liar = LyingAgent(honest.share, honest.identity, honest.journal_path, say=honest.say)
    liar.lies = dict(CONSISTENT)
    trustees.agents["t0"] = liar
    return liar


def _labels(trustees: Trustees, tokens: dict[str, str], data: dict[str, Any]) -> None:
    bundle = encrypt_via_service(trustees, tokens["organizer"], "labels", data["labels"])
    assert upload(trustees.client, tokens["organizer"], "labels", bundle).status_code == 201


def test_a_submitter_naming_t_trustees_is_refused_by_the_service(
    make_app: Callable[..., Flask], committee: Committee, data: dict[str, Any], tmp_path: Path
) -> None:
    app, client, tokens, _trustees = challenge_with_trustees(
        make_app, committee, tmp_path, online=EVERYONE
    )
    shown = client.get(f"{API}/challenges/{CHALLENGE}").get_json()
    assert (shown["pad_sets"], shown["pad_sets_warning"]) == ("checked", None)
    assert "pad_sets" not in shown["rules"]  # the default is not written: digests unchanged
    enrol(client, tokens["bob"])
    before = snapshot(app)
    body = pad_request_body(tokens["bob"], "predictions")
    body.pop("_key")
    body["trustees"] = ["t0", "t1"]
    url = f"{API}/challenges/{CHALLENGE}/pads"
    refused = assert_problem(client.post(url, json=body, headers=bearer(tokens["bob"])), 422)
    assert "names 2 trustees" in refused["detail"]
    assert "checked only from 3 trustees" in refused["detail"]
    assert 'pad_sets "checked"' in refused["detail"]
    assert snapshot(app) == before  # nothing stored, nothing logged
    # three named trustees (every one) are a checked set
    body["trustees"] = list(EVERYONE)
    assert client.post(url, json=body, headers=bearer(tokens["bob"])).status_code == 201


def test_the_trustees_refuse_an_unchecked_pad_set_the_service_let_through(
    make_app: Callable[..., Flask],
    committee: Committee,
    data: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _app, client, tokens, trustees = challenge_with_trustees(
        make_app, committee, tmp_path, online=EVERYONE
    )
    _colluding(trustees)
    _labels(trustees, tokens, data)
    monkeypatch.setattr(pad_requests, "check_pad_set", lambda *_args: None)  # a bad service
    request, _key, created = request_pads(
        client, tokens["bob"], "predictions", trustees=["t0", "t1"]
    )
    assert created["trustees"] == ["t0", "t1"]
    heard = len(trustees.said)
    for tid in ("t0", "t1"):
        trustees.agent(tid).run_once(FlaskPort(client, tokens[tid]), lambda exc: False)
    refusals = [line for line in trustees.said[heard:] if " refused " in line]
    assert len(refusals) == 2, trustees.said[heard:]
    status = client.get(
        f"{API}/challenges/{CHALLENGE}/pads/{request.digest}", headers=bearer(tokens["bob"])
    ).get_json()
    assert (status["answered"], status["ready"]) == ([], False)
    assert sorted(status["refused"]) == ["t0", "t1"]
    for reason in status["refused"].values():
        assert "names 2 trustees" in reason and "checked only from 3 trustees" in reason


def test_control_under_pad_sets_any_the_shifted_score_is_released(
    make_app: Callable[..., Flask], committee: Committee, data: dict[str, Any], tmp_path: Path
) -> None:
    app, client, tokens, trustees = challenge_with_trustees(
        make_app, committee, tmp_path, online=EVERYONE, pad_sets="any"
    )
    shown = client.get(f"{API}/challenges/{CHALLENGE}").get_json()
    assert shown["pad_sets"] == "any" and shown["rules"]["pad_sets"] == "any"
    assert "unchecked answers" in shown["pad_sets_warning"]
    liar = _colluding(trustees)
    _labels(trustees, tokens, data)
    bundle = encrypt_via_service(
        trustees, tokens["bob"], "predictions", data["predictions"]["bob"], asked=["t0", "t1"]
    )
    response = upload(client, tokens["bob"], "submissions", bundle)
    assert response.status_code == 201, response.get_json()
    bob = response.get_json()["submission"]
    trustees.run(app)
    assert len(liar.lied) == 1
    truth = data["truth"]["bob"]
    shift = 3 * lagrange_at_zero(1, [1, 2], BFV8192.PLAIN_MODULUS)
    assert shift == 6
    status = client.get(
        f"{API}/challenges/{CHALLENGE}/submissions/{bob}", headers=bearer(tokens["bob"])
    ).get_json()
    assert status["state"] == "released"
    assert status["values"] == {"correct": truth + shift, "errors": N_ITEMS - truth - shift}
