"""The leaderboard page of a public/private split challenge, in Chromium, against the real
service: during the challenge it shows the public part's scores, labelled as the public part
with its size and the policy; after the organizer closes it (and the trustees, acting over
HTTP as ``trustee run`` does, release the finals' private part) it shows the private part's,
labelled likewise, and the part toggle switches between them. Every number is the API's."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from cryptoscore.protocol.rules import DAY_MS
from cryptoscore.scoring.encoding import draw_public_mask
from cryptoscore_server.db import dispose
from cryptoscore_server.jobs import drain
from cryptoscore_server.launch import serving_in_thread
from tests.helpers.protocol import (
    CHALLENGE,
    N_ITEMS,
    Trustees,
    create_challenge,
    encrypt_split_labels,
    encrypt_via_service,
    make_committee,
    make_tokens,
    upload,
)
from tests.helpers.service import API, bearer
from tests.web.conftest import ARTIFACTS, web_app

PUBLIC = 120


class SplitStory:
    """A split challenge on a served app: labels, three submissions (two participants), the
    public parts released; :meth:`close` closes it after its close time."""

    def __init__(self, app: Flask, tmp: Path) -> None:
        self.app, self.client = app, app.test_client()
        committee = make_committee()
        self.tokens = make_tokens(
            app,
            {"organizer": "organizer", "ann": "participant", "bob": "participant"}
            | {f"t{i}": "trustee" for i in range(3)},
        )
        create_challenge(
            self.client,
            self.tokens["organizer"],
            committee,
            split={"public_items": PUBLIC},
            pad_sets="any",
        )
        self.trustees = Trustees(self.client, committee, self.tokens, tmp, online=("t0", "t1"))
        gen = np.random.default_rng(21)
        labels = gen.integers(0, 2, N_ITEMS)
        mask = draw_public_mask(N_ITEMS, PUBLIC)
        bundle = encrypt_split_labels(self.trustees, self.tokens["organizer"], labels, mask)
        assert upload(self.client, self.tokens["organizer"], "labels", bundle).status_code == 201
        for owner, accuracy in (("ann", 0.9), ("ann", 0.7), ("bob", 0.8)):
            values = np.where(gen.random(N_ITEMS) < accuracy, labels, 1 - labels)
            sub = encrypt_via_service(self.trustees, self.tokens[owner], "predictions", values)
            assert upload(self.client, self.tokens[owner], "submissions", sub).status_code == 201
        self.trustees.run(app)

    def close(self) -> None:
        response = self.client.post(
            f"{API}/challenges/{CHALLENGE}/close", headers=bearer(self.tokens["organizer"])
        )
        assert response.status_code == 201, response.get_json()
        assert not drain(self.app)  # the private parts' requests, before the trustees poll
        self.trustees.run(self.app)


@pytest.fixture(scope="module")
def served_split(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, SplitStory]]:
    data = tmp_path_factory.mktemp("web-split")
    app = web_app(data)
    story = SplitStory(app, data)
    try:
        with serving_in_thread(app, threads=4) as url:
            yield url, story
    finally:
        dispose(app)


def _board(url: str, query: str) -> dict[str, Any]:
    with urllib.request.urlopen(f"{url}/api/v1/challenges/{CHALLENGE}/leaderboard?{query}") as r:
        return json.loads(r.read())


def _rows(page: Page) -> list[list[str]]:
    """[participant, correct, part] of each table row."""
    return page.locator("table.leaderboard tbody tr").evaluate_all(
        "rows => rows.map(r => [r.querySelector('th').textContent.trim(), "
        "r.children[4].textContent.trim(), r.dataset.part])"
    )


def _expected(board: dict[str, Any]) -> list[list[str]]:
    return [[r["participant"], f"{r['correct']:,}", r["part"]] for r in board["rows"]]


def test_split_leaderboard_shows_part_and_policy(
    page: Page, served_split: tuple[str, SplitStory]
) -> None:
    url, story = served_split
    page.goto(f"{url}/#/challenges/{CHALLENGE}/leaderboard?view=all")
    part = page.locator("p.part")
    expect(part).to_contain_text(f"Public part: {PUBLIC} of {N_ITEMS} items")
    expect(part).to_contain_text("policy: correct, errors")
    expect(part).to_contain_text("until the close")
    expect(page.locator('button[data-part="public"]')).to_have_attribute("aria-pressed", "true")
    expect(page.locator("table.leaderboard caption")).to_contain_text(
        f"accuracy out of n = {PUBLIC} items (the public part)"
    )
    public = _board(url, "view=all")
    assert public["part"] == "public" and len(public["rows"]) == 3
    expect(page.locator("table.leaderboard tbody tr")).to_have_count(3)
    assert _rows(page) == _expected(public)
    page.screenshot(path=str(ARTIFACTS / "split-public.png"), full_page=True)

    real_time, real_ns = time.time, time.time_ns
    with pytest.MonkeyPatch.context() as patch:  # after the close, on every clock here
        patch.setattr(time, "time", lambda: real_time() + 8 * DAY_MS / 1000)
        patch.setattr(time, "time_ns", lambda: real_ns() + 8 * DAY_MS * 1_000_000)
        story.close()
        private = _board(url, "view=all")
        assert private["part"] == "private" and len(private["rows"]) == 2  # the finals only
        # the leaderboard is cacheable for LEADERBOARD_MAX_AGE seconds: a reader who looked
        # just before the close sees the public board that long; this one comes back later
        page.context.new_cdp_session(page).send("Network.clearBrowserCache")
        page.reload()
        expect(part).to_contain_text(f"Private part: {N_ITEMS - PUBLIC} of {N_ITEMS} items")
        expect(part).to_contain_text("policy: correct, errors")
        expect(part).to_contain_text("released after the close")
        expect(page.locator("table.leaderboard tbody tr")).to_have_count(2)
        assert _rows(page) == _expected(private)
        assert {p for _, _, p in _rows(page)} == {"private"}
        page.screenshot(path=str(ARTIFACTS / "split-private.png"), full_page=True)

        page.locator('button[data-part="public"]').click()
        expect(page.locator("table.leaderboard tbody tr")).to_have_count(3)
        expect(part).to_contain_text(f"Public part: {PUBLIC} of {N_ITEMS} items")
        assert _rows(page) == _expected(_board(url, "view=all&part=public"))
        assert "part=public" in page.url
