"""Bad uploads and trustee messages: each gets its documented 4xx and changes nothing.

"Nothing" is the row count of every table and the list of every file in the blob store.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask
from protocol_helpers import (
    CHALLENGE,
    N_ITEMS,
    OCTETS,
    Committee,
    create_challenge,
    make_tokens,
    upload,
)
from svc_helpers import API, assert_problem, bearer, snapshot

from cryptoscore import encrypt_labels, encrypt_predictions
from cryptoscore.bundle import EncryptedBundle

PARTIES = {"organizer": "organizer", "alice": "participant", "bob": "participant", "t0": "trustee"}


@pytest.fixture(scope="module")
def bundles(committee: Committee) -> dict[str, EncryptedBundle]:
    public = committee.context.public
    gen = np.random.default_rng(3)
    y = gen.integers(0, 2, N_ITEMS)
    out = {"labels": encrypt_labels(y, public, classes=2, challenge=CHALLENGE)}
    for i in range(4):
        out[f"p{i}"] = encrypt_predictions(
            gen.integers(0, 2, N_ITEMS), public, classes=2, challenge=CHALLENGE
        )
    out["other"] = encrypt_predictions(y, public, classes=2, challenge="another-challenge")
    return out


@pytest.fixture
def setup(app: Flask, committee: Committee) -> tuple[Flask, Any, dict[str, str]]:
    client = app.test_client()
    tokens = make_tokens(app, PARTIES)
    create_challenge(client, tokens["organizer"], committee, submission_limit_per_day=2)
    return app, client, tokens


def test_bad_bundle_uploads(
    setup: tuple[Flask, Any, dict[str, str]], bundles: dict[str, EncryptedBundle]
) -> None:
    app, client, tokens = setup
    good = bundles["p0"].to_bytes()
    before = snapshot(app)
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
            headers=bearer(tokens["alice"]),
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
    setup: tuple[Flask, Any, dict[str, str]], bundles: dict[str, EncryptedBundle]
) -> None:
    app, client, tokens = setup
    first = upload(client, tokens["organizer"], "labels", bundles["labels"])
    assert first.status_code == 201
    before = snapshot(app)
    again = upload(client, tokens["organizer"], "labels", bundles["labels"])
    assert again.status_code == 200 and again.get_json() == first.get_json()
    assert snapshot(app) == before
    assert_problem(upload(client, tokens["organizer"], "labels", bundles["p3"]), 409)
    assert snapshot(app) == before

    one = upload(client, tokens["alice"], "submissions", bundles["p0"])
    assert one.status_code == 201
    before = snapshot(app)
    replay = upload(client, tokens["alice"], "submissions", bundles["p0"])
    assert replay.status_code == 200 and replay.get_json() == one.get_json()
    assert snapshot(app) == before
    # another participant replaying alice's ciphertexts is refused
    assert_problem(upload(client, tokens["bob"], "submissions", bundles["p0"]), 409)
    assert snapshot(app) == before

    assert upload(client, tokens["alice"], "submissions", bundles["p1"]).status_code == 201
    before = snapshot(app)
    body = assert_problem(upload(client, tokens["alice"], "submissions", bundles["p2"]), 429)
    assert "2 submissions" in body["detail"]
    assert snapshot(app) == before
    # the limit is per participant
    assert upload(client, tokens["bob"], "submissions", bundles["p2"]).status_code == 201


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
    from service.db import get_session
    from service.models import Challenge

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
    bundles: dict[str, EncryptedBundle],
    tmp_path: Path,
) -> None:
    app, client, tokens = setup
    stranger = make_tokens(app, {"not-a-trustee": "trustee"})["not-a-trustee"]
    digest = upload(client, tokens["organizer"], "labels", bundles["labels"]).get_json()["bundle"]
    before = snapshot(app)
    body = {"challenge": CHALLENGE, "bundle": digest, "randomness": "ab" * 32}
    url = f"{API}/trustee/contributions"
    assert_problem(client.post(url, json=body, headers=bearer(stranger)), 403)
    assert_problem(
        client.post(url, json={**body, "bundle": "0" * 64}, headers=bearer(tokens["t0"])), 404
    )
    assert_problem(
        client.post(url, json={**body, "randomness": "ab"}, headers=bearer(tokens["t0"])), 422
    )
    assert_problem(
        client.post(url, data="x", content_type="text/plain", headers=bearer(tokens["t0"])), 415
    )
    assert_problem(
        client.post(url, data="{", content_type="application/json", headers=bearer(tokens["t0"])),
        400,
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
    assert client.post(url, json=body, headers=bearer(tokens["t0"])).status_code == 201
    before = snapshot(app)
    assert client.post(url, json=body, headers=bearer(tokens["t0"])).status_code == 200
    assert_problem(
        client.post(url, json={**body, "randomness": "cd" * 32}, headers=bearer(tokens["t0"])), 409
    )
    assert snapshot(app) == before
