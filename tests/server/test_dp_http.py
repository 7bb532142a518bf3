"""Differential-privacy noise through the networked service (issue 16, item 2), on SQLite and
PostgreSQL, with the trustees acting over HTTP as ``trustee run`` does: a dp challenge is
created with its rho and budget, submissions are released noised (the leaderboard says which
policy made each number, its expected error and the widened interval), the submission beyond
an identity's budget is a 429 problem that stores nothing, and the audit bundle verifies. A
bad dp rule is a 4xx problem and stores no challenge."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask

from cryptoscore.verify import verify_bundle
from tests.helpers.protocol import (
    CHALLENGE,
    N_ITEMS,
    Committee,
    challenge_with_trustees,
    encrypt_via_service,
    enrol,
    make_tokens,
    upload,
)
from tests.helpers.service import API, assert_problem, bearer, snapshot

DP = {"rho": 0.5, "budget": 1.0}  # two releases per identity


def test_dp_flow_over_http(
    make_app: Callable[..., Flask], committee: Committee, tmp_path: Path
) -> None:
    app, client, tokens, trustees = challenge_with_trustees(make_app, committee, tmp_path, dp=DP)
    created = client.get(f"{API}/challenges/{CHALLENGE}").get_json()
    assert created["rules"]["dp"] == DP
    assert created["leakage"]["dp"]["releases_per_identity"] == 2
    assert "rho = 0.5 per release" in created["leakage"]["statement"][0]
    gen = np.random.default_rng(16)
    labels = gen.integers(0, 2, N_ITEMS)
    bundle = encrypt_via_service(trustees, tokens["organizer"], "labels", labels)
    assert upload(client, tokens["organizer"], "labels", bundle).status_code == 201
    enrol(client, tokens["alice"])
    predictions = np.where(gen.random(N_ITEMS) < 0.8, labels, 1 - labels)
    exact = int(np.count_nonzero(predictions == labels))
    for _ in range(2):
        sub = encrypt_via_service(trustees, tokens["alice"], "predictions", predictions)
        assert upload(client, tokens["alice"], "submissions", sub).status_code == 201
    trustees.run(app)
    board = client.get(f"{API}/challenges/{CHALLENGE}/leaderboard?view=all").get_json()
    assert board["release"]["kind"] == "dp" and board["release"]["trustees"] == 2
    # the dealerless 2-of-3 key answers Shamir shares: C(3, 1) = 3 PRSS sets' draws add up
    assert (board["release"]["answers"], board["release"]["summed_draws"]) == ("shamir", 3)
    assert board["release"]["sigma"] == pytest.approx(1.0)  # Δ₂ = 1, rho 0.5
    assert len(board["rows"]) == 2
    for row in board["rows"]:
        assert row["release"] == "dp" and row["noise_variance"] == pytest.approx(3.0)
        assert row["expected_abs_error"] == pytest.approx((2 / np.pi) ** 0.5 * 3**0.5)
        assert row["values"]["correct"] + row["values"]["errors"] == N_ITEMS  # post-processed
        assert abs(row["values"]["correct"] - exact) <= 20  # the tail at 2^-40 is ≈ 15
    # the third submission is beyond alice's budget: 429, nothing stored
    third = encrypt_via_service(trustees, tokens["alice"], "predictions", predictions)
    before = snapshot(app)
    body = assert_problem(upload(client, tokens["alice"], "submissions", third), 429)
    assert "privacy budget" in body["detail"]
    assert snapshot(app) == before
    audit = client.get(
        f"{API}/challenges/{CHALLENGE}/audit-bundle", headers=bearer(tokens["auditor"])
    )
    (tmp_path / "audit.zip").write_bytes(audit.data)
    report = verify_bundle(tmp_path / "audit.zip")
    assert report.ok, report.checks


@pytest.mark.parametrize(
    "dp",
    [
        {"rho": 0, "budget": 1.0},
        {"rho": 0.5, "budget": 0.1},
        {"rho": "a lot", "budget": 1.0},
        {"rho": 0.5},
        {"rho": 0.5, "budget": 1.0, "sigma": 2},
    ],
)
def test_a_bad_dp_rule_is_refused_and_nothing_stored(
    make_app: Callable[..., Flask], committee: Committee, dp: dict[str, Any]
) -> None:
    from tests.helpers.service import challenge_meta, post_challenge

    app = make_app(JOB_THREAD=False)
    client = app.test_client()
    tokens = make_tokens(app, {"organizer": "organizer"})
    fields = {"id": CHALLENGE, "classes": 2, "n_items": N_ITEMS, "metrics": ["correct"]}
    response = post_challenge(
        client, tokens["organizer"], committee.files, challenge_meta(**fields, dp=dp)
    )
    assert 400 <= response.status_code < 500, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert client.get(f"{API}/challenges").get_json()["challenges"] == []
