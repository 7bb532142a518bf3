"""Click through the web page as a person would, and check every number it shows against the
public API's.

list → challenge (definition, trustees online, log head) → leaderboard (best/all, sorting,
pages, the interval plot, confusion heatmaps) → submission (state, timeline, receipt) → audit
(the browser's own check of the head, then again after the log grew); keyboard only; a phone.
"""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, expect

from cryptoscore_server.db import get_session
from cryptoscore_server.ledger import sign_head
from tests.helpers.public_story import BINARY, CONFUSION, Story, _partial
from tests.web.conftest import ARTIFACTS

Served = tuple[str, Flask, Story]


def get(url: str, path: str) -> Any:
    with urllib.request.urlopen(f"{url}/api/v1{path}") as response:
        return json.loads(response.read())


def board(url: str, challenge: str, view: str = "best") -> dict[str, Any]:
    return get(url, f"/challenges/{challenge}/leaderboard?view={view}&limit=500")


def shot(page: Page, name: str) -> None:
    """Save a screenshot, after checking the view shows no unformatted value."""
    text = page.locator("main").inner_text()
    for word in ("null", "undefined", "NaN", "[object"):
        assert not re.search(rf"(^|\W){re.escape(word)}(\W|$)", text), (name, word)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def utc(value: str | int) -> str:
    moment = (
        datetime.fromtimestamp(value / 1000, UTC)
        if isinstance(value, int)
        else datetime.fromisoformat(value)
    )
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def table_rows(page: Page) -> list[list[str]]:
    return page.locator("table.leaderboard tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.children].map(c => c.textContent.trim()))"
    )


def expected_rows(rows: list[dict[str, Any]], errors: bool) -> list[list[str]]:
    return [
        [
            str(r["rank"]),
            r["participant"],
            f"{r['accuracy']:.4f}",
            f"[{r['accuracy_low']:.4f}, {r['accuracy_high']:.4f}]",
            f"{r['correct']:,}",
            *([f"{r['values']['errors']:,}"] if errors else []),
            utc(r["submitted_at"]),
            r["submission"][:12] + "…",
        ]
        for r in rows
    ]


def test_click_through(page: Page, served: Served) -> None:
    url, _, story = served
    page.goto(url + "/")
    expect(page.locator("h1")).to_have_text("Challenges")
    challenges = get(url, "/challenges")["challenges"]
    listed = page.locator("main table tbody tr").evaluate_all(
        "rows => rows.map(r => [...r.children].map(c => c.textContent.trim()))"
    )
    assert listed == [
        [
            c["name"] + c["id"],
            c["state"],
            f"{c['n_items']:,}",
            str(c["classes"]),
            ", ".join(c["policy"]["metrics"]),
            utc(c["opens_at"]),
            utc(c["closes_at"]),
        ]
        for c in challenges
    ]
    shot(page, "1-challenges")

    # a challenge: definition, trustees online, the log head
    page.get_by_role("link", name="Digits (3 classes)").click()
    expect(page.locator("h1")).to_have_text("Digits (3 classes)")
    facts = dict(
        zip(
            page.locator("dl[aria-label='Challenge definition'] dt").all_text_contents(),
            page.locator("dl[aria-label='Challenge definition'] dd").all_text_contents(),
            strict=True,
        )
    )
    c = get(url, f"/challenges/{CONFUSION}")
    description = page.locator("p.description")
    assert description.inner_text() == c["description"]  # line break kept
    assert description.locator("b").count() == 0  # text, never markup
    assert facts["Test items (n)"] == "60" and facts["Classes"] == "3"
    assert facts["Released metrics"] == "correct, confusion"
    assert facts["Released aggregates"].startswith(f"{len(c['policy']['aggregates'])} (")
    assert facts["Opens"] == utc(c["opens_at"]) and facts["Closes"] == utc(c["closes_at"])
    trustees = page.locator("tr[data-trustee]").evaluate_all(
        "rows => rows.map(r => [...r.children].slice(0, 3).map(c => c.textContent.trim()))"
    )
    assert trustees == [["t1", "1", "online"], ["t2", "2", "online"], ["t3", "3", "offline"]]
    expect(page.locator("caption").first).to_contain_text("any 2 of 3 decrypt; 2 online now")
    head = get(url, f"/challenges/{CONFUSION}/log/head")
    log = page.locator("dl[aria-label='Latest signed tree head'] dd").all_text_contents()
    assert log == [f"{head['size']:,}", head["root"], utc(head["timestamp_ms"])]
    shot(page, "2-challenge")

    # the leaderboard: each participant's best; ties share a rank; the rule is stated
    page.get_by_role("link", name="Leaderboard").first.click()
    expect(page.locator("h1")).to_have_text("Leaderboard: Digits (3 classes)")
    best = board(url, CONFUSION)
    expect(page.locator("p.rule")).to_contain_text(best["ranking_rule"])
    assert table_rows(page) == expected_rows(best["rows"], errors=False)
    assert [r[0] for r in table_rows(page)] == ["1", "1", "3"]  # ann and bob tie
    plotted = page.locator("g.interval-row").evaluate_all(
        "gs => gs.map(g => [g.dataset.participant, +g.dataset.accuracy, +g.dataset.low,"
        " +g.dataset.high])"
    )
    assert plotted == [
        [r["participant"], r["accuracy"], r["accuracy_low"], r["accuracy_high"]]
        for r in best["rows"]
    ]
    # the bar spans the interval, the dot sits inside it
    geometry = page.locator("g.interval-row").first.evaluate(
        "g => [...g.querySelectorAll('line.bar')].map(l => +l.getAttribute('x1'))"
        ".concat([+g.querySelector('circle').getAttribute('cx')])"
    )
    assert geometry[0] < geometry[3] < geometry[2]
    # a heatmap per row, each cell the released count
    figures = page.locator("figure.heatmap-figure")
    expect(figures).to_have_count(len(best["rows"]))
    for row in best["rows"]:
        cells = page.locator(f"figure[data-submission='{row['submission']}'] g.cell")
        expect(cells).to_have_count(9)
        counts = cells.evaluate_all(
            "cs => cs.map(c => [c.dataset.predicted, c.dataset.label, c.dataset.count,"
            " c.querySelector('text').textContent])"
        )
        for predicted, label, value, text in counts:
            assert int(value) == row["values"][f"confusion:{predicted}:{label}"] == int(text)
    shot(page, "3-leaderboard-best")

    # every submission
    page.get_by_role("button", name="All submissions").click()
    expect(page.get_by_role("button", name="All submissions")).to_have_attribute(
        "aria-pressed", "true"
    )
    every = board(url, CONFUSION, "all")
    expect(page.locator("table.leaderboard tbody tr")).to_have_count(every["total"])
    assert table_rows(page) == expected_rows(every["rows"], errors=False)
    assert "view=all" in page.url
    # sorted by participant (a header button), then back
    page.get_by_role("button", name="Participant", exact=True).click()
    expect(page.locator("th[aria-sort='ascending']")).to_have_text("Participant ▲")
    by_name = sorted(every["rows"], key=lambda r: r["participant"])  # stable: ranking order
    assert table_rows(page) == expected_rows(by_name, errors=False)
    page.get_by_role("button", name="Participant", exact=True).click()
    expect(page.locator("th[aria-sort='descending']")).to_contain_text("Participant")
    assert [r[1] for r in table_rows(page)] == ["cy", "bob", "ann", "ann"]
    shot(page, "4-leaderboard-all-sorted")

    # a submission, from its row
    bob = next(s for s in story.submissions[CONFUSION] if s.participant == "bob")
    page.locator(f"tr[data-submission='{bob.digest}'] a").click()
    expect(page.locator("h1")).to_contain_text("Submission")
    record = get(url, f"/challenges/{CONFUSION}/log/submissions/{bob.digest}")
    facts = dict(
        zip(
            page.locator("dl[aria-label='Submission'] dt").all_text_contents(),
            page.locator("dl[aria-label='Submission'] dd").all_text_contents(),
            strict=True,
        )
    )
    assert facts == {
        "Participant": "bob",
        "State": "released",
        "Logged": utc(record["logged_at"]),
        "Digest (SHA-256)": bob.digest,
    }
    steps = page.locator("ol.timeline > li").evaluate_all(
        "ls => ls.map(l => [l.className, l.querySelector('strong').textContent])"
    )
    assert steps == [
        ["step done", "Uploaded and logged"],
        ["step done", "Round 1: trustee randomness"],
        ["step done", "Round 1: noise checks"],
        ["step done", "Round 1: validity check"],
        ["step done", "Round 1: verdict"],
        ["step done", "Round 2: score decryption"],
        ["step done", "Released"],
    ]
    expect(page.locator("ol.timeline > li").nth(5)).to_contain_text("from t1, t3")
    expect(page.locator("ol.timeline > li").last).to_contain_text(
        f"#{record['events'][-1]['index']}"
    )
    released = page.locator("table.values tbody tr").evaluate_all(
        "rows => rows.map(r => [r.children[0].textContent, r.children[1].textContent])"
    )
    assert released == [["correct", str(bob.values["correct"])]]
    expect(page.locator("figure.heatmap-figure g.cell")).to_have_count(9)
    receipt = page.locator("dl[aria-label='Receipt'] dd").all_text_contents()
    assert receipt[0] == f"#{record['bundle_index']}"
    expect(page.locator(".command code")).to_contain_text(
        f"cryptoscore receipt verify receipt.json --service-key {c['log_key']} --server {url}"
    )
    shot(page, "5-submission")

    # the audit page, from the challenge
    page.go_back()
    page.goto(f"{url}/#/challenges/{CONFUSION}")
    page.get_by_role("link", name="Audit the log").click()
    expect(page.locator(".verdict")).to_have_text(
        "Verified: the latest head is signed by the log key and extends every head this "
        "browser saw before."
    )
    expect(page.locator("ul.checks li")).to_have_text(
        [
            "PASS signature: signed by the challenge's log key",
            "PASS consistency: first check in this browser: later visits are checked against"
            " this head",
        ]
    )
    last = page.locator("dl[aria-label='Last verified head'] dd").all_text_contents()
    assert last[:3] == [f"{head['size']:,}", head["root"], utc(head["timestamp_ms"])]
    commands = page.locator(".command code").all_text_contents()
    assert f"cryptoscore audit --server {url} --token-file aud.token --challenge {CONFUSION}" in (
        commands
    )
    shot(page, "6-audit")


def test_audit_again_after_the_log_grew(page: Page, served: Served) -> None:
    url, app, story = served
    audit = f"{url}/#/challenges/{BINARY}/audit"
    page.goto(audit)
    expect(page.locator(".verdict")).to_have_class("verdict ok")
    first = get(url, f"/challenges/{BINARY}/log/head")
    with app.app_context():  # the log grows by one entry and a new head
        session = get_session()
        digest = story.submissions[BINARY][0].digest
        _partial(session, BINARY, f"{BINARY}:r1:{digest[:16]}:noise:1", "t3")
        sign_head(session, BINARY)
        session.commit()
    page.reload()
    expect(page.locator("ul.checks li").nth(1)).to_have_text(
        f"PASS consistency: extends the head of size {first['size']} this browser verified before"
    )
    size = page.locator("dl[aria-label='Last verified head'] dd").first
    expect(size).to_have_text(str(first["size"] + 1))
    # a browser that remembers a head this log never had: the check fails, loudly
    page.evaluate(
        "id => localStorage.setItem('cryptoscore:verified-head:' + id, JSON.stringify("
        "{size: 3, root: '00'.repeat(32), timestamp_ms: 0, verified_at: 0}))",
        BINARY,
    )
    page.reload()
    expect(page.locator(".verdict")).to_have_class("verdict bad")
    expect(page.locator("ul.checks li").nth(1)).to_contain_text("FAIL consistency")
    shot(page, "7-audit-mismatch")


def test_binary_board_pages_sorting_and_no_heatmap(page: Page, served: Served) -> None:
    url, _, _ = served
    page.goto(f"{url}/#/challenges/{BINARY}/leaderboard")
    best = board(url, BINARY)
    assert best["total"] == 30
    expect(page.locator("table.leaderboard tbody tr")).to_have_count(25)
    assert table_rows(page) == expected_rows(best["rows"][:25], errors=True)
    expect(page.locator("figure.heatmap-figure")).to_have_count(0)  # the policy releases none
    expect(page.locator(".pager")).to_contain_text("Rows 1–25 of 30 (page 1 of 2)")
    page.get_by_role("button", name="Next").click()
    assert table_rows(page) == expected_rows(best["rows"][25:], errors=True)
    expect(page.get_by_role("button", name="Next")).to_be_disabled()
    # ascending accuracy; ties keep the ranking's order
    page.get_by_role("button", name="Accuracy", exact=True).click()  # first click: highest first
    page.get_by_role("button", name="Accuracy", exact=True).click()
    lowest = sorted(best["rows"], key=lambda r: r["accuracy"])
    assert table_rows(page) == expected_rows(lowest[:25], errors=True)
    assert "sort=accuracy&dir=asc" in page.url
    page.reload()  # the URL keeps the view's state
    expect(page.locator("table.leaderboard tbody tr")).to_have_count(25)
    assert table_rows(page) == expected_rows(lowest[:25], errors=True)
    shot(page, "8-binary-sorted")


def test_invalid_and_unknown_submissions(page: Page, served: Served) -> None:
    url, _, story = served
    dee = next(s for s in story.submissions[CONFUSION] if s.participant == "dee")
    page.goto(f"{url}/#/challenges/{CONFUSION}/submissions/{dee.digest}")
    expect(page.locator("dl[aria-label='Submission']")).to_contain_text(dee.invalid)
    expect(page.locator("ol.timeline > li.failed")).to_contain_text("invalid: " + dee.invalid)
    expect(page.locator("ol.timeline > li.skipped")).to_contain_text("never run")
    expect(page.locator("table.values")).to_have_count(0)
    shot(page, "9-submission-invalid")
    eve = next(s for s in story.submissions[CONFUSION] if s.participant == "eve")
    page.goto(f"{url}/#/challenges/{CONFUSION}")
    page.get_by_label("Look up a submission").fill(eve.digest)
    page.get_by_role("button", name="Show").click()
    expect(page.locator("dl[aria-label='Submission']")).to_contain_text("noise-check")
    expect(page.locator("ol.timeline > li.pending").first).to_contain_text(
        "Round 1: validity check"
    )


def tab_to(page: Page, focused: str, what: str) -> None:
    """Press Tab until the JavaScript condition ``focused`` holds (at most 20 times)."""
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate(focused):
            return
    pytest.fail(f"{what} is not reachable by Tab")


def test_keyboard_only(page: Page, served: Served) -> None:
    url, _, _ = served
    page.goto(f"{url}/#/challenges/{CONFUSION}/leaderboard")
    expect(page.locator("table.leaderboard")).to_be_visible()
    # tab from the top until the "All submissions" toggle has focus; Space presses it
    tab_to(page, "document.activeElement.dataset.view === 'all'", "the view toggle")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline == "solid"  # the focus is visible
    page.keyboard.press("Space")
    expect(page.locator("table.leaderboard tbody tr")).to_have_count(4)
    # on to the sort buttons: Enter on "Correct" sorts, and focus stays on it
    tab_to(page, "document.activeElement.dataset.sort === 'correct'", "the sort buttons")
    page.keyboard.press("Enter")
    expect(page.locator("th[aria-sort='descending']")).to_contain_text("Correct")
    assert page.evaluate("document.activeElement.dataset.sort") == "correct"
    shot(page, "10-keyboard-focus")
    # a submission link, followed with Enter
    tab_to(page, "document.activeElement.closest('tr[data-submission]') !== null", "a row's link")
    page.keyboard.press("Enter")
    expect(page.locator("h1")).to_contain_text("Submission")
    assert page.evaluate("document.activeElement.tagName") == "H1"  # focus moved to the view


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("challenge", f"/#/challenges/{CONFUSION}"),
        ("leaderboard", f"/#/challenges/{CONFUSION}/leaderboard"),
        ("binary-leaderboard", f"/#/challenges/{BINARY}/leaderboard"),
        ("audit", f"/#/challenges/{CONFUSION}/audit"),
    ],
)
def test_phone(phone: Page, served: Served, name: str, path: str) -> None:
    url, _, _ = served
    phone.goto(url + path)
    expect(phone.locator("h1")).to_be_visible()
    phone.wait_for_load_state("networkidle")
    # nothing wider than the screen but the tables' own scroll regions
    width = phone.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    if "leaderboard" in path:
        plot = phone.locator("figure.plot svg").bounding_box()
        assert plot is not None and plot["width"] <= 390
        toggle = phone.get_by_role("button", name="All submissions").bounding_box()
        assert toggle is not None and toggle["height"] >= 40  # a finger's target
    shot(phone, f"phone-{name}")
