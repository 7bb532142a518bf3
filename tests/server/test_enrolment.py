"""Enrolment and signed inputs over HTTP: who may enrol, who may sign what, and what a
challenge without rules still takes (nothing). Every refusal is a 4xx problem and stores
nothing."""

from __future__ import annotations

import os
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from cryptoscore.identity import Identity
from cryptoscore.protocol.signed_inputs import Enrolment, sign_pad_request
from cryptoscore.threshold.pad_shares import PadKey
from cryptoscore_server.db import get_session
from cryptoscore_server.models import Challenge, Participant
from tests.helpers.protocol import (
    CHALLENGE,
    OCTETS,
    Committee,
    create_challenge,
    enrol,
    leaf_entries,
    make_tokens,
    signed_pad_body,
    upload,
)
from tests.helpers.service import API, ORGANIZER, assert_problem, bearer, identity_of, snapshot

PARTIES = {
    "organizer": "organizer",
    "alice": "participant",
    "bob": "participant",
    "auditor": "auditor",
}
URL = f"{API}/challenges/{CHALLENGE}/enrolment"


def _post(client: Any, token: str, record: bytes) -> Any:
    return client.post(URL, data=record, content_type=OCTETS, headers=bearer(token))


@pytest.fixture
def open_challenge(app: Flask, committee: Committee) -> tuple[Flask, Any, dict[str, str]]:
    client = app.test_client()
    tokens = make_tokens(app, PARTIES)
    create_challenge(client, tokens["organizer"], committee)
    return app, client, tokens


def test_enrolment_rules(open_challenge: tuple[Flask, Any, dict[str, str]]) -> None:
    app, client, tokens = open_challenge
    alice = Identity.generate()
    record = Enrolment.sign(alice, CHALLENGE, "alice").to_bytes()
    assert_problem(client.get(URL, headers=bearer(tokens["alice"])), 404)
    before = snapshot(app)
    forged = Enrolment(CHALLENGE, alice.public_key, "alice", bytes(64)).to_bytes()
    assert_problem(_post(client, tokens["alice"], forged), 400)
    assert_problem(_post(client, tokens["alice"], b"garbage"), 400)
    other = Enrolment.sign(alice, "another-challenge", "alice").to_bytes()
    assert_problem(_post(client, tokens["alice"], other), 409)
    assert_problem(_post(client, tokens["organizer"], record), 403)  # participants enrol
    assert_problem(
        client.post(
            URL, json={"identity": alice.public_key.hex()}, headers=bearer(tokens["alice"])
        ),
        415,
    )
    assert snapshot(app) == before

    created = _post(client, tokens["alice"], record)
    assert created.status_code == 201
    assert created.get_json() == {
        "challenge": CHALLENGE,
        "identity": alice.public_key.hex(),
        "name": "alice",
    }
    before = snapshot(app)
    again = _post(client, tokens["alice"], record)
    assert again.status_code == 200 and again.get_json() == created.get_json()
    # one identity per token, one token per identity
    second = Enrolment.sign(Identity.generate(), CHALLENGE, "alice-2").to_bytes()
    assert (
        "enrolled identity" in assert_problem(_post(client, tokens["alice"], second), 409)["detail"]
    )
    assert (
        "enrolled in this challenge already"
        in assert_problem(_post(client, tokens["bob"], record), 409)["detail"]
    )
    assert snapshot(app) == before
    shown = client.get(URL, headers=bearer(tokens["alice"])).get_json()
    assert shown == {**created.get_json(), "quota": shown["quota"]}
    assert shown["quota"]["submissions"]["used"] == 0
    # logged, signed by the identity itself
    audit = client.get(
        f"{API}/challenges/{CHALLENGE}/audit-bundle", headers=bearer(tokens["auditor"])
    )
    enrolments = [e for e in leaf_entries(audit.data) if e["type"] == "enrolment"]
    assert enrolments == [
        {
            "type": "enrolment",
            "identity": alice.public_key.hex(),
            "name": "alice",
            "signature": Enrolment.from_bytes(record).signature.hex(),
        }
    ]


def test_invite_only(app: Flask, committee: Committee) -> None:
    client = app.test_client()
    tokens = make_tokens(app, PARTIES)
    invited = Identity.generate()
    create_challenge(
        client,
        tokens["organizer"],
        committee,
        enrolment="invite",
        invited=[invited.public_key.hex()],
    )
    rules = client.get(f"{API}/challenges/{CHALLENGE}").get_json()["rules"]
    assert rules == {
        "organizer": ORGANIZER.public_key.hex(),
        "enrolment": "invite",
        "invited": [invited.public_key.hex()],
        "submissions_per_day": 3,
        "pad_requests_per_day": 6,
    }
    before = snapshot(app)
    uninvited = Enrolment.sign(Identity.generate(), CHALLENGE, "bob").to_bytes()
    assert "not invited" in assert_problem(_post(client, tokens["bob"], uninvited), 403)["detail"]
    assert snapshot(app) == before
    ok = _post(client, tokens["alice"], Enrolment.sign(invited, CHALLENGE, "alice").to_bytes())
    assert ok.status_code == 201


def test_open_enrolment_with_a_cap(app: Flask, committee: Committee) -> None:
    """``max_enrolled`` 1: the definition logs it, the answer states the leakage, and the
    second identity's enrolment is a 409 problem that stores and logs nothing (trustees would
    refuse its inputs anyway: tests/trustee/test_attack_inputs.py)."""
    client = app.test_client()
    tokens = make_tokens(app, PARTIES)
    from tests.helpers.service import challenge_meta, post_challenge

    meta = challenge_meta(id=CHALLENGE, classes=2, n_items=300, metrics=["correct"])
    created = post_challenge(
        client, tokens["organizer"], committee.files, {**meta, "max_enrolled": 1}
    )
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["rules"]["max_enrolled"] == 1
    leakage = body["leakage"]
    assert leakage["enrolment_limit"] == 1
    assert leakage["attack"] == {
        "labels": 1,
        "per_submissions": 1,
        "baseline_submissions": 1,
        "submissions_for_all": 301,
    }
    assert leakage["per_identity"] == {
        "submissions": 3 * 8,  # 3 a day, a window of 7 days and an hour: 8 quota days
        "labels": 23,
        "days_for_all": 101,
        "recovers_all": False,
    }
    assert leakage["statement"][1] == (
        "warning: 1 enrolled identity, pooling, recover 23 of 300 labels before the close"
    )
    assert client.get(f"{API}/challenges/{CHALLENGE}").get_json()["leakage"] == leakage
    first = Enrolment.sign(Identity.generate(), CHALLENGE, "alice").to_bytes()
    assert _post(client, tokens["alice"], first).status_code == 201
    before = snapshot(app)
    second = Enrolment.sign(Identity.generate(), CHALLENGE, "bob").to_bytes()
    problem = assert_problem(_post(client, tokens["bob"], second), 409)
    assert problem["type"] == "urn:cryptoscore:problem:enrolment-full"
    assert "caps enrolment at 1 identities" in problem["detail"]
    assert snapshot(app) == before
    assert _post(client, tokens["alice"], first).status_code == 200  # again: no change


@pytest.mark.parametrize(
    "meta",
    [
        {"enrolment": "invite", "invited": ["ab" * 32], "max_enrolled": 2},
        {"max_enrolled": 0},
        {"max_enrolled": "3"},
        {"enrolment": "invite"},  # nobody invited
        {"enrolment": "open", "invited": ["ab" * 32]},
        {"enrolment": "invite", "invited": ["ab" * 32, "ab" * 32]},
        {"enrolment": "closed"},
        {"organizer_key": "AB" * 32},
        {"organizer_key": None},
        {"pad_requests_per_day": 0},
    ],
)
def test_bad_rules_are_422(app: Flask, committee: Committee, meta: dict[str, Any]) -> None:
    from tests.helpers.service import challenge_meta, post_challenge

    client = app.test_client()
    tokens = make_tokens(app, {"organizer": "organizer"})
    fields = challenge_meta(id=CHALLENGE, classes=2, n_items=300, metrics=["correct"])
    fields.update(meta)
    if meta.get("organizer_key", "") is None:
        del fields["organizer_key"]
    before = snapshot(app)
    assert_problem(post_challenge(client, tokens["organizer"], committee.files, fields), 422)
    assert snapshot(app) == before


def test_labels_and_their_pads_are_the_organizers(
    open_challenge: tuple[Flask, Any, dict[str, str]],
) -> None:
    """An organizer token with another key than the challenge's organizer key gets neither
    pads for labels nor a labels upload: the key, not the token, is the organizer."""
    app, client, tokens = open_challenge
    url = f"{API}/challenges/{CHALLENGE}/pads"
    key = PadKey.generate().public_bytes
    seed = os.urandom(32)
    impostor = Identity.generate()
    body = {
        "kind": "labels",
        "seed": seed.hex(),
        "recipient": key.hex(),
        "signature": sign_pad_request(impostor, CHALLENGE, "labels", seed, key).hex(),
    }
    before = snapshot(app)
    problem = assert_problem(client.post(url, json=body, headers=bearer(tokens["organizer"])), 400)
    assert problem["type"] == "urn:cryptoscore:problem:verification-error"
    bundle = os.urandom(64)  # any bytes: the signature is checked before the bundle
    assert_problem(
        upload(client, tokens["organizer"], "labels", bundle, signature=impostor.sign(b"x")), 400
    )
    assert snapshot(app) == before
    good = signed_pad_body(tokens["organizer"], "labels", seed, key)
    assert client.post(url, json=good, headers=bearer(tokens["organizer"])).status_code == 201


def test_a_challenge_without_rules_takes_nothing(
    open_challenge: tuple[Flask, Any, dict[str, str]],
) -> None:
    """A challenge created before signed inputs (revision 0007: no rules): its history stays
    readable, but it takes no enrolment, pad request or upload."""
    app, client, tokens = open_challenge
    enrol(client, tokens["alice"])
    with app.app_context():
        session = get_session()
        session.get(Challenge, CHALLENGE).rules = None
        session.commit()
    before = snapshot(app)
    record = Enrolment.sign(Identity.generate(), CHALLENGE, "bob").to_bytes()
    for response in (
        _post(client, tokens["bob"], record),
        client.post(
            f"{API}/challenges/{CHALLENGE}/pads",
            json=signed_pad_body(
                tokens["alice"], "predictions", os.urandom(32), PadKey.generate().public_bytes
            ),
            headers=bearer(tokens["alice"]),
        ),
        upload(client, tokens["alice"], "submissions", os.urandom(100)),
    ):
        assert assert_problem(response, 409)["type"] == "urn:cryptoscore:problem:no-rules"
    assert snapshot(app) == before
    assert client.get(f"{API}/challenges/{CHALLENGE}").get_json()["rules"] is None
    with app.app_context():
        enrolled = get_session().scalars(select(Participant.identity)).all()
    assert enrolled == [identity_of(tokens["alice"]).public_key.hex()]
