"""The leaderboard page of a challenge with differential-privacy noise, in Chromium, against
the real service: it says which policy made the numbers (dp, its rho, sigma, trustees and the
per-participant releases), shows each row's expected absolute error and the widened
interval, every number the API's."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from tests.helpers.protocol import (
    CHALLENGE,
    N_ITEMS,
    Trustees,
    create_challenge,
    encrypt_via_service,
    make_committee,
    make_tokens,
    upload,
)
from tests.web.conftest import ARTIFACTS, leaderboard_json, serving, web_app


class DpStory:
    """A dp challenge on a served app: labels and two released submissions."""

    def __init__(self, app: Flask, tmp: Path) -> None:
        self.client = app.test_client()
        committee = make_committee()
        tokens = make_tokens(
            app,
            {"organizer": "organizer", "ann": "participant", "bob": "participant"}
            | {f"t{i}": "trustee" for i in range(3)},
        )
        create_challenge(
            self.client,
            tokens["organizer"],
            committee,
            dp={"rho": 0.5, "budget": 2.0},
            pad_sets="any",
        )
        trustees = Trustees(self.client, committee, tokens, tmp, online=("t0", "t1"))
        gen = np.random.default_rng(22)
        labels = gen.integers(0, 2, N_ITEMS)
        bundle = encrypt_via_service(trustees, tokens["organizer"], "labels", labels)
        assert upload(self.client, tokens["organizer"], "labels", bundle).status_code == 201
        for owner, accuracy in (("ann", 0.9), ("bob", 0.7)):
            values = np.where(gen.random(N_ITEMS) < accuracy, labels, 1 - labels)
            sub = encrypt_via_service(trustees, tokens[owner], "predictions", values)
            assert upload(self.client, tokens[owner], "submissions", sub).status_code == 201
        trustees.run(app)


@pytest.fixture(scope="module")
def served_dp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("web-dp")
    app = web_app(data)
    DpStory(app, data)
    with serving(app) as url:
        yield url


def _board(url: str) -> dict[str, Any]:
    return leaderboard_json(url, CHALLENGE)


def test_dp_leaderboard_shows_the_policy_and_its_cost(page: Page, served_dp: str) -> None:
    url = served_dp
    board = _board(url)
    assert board["release"]["kind"] == "dp" and len(board["rows"]) == 2
    page.goto(f"{url}/#/challenges/{CHALLENGE}/leaderboard")
    part = page.locator("p.part")
    # the story's dealerless 2-of-3 key answers Shamir shares: noise shared over C(3, 1) sets
    assert (board["release"]["answers"], board["release"]["summed_draws"]) == ("shamir", 3)
    expect(part).to_contain_text(
        "Differential privacy: the t = 2 trustees add their shares of discrete Gaussian noise "
        "drawn for each of 3 sets of trustees (σ = 1.00 each)"
    )
    expect(part).to_contain_text("ρ = 0.5 per release (zCDP), at most 4 releases per participant")
    expect(page.locator("table.leaderboard thead")).to_contain_text("Expected error (±)")
    cells = page.locator("table.leaderboard tbody tr").evaluate_all(
        "rows => rows.map(r => [r.querySelector('th').textContent.trim(), "
        "r.children[3].textContent.trim(), r.children[6].textContent.trim()])"
    )
    assert cells == [
        [
            r["participant"],
            f"[{r['accuracy_low']:.4f}, {r['accuracy_high']:.4f}]",
            f"±{r['expected_abs_error']:.2f}",
        ]
        for r in board["rows"]
    ]
    page.screenshot(path=str(ARTIFACTS / "dp-leaderboard.png"), full_page=True)
