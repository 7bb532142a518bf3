"""``cryptoscore leaderboard``: the table (ties shown equal, the 95% interval, correct and
errors), ``--all``, ``--confusion``, ``--json`` and the empty board, against a real service
whose challenge is fed to the leaderboard's projection directly."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from benchmarks.log_growth import add_challenge, add_release
from cryptoscore_cli.main import main
from cryptoscore_server.db import dispose, get_session
from cryptoscore_server.models import Challenge

N = 100
POLICY = {"classes": 2, "metrics": ["correct", "errors", "confusion"]}
# participant, log index, confusion cells 0:0, 0:1, 1:0, 1:1 (predicted:label)
RELEASES = [
    ("ann", 3, (30, 20, 20, 30)),
    ("bob", 5, (40, 9, 10, 41)),
    ("ann", 7, (45, 14, 5, 36)),
    ("cy", 9, (25, 25, 25, 25)),
]


@pytest.fixture
def served(tmp_path, monkeypatch) -> Iterator[tuple[str, object]]:
    from cryptoscore_server.app import create_app
    from cryptoscore_server.launch import serving_in_thread

    monkeypatch.delenv("CRYPTOSCORE_SERVER", raising=False)
    app = create_app({"DATA_DIR": tmp_path / "data", "JOB_THREAD": False})
    with app.app_context():
        add_challenge(get_session(), "empty", 1, n_items=N, policy=POLICY)
        get_session().commit()
    with serving_in_thread(app) as url:
        yield url, app
    dispose(app)


def _fill(app) -> None:
    with app.app_context():
        session = get_session()
        add_challenge(session, "board", 2, n_items=N, policy=POLICY)
        for name, index, cells in RELEASES:
            names = ("confusion:0:0", "confusion:0:1", "confusion:1:0", "confusion:1:1")
            values = dict(zip(names, cells, strict=True))
            correct = cells[0] + cells[3]
            values |= {"correct": correct, "errors": N - correct}
            add_release(session, "board", 2, f"{index:064x}", name, values, index)
        session.commit()


def _run(capsys, *argv: str) -> str:
    capsys.readouterr()
    assert main(["leaderboard", *argv]) == 0
    return capsys.readouterr().out


def test_table(served, capsys):
    url, app = served
    _fill(app)
    assert _run(capsys, "board", "--server", url) == (
        "board: each participant's best submission (3), 100 items; "
        "policy: correct, errors, confusion\n"
        "rank  participant  accuracy [95% interval]  correct   errors\n"
        "   1  bob          0.810 [0.722, 0.875]          81       19\n"
        "   1  ann          0.810 [0.722, 0.875]          81       19\n"
        "   3  cy           0.500 [0.404, 0.596]          50       50\n"
    )
    every = _run(capsys, "board", "--server", url, "--all").splitlines()
    assert every[0].startswith("board: every released submission (4), ")
    assert [line[:17] for line in every[2:]] == [
        "   1  bob        ",
        "   1  ann        ",
        "   3  ann        ",
        "   4  cy         ",
    ]
    assert "0.600 [0.502, 0.691]" in every[4]


def test_confusion_grid_only_when_asked(served, capsys):
    url, app = served
    _fill(app)
    out = _run(capsys, "board", "--server", url, "--confusion").splitlines()
    assert out[2:7] == [
        "   1  bob          0.810 [0.722, 0.875]          81       19",
        "      confusion (rows: predicted class, columns: label)",
        "           0  1",
        "       0  40  9",
        "       1  10 41",
    ]
    assert len(out) == 2 + 3 * 5


def test_json_is_the_api_response(served, capsys):
    url, app = served
    _fill(app)
    board = json.loads(_run(capsys, "board", "--server", url, "--json", "--all"))
    assert board["view"] == "all" and board["total"] == len(board["rows"]) == 4
    assert board["ranking_rule"].startswith("standard competition ranking")
    assert board["rows"][0]["accuracy_low"] == pytest.approx(0.72221, abs=1e-5)


def test_empty_board(served, capsys):
    url, _ = served
    assert _run(capsys, "empty", "--server", url) == (
        "empty: each participant's best submission (0), 100 items; "
        "policy: correct, errors, confusion\n"
        "no released scores yet\n"
    )


DP_RULES = {
    "organizer": "11" * 32,
    "enrolment": "open",
    "invited": [],
    "submissions_per_day": 5,
    "pad_requests_per_day": 10,
    "dp": {"rho": 0.25, "budget": 1.0},
}
DP_VALUES = {"confusion:0:0": 42, "confusion:0:1": 9, "confusion:1:0": 10}
DP_VALUES |= {"confusion:1:1": 41, "correct": 83, "errors": 17}


def test_dp_board_says_which_policy_made_the_numbers(served, capsys):
    """A dp challenge (rho 0.25, t = 2, policy correct/errors/confusion: correct carries the
    diagonal's noise, V = t·K·σ² = 2·2·4 = 16): the table says the numbers are noisy, with
    sigma, rho and budget, and each row's expected absolute error √(2/π)·4 = 3.19."""
    url, app = served
    with app.app_context():
        session = get_session()
        add_challenge(session, "noisy", 3, n_items=N, policy=POLICY, rules=DP_RULES)
        add_release(session, "noisy", 3, f"{1:064x}", "ann", DP_VALUES, 1)
        session.commit()
    out = _run(capsys, "noisy", "--server", url).splitlines()
    assert out[1] == (
        "release: dp noise from each of t=2 trustees (discrete Gaussian, sigma 2.000 each), "
        "rho 0.25 per release, budget 1 per participant; counts are noisy, intervals widened "
        "by the noise variance"
    )
    assert out[2].endswith("expected |error|")
    assert out[3].endswith("±3.19")


def test_dp_board_of_a_shamir_key_counts_the_prss_sets(served, capsys):
    """The same dp challenge on a key whose 2-of-3 trustees answer Shamir shares: the noise
    is PRSS-shared over C(3, 1) = 3 sets, V = 3·K·σ² = 3·2·4 = 24, expected error
    √(2/π)·√24 = 3.91 (docs/design.md, "Differential-privacy release")."""
    url, app = served
    with app.app_context():
        session = get_session()
        add_challenge(session, "shared", 3, n_items=N, policy=POLICY, rules=DP_RULES)
        row = session.get(Challenge, "shared")
        assert row is not None
        row.answers = "shamir"
        row.roster = [{"id": f"t{i}", "index": i, "public_key": "00" * 32} for i in (1, 2, 3)]
        add_release(session, "shared", 3, f"{1:064x}", "ann", DP_VALUES, 1)
        session.commit()
    out = _run(capsys, "shared", "--server", url).splitlines()
    assert out[1].startswith(
        "release: dp noise shared by the t=2 trustees over 3 PRSS sets (discrete Gaussian, "
        "sigma 2.000 each)"
    )
    assert out[3].endswith("±3.91")
