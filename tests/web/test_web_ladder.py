"""The leaderboard page of a challenge under the Ladder (issue 16, item 3): it says the counts
are the Ladder's shown ones and its margin, and every number is the API's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
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
from tests.web.test_web_split import _rows


@pytest.fixture(scope="module")
def served_ladder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("web-ladder")
    app = web_app(data)
    client, committee = app.test_client(), make_committee()
    parties = {"organizer": "organizer", "ann": "participant", "bob": "participant"}
    tokens = make_tokens(app, parties | {f"t{i}": "trustee" for i in range(3)})
    create_challenge(client, tokens["organizer"], committee, ladder_margin="0.03", pad_sets="any")
    trustees = Trustees(client, committee, tokens, data, online=("t0", "t1"))
    labels = np.random.default_rng(8).integers(0, 2, N_ITEMS)
    bundle = encrypt_via_service(trustees, tokens["organizer"], "labels", labels)
    assert upload(client, tokens["organizer"], "labels", bundle).status_code == 201
    for owner, right in (("ann", 250), ("bob", 200)):
        preds = labels.copy()
        preds[right:] = 1 - preds[right:]
        sub = encrypt_via_service(trustees, tokens[owner], "predictions", preds)
        assert upload(client, tokens[owner], "submissions", sub).status_code == 201
    trustees.run(app)
    with serving(app) as url:
        yield url


def _board(url: str) -> dict[str, Any]:
    return leaderboard_json(url, CHALLENGE)


def test_ladder_leaderboard_says_the_counts_are_shown_ones(page: Page, served_ladder: str) -> None:
    board = _board(served_ladder)
    assert [(r["participant"], r["correct"], r["release"]) for r in board["rows"]] == [
        ("ann", 252, "ladder"),  # 250 rounded to the nearest multiple of 9
        ("bob", 198, "ladder"),
    ]
    page.goto(f"{served_ladder}/#/challenges/{CHALLENGE}/leaderboard")
    part = page.locator("p.part")
    expect(part).to_contain_text(f"Release: the Ladder, margin 9 of {N_ITEMS} items")
    expect(part).to_contain_text("shown counts, not exact ones")
    expect(page.locator("table.leaderboard tbody tr")).to_have_count(2)
    expect(page.locator("table.leaderboard thead")).not_to_contain_text("Errors")
    assert [row[:2] for row in _rows(page)] == [["ann", "252"], ["bob", "198"]]
    page.screenshot(path=str(ARTIFACTS / "ladder.png"), full_page=True)
