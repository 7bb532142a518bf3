"""GET /challenges/{id}/leaderboard: the views, the numbers, ties, pages, caching and CORS.

The challenge is fed to the leaderboard's projection directly (``benchmarks.log_growth``:
a challenge row and released bundle rows, as the release entries mark them); the protocol
tests reach the same endpoint through a whole challenge.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from benchmarks.log_growth import add_challenge, add_release
from cryptoscore.transparency.leaderboard import RANKING_RULE, Z_95
from cryptoscore_server.db import get_session
from cryptoscore_server.schemas import LEADERBOARD_MAX_LIMIT
from tests.helpers.service import API, assert_problem, snapshot

BOARD = f"{API}/challenges/board/leaderboard"
N = 100
POLICY = {"classes": 2, "metrics": ["correct", "errors"]}
AT = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
# (participant, correct, log index of the release entry)
RELEASES = [
    ("ann", 60, 3),
    ("bob", 81, 5),
    ("ann", 81, 7),  # ties bob's, released later
    ("cy", 50, 9),
    ("ann", 81, 11),  # ann's same predictions again: the same values
]
# Wilson 95% for 81/100, 60/100, 50/100 (tests/transparency/test_leaderboard.py checks the
# formula against an independent one; here the numbers are written out)
WILSON = {81: (0.7222, 0.8749), 60: (0.5020, 0.6906), 50: (0.4038, 0.5962)}


def _digest(index: int) -> str:
    return f"{index:064x}"


def _release(app: Flask, participant: str, correct: int, index: int) -> None:
    with app.app_context():
        session = get_session()
        values = {"correct": correct, "errors": N - correct}
        add_release(session, "board", 1, _digest(index), participant, values, index, AT)
        session.commit()


@pytest.fixture
def board(app: Flask) -> Flask:
    with app.app_context():
        session = get_session()
        add_challenge(session, "board", 1, n_items=N, policy=POLICY)
        session.commit()
    for release in RELEASES:
        _release(app, *release)
    return app


def _summary(body: dict[str, Any]) -> list[tuple[int, str, str, int]]:
    return [(r["rank"], r["participant"], r["submission"][-2:], r["correct"]) for r in body["rows"]]


def test_best_view_is_the_default(board: Flask, client: FlaskClient) -> None:
    response = client.get(BOARD)
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["rows"][0] == {
        "rank": 1,
        "participant": "bob",
        "submission": _digest(5),
        "values": {"correct": 81, "errors": 19},
        "n": N,
        "correct": 81,
        "accuracy": 0.81,
        "accuracy_low": pytest.approx(WILSON[81][0], abs=5e-5),
        "accuracy_high": pytest.approx(WILSON[81][1], abs=5e-5),
        "submitted_at": "2025-03-01T12:00:00+00:00",
    }
    # bob and ann tie (one rank, the next skips); ann's repeat fills no second rank
    assert _summary(body) == [(1, "bob", "05", 81), (1, "ann", "07", 81), (3, "cy", "09", 50)]
    assert {k: v for k, v in body.items() if k != "rows"} == {
        "challenge": "board",
        "view": "best",
        "policy": {**POLICY, "aggregates": ["correct", "errors"]},
        "n_items": N,
        "ranking_rule": RANKING_RULE,
        "interval": {"method": "wilson", "level": 0.95, "z": Z_95},
        "total": 3,
        "offset": 0,
        "limit": 100,
        "next_offset": None,
        "disputed": [],
        "part": None,
        "split": None,
        "release": {"kind": "exact"},  # which policy made the numbers
    }
    assert client.get(f"{BOARD}?view=best").get_data() == response.get_data()


def test_all_view_lists_every_release(board: Flask, client: FlaskClient) -> None:
    body = client.get(f"{BOARD}?view=all").get_json()
    assert body["view"] == "all" and body["total"] == 5
    assert _summary(body) == [
        (1, "bob", "05", 81),
        (1, "ann", "07", 81),
        (1, "ann", "0b", 81),
        (4, "ann", "03", 60),
        (5, "cy", "09", 50),
    ]
    for row in body["rows"]:
        low, high = WILSON[row["correct"]]
        assert (round(row["accuracy_low"], 4), round(row["accuracy_high"], 4)) == (low, high)
        assert row["accuracy"] == row["correct"] / N


def test_pages(board: Flask, client: FlaskClient) -> None:
    first = client.get(f"{BOARD}?view=all&limit=2").get_json()
    assert (first["total"], first["offset"], first["limit"], first["next_offset"]) == (5, 0, 2, 2)
    assert _summary(first) == [(1, "bob", "05", 81), (1, "ann", "07", 81)]
    middle = client.get(f"{BOARD}?view=all&limit=2&offset=2").get_json()
    assert _summary(middle) == [(1, "ann", "0b", 81), (4, "ann", "03", 60)]  # ranks are global
    assert middle["next_offset"] == 4
    last = client.get(f"{BOARD}?view=all&limit=2&offset=4").get_json()
    assert _summary(last) == [(5, "cy", "09", 50)] and last["next_offset"] is None
    for offset in (5, 1000):  # at or past the end: no rows, the total still told
        past = client.get(f"{BOARD}?view=all&offset={offset}").get_json()
        assert (past["rows"], past["total"], past["next_offset"]) == ([], 5, None)
    widest = client.get(f"{BOARD}?limit={LEADERBOARD_MAX_LIMIT}").get_json()
    assert widest["limit"] == LEADERBOARD_MAX_LIMIT and len(widest["rows"]) == 3


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        (f"limit={LEADERBOARD_MAX_LIMIT + 1}", "limit"),
        ("limit=ten", "limit"),
        ("limit=", "limit"),
        ("offset=-1", "offset"),
        ("offset=1.5", "offset"),
        ("view=top", "view"),
        ("sort=accuracy", "sort"),
    ],
)
def test_bad_query_is_a_problem_and_changes_nothing(
    board: Flask, client: FlaskClient, query: str, field: str
) -> None:
    before = snapshot(board)
    body = assert_problem(client.get(f"{BOARD}?{query}"), 422)
    assert list(body["errors"]) == [field]
    assert snapshot(board) == before


def test_unknown_challenge_and_empty_board(app: Flask, client: FlaskClient) -> None:
    assert_problem(client.get(f"{API}/challenges/nope/leaderboard"), 404)
    with app.app_context():
        session = get_session()
        add_challenge(session, "board", 1, n_items=N, policy=POLICY)
        session.commit()
    body = client.get(BOARD).get_json()
    assert (body["rows"], body["total"], body["next_offset"]) == ([], 0, None)


def test_etag_and_not_modified(board: Flask, client: FlaskClient) -> None:
    response = client.get(BOARD)
    etag = response.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")  # strong
    assert set(response.headers["Cache-Control"].split(", ")) == {"public", "max-age=10"}
    again = client.get(BOARD, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == etag and "max-age=10" in again.headers["Cache-Control"]
    assert client.get(BOARD, headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get(f"{BOARD}?view=all").headers["ETag"] != etag  # per page and view
    # a new release changes the board: the old tag no longer matches
    _release(board, "dee", 90, 13)
    changed = client.get(BOARD, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["ETag"] != etag
    assert changed.get_json()["rows"][0]["participant"] == "dee"


def test_cross_origin_read(board: Flask, client: FlaskClient) -> None:
    origin = "https://leaderboard.example"  # CORS_ORIGINS in conftest
    response = client.get(BOARD, headers={"Origin": origin})
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert "ETag" in response.headers["Access-Control-Expose-Headers"]
    preflight = client.options(
        BOARD,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "If-None-Match",
        },
    )
    assert "If-None-Match" in preflight.headers["Access-Control-Allow-Headers"]


def test_documented(app: Flask, client: FlaskClient) -> None:
    document = json.loads(client.get(f"{API}/openapi.json").get_data())
    operation = document["paths"]["/api/v1/challenges/{challenge_id}/leaderboard"]["get"]
    params = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
    assert set(params) == {"view", "limit", "offset", "part"}
    assert params["part"]["schema"]["enum"] == ["public", "private"]
    assert params["view"]["schema"]["enum"] == ["best", "all"]
    assert params["limit"]["schema"]["maximum"] == LEADERBOARD_MAX_LIMIT
    assert {"200", "304", "404", "422"} <= set(operation["responses"])
    assert "ETag" in operation["responses"]["200"]["headers"]
    assert "competition ranking" in operation["description"]
    assert "CORS_ORIGINS" in operation["description"]
    schema = document["components"]["schemas"]["Leaderboard"]
    assert {"ranking_rule", "policy", "total", "rows"} <= set(schema["required"])
    row = document["components"]["schemas"]["LeaderboardRow"]["properties"]
    assert {"accuracy", "accuracy_low", "accuracy_high", "n", "rank", "part"} <= set(row)
