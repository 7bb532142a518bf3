"""Bad uploads and trustee messages: each gets its documented 4xx and changes nothing.

"Nothing" is the row count of every table and the list of every file in the blob store.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask

from cryptoscore import encrypt_predictions
from cryptoscore.protocol.answer import answer_pad_request
from cryptoscore.protocol.contributions import Contribution
from cryptoscore.scoring.bundle import EncryptedBundle
from cryptoscore.threshold.active_set import ActiveSet
from cryptoscore.threshold.journal import PartialJournal
from cryptoscore.threshold.pad_shares import PadKey, open_pads
from tests.helpers.protocol import (
    CHALLENGE,
    N_ITEMS,
    OCTETS,
    Committee,
    create_challenge,
    encrypt_for,
    enrol,
    make_tokens,
    post_pad_share,
    request_pads,
    service_pads,
    signed_pad_body,
    signed_upload_headers,
    upload,
)
from tests.helpers.service import API, assert_problem, bearer, snapshot


def _signature(headers: dict[str, str]) -> dict[str, str]:
    return {"X-CryptoScore-Signature": headers["X-CryptoScore-Signature"]}


PARTIES = {
    "organizer": "organizer",
    "alice": "participant",
    "bob": "participant",
    "t0": "trustee",
    "t1": "trustee",
}


def _library_pads(committee: Committee, kind: str, journal_dir: Path, context: Any = None) -> Any:
    """Pads made by the trustees without the service: valid, but no uploader requested them."""
    context = context or committee.context
    key = PadKey.generate()
    request = context.pad_request(kind, key, ActiveSet.of(context.record, ["t0", "t1"]))
    shares = []
    for tid in ("t0", "t1"):
        with PartialJournal(journal_dir / f"{tid}.journal") as journal:
            shares.append(
                answer_pad_request(
                    request, context, committee.shares[tid], committee.identities[tid], journal
                )
            )
    return open_pads(request, shares, context.record, key)


@pytest.fixture(scope="module")
def bundles(committee: Committee, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Bundles encrypted with pads the service never handed out: every upload of them is
    refused, by the first check that applies."""
    journals = tmp_path_factory.mktemp("library-pads")
    gen = np.random.default_rng(3)
    y = gen.integers(0, 2, N_ITEMS)
    out = {
        "labels": encrypt_for(committee, "labels", y, _library_pads(committee, "labels", journals))
    }
    out["p0"] = encrypt_for(
        committee, "predictions", y, _library_pads(committee, "predictions", journals)
    )
    other = dataclasses.replace(committee.context, challenge_id="another-challenge")
    out["other"] = encrypt_predictions(
        y,
        committee.context.public,
        classes=2,
        challenge="another-challenge",
        pads=_library_pads(committee, "predictions", journals, other),
    )
    out["y"] = y
    return out


def _fresh(
    app: Flask,
    client: Any,
    tokens: dict[str, str],
    committee: Committee,
    name: str,
    kind: str,
    values: Any,
    journal_dir: Path,
) -> EncryptedBundle:
    """A bundle encrypted with pads ``name`` asked the service for (t0, t1 answer)."""
    trustee_tokens = {t: tokens[t] for t in ("t0", "t1")}
    pads = service_pads(client, tokens[name], committee, kind, trustee_tokens, journal_dir)
    return encrypt_for(committee, kind, values, pads)


@pytest.fixture
def setup(app: Flask, committee: Committee) -> tuple[Flask, Any, dict[str, str]]:
    client = app.test_client()
    tokens = make_tokens(app, PARTIES)
    # t0 and t1 answer (t of n named): pad_sets "any", or the trustees would refuse them
    create_challenge(
        client, tokens["organizer"], committee, submission_limit_per_day=2, pad_sets="any"
    )
    return app, client, tokens


def test_bad_bundle_uploads(
    setup: tuple[Flask, Any, dict[str, str]], bundles: dict[str, EncryptedBundle]
) -> None:
    app, client, tokens = setup
    good = bundles["p0"].to_bytes()
    enrol(client, tokens["alice"])
    before = snapshot(app)
    # unsigned, signed over other bytes, signed by another key, not enrolled
    url = f"{API}/challenges/{CHALLENGE}/submissions"
    unsigned = client.post(url, data=good, content_type=OCTETS, headers=bearer(tokens["alice"]))
    assert assert_problem(unsigned, 400)["type"] == "urn:cryptoscore:problem:unsigned"
    other_bytes = signed_upload_headers(tokens["alice"], "predictions", good + b"x")
    moved = client.post(url, data=good, content_type=OCTETS, headers=other_bytes)
    assert assert_problem(moved, 400)["type"] == "urn:cryptoscore:problem:verification-error"
    by_bob = {
        **bearer(tokens["alice"]),
        **_signature(signed_upload_headers(tokens["bob"], "predictions", good)),
    }
    assert_problem(client.post(url, data=good, content_type=OCTETS, headers=by_bob), 400)
    stranger = signed_upload_headers(tokens["bob"], "predictions", good)
    body = assert_problem(client.post(url, data=good, content_type=OCTETS, headers=stranger), 403)
    assert body["title"] == "not enrolled"
    cases: list[tuple[bytes, str, int, str]] = [
        (good[: len(good) // 2], OCTETS, 400, "format-error"),  # truncated
        (good[:-1], OCTETS, 400, "format-error"),
        (b"not a bundle at all", OCTETS, 400, "format-error"),
        (b"", OCTETS, 400, "format-error"),
        (good, "application/json", 415, ""),
        (good, "multipart/form-data; boundary=x", 415, ""),
        (bundles["other"].to_bytes(), OCTETS, 409, "mismatch"),  # another challenge
        (bundles["labels"].to_bytes(), OCTETS, 409, "mismatch"),  # labels as a submission
    ]
    for data, content_type, status, kind in cases:
        response = client.post(
            f"{API}/challenges/{CHALLENGE}/submissions",
            data=data,
            content_type=content_type,
            headers=signed_upload_headers(tokens["alice"], "predictions", data),
        )
        body = assert_problem(response, status)
        if kind:
            assert body["type"] == f"urn:cryptoscore:problem:{kind}"
    # a bit flipped inside a ciphertext's coefficients: validated before storing
    flipped = bytearray(good)
    flipped[-3] = 0xFF
    flipped[-2] = 0xFF
    flipped[-1] = 0xFF
    response = upload(client, tokens["alice"], "submissions", bytes(flipped))
    assert response.status_code in (400, 201)
    if response.status_code == 201:  # pragma: no cover - the flip happened to stay in range
        return
    # labels: predictions sent as labels
    assert_problem(upload(client, tokens["organizer"], "labels", good), 409)
    assert snapshot(app) == before


def test_replay_limit_and_labels_once(
    setup: tuple[Flask, Any, dict[str, str]],
    committee: Committee,
    bundles: dict[str, Any],
    tmp_path: Path,
) -> None:
    app, client, tokens = setup
    y = bundles["y"]

    def fresh(name: str, kind: str) -> EncryptedBundle:
        return _fresh(app, client, tokens, committee, name, kind, y, tmp_path)

    labels = fresh("organizer", "labels")
    first = upload(client, tokens["organizer"], "labels", labels)
    assert first.status_code == 201
    before = snapshot(app)
    again = upload(client, tokens["organizer"], "labels", labels)
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert snapshot(app) == before
    second = fresh("organizer", "labels")
    before = snapshot(app)
    assert_problem(upload(client, tokens["organizer"], "labels", second), 409)
    assert snapshot(app) == before

    p0, p1, p2 = (fresh("alice", "predictions") for _ in range(3))
    enrol(client, tokens["bob"])
    one = upload(client, tokens["alice"], "submissions", p0)
    assert one.status_code == 201
    before = snapshot(app)
    replay = upload(client, tokens["alice"], "submissions", p0)
    assert replay.status_code == 200 and replay.get_json() == one.get_json()
    assert snapshot(app) == before
    # another participant replaying alice's ciphertexts is refused
    assert_problem(upload(client, tokens["bob"], "submissions", p0), 409)
    # and so is bob uploading a bundle made with alice's pads
    assert_problem(upload(client, tokens["bob"], "submissions", p1), 409)
    assert snapshot(app) == before

    assert upload(client, tokens["alice"], "submissions", p1).status_code == 201
    before = snapshot(app)
    body = assert_problem(upload(client, tokens["alice"], "submissions", p2), 429)
    assert "2 submissions" in body["detail"]
    assert snapshot(app) == before
    # the limit is per participant
    assert (
        upload(client, tokens["bob"], "submissions", fresh("bob", "predictions")).status_code == 201
    )


def test_uploads_need_pads_the_uploader_requested(
    setup: tuple[Flask, Any, dict[str, str]],
    committee: Committee,
    bundles: dict[str, Any],
    tmp_path: Path,
) -> None:
    app, client, tokens = setup
    enrol(client, tokens["alice"])
    before = snapshot(app)
    # made by the trustees, but never requested through the service by alice
    body = assert_problem(upload(client, tokens["alice"], "submissions", bundles["p0"]), 409)
    assert "pads you requested" in body["detail"]
    # a public-key bundle (its submitter chose c1) is refused outright
    public = encrypt_predictions(
        bundles["y"], committee.context.public, classes=2, challenge=CHALLENGE
    )
    body = assert_problem(upload(client, tokens["alice"], "submissions", public), 409)
    assert "trustee pads" in body["detail"]
    assert snapshot(app) == before
    # pads requested for labels do not encrypt predictions
    request, key, created = request_pads(
        client, tokens["organizer"], "labels", trustees=["t0", "t1"]
    )
    for tid in created["trustees"]:
        post_pad_share(client, committee, request, tid, tokens[tid], tmp_path)
    from tests.helpers.protocol import collect_pads

    pads = collect_pads(client, tokens["organizer"], committee, request, key)
    before = snapshot(app)
    mislabeled = encrypt_for(committee, "labels", bundles["y"], pads)
    # (a labels bundle uploaded as a submission is a mismatch before the pads are looked at)
    assert_problem(upload(client, tokens["alice"], "submissions", mislabeled), 409)
    assert snapshot(app) == before


def test_bad_pad_requests_and_shares(
    setup: tuple[Flask, Any, dict[str, str]], committee: Committee, tmp_path: Path
) -> None:
    app, client, tokens = setup
    url = f"{API}/challenges/{CHALLENGE}/pads"
    key = PadKey.generate().public_bytes
    good = signed_pad_body(tokens["alice"], "predictions", b"\x11" * 32, key)
    enrol(client, tokens["alice"])
    enrol(client, tokens["bob"])
    before = snapshot(app)
    alice = bearer(tokens["alice"])
    # unsigned, signed by someone else, by a participant who did not enrol
    unsigned = {k: v for k, v in good.items() if k != "signature"}
    assert_problem(client.post(url, json=unsigned, headers=alice), 422)
    bobs = signed_pad_body(tokens["bob"], "predictions", b"\x11" * 32, key)
    assert_problem(client.post(url, json=bobs, headers=alice), 400)
    carol = make_tokens(app, {"carol": "participant"})["carol"]
    body = assert_problem(client.post(url, json=good, headers=bearer(carol)), 403)
    assert body["title"] == "not enrolled"
    before = snapshot(app)
    body = assert_problem(client.post(url, json={**good, "kind": "labels"}, headers=alice), 403)
    assert body["detail"] == "A participant token may not ask for pads for labels."
    organizer = bearer(tokens["organizer"])
    body = assert_problem(client.post(url, json=good, headers=organizer), 403)
    assert body["detail"] == "An organizer token may not ask for pads for predictions."
    assert_problem(client.post(url, json={**good, "seed": "zz"}, headers=alice), 422)
    assert_problem(client.post(url, json={**good, "recipient": "00"}, headers=alice), 422)
    low_order = {**good, "recipient": "00" * 32}  # would make every trustee's answer fail
    assert assert_problem(client.post(url, json=low_order, headers=alice), 400)["type"].endswith(
        "format-error"
    )
    assert_problem(client.post(url, json={**good, "extra": 1}, headers=alice), 422)
    assert_problem(client.post(url, json={**good, "trustees": ["t0"]}, headers=alice), 422)
    assert_problem(client.post(url, json={**good, "trustees": ["t0", "zz"]}, headers=alice), 422)
    assert_problem(client.post(url, data=b"x", content_type=OCTETS, headers=alice), 415)
    assert_problem(client.post(f"{API}/challenges/nope/pads", json=good, headers=alice), 404)
    assert_problem(client.post(url, json=good, headers=bearer(tokens["t0"])), 403)
    assert snapshot(app) == before

    created = client.post(url, json=good, headers=alice)
    assert created.status_code == 201
    before = snapshot(app)
    # the same request again: the same answer, nothing new; the same seed otherwise: 409
    again = client.post(url, json=good, headers=alice)
    assert again.status_code == 200 and again.get_json() == created.get_json()
    assert_problem(client.post(url, json=bobs, headers=bearer(tokens["bob"])), 409)
    other_key = signed_pad_body(
        tokens["alice"], "predictions", b"\x11" * 32, PadKey.generate().public_bytes
    )
    assert_problem(client.post(url, json=other_key, headers=alice), 409)
    digest = created.get_json()["request"]
    # only its requester sees it
    assert_problem(client.get(f"{url}/{digest}", headers=bearer(tokens["bob"])), 404)
    assert_problem(client.get(f"{url}/{digest}/shares/t0", headers=alice), 404)  # not yet
    assert snapshot(app) == before

    # trustee messages: garbage, for an unknown request, from outside the active set, forged
    import base64

    from cryptoscore.scoring.pad_request import PadRequest

    request = PadRequest.from_bytes(base64.b64decode(created.get_json()["record"]))
    with PartialJournal(tmp_path / "t0.journal") as journal:
        share = answer_pad_request(
            request, committee.context, committee.shares["t0"], committee.identities["t0"], journal
        )
    shares_url = f"{API}/trustee/pads"
    t0 = bearer(tokens["t0"])
    assert_problem(client.post(shares_url, data=b"garbage", content_type=OCTETS, headers=t0), 400)
    unknown = dataclasses.replace(share, request_digest="0" * 64)
    assert_problem(
        client.post(shares_url, data=unknown.to_bytes(), content_type=OCTETS, headers=t0), 404
    )
    assert_problem(
        client.post(
            shares_url, data=share.to_bytes(), content_type=OCTETS, headers=bearer(tokens["t1"])
        ),
        403,
    )
    forged = dataclasses.replace(share, signature=bytes(64))
    assert_problem(
        client.post(shares_url, data=forged.to_bytes(), content_type=OCTETS, headers=t0), 400
    )
    assert snapshot(app) == before
    assert (
        client.post(shares_url, data=share.to_bytes(), content_type=OCTETS, headers=t0).status_code
        == 201
    )
    before = snapshot(app)
    assert (
        client.post(shares_url, data=share.to_bytes(), content_type=OCTETS, headers=t0).status_code
        == 200
    )
    assert snapshot(app) == before


def test_pad_requests_are_limited_per_day(
    setup: tuple[Flask, Any, dict[str, str]],
) -> None:
    app, client, tokens = setup
    url = f"{API}/challenges/{CHALLENGE}/pads"
    key = PadKey.generate().public_bytes
    enrol(client, tokens["alice"])
    for i in range(4):  # twice the daily submission limit of 2
        body = signed_pad_body(tokens["alice"], "predictions", bytes([i]) * 32, key)
        assert client.post(url, json=body, headers=bearer(tokens["alice"])).status_code == 201
    before = snapshot(app)
    body = signed_pad_body(tokens["alice"], "predictions", b"\xff" * 32, key)
    problem = assert_problem(client.post(url, json=body, headers=bearer(tokens["alice"])), 429)
    assert "4 pad requests per identity" in problem["detail"]
    assert snapshot(app) == before


@pytest.mark.parametrize("when", ["upcoming"])
def test_closed_challenge_is_409(
    app: Flask, committee: Committee, bundles: dict[str, EncryptedBundle], when: str
) -> None:
    client = app.test_client()
    tokens = make_tokens(app, PARTIES)
    now = datetime.now(UTC)
    create_challenge(
        client,
        tokens["organizer"],
        committee,
        opens_at=(now + timedelta(days=1)).isoformat(),
        closes_at=(now + timedelta(days=2)).isoformat(),
    )
    before = snapshot(app)
    body = assert_problem(upload(client, tokens["alice"], "submissions", bundles["p0"]), 409)
    assert body["title"] == "challenge closed"
    assert snapshot(app) == before


def test_expired_challenge_is_409(
    setup: tuple[Flask, Any, dict[str, str]], bundles: dict[str, EncryptedBundle]
) -> None:
    app, client, tokens = setup
    from cryptoscore_server.db import get_session
    from cryptoscore_server.models import Challenge

    with app.app_context():
        session = get_session()
        row = session.get(Challenge, CHALLENGE)
        assert row is not None
        row.opens_at = datetime.now(UTC) - timedelta(days=3)
        row.closes_at = datetime.now(UTC) - timedelta(days=1)
        session.commit()
    before = snapshot(app)
    body = assert_problem(upload(client, tokens["alice"], "submissions", bundles["p0"]), 409)
    assert body["title"] == "challenge closed"
    assert_problem(upload(client, tokens["organizer"], "labels", bundles["labels"]), 409)
    assert snapshot(app) == before


def test_oversized_upload_is_413(
    make_app: Callable[..., Flask],
    committee: Committee,
    bundles: dict[str, EncryptedBundle],
) -> None:
    app = make_app()
    client = app.test_client()
    tokens = make_tokens(app, PARTIES)
    create_challenge(client, tokens["organizer"], committee)
    small = make_app(MAX_UPLOAD_BYTES=len(bundles["p0"].to_bytes()) - 1)
    before = snapshot(small)
    response = upload(small.test_client(), tokens["alice"], "submissions", bundles["p0"])
    assert_problem(response, 413)
    assert snapshot(small) == before


def test_bad_trustee_messages(
    setup: tuple[Flask, Any, dict[str, str]],
    committee: Committee,
    bundles: dict[str, Any],
    tmp_path: Path,
) -> None:
    app, client, tokens = setup
    stranger = make_tokens(app, {"not-a-trustee": "trustee"})["not-a-trustee"]
    labels = _fresh(app, client, tokens, committee, "organizer", "labels", bundles["y"], tmp_path)
    digest = upload(client, tokens["organizer"], "labels", labels).get_json()["bundle"]
    before = snapshot(app)
    url = f"{API}/trustee/contributions"

    def signed(tid: str, randomness: bytes, **changes: str) -> bytes:
        fields = {"challenge": CHALLENGE, "bundle": digest, "trustee": tid, **changes}
        return Contribution.sign(
            committee.identities[tid],
            fields["challenge"],
            fields["bundle"],
            fields["trustee"],
            randomness,
        ).to_bytes()

    def post(token: str, data: bytes) -> Any:
        return client.post(url, data=data, content_type=OCTETS, headers=bearer(token))

    good = signed("t0", b"\xab" * 32)
    assert_problem(post(stranger, good), 403)
    assert_problem(post(tokens["t1"], good), 403)  # t0's contribution, posted by t1
    assert_problem(post(tokens["t0"], signed("t0", bytes(32), bundle="0" * 64)), 404)
    assert_problem(post(tokens["t0"], b"garbage"), 400)
    assert_problem(post(tokens["t0"], good[:-10]), 400)
    forged = Contribution.sign(
        committee.identities["t1"], CHALLENGE, digest, "t0", b"\xab" * 32
    )  # t0's name, t1's key: what a service making up t0's contribution could do at best
    refused = assert_problem(post(tokens["t0"], forged.to_bytes()), 400)
    assert "signature does not verify" in refused["detail"]
    assert_problem(
        client.post(url, data="x", content_type="text/plain", headers=bearer(tokens["t0"])), 415
    )
    assert_problem(
        client.post(url, json={"challenge": CHALLENGE}, headers=bearer(tokens["t0"])), 415
    )
    partials = f"{API}/trustee/partials"
    assert_problem(
        client.post(partials, data=b"garbage", content_type=OCTETS, headers=bearer(tokens["t0"])),
        400,
    )
    assert_problem(client.post(partials, json={}, headers=bearer(tokens["t0"])), 415)
    assert_problem(
        client.get(f"{API}/challenges/{CHALLENGE}/bundles/{digest}", headers=bearer(stranger)), 403
    )
    assert snapshot(app) == before
    # a contribution, then the same again (200, nothing new), then a different one (409)
    assert post(tokens["t0"], good).status_code == 201
    before = snapshot(app)
    assert post(tokens["t0"], good).status_code == 200
    assert_problem(post(tokens["t0"], signed("t0", b"\xcd" * 32)), 409)
    # a roster trustee outside the bundle's pad set (t0, t1) may not contribute: round 1 is
    # the pad set's (lineage.py), and it is not even offered the task
    outsider = make_tokens(app, {"t2": "trustee"})["t2"]
    offered = client.get(f"{API}/trustee/tasks", headers=bearer(outsider)).get_json()
    assert all(task["bundle"] != digest for task in offered["contributions"])
    before = snapshot(app)
    refused = assert_problem(post(outsider, signed("t2", b"\xef" * 32)), 409)
    assert refused["title"] == "Contribution not accepted"
    assert snapshot(app) == before


def test_stale_pad_requests_are_not_offered_to_trustees(
    setup: tuple[Flask, Any, dict[str, str]],
) -> None:
    app, client, tokens = setup
    enrol(client, tokens["alice"])
    recipient = PadKey.generate().public_bytes
    body = signed_pad_body(tokens["alice"], "predictions", b"\x22" * 32, recipient)
    created = client.post(
        f"{API}/challenges/{CHALLENGE}/pads", json=body, headers=bearer(tokens["alice"])
    )
    assert created.status_code == 201
    digest = created.get_json()["request"]

    def offered() -> list[str]:
        tasks = client.get(f"{API}/trustee/tasks", headers=bearer(tokens["t0"])).get_json()
        return [task["request"] for task in tasks["pads"]]

    assert offered() == [digest]
    from cryptoscore_server.db import get_session
    from cryptoscore_server.models import PadRequestRow

    with app.app_context():
        session = get_session()
        row = session.get(PadRequestRow, digest)
        assert row is not None
        row.created_at = datetime.now(UTC) - timedelta(days=2)
        session.commit()
    assert offered() == []


def test_round1_evidence_only_for_roster_trustees_and_known_bundles(
    setup: tuple[Flask, Any, dict[str, str]],
) -> None:
    app, client, tokens = setup
    stranger = make_tokens(app, {"not-a-trustee": "trustee"})["not-a-trustee"]
    before = snapshot(app)
    url = f"{API}/trustee/evidence/{CHALLENGE}/" + "0" * 64
    assert_problem(client.get(url, headers=bearer(stranger)), 403)
    assert_problem(client.get(url, headers=bearer(tokens["t0"])), 404)
    assert_problem(
        client.get(f"{API}/trustee/evidence/nope/" + "0" * 64, headers=bearer(tokens["t0"])), 404
    )
    assert snapshot(app) == before
