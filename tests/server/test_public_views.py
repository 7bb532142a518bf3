"""The public reads the web page needs beyond the leaderboard, and the page itself.

* ``GET /challenges/{id}/log/submissions/{digest}``: a submission as the log shows it — its
  entries under the latest signed head, the state they add up to, nothing the log does not hold;
* ``GET /challenges/{id}/trustees``: the roster's ids and when each last polled;
* ``GET /`` and ``/static/...``: the page, with its Content-Security-Policy.

The challenges come from ``tests/helpers/public_story.py`` (tables and log written directly);
``tests/server/test_protocol.py`` reads the submission record of a real run.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from flask import Flask
from flask.testing import FlaskClient

from cryptoscore.transparency.entries import parse_entry
from cryptoscore_server.db import get_session
from cryptoscore_server.routes import public_record
from cryptoscore_server.routes.public_record import ONLINE_WITHIN
from cryptoscore_server.routes.web import CONTENT_SECURITY_POLICY, WEB_DIR
from tests.helpers.public_story import (
    BINARY,
    CONFUSION,
    THRESHOLD,
    Story,
    Submission,
    _partial,
    populate,
    sha,
)
from tests.helpers.service import API, assert_problem

NOW = datetime.now(UTC)


@pytest.fixture
def story(app: Flask) -> Story:
    return populate(app, NOW)


def _sub(story: Story, participant: str, challenge: str = CONFUSION) -> Submission:
    return next(s for s in story.submissions[challenge] if s.participant == participant)


def _record(client: FlaskClient, digest: str, challenge: str = CONFUSION) -> dict:
    response = client.get(f"{API}/challenges/{challenge}/log/submissions/{digest}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_released_submission_as_the_log_shows_it(story: Story, client: FlaskClient) -> None:
    bob = _sub(story, "bob")
    record = _record(client, bob.digest)
    head = client.get(f"{API}/challenges/{CONFUSION}/log/head").get_json()
    assert {k: v for k, v in record.items() if k != "events"} == {
        "challenge": CONFUSION,
        "submission": bob.digest,
        "participant": "bob",
        "logged_at": "2025-03-01T12:02:00+00:00",
        "state": "released",
        "reason": "",
        "values": bob.values,
        "invariant": None,
        "part": None,
        "private": None,
        "bundle_index": bob.entries["bundle"],
        "tree_head": head,
    }
    kinds = [e["type"] for e in record["events"]]
    assert kinds == [
        "bundle",
        *["contribution"] * THRESHOLD,
        "request",  # noise
        *["partial"] * THRESHOLD,
        "request",  # validity
        *["partial"] * THRESHOLD,
        "round1",
        "request",  # score
        *["partial"] * THRESHOLD,
        "release",
    ]
    assert record["events"][0] == {"index": bob.entries["bundle"], "type": "bundle",
                                   "time_ms": 1740830520000}  # fmt: skip
    requests = [e for e in record["events"] if e["type"] == "request"]
    assert [(r["round"], r["circuit"]) for r in requests] == [
        (1, "noise/v1"),
        (1, "validity/v1"),
        (2, "score/v1"),
    ]
    assert requests[2]["request_id"] == f"{CONFUSION}:r2:{bob.digest[:16]}"
    assert [e["trustee"] for e in record["events"] if e["type"] == "contribution"] == ["t1", "t2"]
    assert record["events"][-1]["index"] == bob.entries["release"]


def test_every_event_is_the_public_log_entry_at_its_index(
    story: Story, client: FlaskClient
) -> None:
    record = _record(client, _sub(story, "ann").digest)
    page = client.get(f"{API}/challenges/{CONFUSION}/log/entries?from=0").get_json()
    for event in record["events"]:
        entry = parse_entry(page["entries"][event["index"]].encode())
        assert entry["type"] == event["type"]
        shown = {k: v for k, v in event.items() if k not in ("index", "type")}
        renamed = {"time_ms": "time"}
        for key, value in shown.items():
            if key == "request_id" and entry["type"] == "request":
                continue  # named by its partials, not by the entry itself
            assert entry[renamed.get(key, key)] == value, key


def test_invalid_and_unfinished_submissions(story: Story, client: FlaskClient) -> None:
    dee = _record(client, _sub(story, "dee").digest)
    assert (dee["state"], dee["values"]) == ("invalid", None)
    assert dee["reason"] == _sub(story, "dee").invalid
    assert dee["events"][-1]["type"] == "round1"
    assert dee["events"][-1]["verdict"] == "invalid"
    assert not [e for e in dee["events"] if e.get("round") == 2]

    eve = _record(client, _sub(story, "eve").digest)
    assert (eve["state"], eve["reason"], eve["values"]) == ("noise-check", "", None)
    assert [e["type"] for e in eve["events"]][-2:] == ["request", "partial"]


def test_only_entries_under_the_signed_head(story: Story, app: Flask, client: FlaskClient) -> None:
    eve = _sub(story, "eve")
    before = _record(client, eve.digest)
    with app.app_context():  # the second trustee answers; no head is signed over it yet
        session = get_session()
        _partial(session, CONFUSION, f"{CONFUSION}:r1:{eve.digest[:16]}:noise:0", "t2")
        session.commit()
    assert _record(client, eve.digest) == before


@pytest.mark.parametrize(
    "digest",
    [
        sha("nobody"),  # not logged
        sha(f"{CONFUSION}:labels"),  # the labels are not a submission
        sha("binary:0"),  # another challenge's
        "0" * 63,  # not a digest
        "Z" * 64,
    ],
)
def test_not_a_submission_of_this_log(story: Story, client: FlaskClient, digest: str) -> None:
    body = assert_problem(client.get(f"{API}/challenges/{CONFUSION}/log/submissions/{digest}"), 404)
    assert "holds no submission" in body["detail"]


def test_unknown_challenge(client: FlaskClient) -> None:
    assert_problem(client.get(f"{API}/challenges/nope/log/submissions/{sha('x')}"), 404)
    assert_problem(client.get(f"{API}/challenges/nope/trustees"), 404)


def test_trustees_and_who_is_online(
    story: Story, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the service's clock at the story's time: presence ages with the wall clock, and a full
    # run reaches this test minutes after the story was written
    monkeypatch.setattr(public_record, "utcnow", lambda: NOW)
    body = client.get(f"{API}/challenges/{BINARY}/trustees").get_json()
    assert (body["challenge"], body["threshold"], body["online_within"]) == (
        BINARY,
        THRESHOLD,
        ONLINE_WITHIN,
    )
    assert [(t["id"], t["index"], t["online"]) for t in body["trustees"]] == [
        ("t1", 1, True),
        ("t2", 2, True),
        ("t3", 3, False),
    ]
    seen = datetime.fromisoformat(body["trustees"][0]["last_seen"])
    assert abs((seen - NOW).total_seconds() - (-3)) < 1
    assert set(body["trustees"][0]) == {"id", "index", "last_seen", "online"}  # nothing else


def test_trustees_never_seen(app: Flask, client: FlaskClient) -> None:
    from benchmarks.log_growth import add_challenge

    with app.app_context():
        session = get_session()
        add_challenge(session, "quiet", 1)
        session.commit()
    body = client.get(f"{API}/challenges/quiet/trustees").get_json()
    assert body["trustees"] == []


def test_public_reads_are_cross_origin(story: Story, client: FlaskClient) -> None:
    origin = "https://leaderboard.example"  # CORS_ORIGINS in conftest
    for path in (
        f"/challenges/{CONFUSION}/trustees",
        f"/challenges/{CONFUSION}/log/submissions/{_sub(story, 'bob').digest}",
    ):
        response = client.get(API + path, headers={"Origin": origin})
        assert response.headers["Access-Control-Allow-Origin"] == origin, path


def test_the_page_and_its_files(client: FlaskClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert '<script type="module" src="/static/app.js">' in html
    assert page.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY
    assert page.headers["X-Frame-Options"] == "DENY"
    for name, mime in [
        ("app.js", "text/javascript"),
        ("app.css", "text/css"),
        ("icon.svg", "image/svg+xml"),
    ]:
        response = client.get(f"/static/{name}")
        assert (response.status_code, response.mimetype) == (200, mime), name
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert_problem(client.get("/static/nope.js"), 404)
    assert_problem(client.get("/static/../app.py"), 404)
    # the API keeps its own headers (no page policy)
    assert "Content-Security-Policy" not in client.get(f"{API}/health/live").headers


def test_the_page_reads_only_public_endpoints() -> None:
    """Every API path the page's scripts name is one the access matrix lists as public."""
    from tests.server.test_access import MATRIX, PUBLIC

    public = {rule for method, rule, _, allowed in MATRIX if allowed is PUBLIC and method == "GET"}
    scripts = "\n".join(p.read_text() for p in WEB_DIR.glob("*.js"))
    named = {
        "/challenges",
        "/challenges/<challenge_id>",
        "/challenges/<challenge_id>/trustees",
        "/challenges/<challenge_id>/leaderboard",
        "/challenges/<challenge_id>/log/head",
        "/challenges/<challenge_id>/log/consistency",
        "/challenges/<challenge_id>/log/submissions/<digest>",
    }
    assert named <= public
    for rule in named:
        tail = rule.rsplit(">", 1)[-1] or "/challenges/"
        assert tail in scripts, rule
    assert "Authorization" not in scripts and "Bearer" not in scripts  # never a token
    assert "method:" not in scripts  # fetch() with its default: GET only


def test_the_page_is_package_data() -> None:
    """Every file of the page is in the wheel (pyproject's package-data for the server)."""
    import fnmatch
    import tomllib

    pyproject = tomllib.loads((WEB_DIR.parents[1] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["cryptoscore_server"]
    files = [p.relative_to(WEB_DIR.parent).as_posix() for p in WEB_DIR.iterdir()]
    assert {"web/index.html", "web/app.js", "web/app.css"} <= set(files)
    for name in files:
        assert any(fnmatch.fnmatch(name, pattern) for pattern in patterns), name
